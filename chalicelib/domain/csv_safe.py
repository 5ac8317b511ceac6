"""CSV cells that a spreadsheet would run as formulas (OWASP's CSV injection): every CSV the system writes
quotes them with a leading apostrophe, which spreadsheets show as text, and the importer takes it off again, so
an export re-imports unchanged."""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
QUOTE = "'"


def neutralised(cell: str) -> str:
    """The cell as written: text that starts like a formula gets the apostrophe."""
    return QUOTE + cell if cell.startswith(FORMULA_STARTS) else cell


def restored(cell: str) -> str:
    """A cell as read: the apostrophe that `neutralised` added is taken off."""
    return cell[1:] if cell.startswith(QUOTE) and cell[1:].startswith(FORMULA_STARTS) else cell
