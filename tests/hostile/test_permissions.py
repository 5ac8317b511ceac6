"""Profiles only through the groups an operator may read; another operator's upload stays theirs."""

from __future__ import annotations

import requests

from chalicelib.domain.model import Role
from tests.api.helpers import Api, as_problem
from tests.conftest import World


def test_profiles_are_visible_only_through_readable_groups(api: Api, http_world: World) -> None:
    hidden = http_world.make_profile("hidden")
    other = http_world.make_group("Other")
    admin_ctx = http_world.ctx
    from chalicelib.services import groups

    groups.update_group(admin_ctx, http_world.admin, other.id, {"provisioning_profile_id": hidden.id})
    operator = Api(api.client).login("op-a", "op-a-password")
    listed = {p["id"] for p in operator.call("GET", "/provisioning-profiles").json_body["items"]}
    assert listed == {http_world.profile.id}
    assert operator.call("GET", f"/provisioning-profiles/{http_world.profile.id}").status_code == 200
    as_problem(operator.call("GET", f"/provisioning-profiles/{hidden.id}"), 404, "not_found")
    admin_sees = {p["id"] for p in api.call("GET", "/provisioning-profiles").json_body["items"]}
    assert {hidden.id, http_world.profile.id} <= admin_sees


def test_another_operators_upload_id_does_not_show_their_job(api: Api, http_world: World) -> None:
    b_operator = http_world.make_operator("op-b", Role.OPERATOR, [http_world.group_b.id])
    assert b_operator.group_ids == frozenset({http_world.group_b.id})
    owner = Api(api.client).login("op-b", "op-b-password")
    form = owner.call("POST", "/imports/uploads", {"group_id": http_world.group_b.id}).json_body
    fields = dict(form["fields"])
    file = b"fullName,gsmNumber,email,securityModel,description\nAda,+393471234567,,end-to-site,\n"
    if form["url"].startswith("http"):
        requests.post(form["url"], data=fields, files={"file": ("f.csv", file)}, timeout=10)
    else:
        http_world.ctx.files.write(f"uploads/{form['upload_id']}.csv", [file])
    mine = owner.call("POST", "/imports", {"upload_id": form["upload_id"], "group_id": http_world.group_b.id})
    assert mine.status_code == 202, mine.body
    intruder = Api(api.client).login("op-a", "op-a-password")
    stolen = intruder.call("POST", "/imports", {"upload_id": form["upload_id"], "group_id": http_world.group_a.id})
    problem = as_problem(stolen, 422, "validation_failed")
    assert problem["errors"][0]["field"] == "upload_id" and http_world.group_b.id not in stolen.body.decode()
