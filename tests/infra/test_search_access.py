"""infra/search_access.py: the fine-grained access control roles the operator maps after the first deploy."""

from __future__ import annotations

from infra.search_access import INDEX_PATTERN, requests


def test_the_indexer_may_write_the_accounts_indices_and_the_api_may_only_read_them() -> None:
    calls = dict(requests("arn:aws:iam::1:role/indexer", "arn:aws:iam::1:role/api"))
    base = "/_plugins/_security/api"
    indexer = calls[f"{base}/roles/pgsm_indexer"]["index_permissions"]
    reader = calls[f"{base}/roles/pgsm_reader"]["index_permissions"]
    assert indexer == [{"index_patterns": [INDEX_PATTERN], "allowed_actions": ["indices_all"]}]
    assert reader == [{"index_patterns": [INDEX_PATTERN], "allowed_actions": ["read"]}]
    assert calls[f"{base}/rolesmapping/pgsm_indexer"] == {"backend_roles": ["arn:aws:iam::1:role/indexer"]}
    assert calls[f"{base}/rolesmapping/pgsm_reader"] == {"backend_roles": ["arn:aws:iam::1:role/api"]}
    assert INDEX_PATTERN == "accounts*"  # OPENSEARCH_INDEX (infra/stack.py) and its versions
