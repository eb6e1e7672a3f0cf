"""Scenario settings: the work plan's defaults, validation, scenario files."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.errors import PolicyError
from optimizer.rules.policy import Policy, load_scenario


def test_defaults_are_the_work_plan_numbers() -> None:
    p = Policy()
    assert p.police.reduction == pytest.approx(0.35)  # clause 4: ≥ 35 % fewer stations
    assert p.police.min_population == pytest.approx(20_000)  # clause 4
    assert p.police.min_incidents == pytest.approx(50)  # clause 4
    assert p.police.exempt_tibetan_area is True
    assert set(p.police.tibetan_prefixes) == {"5132", "5133", "513422"}
    assert p.police.scope == "province"
    assert p.police.weight == "population"
    assert p.police.circuity == pytest.approx(1.3)
    assert p.police.max_distance_km is None
    assert p.police.central_min_townships == 2
    assert p.police.pin_open == () and p.police.pin_closed == ()
    assert p.judicial.reduction == pytest.approx(0.30)  # clause 7: ≥ 30 % fewer offices
    assert p.solver.solver == "highs"
    assert p.solver.time_limit == pytest.approx(300)
    assert p.solver.gap == pytest.approx(1e-4)
    assert Policy.from_dict({}) == p
    assert Policy.from_dict(None) == p


@pytest.mark.parametrize(
    "data, message",
    [
        ({"polise": {"reduction": 0.4}}, "did you mean 'police'"),
        ({"police": {"reduktion": 0.4}}, "did you mean 'police.reduction'"),
        ({"police": {"max_distance": 30}}, "did you mean 'police.max_distance_km'"),
        ({"solver": {"time_limt": 30}}, "did you mean 'solver.time_limit'"),
        ({"police": {"scope": "provnce"}}, "did you mean 'province'"),
    ],
)
def test_unknown_keys_and_values_suggest_the_closest(data: dict, message: str) -> None:
    with pytest.raises(PolicyError, match=message.replace(".", r"\.")):
        Policy.from_dict(data)


def test_every_unknown_key_is_reported_at_once() -> None:
    with pytest.raises(PolicyError) as info:
        Policy.from_dict({"polise": {}, "solver": {"time_limt": 3, "gapp": 0.1}})
    assert len(info.value.problems) == 3
    text = str(info.value)
    assert "polise" in text and "time_limt" in text and "gapp" in text


def test_invalid_values_in_several_sections_are_all_listed() -> None:
    with pytest.raises(PolicyError) as info:
        Policy.from_dict(
            {
                "police": {"reduction": 1.5, "circuity": 9, "max_distance_km": -1},
                "judicial": {"reduction": -0.1},
                "solver": {"gap": 2, "time_limit": 0},
            }
        )
    text = str(info.value)
    for needle in (
        "police.reduction = 1.5",
        "police.circuity = 9",
        "police.max_distance_km = -1",
        "judicial.reduction = -0.1",
        "solver.gap = 2",
        "solver.time_limit = 0",
    ):
        assert needle in text, needle
    assert len(info.value.problems) == 6


def test_type_errors_are_listed_with_their_setting() -> None:
    with pytest.raises(PolicyError) as info:
        Policy.from_dict(
            {
                "police": {"weight": "people", "exempt_tibetan_area": "yes"},
                "solver": {"threads": 1.5, "time_limit": "long"},
            }
        )
    text = str(info.value)
    assert "'police.weight' = 'people'" in text
    assert "'police.exempt_tibetan_area' = 'yes'" in text
    assert "'solver.threads' = 1.5: give a whole number" in text
    assert "'solver.time_limit' = 'long': give a number" in text
    assert len(info.value.problems) == 4


def test_type_and_range_problems_in_one_section_are_reported_together() -> None:
    with pytest.raises(PolicyError) as info:
        Policy.from_dict({"police": {"scope": "provnce", "reduction": 1.5}})
    text = str(info.value)
    assert "provnce" in text
    assert "police.reduction = 1.5" in text


def test_pins_both_ways_are_rejected() -> None:
    with pytest.raises(PolicyError, match="pinned both open and closed: PS1"):
        Policy.from_dict({"police": {"pin_open": ["PS1"], "pin_closed": ["PS1", "PS2"]}})


def test_a_single_pin_may_be_a_string() -> None:
    assert Policy.from_dict({"police": {"pin_open": "PS-1"}}).police.pin_open == ("PS-1",)


def test_to_dict_round_trip() -> None:
    p = Policy.from_dict(
        {
            "name": "严格",
            "police": {
                "reduction": 0.4,
                "scope": "county",
                "max_distance_km": 30,
                "weight": "incidents",
                "pin_open": ["PS-1"],
                "pin_closed": ["PS-2"],
                "tibetan_prefixes": ["5132"],
            },
            "solver": {"solver": "cbc", "time_limit": 60, "threads": 2, "seed": 7},
        }
    )
    d = p.to_dict()
    assert d["police"]["pin_open"] == ["PS-1"]  # plain lists, JSON-ready
    assert d["police"]["max_distance_km"] == pytest.approx(30)
    assert Policy.from_dict(d) == p
    assert Policy.from_dict(d).to_dict() == d


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_scenario_inherits_from_its_base(tmp_path: Path) -> None:
    write(
        tmp_path / "base.yaml",
        "police:\n  reduction: 0.40\n  max_distance_km: 30\nsolver:\n  time_limit: 120\n",
    )
    (tmp_path / "sub").mkdir()
    child = write(
        tmp_path / "sub" / "strict.yaml",
        "base: ../base.yaml\npolice:\n  max_distance_km: 20\n  pin_open: [PS-1]\n",
    )
    p = load_scenario(child)
    assert p.police.reduction == pytest.approx(0.40)  # from the base
    assert p.police.max_distance_km == pytest.approx(20)  # overridden
    assert p.police.pin_open == ("PS-1",)
    assert p.solver.time_limit == pytest.approx(120)
    assert p.police.min_population == pytest.approx(20_000)  # still the plan's default
    assert p.name == "strict"
    assert Policy.from_yaml(child) == p


def test_scenario_cycle_is_reported(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "base: b.yaml\npolice:\n  reduction: 0.4\n")
    write(tmp_path / "b.yaml", "base: a.yaml\n")
    with pytest.raises(PolicyError, match=r"circle: a\.yaml -> b\.yaml -> a\.yaml"):
        load_scenario(tmp_path / "a.yaml")


def test_scenario_that_extends_itself(tmp_path: Path) -> None:
    write(tmp_path / "self.yaml", "base: self.yaml\n")
    with pytest.raises(PolicyError, match="circle"):
        load_scenario(tmp_path / "self.yaml")


def test_scenario_missing_base_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not found"):
        load_scenario(write(tmp_path / "x.yaml", "base: nowhere.yaml\n"))
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_scenario(write(tmp_path / "y.yaml", "police: [unclosed\n"))
    with pytest.raises(PolicyError, match="mapping"):
        load_scenario(write(tmp_path / "z.yaml", "- a\n- b\n"))


def test_scenario_unknown_key_in_base_is_reported(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", "police:\n  reducton: 0.4\n")
    child = write(tmp_path / "c.yaml", "base: base.yaml\n")
    with pytest.raises(PolicyError, match=r"did you mean 'police\.reduction'"):
        load_scenario(child)


@pytest.mark.parametrize("section", ["police", "judicial", "court"])
def test_every_facility_type_rejects_the_same_bad_shared_settings(section: str) -> None:
    # the shared checks live in one base class: no type may skip them
    bad = {
        "max_travel_minutes": -5,
        "max_distance_km": 0,
        "circuity": 9,
        "central_min_townships": 1,
    }
    with pytest.raises(PolicyError) as info:
        Policy.from_dict({section: bad})
    text = str(info.value)
    for key in bad:
        assert f"{section}.{key}" in text


def test_every_setting_reaches_plan_json_policy() -> None:
    """A setting left out of a type's field order (court.seat_merge_km was) still round-trips."""
    import dataclasses

    p = Policy.from_dict({"court": {"seat_merge_km": 8}})
    data = p.to_dict()
    for key in ("police", "judicial", "court"):
        names = {f.name for f in dataclasses.fields(getattr(p, key))}
        assert set(data[key]) == names, key
    assert data["court"]["seat_merge_km"] == 8
    assert Policy.from_dict(data).court.seat_merge_km == 8
