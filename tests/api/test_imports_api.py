"""Batch creation over HTTP: the multipart upload and the job resource."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from tests.api.helpers import Api, as_problem
from tests.conftest import World

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


def test_the_manuals_file_through_the_api(api: Api, http_world: World) -> None:
    dry = upload(api, {"group_id": http_world.group_a.id, "dry_run": "true"}, MANUAL_CSV.read_bytes())
    assert dry.status_code == 201, dry.body
    assert (dry.json_body["rows"], dry.json_body["valid"], dry.json_body["created"]) == (4, 4, 0)
    done = upload(api, {"group_id": http_world.group_a.id}, MANUAL_CSV.read_bytes())
    job = done.json_body
    assert (job["status"], job["created"], job["file_name"], job["created_by"]) == (
        "completed",
        4,
        "users.csv",
        "admin",
    )
    assert api.call("GET", f"/imports/{job['id']}").json_body == job
    listed = api.call("GET", "/imports").json_body["items"]
    assert [j["id"] for j in listed][:2] == [job["id"], dry.json_body["id"]]
    accounts = api.call("GET", f"/accounts?group_id={http_world.group_a.id}").json_body["items"]
    assert sorted(a["full_name"] for a in accounts) == ["Alessandro Bergamaschi", "Luigi Rossi", "Marco Bianchi",
                                                        "Mario Colombo"]  # fmt: skip


def test_row_errors_and_a_failed_job(api: Api, http_world: World) -> None:
    bad = b"fullName,gsmNumber,email,securityModel,description\nA,3.9E+11,,end-to-site,\nB,+393471234567,x,,\n"
    job = upload(api, {"group_id": http_world.group_a.id, "policy": "skip_invalid"}, bad).json_body
    assert (job["rows"], job["valid"], job["created"]) == (2, 0, 0)
    assert [(e["row"], e["field"], e["code"]) for e in job["errors"]] == [
        (2, "gsmNumber", "number_damaged"), (3, "email", "invalid_email"),
    ]  # fmt: skip
    unreadable = upload(api, {"group_id": http_world.group_a.id}, b"name;number\n").json_body
    assert unreadable["status"] == "failed" and "lacks fullName" in unreadable["message"]


def test_bad_uploads_are_problems(api: Api, http_world: World) -> None:
    as_problem(upload(api, {"group_id": http_world.group_a.id}, None), 400, "missing_parameter")
    as_problem(upload(api, {"group_id": http_world.group_a.id, "policy": "maybe"}, b"x"), 400, "invalid_choice")
    as_problem(upload(api, {"group_id": http_world.group_a.id, "colour": "red"}, b"x"), 400, "unknown_field")
    as_problem(api.call("POST", "/imports", {"group_id": "x"}), 415, "unsupported_media_type")
    as_problem(api.call("GET", "/imports/nope"), 404, "not_found")


def test_an_operator_imports_only_into_its_groups(http_world: World) -> None:
    from chalice.test import Client

    from app import app

    with Client(app) as client:
        operator = Api(client).login("op-a", "op-a-password")
        as_problem(upload(operator, {"group_id": http_world.group_b.id}, MANUAL_CSV.read_bytes()), 403, "forbidden")
        ok = upload(operator, {"group_id": http_world.group_a.id, "dry_run": "1"}, MANUAL_CSV.read_bytes())
        assert ok.status_code == 201 and json.loads(ok.body)["valid"] == 4


def test_an_export_reimports_into_an_empty_group(api: Api, http_world: World) -> None:
    tricky = (b'fullName,gsmNumber,email,securityModel,description,username,secondaryNumber,keepAlive\n'
              b'"Rossi, Marco",+393471000001,m@example.com,end-to-end,"two\nlines",7001,+393471000002,true\n'
              b'Anna,+393471000003,,end-to-site,,7002,,false\n')  # fmt: skip
    assert upload(api, {"group_id": http_world.group_a.id}, tricky).json_body["created"] == 2
    gid = http_world.group_a.id
    exported = api.call("GET", f"/accounts/export?group_id={gid}")
    assert exported.status_code == 200 and exported.headers["Content-Type"].startswith("text/csv")
    before = {a["username"]: a for a in api.call("GET", f"/accounts?group_id={gid}").json_body["items"]}
    for account in before.values():
        assert api.call("DELETE", f"/accounts/{account['id']}").status_code == 204
    again = upload(api, {"group_id": gid}, exported.body, name="accounts.csv").json_body
    assert (again["rows"], again["created"], again["errors"]) == (2, 2, [])
    after = {a["username"]: a for a in api.call("GET", f"/accounts?group_id={gid}").json_body["items"]}
    fields = ("full_name", "phone_number", "secondary_phone_number", "email", "security_model", "description",
              "keep_alive")  # fmt: skip
    assert {u: {f: a[f] for f in fields} for u, a in after.items()} == {
        u: {f: a[f] for f in fields} for u, a in before.items()
    }
    as_problem(api.call("GET", "/accounts/export"), 400, "missing_parameter")
