"""Canonical column names of the inputs, their aliases and the code conventions.

Every reader maps the planner's headers onto these names; everything downstream uses only the
canonical names.
"""

from __future__ import annotations

# Facility types the tool plans.
POLICE = "police_station"
JUDICIAL = "judicial_office"
COURT = "court"
FACILITY_TYPES: tuple[str, ...] = (POLICE, JUDICIAL, COURT)

# Chinese names of the facility types and of what a closed one becomes.
FACILITY_LABELS_ZH = {POLICE: "派出所", JUDICIAL: "司法所", COURT: "人民法庭"}
#: Chinese words for a solve's status in tables and workbooks (plan, comparison, sweep).
SOLVER_STATUS_ZH = {"optimal": "最优", "feasible": "可行（未证明最优）"}
CLOSED_BECOMES = {POLICE: "police_office", JUDICIAL: "service_point", COURT: "merged"}
CLOSED_BECOMES_ZH = {"police_office": "警务室", "service_point": "司法服务点", "merged": "并入"}

# Township kinds by code digits 7-9.
KIND_STREET = "街道"
KIND_TOWN = "镇"
KIND_TOWNSHIP = "乡"
KIND_OTHER = "其他"
KINDS: tuple[str, ...] = (KIND_STREET, KIND_TOWN, KIND_TOWNSHIP, KIND_OTHER)

# 涉藏地区: county-code prefixes (Aba 5132, Garze 5133) and Muli 513422.
TIBETAN_AREA_PREFIXES: tuple[str, ...] = ("5132", "5133", "513422")

# canonical column -> accepted aliases (compared case-insensitively, spaces/underscores ignored)
TOWNSHIP_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": (
        "code",
        "township_code",
        "乡镇代码",
        "乡镇编码",
        "街道代码",
        "区划代码",
        "统计用区划代码",
        "xzqdm",
    ),
    "name": ("name", "township_name", "乡镇名称", "乡镇", "名称", "xzqmc"),
    "county_code": ("county_code", "areacode", "区县代码", "县级代码", "县区代码", "所属区县代码"),
    "kind": ("kind", "type", "类型", "乡镇类型", "建制类型"),
    "population": ("population", "pop", "常住人口", "实有人口", "人口", "人口数"),
    "incidents": ("incidents", "警情数", "年警情", "警情", "年警情数"),
    "tibetan_area": ("tibetan_area", "涉藏地区", "涉藏"),
    "cases": ("cases", "案件数", "收案数", "年案件数"),
    "villages_before": ("villages_before", "原村数", "调整前村数", "合并前村数"),
    "households": ("households", "户数", "家庭户数"),
}
TOWNSHIP_REQUIRED: tuple[str, ...] = ("code", "name", "county_code", "population", "incidents")

FACILITY_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "facility_id", "编号", "机构编号", "代码"),
    "type": ("type", "facility_type", "类型", "机构类型"),
    "name": ("name", "facility_name", "名称", "机构名称"),
    "township_code": ("township_code", "乡镇代码", "所在乡镇代码", "所在乡镇"),
    "lon": ("lon", "lng", "longitude", "经度", "x"),
    "lat": ("lat", "latitude", "纬度", "y"),
    "staff": ("staff", "人数", "在编人数", "警力", "人员数"),
    # staff by the roles the minima name (clause 8: 司法助理员; clause 12: 法官、书记员、司法警察)
    "judicial_assistants": ("judicial_assistants", "司法助理员", "司法助理员人数"),
    "judges": ("judges", "员额法官", "法官", "员额法官人数", "法官人数"),
    "clerks": ("clerks", "书记员", "书记员人数"),
    "judicial_police": ("judicial_police", "司法警察", "法警", "安保人员", "司法警察人数"),
}
#: Optional facility columns counting staff by role (each at most ``staff`` in total).
FACILITY_ROLE_COLUMNS: tuple[str, ...] = (
    "judicial_assistants",
    "judges",
    "clerks",
    "judicial_police",
)
FACILITY_REQUIRED: tuple[str, ...] = ("id", "type", "name", "township_code")

# Chinese spellings accepted in the facility `type` column.
FACILITY_TYPE_ALIASES: dict[str, str] = {
    "police_station": POLICE,
    "派出所": POLICE,
    "公安派出所": POLICE,
    "judicial_office": JUDICIAL,
    "司法所": JUDICIAL,
    "court": COURT,
    "人民法庭": COURT,
    "法庭": COURT,
}

COUNTY_COLUMNS: dict[str, tuple[str, ...]] = {
    "county_code": ("county_code", "code", "区县代码", "区划代码"),
    "name": ("name", "county_name", "区县名称", "区县", "名称"),
    "police_total": ("police_total", "县级公安总警力", "总警力", "公安总警力"),
    "judicial_establishment": ("judicial_establishment", "司法行政政法专项编制", "司法编制"),
    "new_police_recruits": ("new_police_recruits", "新录用民警", "新招录民警"),
}
COUNTY_REQUIRED: tuple[str, ...] = ("county_code",)


def kind_from_code(code: str) -> str:
    """Return the township kind that digits 7-9 of a 9-digit code denote.

    Parameters
    ----------
    code
        A normalised 9-digit township code.

    Returns
    -------
    str
        街道 for 001-099, 镇 for 100-199, 乡 for 200-399, 其他 otherwise.
    """
    suffix = int(code[6:9])
    if 1 <= suffix <= 99:
        return KIND_STREET
    if 100 <= suffix <= 199:
        return KIND_TOWN
    if 200 <= suffix <= 399:
        return KIND_TOWNSHIP
    return KIND_OTHER


def is_tibetan_area(county_code: str, prefixes: tuple[str, ...] = TIBETAN_AREA_PREFIXES) -> bool:
    """Return whether a county lies in the 涉藏地区 given by code prefixes.

    Parameters
    ----------
    county_code
        A 6-digit county code.
    prefixes
        Code prefixes that mark the area (default: 5132, 5133 and 513422).

    Returns
    -------
    bool
        True when the county code starts with one of the prefixes.
    """
    return any(county_code.startswith(p) for p in prefixes)
