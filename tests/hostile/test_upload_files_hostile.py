"""Batch files as people really send them (issue 14, item 15): UTF-16 text is read, a spreadsheet or binary file
is named for what it is, a column named twice is refused, a form with two 'file' parts is refused, and the JSON
content type is matched whatever its case."""

from __future__ import annotations

import codecs
import uuid

import pytest

from chalicelib.domain import csv_import
from tests.api.helpers import Api, as_problem
from tests.conftest import World
from tests.unit.test_imports import HEADER, listed, run

ROWS = HEADER + "Ada Lovelace,+393471234567,,end-to-site,\r\nAlan Turing,+393471234568,,end-to-end,\r\n"


@pytest.mark.parametrize("data", [codecs.BOM_UTF16_LE + ROWS.encode("utf-16-le"),
                                  codecs.BOM_UTF16_BE + ROWS.encode("utf-16-be"),
                                  ROWS.encode("utf-16-le"), ROWS.encode("utf-16-be")],
                         ids=["le-bom", "be-bom", "le", "be"])  # fmt: skip
def test_utf16_files_are_read(world: World, data: bytes) -> None:
    job = run(world, data)
    assert (job.status, job.created) == ("completed", 2), job.message
    assert listed(world) == ["Ada Lovelace", "Alan Turing"]


def test_utf16_split_anywhere_between_chunks_reads_the_same() -> None:
    data = ROWS.encode("utf-16-le")
    pieces = [data[i : i + 7] for i in range(0, len(data), 7)]  # odd sizes: characters cut in half
    records = list(csv_import.read_records(csv_import.decode_lines(pieces)))
    assert [values["fullName"] for _, values in records] == ["Ada Lovelace", "Alan Turing"]


@pytest.mark.parametrize("data,said", [(b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 64, "spreadsheet"),
                                       (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "spreadsheet"),
                                       (bytes(range(256)) * 4, "binary")])  # fmt: skip
def test_a_spreadsheet_or_binary_file_is_named_for_what_it_is(data: bytes, said: str) -> None:
    with pytest.raises(csv_import.BadFile) as exc:
        list(csv_import.read_records(csv_import.decode_lines([data])))
    assert said in str(exc.value) and "header" not in str(exc.value)


def test_a_column_named_twice_is_refused() -> None:
    text = "fullName,gsmNumber,email,securityModel,description,FULLNAME\nAda,+393471234567,,end-to-site,,Eve\n"
    with pytest.raises(csv_import.BadFile) as exc:
        list(csv_import.read_records(csv_import.decode_lines([text.encode()])))
    assert "fullName more than once" in str(exc.value)


def test_two_file_parts_are_refused(api: Api, http_world: World) -> None:
    boundary = uuid.uuid4().hex
    part = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="u.csv"\r\n'
            f"Content-Type: text/csv\r\n\r\n{ROWS}\r\n")  # fmt: skip
    group = f'--{boundary}\r\nContent-Disposition: form-data; name="group_id"\r\n\r\n{http_world.group_a.id}\r\n'
    body = (group + part + part + f"--{boundary}--\r\n").encode()
    response = api.call("POST", "/imports", raw=body, **{"Content-Type": f"multipart/form-data; boundary={boundary}"})
    problem = as_problem(response, 400, "duplicate_part")
    assert problem["field"] == "file"
    assert http_world.ctx.groups.get(http_world.group_a.id).account_count == 0  # type: ignore[union-attr]


def test_the_json_content_type_is_matched_whatever_its_case(api: Api, http_world: World) -> None:
    form = api.call("POST", "/imports/uploads", {"group_id": http_world.group_a.id}).json_body
    body = {"upload_id": form["upload_id"], "group_id": http_world.group_a.id}
    response = api.call("POST", "/imports", body, **{"Content-Type": "Application/JSON; charset=UTF-8"})
    assert response.status_code != 415, response.body
    assert response.json_body.get("code") != "unsupported_media_type"
