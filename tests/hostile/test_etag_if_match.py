"""Optimistic concurrency over HTTP (issue 14, item 9): every single-resource answer carries an ETag, a PATCH or
DELETE with a stale If-Match is 412 and changes nothing, and REQUIRE_IF_MATCH makes a blind change 428."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from chalice.test import Client

from app import app
from tests.api.helpers import Api, as_problem
from tests.conftest import World


def _items(api: Api, http_world: World) -> list[tuple[str, Any]]:
    """(path of one item, a change to it) for each kind of single resource."""
    account = api.call("POST", "/accounts", http_world.account_data()).json_body
    group = api.call("POST", "/groups", http_world.group_data("Etag group")).json_body
    profile = api.call("GET", f"/provisioning-profiles/{http_world.group_a.provisioning_profile_id}").json_body
    operator = api.call("POST", "/operators", {"username": "etag-op", "password": "operator-pass-1", "role": "viewer",
                                               "group_ids": [http_world.group_a.id]}).json_body  # fmt: skip
    return [(f"/accounts/{account['id']}", {"description": "changed"}),
            (f"/groups/{group['id']}", {"it_email": "other@example.com"}),
            (f"/provisioning-profiles/{profile['id']}", {"name": "Renamed profile"}),
            (f"/operators/{operator['id']}", {"role": "operator"})]  # fmt: skip


def test_a_stale_if_match_is_412_and_changes_nothing(api: Api, http_world: World) -> None:
    for path, change in _items(api, http_world):
        read = api.call("GET", path)
        tag = read.headers["ETag"]
        assert tag.startswith('"v'), (path, tag)
        changed = api.call("PATCH", path, change, **{"If-Match": tag})
        assert changed.status_code == 200, (path, changed.body)
        assert changed.headers["ETag"] != tag  # a new version, a new tag
        stale = api.call("PATCH", path, change, **{"If-Match": tag})
        as_problem(stale, 412, "precondition_failed")
        assert api.call("GET", path).headers["ETag"] == changed.headers["ETag"]  # nothing was written
        as_problem(api.call("DELETE", path, **{"If-Match": tag}), 412, "precondition_failed")
        assert api.call("GET", path).status_code == 200  # still there


def test_if_match_forms(api: Api, http_world: World) -> None:
    path, change = _items(api, http_world)[0]
    tag = api.call("GET", path).headers["ETag"]
    as_problem(api.call("PATCH", path, change, **{"If-Match": f"W/{tag}"}), 412, "precondition_failed")  # weak
    as_problem(api.call("PATCH", path, change, **{"If-Match": '"not-ours"'}), 412, "precondition_failed")
    listed = api.call("PATCH", path, change, **{"If-Match": f'"v999", {tag}'})  # a list: any may match
    assert listed.status_code == 200, listed.body
    assert api.call("PATCH", path, change, **{"If-Match": "*"}).status_code == 200
    deleted = api.call("DELETE", path, **{"If-Match": api.call("GET", path).headers["ETag"]})
    assert deleted.status_code == 204


def test_parallel_patches_with_one_tag_let_exactly_one_through(api: Api, http_world: World) -> None:
    path, _ = _items(api, http_world)[0]
    tag = api.call("GET", path).headers["ETag"]
    statuses: list[int] = []

    def patch(n: int) -> None:
        with Client(app) as client:
            caller = Api(client)
            caller.token = api.token  # one login (parallel logins would meet the login limit)
            statuses.append(caller.call("PATCH", path, {"description": f"writer {n}"}, **{"If-Match": tag}).status_code)

    threads = [threading.Thread(target=patch, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(200) == 1, statuses  # the others were told: 412, or 409 when they raced the write
    assert set(statuses) <= {200, 409, 412}, statuses


def test_a_blind_change_is_428_when_the_policy_requires_if_match(api: Api, http_world: World) -> None:
    items = _items(api, http_world)
    http_world.ctx.settings = replace(http_world.ctx.settings, require_if_match=True)
    for path, change in items:
        as_problem(api.call("PATCH", path, change), 428, "precondition_required")
        as_problem(api.call("DELETE", path), 428, "precondition_required")
        tag = api.call("GET", path).headers["ETag"]
        assert api.call("PATCH", path, change, **{"If-Match": tag}).status_code == 200
