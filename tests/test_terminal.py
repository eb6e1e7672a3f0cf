"""The command line's output: one line per stage, then the summary; the developer log behind -v."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from optimizer.progress import NO_PROGRESS, Progress, Stage


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "optimizer", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_default_output_is_stages_then_summary(tmp_path: Path, tiny_data: Path) -> None:
    proc = _run("plan", "--data", str(tiny_data), "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    err = [line for line in proc.stderr.splitlines() if line.strip()]
    stages = [line for line in err if line.startswith("✓ ")]
    labels = [line.split("  ")[0] for line in stages]
    for want in ("读取数据", "地理", "求解 派出所", "规则检查", "plan.json", "map.html"):
        assert any(want in label for label in labels), (want, labels)
    assert all(line.startswith(("✓ ", "注意")) for line in err), err  # nothing else
    assert len(set(err)) == len(err)  # no line repeated
    assert all(line.rstrip().endswith(tuple("0123456789")) for line in stages)  # elapsed time
    text = proc.stderr + proc.stdout
    assert "LocationResult(" not in text and "Result(" not in text
    others = proc.stderr.replace(str(tiny_data), "DATA").replace(str(tmp_path / "out"), "OUT")
    assert ".plan-" not in text and "/tmp" not in others  # no temporary paths
    assert proc.stdout.startswith("方案：") and "规则检查：" in proc.stdout


def test_quiet_and_verbose(tmp_path: Path, tiny_data: Path) -> None:
    quiet = _run("plan", "--data", str(tiny_data), "--out", str(tmp_path / "q"), "-q")
    assert quiet.returncode == 0 and "✓" not in quiet.stderr and "方案：" in quiet.stdout
    loud = _run("plan", "--data", str(tiny_data), "--out", str(tmp_path / "v"), "-vv")
    assert loud.returncode == 0
    assert len(loud.stderr.splitlines()) > len(quiet.stderr.splitlines()) + 10


def test_progress_interface_reports_failure() -> None:
    seen: list[tuple[str, str, bool | None]] = []

    class Recorder(Progress):
        def started(self, stage: Stage) -> None:
            seen.append(("start", stage.key, None))

        def finished(self, stage: Stage, *, failed: bool = False) -> None:
            seen.append(("end", stage.key, failed))

    rec = Recorder()
    with rec.stage("a", "甲") as st:
        st.detail = "done"
    try:
        with rec.stage("b", "乙"):
            raise ValueError("x")
    except ValueError:
        pass
    assert seen == [
        ("start", "a", None),
        ("end", "a", False),
        ("start", "b", None),
        ("end", "b", True),
    ]
    with NO_PROGRESS.stage("c", "丙") as st:  # the silent default
        assert st.key == "c"
