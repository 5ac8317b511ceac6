"""Yes/no options and choices are strict in multipart, JSON and S3 metadata alike: 422, never a guess."""

from __future__ import annotations

import pytest

from chalicelib.handlers import imports as import_handlers
from tests.api.helpers import Api, as_problem
from tests.api.test_imports_api import upload
from tests.conftest import World
from tests.unit.test_imports import HEADER, put_dropped

FILE = (HEADER + "Ada,+393471234567,,end-to-site,\n").encode()


@pytest.mark.parametrize("field,value", [("dry_run", "maybe"), ("send_installation_sms", "{}"), ("policy", "all")])
def test_multipart_options_are_strict(api: Api, http_world: World, field: str, value: str) -> None:
    body = as_problem(upload(api, {"group_id": http_world.group_a.id, field: value}, FILE), 422, "validation_failed")
    assert body["errors"][0]["field"] == field
    assert http_world.ctx.groups.get(http_world.group_a.id).account_count == 0  # type: ignore[union-attr]


@pytest.mark.parametrize("field,value", [("dry_run", "maybe"), ("send_installation_sms", {}),
                                         ("dry_run", 1), ("policy", ["skip_invalid"]), ("profile_id", {})])  # fmt: skip
def test_json_options_are_strict(api: Api, http_world: World, field: str, value: object) -> None:
    form = api.call("POST", "/imports/uploads", {"group_id": http_world.group_a.id}).json_body
    body = {"upload_id": form["upload_id"], "group_id": http_world.group_a.id, field: value}
    problem = as_problem(api.call("POST", "/imports", body), 422, "validation_failed")
    assert problem["errors"][0]["field"] == field


def test_metadata_options_are_strict(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(import_handlers.bootstrap, "context", lambda: world.ctx)
    [job_id] = import_handlers.object_created(put_dropped(world, "imports/Group A/f.csv", FILE, **{"dry-run": "maybe"}))
    job = world.ctx.imports.get(job_id)
    assert job is not None and job.status == "failed" and "true or false" in job.message
    assert world.ctx.groups.get(world.group_a.id).account_count == 0  # type: ignore[union-attr]


def test_the_yes_and_no_that_forms_send_still_work(api: Api, http_world: World) -> None:
    for value in ("true", "on", "1", "yes", "false", "off", "0", "no", ""):
        accepted = upload(api, {"group_id": http_world.group_a.id, "dry_run": value}, FILE)
        assert accepted.status_code == 202, (value, accepted.body)


def test_json_booleans_of_resources_are_strict(api: Api, http_world: World) -> None:
    as_problem(api.call("PATCH", f"/groups/{http_world.group_a.id}", {"enabled": "false"}), 422, "validation_failed")
    as_problem(api.call("POST", "/accounts", http_world.account_data(keep_alive="yes")), 422, "validation_failed")
