"""optimizer compare on the sweep engine: failures keep their kind and name their scenario."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.cli import main
from optimizer.errors import InfeasibleError
from optimizer.inputs import load_inputs
from optimizer.paths import sample_dir
from optimizer.rules import load_scenario
from optimizer.scenarios import run_scenarios

#: These tests run a Dask scheduler and workers on 127.0.0.1.
pytestmark = pytest.mark.loopback

SCEN = Path(__file__).resolve().parents[1] / "scenarios"


def test_an_infeasible_scenario_is_raised_as_itself_with_its_name() -> None:
    policies = [load_scenario(SCEN / "baseline.yaml"), load_scenario(SCEN / "limit30km.yaml")]
    with pytest.raises(InfeasibleError) as err:
        run_scenarios(load_inputs(sample_dir()), policies, workers=1, types=["police_station"])
    assert all(p.startswith(f"scenario {policies[1].name!r}: ") for p in err.value.problems)
    assert any("513233203" in p for p in err.value.problems)


def test_cli_compare_on_two_dask_workers_exits_2_for_an_infeasible_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cmp"
    args = ["compare", str(SCEN / "baseline.yaml"), str(SCEN / "limit30km.yaml")]
    code = main([*args, "--types", "police_station", "--workers", "2", "--out", str(out), "-q"])
    assert code == 2
    err = capsys.readouterr().err
    assert "infeasible" in err and "513233203" in err and "nothing was written" in err
    assert not out.exists()
