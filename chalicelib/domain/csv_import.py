"""Reading batch files (manual: "batch way"): the header `fullName,gsmNumber,email,securityModel,description`,
one account a record, as people really make them.

- UTF-8 with or without BOM, UTF-16 (BOM, or told by its zero bytes), else Windows-1252 (spreadsheet files are
  refused by name); `,` or `;` as delimiter (from the header); CRLF; quoted fields
  with commas and line breaks; empty records (e.g. trailing empty lines) are skipped.
- Records are numbered as in the file, the header being record 1 (a record may span several lines).
- Numbers a spreadsheet damaged are reported, never guessed: scientific notation (`3.9123E+11`) and
  international numbers that lost their `+`.
- Optional extra columns: `username`, `secondaryNumber`, `keepAlive` (true/false/yes/no/1/0).

Reading streams: `read_records` yields one record at a time from an iterator of text lines, so a file of any
size is never held in memory.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from chalicelib.domain import csv_safe, rules
from chalicelib.domain.errors import FieldError
from chalicelib.domain.model import SecurityModel

REQUIRED = ("fullName", "gsmNumber", "email", "securityModel", "description")
OPTIONAL = ("username", "secondaryNumber", "keepAlive")
SECURITY_MODELS = {"end-to-site": SecurityModel.SDES, "end-to-end": SecurityModel.ZRTP}
_SCIENTIFIC = re.compile(r"^\s*\d+(?:[.,]\d+)?[eE][+-]?\d+\s*$")
_LOST_PLUS = re.compile(r"^\d{11,15}$")
UNREADABLE = "_unreadable"  # the one value of a record the csv module could not read (with the reason)
BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False, "": False}


class BadFile(Exception):
    """The file cannot be read as a batch file at all (encoding, header)."""


@dataclass(frozen=True)
class Row:
    record: int  # the record's number in the file, the header being 1
    full_name: str
    phone_number: str
    secondary_phone_number: str | None
    email: str
    security_model: SecurityModel
    description: str
    username: str | None
    keep_alive: bool


@dataclass
class RowProblems:
    record: int
    errors: list[FieldError] = field(default_factory=list)


SNIFF_BYTES = 64 * 1024


def decode_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Bytes to text lines. The encoding is chosen on the first 64 KiB: UTF-8 (a BOM is dropped) when they
    decode as UTF-8, else Windows-1252. Line ends are kept so that csv can read quoted fields spanning lines."""
    iterator = iter(chunks)
    head = b""
    for chunk in iterator:
        head += chunk
        if len(head) >= SNIFF_BYTES:
            break
    encoding = _encoding(head[:SNIFF_BYTES])
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    pending = ""
    try:
        for chunk in itertools.chain([head], iterator):
            lines, pending = _complete_lines(pending + decoder.decode(chunk))
            yield from lines
        pending += decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise BadFile(f"The file is not UTF-8, UTF-16 or Windows-1252 text ({exc.reason}).") from exc
    if pending:
        yield pending


def _encoding(head: bytes) -> str:
    """The text encoding of a file from its first bytes: UTF-16 (by its byte-order mark, or by the zero bytes of
    ASCII text in it), UTF-8, else Windows-1252; a spreadsheet or other binary file is refused by name."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(b"PK\x03\x04"):
        raise BadFile("This is a spreadsheet (.xlsx) or another zip file, not CSV text.")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise BadFile("This is an old Excel spreadsheet (.xls): save it as .xlsx or as CSV (UTF-8) and upload that.")
    if b"\x00" in head:
        pairs = len(head) // 2 or 1
        if head[1::2].count(0) > pairs * 0.4:
            return "utf-16-le"
        if head[0::2].count(0) > pairs * 0.4:
            return "utf-16-be"
        raise BadFile("This is not a CSV text file (it holds binary data).")
    try:
        head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the sniffing limit
            return "cp1252"
    return "utf-8-sig"


def _complete_lines(text: str) -> tuple[list[str], str]:
    """Whole lines of `text` and the unfinished rest (a trailing CR waits: its LF may be in the next chunk)."""
    carry = ""
    if text.endswith("\r"):
        text, carry = text[:-1], "\r"
    lines = text.splitlines(keepends=True)
    rest = lines.pop() if lines and not lines[-1].endswith(("\n", "\r")) else ""
    return lines, rest + carry


def _delimiter(header: str) -> str:
    return ";" if header.count(";") > header.count(",") else ","


def read_records(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(record number, {column: value}) for every non-empty record after the header."""
    iterator = iter(lines)
    header_line = next(iterator, "")
    if not header_line.strip():
        raise BadFile("The file is empty: it needs the header " + ",".join(REQUIRED) + ".")
    delimiter = _delimiter(header_line)
    reader = csv.reader(_chain(header_line, iterator), delimiter=delimiter, quotechar='"', strict=False)
    return records_from_rows(_guarded(reader))


