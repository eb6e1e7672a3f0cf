"""Read the county table (staff totals per county) into the canonical counties table.

``docs/inputs.md`` is the format reference.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from optimizer import schema
from optimizer.inputs import validate as v
from optimizer.inputs.canonical import column
from optimizer.inputs.files import read_error_message, read_table

__all__ = ["COUNTY_NUMBERS", "COUNTY_OUTPUT", "read_counties"]

COUNTY_NUMBERS: tuple[str, ...] = ("police_total", "judicial_establishment", "new_police_recruits")
COUNTY_OUTPUT: tuple[str, ...] = ("county_code", "name", *COUNTY_NUMBERS)


def read_counties(path: Path, notes: list[str]) -> tuple[pd.DataFrame | None, list[str]]:
    """Read, check and canonicalise the county table; None when unusable.

    Parameters
    ----------
    path
        The county table (``.csv`` or ``.xlsx``).
    notes
        Receives encoding, header and code normalisation notes.

    Returns
    -------
    counties : pandas.DataFrame or None
        The columns of :data:`COUNTY_OUTPUT`, sorted by county code; None when the file cannot
        be read or lacks a required column.
    problems : list of str
        Every problem found.
    """
    try:
        table, table_notes = read_table(path)
    except Exception as exc:  # any reader failure becomes a problem to report
        return None, [read_error_message(path, exc)]
    notes.extend(table_notes)
    rows = v.Rows(path.name, first=table.attrs.get("first_row", 2))
    mapping, match_notes = v.match_columns(table.columns, schema.COUNTY_COLUMNS)
    notes.extend(f"{path.name}: {n}" for n in match_notes)
    problems = v.check_required(
        path.name, mapping, schema.COUNTY_COLUMNS, schema.COUNTY_REQUIRED, table.columns
    )
    if problems:
        return None, problems
    codes, p, n = v.check_codes(table[mapping["county_code"]], rows, "county_code", digits=6)
    problems += p
    notes.extend(n)
    problems += v.check_duplicates(codes, rows, "county_code")
    out = pd.DataFrame({"county_code": codes})
    out["name"] = column(table, mapping, "name").map(
        lambda x: None if v.is_blank(x) else str(x).strip()
    )
    for name in COUNTY_NUMBERS:
        out[name], p = v.check_numbers(
            column(table, mapping, name), rows, name, required=False, labels=codes
        )
        problems += p
    out = out[list(COUNTY_OUTPUT)].sort_values("county_code").reset_index(drop=True)
    return out, problems
