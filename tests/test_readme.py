"""The README's Python snippet runs from any folder and prints what it computes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_python_snippet_runs_from_another_folder(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## From Python") :]
    code = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert code is not None
    proc = subprocess.run(
        [sys.executable, "-c", code.group(1)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert re.match(r"派出所 \d+ → \d+（减少 \d+\.\d%），求解 ", lines[0]), lines
    assert "met" in lines[1] and "plan.json" in lines[2] and "map.html" in lines[2]
    assert (tmp_path / "out" / "forty" / "plan.json").is_file()  # relative to where it ran


def test_cut40_example_is_the_file() -> None:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"```yaml\n# scenarios/cut40.yaml\n(.*?)```", text, flags=re.DOTALL)
    assert block is not None
    scenario = (README.parent / "scenarios" / "cut40.yaml").read_text(encoding="utf-8")
    assert block.group(1) == scenario
