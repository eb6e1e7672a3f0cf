"""The command line's help: every command and option described, defaults and choices, examples."""

from __future__ import annotations

import argparse
import re

import pytest
from rich.cells import cell_len

from optimizer.cli import main
from optimizer.cli.parser import build_parser
from optimizer.paths import scenarios_dir
from optimizer.rules import load_scenario
from optimizer.schema import FACILITY_TYPES

COMMANDS = ("plan", "compare", "sample")


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    p = build_parser()
    action = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_top_help_lists_every_command_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys)
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s+\S", text, flags=re.MULTILINE), command
    assert "示例" in text and "optimizer plan" in text and "optimizer compare" in text


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_has_help_and_each_command_examples(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sub = _subparsers()[command]
    assert sub.description and len(sub.description) > 20
    for action in sub._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help and len(action.help) > 4, action.dest
        if action.default not in (None, False, 0, argparse.SUPPRESS) and action.option_strings:
            assert "默认" in action.help, f"{action.dest}: default {action.default!r} not stated"
    text = _help(capsys, command)
    examples = text[text.index("示例") :]
    assert examples.count(f"optimizer {command}") >= 2
    wide = [line for line in text.splitlines() if cell_len(line) > 100]
    assert wide == [], wide  # fits 100 terminal cells, CJK counted as two


def test_types_choices_and_one_time_limit_default(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys, "plan")
    flat = " ".join(text.split())
    for t in FACILITY_TYPES:
        assert t in flat
    baseline = load_scenario(scenarios_dir() / "baseline.yaml").solver.time_limit
    limit = f"{baseline:g} 秒"
    assert flat.count(limit) == 1  # stated once, and it is the default scenario's
    for scenario in ("scenarios/cut40.yaml", "scenarios/baseline.yaml", "--counties 511823"):
        assert scenario in text


def test_unknown_type_is_refused_with_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["plan", "--types", "police_station,prison"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "prison" in err and "judicial_office" in err


def test_compare_table_fits_100_columns_and_aligns_chinese() -> None:
    import io

    import pandas as pd
    from rich.console import Console

    from optimizer.cli import compare_view

    names = ["基准方案（压减35%）", "压减40%", "压减35%，30公里上限", "各县分别压减35%"]
    row: dict[str, object] = {}
    rows = []
    for i, n in enumerate(names):
        row = {"scenario": n}
        for t in FACILITY_TYPES:
            row |= {
                f"before__{t}": 4564, f"kept__{t}": 2723 - i, f"reduction__{t}": 0.4034,
                f"central__{t}": 301, f"mean_distance_km__{t}": 3.14159,
                f"max_distance_km__{t}": 41.2, f"changed_townships__{t}": 1234,
            }  # fmt: skip
        row |= {"exceptions": 12, "failed_checks": 0, "solver_status": "optimal"}
        row |= {"checks_met": 18, "checks_exceptions": 2, "checks_not_met": i}
        rows.append(row)
    buf = io.StringIO()
    Console(file=buf, width=100, color_system=None).print(
        compare_view(pd.DataFrame(rows), list(FACILITY_TYPES))
    )
    lines = buf.getvalue().splitlines()
    assert max(cell_len(line) for line in lines) <= 100
    flat = "".join(buf.getvalue().split())
    for n in names:  # each scenario under its own name (perhaps folded over lines)
        assert "".join(n.split()) in flat or all(part in flat for part in (n[:4], n[-3:]))
    body = [line for line in lines if "保留（个）" in line]
    assert len(body) == 3 and len({cell_len(line) for line in body}) == 1  # columns line up
    assert "2,723" in buf.getvalue() and "40.3%" in buf.getvalue()
    outcome = next(line for line in lines if "规则检查：未达标" in line)
    assert outcome.replace("│", " ").split()[-4:] == ["0", "1", "2", "3"]  # not_met per scenario
