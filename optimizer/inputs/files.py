"""Open one file of the planners' as a table or a layer: CSV, Excel, GeoPackage, shapefile.

Shapefile DBFs are decoded by their ``.cpg`` file, else detected as UTF-8 or GBK (CP936).
"""

from __future__ import annotations

import csv
import glob
import logging
import re
import struct
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio

from optimizer.inputs import validate as v

__all__ = [
    "INVISIBLE",
    "UnreadableFile",
    "detect_dbf_encoding",
    "read_error_message",
    "read_layer",
    "read_table",
]

logger = logging.getLogger(__name__)

_CPG_NAMES = {
    "utf8": "UTF-8",
    "utf-8": "UTF-8",
    "65001": "UTF-8",
    "gbk": "GBK",
    "936": "GBK",
    "cp936": "GBK",
    "ansi936": "GBK",
    "gb2312": "GBK",
    "gb18030": "GB18030",
    "54936": "GB18030",
}


INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Characters that show as nothing in Excel but make a code differ (zero-width space, BOM,
control characters; a workbook cannot even hold the latter)."""

_SQLITE_MAGIC = b"SQLite format 3\x00"
_ZIP_MAGIC = b"PK\x03\x04"
_SHAPEFILE_PARTS = {".shx": "the index", ".dbf": "the attribute table"}


class UnreadableFile(ValueError):
    """A file that cannot be read as what its name says; the message says why and what to do."""


def _sibling(path: Path, suffix: str) -> Path | None:
    return next(
        (p for p in path.parent.glob(f"{glob.escape(path.stem)}.*") if p.suffix.lower() == suffix),
        None,
    )


def check_readable(path: Path) -> None:
    """Raise :class:`UnreadableFile` when ``path`` is empty, the wrong format or incomplete.

    Parameters
    ----------
    path
        An input file.

    Raises
    ------
    UnreadableFile
        For an empty file, a ``.gpkg`` that is not SQLite, an ``.xlsx`` that is not a zip
        workbook, or a shapefile without its ``.shx`` or ``.dbf`` part.
    """
    name = path.name
    if path.is_dir():
        raise UnreadableFile(f"{name} is a folder, not a file")
    size = path.stat().st_size
    if size == 0:
        raise UnreadableFile(f"{name} is empty (0 bytes): copy or export it again")
    suffix = path.suffix.lower()
    with path.open("rb") as fh:
        head = fh.read(16)
    if suffix == ".gpkg" and not head.startswith(_SQLITE_MAGIC):
        raise UnreadableFile(
            f"{name} is not a GeoPackage (it is not an SQLite database; {size:,} bytes): "
            "export the layer again as GeoPackage, or give the file its real extension"
        )
    if suffix == ".xlsx" and not head.startswith(_ZIP_MAGIC):
        hint = (
            " (an old .xls saved under a new name?)" if head.startswith(b"\xd0\xcf\x11\xe0") else ""
        )
        raise UnreadableFile(
            f"{name} is not an Excel .xlsx workbook{hint}: open it in Excel and save as .xlsx"
        )
    if suffix == ".shp":
        for part, what in _SHAPEFILE_PARTS.items():
            if _sibling(path, part) is None:
                raise UnreadableFile(
                    f"{name}: the shapefile part {path.stem}{part} ({what}) is missing beside it; "
                    "copy all parts together (.shp, .shx, .dbf, .prj, .cpg)"
                )


def read_error_message(path: str | Path, exc: BaseException) -> str:
    """Return the planner's message for a file that a reader failed on.

    Parameters
    ----------
    path
        The file.
    exc
        What the reader (GDAL, sqlite, pandas, openpyxl) raised.

    Returns
    -------
    str
        ``"<file>: …"`` saying what is wrong in words a planner can act on.
    """
    name = Path(path).name
    if isinstance(exc, UnreadableFile):
        return str(exc)
    text = str(exc)
    low = text.lower()
    if "malformed" in low or "not a database" in low or "file is truncated" in low:
        return f"{name} is damaged (cut off or corrupted): copy or export it again"
    if "eof inside string" in low or "eof following" in low:
        return f"{name} is cut off or has an unclosed quote ({text}); export it again"
    if "no columns to parse" in low:
        return f"{name} has no header row and no data: export it again"
    if "not a zip file" in low or "badzipfile" in low:
        return f"{name} is damaged or not an .xlsx workbook: open it in Excel and save as .xlsx"
    if isinstance(exc, PermissionError):
        return f"{name}: no permission to read it"
    return f"{name}: cannot read ({text})"


def _strip_invisible(table: pd.DataFrame, name: str) -> tuple[pd.DataFrame, list[str]]:
    """Remove zero-width characters from headers and text cells; say where."""
    where: list[str] = []
    columns = []
    for c in table.columns:
        clean = INVISIBLE.sub("", c) if isinstance(c, str) else c
        if clean != c:
            where.append(f"header '{clean}'")
        columns.append(clean)
    table.columns = columns
    for c in table.columns:
        col = table[c]
        if not (pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)):
            continue
        hit = col.map(lambda x: isinstance(x, str) and INVISIBLE.search(x) is not None)
        if hit.any():
            table[c] = col.map(lambda x: INVISIBLE.sub("", x) if isinstance(x, str) else x)
            where += [f"column '{c}' record {i + 1}" for i in hit[hit].index[:3]]
    if not where:
        return table, []
    return table, [
        f"{name}: removed invisible characters (zero-width space, control character) in "
        + ", ".join(where[:6])
        + (" …" if len(where) > 6 else "")
    ]


def _csv_separator(path: Path, encoding: str) -> str:
    """Return ',' unless the header line plainly uses ';' or a tab instead."""
    with path.open(encoding=encoding, errors="replace") as fh:
        first = fh.readline()
    if "," in first:
        return ","
    for sep in (";", "\t", "；"):
        if first.count(sep) >= 1:
            return sep
    return ","


def _check_complete(path: Path, encoding: str, sep: str, n_columns: int, n_rows: int) -> None:
    """Refuse a CSV whose last line has no line end and too few fields: a cut-off copy."""
    raw = path.read_bytes()
    if raw.endswith((b"\n", b"\r")) or n_rows == 0:
        return
    last = raw.rsplit(b"\n", 1)[-1].decode(encoding, errors="replace")
    fields = next(csv.reader([last], delimiter=sep), [])
    if len(fields) < n_columns:
        raise UnreadableFile(
            f"{path.name} looks cut off: its last line (row {n_rows + 1}) has {len(fields)} of "
            f"{n_columns} columns and no line end; copy or export it again"
        )


def _header_row(table: pd.DataFrame) -> int | None:
    """Return the position of the real header row when row 1 is a title (or merged), else None."""
    unnamed = sum(str(c).startswith("Unnamed:") for c in table.columns)
    if len(table.columns) < 2 or unnamed < len(table.columns) / 2:
        return None
    for pos in range(min(10, len(table))):
        cells = table.iloc[pos].tolist()
        filled = [c for c in cells if isinstance(c, str) and c.strip()]
        if len(filled) >= max(2, 0.8 * len(cells)):
            return pos
    return None


def _promote_header(table: pd.DataFrame, name: str) -> tuple[pd.DataFrame, list[str]]:
    pos = _header_row(table)
    if pos is None:
        return table, []
    header = [
        str(c).strip() if isinstance(c, str) else f"column {i + 1}"
        for i, c in enumerate(table.iloc[pos])
    ]
    body = table.iloc[pos + 1 :].reset_index(drop=True)
    body.columns = header
    body.attrs["first_row"] = pos + 3  # the file's row number of the first data row
    return body, [f"{name}: headers taken from row {pos + 2} (row 1 holds a title or merged cells)"]


def read_table(path: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """Read a CSV or XLSX file with every cell as text.

    CSV files are tried as UTF-8 (with or without BOM), then GBK. Only empty cells become
    missing values; codes are never turned into numbers by the reader.

    Parameters
    ----------
    path
        A ``.csv`` or ``.xlsx`` file.

    Returns
    -------
    table : pandas.DataFrame
        The first sheet (XLSX) or the file (CSV), with a RangeIndex.
    notes : list of str
        The encoding or sheet used.

    Raises
    ------
    ValueError
        When the file is not CSV/XLSX or cannot be decoded.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    options: dict[str, Any] = {"dtype": str, "keep_default_na": False, "na_values": [""]}
    if suffix not in (".csv", ".xlsx"):
        raise UnreadableFile(f"{path.name}: unsupported table format; use .csv or .xlsx")
    check_readable(path)
    if suffix == ".csv":
        table, notes = _read_csv(path, options)
    else:
        sheets = pd.read_excel(path, sheet_name=None, **options)
        first = next(iter(sheets))
        notes = []
        if len(sheets) > 1:
            notes.append(f"{path.name}: read the first sheet '{first}' of {len(sheets)}")
        table = sheets[first].reset_index(drop=True)
    table, n = _promote_header(table, path.name)
    notes += n
    table, n = _strip_invisible(table, path.name)
    return table, notes + n


