"""Batch files as spreadsheets (.xlsx): the first sheet's rows as the texts a CSV would hold, read with openpyxl's
read-only (streaming) mode, so the same checks as for CSV apply to them (csv_import.records_from_rows).

A number Excel stored as a number comes as the digits it holds (393471234567, never 3.93471234567E+11): the
CSV checks then say that an international number lost its `+`, as they do for a CSV that a spreadsheet saved.
"""

from __future__ import annotations

import datetime
import itertools
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from typing import Any

from chalicelib.domain.csv_import import BadFile, decode_lines, read_records, records_from_rows

XLSX_MAGIC = b"PK\x03\x04"
OLD_EXCEL_MAGIC = b"\xd0\xcf\x11\xe0"
SPOOL_BYTES = 8 * 1024 * 1024  # a larger workbook goes to a temporary file (the zip needs random access)


def is_xlsx(head: bytes) -> bool:
    return head.startswith(XLSX_MAGIC)


def cell_text(value: Any) -> str:
    """A cell as the text a CSV export of it would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone number stored as a number: its digits, not 3.9E+11
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return str(value)


def sheet_rows(chunks: Iterable[bytes]) -> Iterator[list[str]]:
    """The first worksheet's rows as lists of texts (a workbook, not an old .xls or another zip file)."""
    from openpyxl import load_workbook  # imported here: only spreadsheet imports pay for it

    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        for chunk in chunks:
            spool.write(chunk)
        spool.seek(0)
        try:
            workbook = load_workbook(spool, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise BadFile("This is not a CSV or spreadsheet file (.xlsx); save the list as CSV or .xlsx.") from exc
        try:
            sheet = workbook.worksheets[0] if workbook.worksheets else None
            if sheet is None:
                raise BadFile("The workbook has no worksheet.")
            for row in sheet.iter_rows(values_only=True):
                yield [cell_text(value).strip() for value in row]
        finally:
            workbook.close()


def read_batch_file(chunks: Iterable[bytes]) -> Iterator[tuple[int, dict[str, str]]]:
    """A batch file's records, whether CSV text or an .xlsx workbook (told by its first bytes)."""
    iterator = iter(chunks)
    head = b""
    for chunk in iterator:
        head += chunk
        if len(head) >= len(XLSX_MAGIC):
            break
    everything = itertools.chain([head], iterator)
    if is_xlsx(head):
        return records_from_rows(_trimmed(sheet_rows(everything)))
    return read_records(decode_lines(everything))


def _trimmed(rows: Iterator[list[str]]) -> Iterator[list[str]]:
    """Rows cut to the header's width (a sheet's formatted but empty cells to the right are no columns)."""
    header = next(rows, None)
    if header is None:
        return
    while header and not header[-1]:
        header.pop()
    yield header
    for row in rows:
        yield row[: len(header)]