def _guarded(reader: Iterator[list[str]]) -> Iterator[list[str] | str]:
    """The reader's records; one it cannot read (a field over csv's limit) as the message why, and on."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield f"The record cannot be read: {exc}."


def records_from_rows(rows: Iterable[list[str] | str]) -> Iterator[tuple[int, dict[str, str]]]:
    """The header's checks and the records, from a CSV's records or a spreadsheet's rows alike (a text instead
    of a row: that record cannot be read, and why)."""
    iterator = iter(rows)
    first_row = next(iterator, None)
    if not isinstance(first_row, list) or not any(name.strip() for name in first_row):
        raise BadFile("The file is empty: it needs the header " + ",".join(REQUIRED) + ".")
    header = [name.strip() for name in first_row]
    lookup = {name.lower(): name for name in REQUIRED + OPTIONAL}
    columns = [lookup.get(name.lower(), "") for name in header]
    twice = sorted({name for name in columns if name and columns.count(name) > 1})
    if twice:
        raise BadFile(f"The header names {', '.join(twice)} more than once; each column may appear once.")
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise BadFile(f"The header lacks {', '.join(missing)}; expected {','.join(REQUIRED)}.")
    unknown = [name for name, known in zip(header, columns, strict=True) if not known]
    if unknown:
        raise BadFile(f"Unknown columns: {', '.join(unknown)}. Known: {', '.join(REQUIRED + OPTIONAL)}.")
    record = 1
    for values in iterator:
        record += 1
        if isinstance(values, str):
            yield record, {UNREADABLE: values}
            continue
        if not any(value.strip() for value in values):
            continue
        yield (
            record,
            {name: (csv_safe.restored(values[i].strip()) if i < len(values) else "") for i, name in enumerate(columns)},
        )


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _number(problems: RowProblems, column: str, field_name: str, raw: str) -> str | None:
    if not raw:
        return None
    if _SCIENTIFIC.match(raw):
        problems.errors.append(
            FieldError(
                column,
                "number_damaged",
                f"'{raw}' was turned into scientific notation by a spreadsheet; export the column "
                "as text and write the number in full with its +.",
            )
        )
        return None
    compact = re.sub(r"[\s\-().]", "", raw)
    if _LOST_PLUS.match(compact):
        problems.errors.append(
            FieldError(
                column,
                "plus_lost",
                f"'{raw}' looks like an international number that lost its leading +; write it "
                "with + and the country code.",
            )
        )
        return None
    try:
        number = rules.normalize_phone_number(field_name, raw)
    except rules.InvalidField as exc:
        problems.errors.append(FieldError(column, exc.error.code, exc.error.message))
        return None
    if not number.value.startswith("+"):
        problems.errors.append(
            FieldError(
                column,
                "international_number_required",
                "Batch accounts are activated by SMS: give the number with + and country code.",
            )
        )
        return None
    return number.value


def parse_row(record: int, values: dict[str, str]) -> tuple[Row | None, RowProblems]:
    """Check one record; a Row when it is valid, and its problems (empty when valid)."""
    problems = RowProblems(record)
    if UNREADABLE in values:
        problems.errors.append(FieldError("record", "unreadable", values[UNREADABLE]))
        return None, problems
    phone = _number(problems, "gsmNumber", "phone_number", values.get("gsmNumber", ""))
    if not values.get("gsmNumber"):
        problems.errors.append(FieldError("gsmNumber", "required", "The virtual (GSM) number is required."))
    secondary = _number(problems, "secondaryNumber", "secondary_phone_number", values.get("secondaryNumber", ""))
    email = values.get("email", "")
    try:
        rules.check_email("email", email)
    except rules.InvalidField as exc:
        problems.errors.append(FieldError("email", exc.error.code, exc.error.message))
    model_text = values.get("securityModel", "").lower() or "end-to-site"
    model = SECURITY_MODELS.get(model_text)
    if model is None:
        problems.errors.append(
            FieldError(
                "securityModel",
                "invalid_choice",
                f"'{values.get('securityModel')}' is not a security model: use end-to-site (SDES) "
                "or end-to-end (ZRTP).",
            )
        )
    username = values.get("username") or None
    if username:
        try:
            rules.check_username("username", username)
        except rules.InvalidField as exc:
            problems.errors.append(FieldError("username", exc.error.code, exc.error.message))
    keep_alive = BOOLEANS.get(values.get("keepAlive", "").lower())
    if keep_alive is None:
        problems.errors.append(FieldError("keepAlive", "invalid_type", "keepAlive is true or false."))
    if problems.errors or phone is None or model is None:
        return None, problems
    row = Row(
        record,
        values.get("fullName", ""),
        phone,
        secondary,
        email,
        model,
        values.get("description", ""),
        username,
        bool(keep_alive),
    )
    return row, problems


EXPORT_COLUMNS = (*REQUIRED, *OPTIONAL)
MODEL_NAMES = {model: name for name, model in SECURITY_MODELS.items()}


def export_record(
    full_name: str,
    phone: str,
    email: str,
    model: SecurityModel,
    description: str,
    username: str,
    secondary: str | None,
    keep_alive: bool,
) -> list[str]:
    """One account as a record of the batch format (so that an export re-imports)."""
    return [full_name, phone, email, MODEL_NAMES[model], description, username, secondary or "",
            "true" if keep_alive else "false"]  # fmt: skip


def write_csv(records: Iterable[list[str]], header: Iterable[str] = EXPORT_COLUMNS) -> Iterator[str]:
    """The header and the records as CSV text, a line at a time (CRLF, quoted where needed, formulas neutralised)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for record in itertools.chain([list(header)], records):
        writer.writerow([csv_safe.neutralised(cell) for cell in record])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
