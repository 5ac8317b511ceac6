"""Batch creation over HTTP: the multipart upload and the job resource."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.api.helpers import Api, as_problem
from tests.conftest import World, drain_imports

MANUAL_CSV = Path(__file__).resolve().parents[1] / "fixtures" / "batch-users.csv"


def upload(api: Api, fields: dict[str, str], file: bytes | None, name: str = "users.csv") -> Any:
    boundary = uuid.uuid4().hex
    chunks: list[bytes] = []
    for key, value in fields.items():
        chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
    if file is not None:
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: text/csv\r\n\r\n".encode()
            + file
            + b"\r\n"
        )
    chunks.append(f"--{boundary}--\r\n".encode())
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    return api.call("POST", "/imports", raw=b"".join(chunks), **headers)


def imported(api: Api, world: World, fields: dict[str, str], file: bytes, name: str = "users.csv") -> Any:
    """Upload, let the pipeline run, and read the finished job back through the API."""
    accepted = upload(api, fields, file, name)
    assert accepted.status_code == 202, accepted.body
    assert accepted.json_body["status"] == "pending"
    drain_imports(world.ctx)
    return api.call("GET", f"/imports/{accepted.json_body['id']}").json_body


@pytest.mark.both_backends
def test_the_manuals_file_through_the_api(api: Api, http_world: World) -> None:
    dry = imported(api, http_world, {"group_id": http_world.group_a.id, "dry_run": "true"}, MANUAL_CSV.read_bytes())
    assert (dry["rows"], dry["valid"], dry["created"], dry["progress"]) == (4, 4, 0, 100)
    job = imported(api, http_world, {"group_id": http_world.group_a.id}, MANUAL_CSV.read_bytes())
    assert (job["status"], job["created"], job["file_name"], job["created_by"], job["has_result"]) == (
        "completed",
        4,
        "users.csv",
        "admin",
        True,
    )
    listed = api.call("GET", "/imports").json_body["items"]
    assert {j["id"] for j in listed} == {job["id"], dry["id"]}
    result = api.call("GET", f"/imports/{job['id']}/result")
    assert result.status_code == 200 and result.headers["Content-Type"].startswith("text/csv")
    assert result.body.decode().count(",created,") == 4
    accounts = api.call("GET", f"/accounts?group_id={http_world.group_a.id}").json_body["items"]
    assert sorted(a["full_name"] for a in accounts) == ["Alessandro Bergamaschi", "Luigi Rossi", "Marco Bianchi",
                                                        "Mario Colombo"]  # fmt: skip


def test_row_errors_and_a_failed_job(api: Api, http_world: World) -> None:
    bad = b"fullName,gsmNumber,email,securityModel,description\nA,3.9E+11,,end-to-site,\nB,+393471234567,x,,\n"
    job = imported(api, http_world, {"group_id": http_world.group_a.id, "policy": "skip_invalid"}, bad)
    assert (job["rows"], job["valid"], job["created"]) == (2, 0, 0)
    assert [(e["row"], e["field"], e["code"]) for e in job["errors"]] == [
        (2, "gsmNumber", "number_damaged"), (3, "email", "invalid_email"),
    ]  # fmt: skip
    unreadable = imported(api, http_world, {"group_id": http_world.group_a.id}, b"name;number\n")
    assert unreadable["status"] == "failed" and "lacks fullName" in unreadable["message"]


def test_bad_uploads_are_problems(api: Api, http_world: World) -> None:
    as_problem(upload(api, {"group_id": http_world.group_a.id}, None), 400, "missing_parameter")
    bad_policy = as_problem(upload(api, {"group_id": http_world.group_a.id, "policy": "maybe"}, b"x"), 422,
                            "validation_failed")  # fmt: skip
    assert bad_policy["errors"][0]["field"] == "policy"
    assert as_problem(upload(api, {}, b"x"), 422, "validation_failed")["errors"][0]["field"] == "group_id"
    as_problem(upload(api, {"group_id": http_world.group_a.id, "colour": "red"}, b"x"), 400, "unknown_field")
    as_problem(api.call("POST", "/imports", raw=b"x", **{"Content-Type": "text/plain"}), 415, "unsupported_media_type")
    missing = as_problem(api.call("POST", "/imports", {"group_id": http_world.group_a.id}), 400, "missing_parameter")
    assert missing["field"] == "upload_id"
    unknown = {"group_id": http_world.group_a.id, "upload_id": "0" * 32}
    assert as_problem(api.call("POST", "/imports", unknown), 422, "validation_failed")["errors"][0]["field"] == (
        "upload_id"
    )
    as_problem(api.call("GET", "/imports/nope"), 404, "not_found")


def test_an_operator_imports_only_into_its_groups(http_world: World) -> None:
    from chalice.test import Client

    from app import app

    with Client(app) as client:
        operator = Api(client).login("op-a", "op-a-password")
        as_problem(upload(operator, {"group_id": http_world.group_b.id}, MANUAL_CSV.read_bytes()), 403, "forbidden")
        ok = imported(operator, http_world, {"group_id": http_world.group_a.id, "dry_run": "1"},
                      MANUAL_CSV.read_bytes())  # fmt: skip
        assert ok["valid"] == 4 and ok["created_by"] == "op-a"


def test_an_export_reimports_into_an_empty_group(api: Api, http_world: World) -> None:
    tricky = (b'fullName,gsmNumber,email,securityModel,description,username,secondaryNumber,keepAlive\n'
              b'"Rossi, Marco",+393471000001,m@example.com,end-to-end,"two\nlines",7001,+393471000002,true\n'
              b'Anna,+393471000003,,end-to-site,,7002,,false\n')  # fmt: skip
    assert imported(api, http_world, {"group_id": http_world.group_a.id}, tricky)["created"] == 2
    gid = http_world.group_a.id
    exported = api.call("GET", f"/accounts/export?group_id={gid}")
    assert exported.status_code == 200 and exported.headers["Content-Type"].startswith("text/csv")
    before = {a["username"]: a for a in api.call("GET", f"/accounts?group_id={gid}").json_body["items"]}
    for account in before.values():
        assert api.call("DELETE", f"/accounts/{account['id']}").status_code == 204
    again = imported(api, http_world, {"group_id": gid}, exported.body, name="accounts.csv")
    assert (again["rows"], again["created"], again["errors"]) == (2, 2, [])
    after = {a["username"]: a for a in api.call("GET", f"/accounts?group_id={gid}").json_body["items"]}
    fields = ("full_name", "phone_number", "secondary_phone_number", "email", "security_model", "description",
              "keep_alive")  # fmt: skip
    assert {u: {f: a[f] for f in fields} for u, a in after.items()} == {
        u: {f: a[f] for f in fields} for u, a in before.items()
    }
    as_problem(api.call("GET", "/accounts/export"), 400, "missing_parameter")


@pytest.mark.both_backends
def test_a_large_file_goes_to_s3_through_a_presigned_form(api: Api, http_world: World) -> None:
    import requests

    form = api.call("POST", "/imports/uploads", {"group_id": http_world.group_a.id})
    assert form.status_code == 201, form.body
    body = form.json_body
    assert body["max_bytes"] > 5 * 1024 * 1024 and body["expires_in"] == 900
    if http_world.ctx.settings.imports_bucket:  # on moto: a real S3 POST with the signed policy
        sent = requests.post(body["url"], data=body["fields"], files={"file": ("big.csv", MANUAL_CSV.read_bytes())},
                             timeout=10)  # fmt: skip
        assert sent.status_code in (200, 204), sent.text
    else:  # the in-memory bucket: what the form would have stored
        http_world.ctx.files.put(body["fields"]["key"], MANUAL_CSV.read_bytes())  # type: ignore[attr-defined]
    submit = {"group_id": http_world.group_a.id, "upload_id": body["upload_id"], "file_name": "big.csv"}
    first = api.call("POST", "/imports", submit)
    assert first.status_code == 202, first.body
    assert api.call("POST", "/imports", submit).json_body["id"] == first.json_body["id"]  # submitted twice: one job
    drain_imports(http_world.ctx)
    job = api.call("GET", f"/imports/{first.json_body['id']}").json_body
    assert (job["status"], job["created"], job["file_name"]) == ("completed", 4, "big.csv")
    operator = Api(api.client).login("op-a", "op-a-password")
    as_problem(operator.call("POST", "/imports/uploads", {"group_id": http_world.group_b.id}), 403, "forbidden")
