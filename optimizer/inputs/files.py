"""Open one file of the planners' as a table or a layer: CSV, Excel, GeoPackage, shapefile.

Shapefile DBFs are decoded by their ``.cpg`` file, else detected as UTF-8 or GBK (CP936).
"""

from __future__ import annotations

import logging
import struct
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio

from optimizer.inputs import validate as v

__all__ = ["detect_dbf_encoding", "read_layer", "read_table"]

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
    if suffix == ".csv":
        for encoding in ("utf-8-sig", "gbk"):
            try:
                table = pd.read_csv(path, encoding=encoding, **options)
            except UnicodeDecodeError:
                continue
            name = "UTF-8" if encoding == "utf-8-sig" else "GBK"
            return table.reset_index(drop=True), [f"{path.name}: read as {name}"]
        raise ValueError(f"{path.name}: neither UTF-8 nor GBK; save it as UTF-8 CSV")
    if suffix == ".xlsx":
        sheets = pd.read_excel(path, sheet_name=None, **options)
        first = next(iter(sheets))
        notes = []
        if len(sheets) > 1:
            notes.append(f"{path.name}: read the first sheet '{first}' of {len(sheets)}")
        return sheets[first].reset_index(drop=True), notes
    raise ValueError(f"{path.name}: unsupported table format; use .csv or .xlsx")


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
    if suffix == ".shp":
        dbf_encoding, how = detect_dbf_encoding(path)
        options["encoding"] = dbf_encoding
        notes.append(f"{path.name}: DBF encoding {dbf_encoding} ({how})")
    elif suffix == ".gpkg":
        layers = pyogrio.list_layers(path)
        if len(layers) > 1:
            options["layer"] = str(layers[0][0])
            notes.append(f"{path.name}: read layer '{layers[0][0]}' of {len(layers)}")
    layer = gpd.read_file(path, engine="pyogrio", **options)
    return layer.reset_index(drop=True), notes, dbf_encoding


# --------------------------------------------------------------------------------------------
# canonical tables
