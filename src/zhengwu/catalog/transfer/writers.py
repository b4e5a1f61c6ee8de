"""Writing spreadsheet cells safely: text stays text, never a formula.

A catalog holds whatever people typed, including strings such as ``=HYPERLINK(...)`` or ``@SUM(...)``.
Exported to CSV, a spreadsheet would run them (“CSV injection”): such cells get a leading apostrophe,
which spreadsheets show as text and which the importer removes again. In XLSX, openpyxl would store a
string starting with ``=`` as a formula: such cells are written with the string type explicitly.
"""

from __future__ import annotations

from typing import Any

from openpyxl.cell import WriteOnlyCell

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A CSV cell that a spreadsheet shows but never evaluates."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def xlsx_row(sheet: Any, values: list[Any]) -> list[Any]:
    """Cells of a write-only sheet for ``values``, strings always stored as strings."""
    cells: list[Any] = []
    for value in values:
        cell = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str) and value.startswith("="):
            cell.data_type = "s"  # openpyxl would otherwise write a formula
        cells.append(cell)
    return cells
