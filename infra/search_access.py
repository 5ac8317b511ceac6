"""Maps the functions' IAM roles to OpenSearch roles (fine-grained access control), run once after the first
deploy by an operator who has assumed the stack's `SearchAdminRole` (the domain's master user):

    python -m infra.search_access --endpoint <SearchEndpoint> --writer <IndexerRoleArn> --reader <ApiRoleArn>

The indexer may do anything to the `accounts*` indices (create, write, swap aliases); the API may only read
them. The outputs of the stack give the four values (infra/README.md, First deploy). Idempotent: it PUTs the
same roles and mappings again."""

from __future__ import annotations

import argparse
from typing import Any

INDEX_PATTERN = "accounts*"  # OPENSEARCH_INDEX ("accounts") and the versioned indices a rebuild swaps in
ROLES: dict[str, dict[str, Any]] = {
    "pgsm_indexer": {
        "cluster_permissions": ["cluster_composite_ops", "cluster_monitor"],
        "index_permissions": [{"index_patterns": [INDEX_PATTERN], "allowed_actions": ["indices_all"]}],
    },
    "pgsm_reader": {
        "cluster_permissions": ["cluster_composite_ops_ro"],
        "index_permissions": [{"index_patterns": [INDEX_PATTERN], "allowed_actions": ["read"]}],
    },
}


def requests(writer_role_arn: str, reader_role_arn: str) -> list[tuple[str, dict[str, Any]]]:
    """The security plugin's REST calls: (path, body), each a PUT."""
    api = "/_plugins/_security/api"
    calls = [(f"{api}/roles/{name}", body) for name, body in ROLES.items()]
    calls += [
        (f"{api}/rolesmapping/pgsm_indexer", {"backend_roles": [writer_role_arn]}),
        (f"{api}/rolesmapping/pgsm_reader", {"backend_roles": [reader_role_arn]}),
    ]
    return calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.search_access", description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True, help="https://… (the SearchEndpoint output)")
    parser.add_argument("--writer", required=True, help="the indexer function's role ARN")
    parser.add_argument("--reader", required=True, help="the API function's role ARN")
    parser.add_argument("--region", default="eu-west-1")
    args = parser.parse_args(argv)
    import boto3
    from opensearchpy import AWSV4SignerAuth, OpenSearch, RequestsHttpConnection

    credentials = boto3.Session().get_credentials()
    client = OpenSearch(
        hosts=[args.endpoint],
        http_auth=AWSV4SignerAuth(credentials, args.region, "es"),
        use_ssl=True,
        verify_certs=True,
        connection_class=RequestsHttpConnection,
    )
    for path, body in requests(args.writer, args.reader):
        client.transport.perform_request("PUT", path, body=body)
        print(f"PUT {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
