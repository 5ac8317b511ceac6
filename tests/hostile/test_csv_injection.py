"""Formula payloads through an import's result file and the export, and back into an import."""

from __future__ import annotations

import csv
import io

from chalicelib.domain import csv_safe
from tests.api.helpers import Api
from tests.api.test_imports_api import imported
from tests.conftest import World

PAYLOADS = ['=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3"]


def _cells(text: bytes | str) -> list[list[str]]:
    raw = text.decode() if isinstance(text, bytes) else text
    return list(csv.reader(io.StringIO(raw)))


def _unsafe(rows: list[list[str]]) -> list[str]:
    return [cell for row in rows for cell in row if cell.startswith(csv_safe.FORMULA_STARTS)]


def test_results_and_export_neutralise_formulas_and_the_export_reimports(api: Api, http_world: World) -> None:
    lines = ["fullName,gsmNumber,email,securityModel,description"]
    lines += [f'"{p.replace(chr(34), chr(34) * 2)}",+39347100000{i},,end-to-site,"{p.replace(chr(34), chr(34) * 2)}"'
              for i, p in enumerate(PAYLOADS)]  # fmt: skip
    gid = http_world.group_a.id
    job = imported(api, http_world, {"group_id": gid}, ("\n".join(lines) + "\n").encode())
    assert job["created"] == 4, job
    result = api.call("GET", f"/imports/{job['id']}/result")
    assert result.status_code == 200 and _unsafe(_cells(result.body)) == []
    exported = api.call("GET", f"/accounts/export?group_id={gid}")
    assert _unsafe(_cells(exported.body)) == []
    assert {"'" + p for p in PAYLOADS} <= {cell for row in _cells(exported.body) for cell in row}
    for account in api.call("GET", f"/accounts?group_id={gid}").json_body["items"]:
        assert api.call("DELETE", f"/accounts/{account['id']}").status_code == 204
    again = imported(api, http_world, {"group_id": gid}, exported.body, name="accounts.csv")
    assert again["created"] == 4, again
    names = {a["full_name"] for a in api.call("GET", f"/accounts?group_id={gid}").json_body["items"]}
    assert names == set(PAYLOADS)  # the apostrophes came off again
    numbers = {a["phone_number"] for a in api.call("GET", f"/accounts?group_id={gid}").json_body["items"]}
    assert numbers == {f"+39347100000{i}" for i in range(4)}


def test_neutralising_is_undone_exactly() -> None:
    for cell in [*PAYLOADS, "plain", "'quoted", "", "+393471234567"]:
        assert csv_safe.restored(csv_safe.neutralised(cell)) == cell