def _read_csv(path: Path, options: dict[str, Any]) -> tuple[pd.DataFrame, list[str]]:
    for encoding in ("utf-8-sig", "gbk"):
        try:
            sep = _csv_separator(path, encoding)
            table = pd.read_csv(path, encoding=encoding, sep=sep, **options)
        except UnicodeDecodeError:
            continue
        _check_complete(path, encoding, sep, len(table.columns), len(table))
        name = "UTF-8" if encoding == "utf-8-sig" else "GBK"
        notes = [f"{path.name}: read as {name}"]
        if sep != ",":
            shown = "tab" if sep == "\t" else f"'{sep}'"
            notes.append(f"{path.name}: columns separated by {shown}, not commas")
        return table.reset_index(drop=True), notes
    raise UnreadableFile(
        f"{path.name} is neither UTF-8 nor GBK text (is it a CSV file?): save it as CSV UTF-8"
    )


def _dbf_text_bytes(dbf: Path, limit: int = 2000) -> bytes:
    """Return the raw bytes of the character fields of the first ``limit`` DBF records."""
    with dbf.open("rb") as fh:
        header = fh.read(32)
        if len(header) < 32:
            return b""
        n_records, header_len, record_len = struct.unpack("<IHH", header[4:12])
        fields: list[tuple[int, int]] = []  # (offset in record, length) of C fields
        offset = 1  # deletion flag
        while True:
            desc = fh.read(32)
            if len(desc) < 32 or desc[0] == 0x0D:
                break
            ftype = chr(desc[11])
            flen = desc[16]
            if ftype == "C":
                flen += desc[17] * 256  # long character fields keep the high byte in "decimals"
                fields.append((offset, flen))
            offset += flen
        fh.seek(header_len)
        chunks: list[bytes] = []
        for _ in range(min(n_records, limit)):
            record = fh.read(record_len)
            if len(record) < record_len:
                break
            chunks.extend(record[o : o + n].rstrip(b" \x00") for o, n in fields)
    return b"\n".join(chunks)


