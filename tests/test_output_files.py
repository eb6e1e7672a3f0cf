"""The write guarantees: never over an input, every destination checked first, all or nothing.

Each test looks at what a planner would see on disk: the files in the output folder, their
bytes, the input hashes, and that no temporary ``.*.partial-*`` folder is left.
"""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from optimizer.cli import main
from optimizer.errors import OutputError
from optimizer.inputs import load_inputs
from optimizer.outputs import files as outfiles
from optimizer.outputs import write_plan
from optimizer.outputs.files import PLAN_FILES
from optimizer.pipeline import make_plan
from optimizer.report import Plan


def digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*partial*")]


@pytest.fixture(scope="module")
def tiny_plan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Plan, Path]:
    from conftest import write_data_dir

    data = write_data_dir(tmp_path_factory.mktemp("w") / "data")
    return make_plan(load_inputs(data)), data


@pytest.mark.parametrize("where", ["data", "parent", "file"])
def test_an_output_over_the_inputs_is_refused(
    tiny_data: Path, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = {
        "data": tiny_data,
        "parent": tiny_data.parent,
        "file": tiny_data / "facilities.csv",
    }[where]
    before = digest(tiny_data.parent)
    assert main(["plan", "--data", str(tiny_data), "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "nothing was written" in err
    assert "--out" in err
    assert digest(tiny_data.parent) == before


def test_a_scenario_file_inside_the_output_is_refused(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs"
    out.mkdir()
    (out / "base.yaml").write_text("name: base\n", encoding="utf-8")
    (out / "s.yaml").write_text("base: base.yaml\npolice:\n  reduction: 0.4\n", encoding="utf-8")
    assert (
        main(
            ["plan", "--data", str(tiny_data), "--scenario", str(out / "s.yaml"), "--out", str(out)]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "holds the input file" in err and "s.yaml" in err
    assert sorted(p.name for p in out.iterdir()) == ["base.yaml", "s.yaml"]


def test_a_subfolder_of_the_data_folder_is_fine(tiny_data: Path) -> None:
    before = digest(tiny_data)
    out = tiny_data / "out"
    assert main(["plan", "--data", str(tiny_data), "--out", str(out), "-q"]) == 0
    assert {p.name for p in out.iterdir()} == set(PLAN_FILES)
    assert {k: v for k, v in digest(tiny_data).items() if not k.startswith("out/")} == before


@pytest.mark.parametrize("case", ["out_is_file", "parent_is_file", "plan_json_dir", "map_dir"])
def test_a_destination_of_the_wrong_kind_is_refused_before_writing(
    tiny_data: Path, tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "f").write_text("x")
    out = {
        "out_is_file": tmp_path / "f",
        "parent_is_file": tmp_path / "f" / "out",
        "plan_json_dir": tmp_path / "o",
        "map_dir": tmp_path / "o",
    }[case]
    if case == "plan_json_dir":
        (out / "plan.json").mkdir(parents=True)
    if case == "map_dir":
        (out / "map.html").mkdir(parents=True)
    listing = sorted(str(p) for p in tmp_path.rglob("*"))
    t0 = time.perf_counter()
    assert main(["plan", "--data", str(tiny_data), "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "the output cannot be written" in err
    assert time.perf_counter() - t0 < 5  # refused before planning, not after
    assert sorted(str(p) for p in tmp_path.rglob("*")) == listing


def test_rewriting_replaces_the_files_and_keeps_foreign_ones(
    tiny_plan: tuple[Plan, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plan, _ = tiny_plan
    out = tmp_path / "out"
    write_plan(plan, out)
    first = digest(out)
    (out / "notes.txt").write_text("mine")
    (out / "plan.json").write_text("stale")
    written = write_plan(plan, out)
    assert {p.name for p in written} == set(PLAN_FILES)
    assert (out / "notes.txt").read_text() == "mine"
    assert "did not write" in caplog.text and "notes.txt" in caplog.text
    assert {k: v for k, v in digest(out).items() if k != "notes.txt"}.keys() == first.keys()
    assert (out / "plan.json").read_text(encoding="utf-8").startswith("{")
    assert leftovers(tmp_path) == []


def test_a_failing_rename_puts_the_old_output_back(
    tiny_plan: tuple[Plan, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan, _ = tiny_plan
    out = tmp_path / "out"
    write_plan(plan, out)
    (out / "plan.json").write_text("old", encoding="utf-8")
    before = digest(out)
    real = os.replace
    calls = {"n": 0}

    def flaky(src: object, dst: object) -> None:
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError(errno.EIO, "Input/output error", str(dst))
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(outfiles.os, "replace", flaky)
    with pytest.raises(OutputError, match="cannot write"):
        write_plan(plan, out)
    monkeypatch.undo()
    assert digest(out) == before
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "exc", [OSError(errno.ENOSPC, "No space left on device"), RuntimeError("bug")]
)
def test_a_failure_while_writing_leaves_the_old_output(
    tiny_plan: tuple[Plan, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc: Exception
) -> None:
    plan, _ = tiny_plan
    out = tmp_path / "out"
    write_plan(plan, out)
    before = digest(out)

    def boom(*_a: object, **_k: object) -> None:
        raise exc

    monkeypatch.setattr(outfiles.maps, "save_map", boom)
    with pytest.raises(OutputError if isinstance(exc, OSError) else RuntimeError) as info:
        write_plan(plan, out)
    if isinstance(exc, OSError):
        assert "disk is full" in str(info.value)
    assert digest(out) == before
    assert leftovers(tmp_path) == []


def test_a_new_folder_is_not_left_behind_on_failure(
    tiny_plan: tuple[Plan, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan, _ = tiny_plan
    monkeypatch.setattr(
        outfiles.maps, "save_map", lambda *a, **k: (_ for _ in ()).throw(OSError(5, "EIO"))
    )
    with pytest.raises(OutputError):
        write_plan(plan, tmp_path / "a" / "b" / "out")
    assert list(tmp_path.iterdir()) == []


def test_write_plan_refuses_its_own_inputs(tiny_plan: tuple[Plan, Path]) -> None:
    plan, data = tiny_plan
    before = digest(data)
    with pytest.raises(OutputError, match="holds the input file"):
        write_plan(plan, data)
    assert digest(data) == before


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_run_leaves_old_or_new_and_no_temporary_folder(
    tiny_data: Path, tmp_path: Path, sig: int
) -> None:
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "optimizer",
        "plan",
        "--data",
        str(tiny_data),
        "--out",
        str(out),
        "-q",
    ]
    subprocess.run(cmd, check=True, capture_output=True)
    old = digest(out)
    (out / "plan.json").write_text("old", encoding="utf-8")
    marked = digest(out)
    outcomes = set()
    cmd = cmd[:-1]  # progress lines tell when main() runs (a signal during imports is Python's)
    for delay in (0.0, 0.5, 1.0, 2.0, 4.0):
        (out / "plan.json").write_text("old", encoding="utf-8")
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        first = proc.stderr.readline()
        time.sleep(delay)
        proc.send_signal(sig)
        _, rest = proc.communicate(timeout=120)
        err = first + rest
        assert b"Traceback" not in err
        now = digest(out)
        assert now in (marked, {**old, "plan.json": now.get("plan.json", "")}), delay
        assert set(now) == set(PLAN_FILES)
        outcomes.add("old" if now == marked else "new")
        assert leftovers(tmp_path) == [], delay
    assert "old" in outcomes


def test_an_unwritable_or_full_destination_is_refused_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the suite may run as root, which writes anywhere: pretend the permission is missing
    monkeypatch.setattr(outfiles.os, "access", lambda *_a, **_k: False)
    problems = outfiles.destination_problems(tmp_path / "new" / "out", PLAN_FILES)
    assert any("no permission to create" in p for p in problems)
    monkeypatch.undo()

    class Usage:
        free = 5 * 2**20

    monkeypatch.setattr(outfiles.shutil, "disk_usage", lambda _p: Usage())
    problems = outfiles.destination_problems(tmp_path / "out", PLAN_FILES)
    assert any("5.0 MiB free" in p for p in problems)
    assert list(tmp_path.iterdir()) == []
