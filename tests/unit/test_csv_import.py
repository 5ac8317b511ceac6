"""Reading batch files as people really make them (the import pipeline builds on this)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.domain.csv_import import BadFile, decode_lines, parse_row, read_records
from chalicelib.domain.model import SecurityModel

MANUAL_CSV = Path(__file__).resolve().parents[1] / "fixtures" / "batch-users.csv"  # the manual's example, as is


def rows(data: bytes, chunk: int = 7) -> list[tuple[int, dict[str, str]]]:
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]  # small chunks: streaming edge cases
    return list(read_records(decode_lines(chunks)))


def test_the_manuals_file_reads_as_it_is() -> None:
    records = rows(MANUAL_CSV.read_bytes())
    assert [r for r, _ in records] == [2, 3, 4, 5]
    parsed = [parse_row(r, values) for r, values in records]
    assert all(row is not None for row, _ in parsed)
    first = parsed[0][0]
    assert first is not None
    assert (first.full_name, first.phone_number, first.security_model) == (
        "Alessandro Bergamaschi", "+391234567890", SecurityModel.SDES,
    )  # fmt: skip


def test_bom_semicolons_crlf_quotes_with_commas_and_line_breaks_and_trailing_empty_lines() -> None:
    text = (
        "\ufefffullName;gsmNumber;email;securityModel;description\r\n"
        '"Rossi, Marco";+393471234567;m@example.com;end-to-end;"two\r\nlines; and a quote ""x"""\r\n'
        "Anna;+393477654321;;end-to-site;\r\n"
        "\r\n\r\n;;;;\r\n"
    )
    records = rows(text.encode("utf-8"))
    assert [r for r, _ in records] == [2, 3]
    values = records[0][1]
    assert values["fullName"] == "Rossi, Marco"
    assert values["description"] == 'two\r\nlines; and a quote "x"'
    row, problems = parse_row(*records[0])
    assert row is not None and row.security_model is SecurityModel.ZRTP and not problems.errors


def test_windows_1252_files() -> None:
    text = "fullName,gsmNumber,email,securityModel,description\nJosé Müller,+393471234567,,end-to-site,Café\n"
    (record,) = rows(text.encode("cp1252"))
    assert record[1]["fullName"] == "José Müller" and record[1]["description"] == "Café"


def test_numbers_damaged_by_spreadsheets_are_reported_not_guessed() -> None:
    header = "fullName,gsmNumber,email,securityModel,description\n"
    data = (header + "A,3.9123E+11,,end-to-site,\nB,391234567890,,end-to-site,\nC,111,,end-to-site,\n").encode()
    codes = [[e.code for e in parse_row(*r)[1].errors] for r in rows(data)]
    assert codes == [["number_damaged"], ["plus_lost"], ["international_number_required"]]


def test_every_problem_of_a_record_is_reported_with_its_column() -> None:
    data = b"fullName,gsmNumber,email,securityModel,description,keepAlive\nX,,not-mail,quantum,,maybe\n"
    (record,) = rows(data)
    row, problems = parse_row(*record)
    assert row is None and problems.record == 2
    assert {(e.field, e.code) for e in problems.errors} == {
        ("gsmNumber", "required"), ("email", "invalid_email"), ("securityModel", "invalid_choice"),
        ("keepAlive", "invalid_type"),
    }  # fmt: skip


def test_optional_columns() -> None:
    data = (
        b"fullName,gsmNumber,email,securityModel,description,username,secondaryNumber,keepAlive\n"
        b"A,+393471234567,,end-to-site,,5001,+393477654321,yes\n"
    )
    row, _ = parse_row(*rows(data)[0])
    assert row is not None and (row.username, row.secondary_phone_number, row.keep_alive) == (
        "5001", "+393477654321", True,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"name,number\nA,1\n", "lacks fullName"),
        (b"fullName,gsmNumber,email,securityModel,description,colour\n", "Unknown columns: colour"),
        (b"fullName,gsmNumber\n\x81\x8d\x8f\x90\x9d\n" * 2, "not UTF-8, UTF-16 or Windows-1252"),
    ],
)
def test_unreadable_files_say_why(data: bytes, message: str) -> None:
    with pytest.raises(BadFile, match=message):
        rows(data)


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 64])
def test_record_numbers_do_not_depend_on_how_the_file_is_chunked(chunk: int) -> None:
    data = b'fullName,gsmNumber,email,securityModel,description\r\nA,+1,,,\r\n"B\r\nC",+2,,,\r\nD,+3,,,\r\n'
    assert [r for r, _ in rows(data, chunk)] == [2, 3, 4]