def detect_dbf_encoding(shp: str | Path) -> tuple[str, str]:
    """Return the encoding of a shapefile's DBF and how it was found.

    A ``.cpg`` file is honoured when present. Without one, the raw bytes of the text fields
    are decoded as UTF-8; if that fails the DBF is taken to be GBK (CP936), the usual encoding
    of files from Chinese GIS departments.

    Parameters
    ----------
    shp
        Path of the ``.shp`` file.

    Returns
    -------
    encoding : str
        ``"UTF-8"``, ``"GBK"`` or the codec the ``.cpg`` names.
    how : str
        ``"from .cpg"`` or ``"detected, no .cpg"``.
    """
    shp = Path(shp)
    cpg = next((p for p in shp.parent.glob(f"{shp.stem}.*") if p.suffix.lower() == ".cpg"), None)
    if cpg is not None:
        text = cpg.read_text(encoding="ascii", errors="ignore").strip()
        key = v.normalise_header(text)
        encoding = _CPG_NAMES.get(key, _CPG_NAMES.get(key.removeprefix("cp"), text or "UTF-8"))
        return encoding, "from .cpg"
    dbf = next((p for p in shp.parent.glob(f"{shp.stem}.*") if p.suffix.lower() == ".dbf"), None)
    if dbf is None:
        return "UTF-8", "no .dbf"
    raw = _dbf_text_bytes(dbf)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "GBK", "detected, no .cpg"
    return "UTF-8", "detected, no .cpg"


def read_layer(path: str | Path) -> tuple[gpd.GeoDataFrame, list[str], str | None]:
    """Read a GIS layer (GeoPackage, shapefile, GeoJSON) without changing the file.

    Parameters
    ----------
    path
        The file; for a GeoPackage with several layers the first is read.

    Returns
    -------
    layer : geopandas.GeoDataFrame
        The layer as stored (its own CRS, possibly none), with a RangeIndex.
    notes : list of str
        Encoding and layer notes.
    dbf_encoding : str or None
        The DBF encoding of a shapefile, else None.
    """
    path = Path(path)
    notes: list[str] = []
    options: dict[str, Any] = {}
    dbf_encoding = None
    suffix = path.suffix.lower()
    check_readable(path)
    if suffix == ".shp":
        dbf_encoding, how = detect_dbf_encoding(path)
        options["encoding"] = dbf_encoding
        notes.append(f"{path.name}: DBF encoding {dbf_encoding} ({how})")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)  # GDAL's complaints become notes
        if suffix == ".gpkg":
            layers = pyogrio.list_layers(path)
            if len(layers) > 1:
                options["layer"] = str(layers[0][0])
                notes.append(f"{path.name}: read layer '{layers[0][0]}' of {len(layers)}")
        layer = gpd.read_file(path, engine="pyogrio", **options)
    notes += [f"{path.name}: GDAL: {w.message}" for w in caught if w.category is RuntimeWarning]
    for w in caught:
        if w.category is not RuntimeWarning:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    layer = layer.reset_index(drop=True)
    if len(layer) == 0:
        raise UnreadableFile(
            f"{path.name} holds no features (its layer is empty): export the layer again"
        )
    attrs, n = _strip_invisible(pd.DataFrame(layer.drop(columns=layer.geometry.name)), path.name)
    if n:
        layer = gpd.GeoDataFrame(
            attrs.assign(geometry=layer.geometry.to_numpy()), geometry="geometry", crs=layer.crs
        )
        notes += n
    return layer, notes, dbf_encoding


# --------------------------------------------------------------------------------------------
# canonical tables
