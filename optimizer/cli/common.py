"""What the commands share: the bundled sample, logging, the console, reading, the --out check."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.logging import RichHandler

from optimizer.errors import (
    OutputError,
    PolicyError,
)
from optimizer.inputs import Inputs, load_inputs
from optimizer.outputs.files import destination_problems, input_overlap
from optimizer.paths import sample_dir, scenarios_dir
from optimizer.progress import NO_PROGRESS, Progress
from optimizer.terminal import TerminalProgress

logger = logging.getLogger("optimizer")


def bundled_sample() -> Path:
    """Return the folder of the bundled synthetic sample (installed with the package).

    Returns
    -------
    pathlib.Path
        A data folder with ``townships.gpkg``, ``facilities.csv`` and ``counties.csv``.
    """
    return sample_dir()


class _Elapsed(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self.t0 = time.perf_counter()

    def format(self, record: logging.LogRecord) -> str:
        return f"[{time.perf_counter() - self.t0:6.1f}s] {record.getMessage()}"


def setup_logging(verbosity: int, console: Console | None = None) -> None:
    """Route the package's log to stderr: warnings by default, ``-v`` info, ``-vv`` debug."""
    handler: logging.Handler
    if console is not None and console.is_terminal:
        handler = RichHandler(
            console=console, show_time=False, show_path=False, markup=False, highlighter=None
        )
    else:
        handler = logging.StreamHandler(sys.stderr)
        if verbosity > 0:
            handler.setFormatter(_Elapsed())
        else:
            handler.setFormatter(logging.Formatter("注意 / note: %(message)s"))
    root = logging.getLogger("optimizer")
    root.handlers[:] = [handler]
    root.setLevel(
        logging.ERROR
        if verbosity < 0
        else logging.WARNING
        if verbosity == 0
        else logging.INFO
        if verbosity == 1
        else logging.DEBUG
    )
    root.propagate = False


def baseline_scenario() -> Path:
    """Return the bundled ``baseline.yaml`` (the work plan's own numbers)."""
    return scenarios_dir() / "baseline.yaml"


_CONSOLE: Console | None = None


def stderr_console() -> Console:
    """Return the stderr console the progress display and the log share (made once)."""
    global _CONSOLE
    if _CONSOLE is None:
        _CONSOLE = Console(stderr=True, highlight=False)
    return _CONSOLE


def verbosity(args: argparse.Namespace) -> int:
    """Return the log level asked for: -1 with ``-q``, else the count of ``-v``."""
    return -1 if getattr(args, "quiet", False) else int(getattr(args, "verbose", 0) or 0)


def stage_display(args: argparse.Namespace) -> AbstractContextManager[Progress]:
    """Return the stage display of a command: none with ``-q``, else one line per stage."""
    if getattr(args, "quiet", False):
        return nullcontext(NO_PROGRESS)
    return TerminalProgress(stderr_console())


def read_inputs(
    args: argparse.Namespace, progress: Progress, data_dir: Path, prefixes: Any
) -> Inputs:
    """Read and validate the inputs named by the data options, as one progress stage."""
    with progress.stage("read", f"读取数据 {data_dir}") as st:
        inputs = load_inputs(
            data_dir,
            townships=args.townships,
            facilities=args.facilities,
            counties=args.counties,
            township_attributes=args.attributes,
            roads=args.roads,
            crs=args.crs,
            tibetan_prefixes=prefixes,
        )
        st.detail = f"{len(inputs.townships):,} 个乡镇，{len(inputs.facilities):,} 个机构"
    return inputs


def input_paths(args: argparse.Namespace) -> list[Path]:
    """Every input path of the command: data folder, explicit files, roads, scenario files."""
    paths: list[Path] = []
    for name in ("data", "townships", "attributes", "facilities", "counties", "roads"):
        value = getattr(args, name, None)
        if isinstance(value, Path):
            paths.append(value)
    if args.command in ("plan", "compare") and not paths:
        paths.append(bundled_sample())
    scenarios = list(getattr(args, "scenarios", None) or [])
    if getattr(args, "scenario", None):
        scenarios.append(args.scenario)
    for path in scenarios:
        paths += _scenario_chain(Path(path))
    return paths


def _scenario_chain(path: Path) -> list[Path]:
    """Return a scenario file and the files it extends (``base:``); refuse one not in UTF-8."""
    import yaml

    chain: list[Path] = []
    while path.is_file() and path.resolve() not in chain and len(chain) < 50:
        chain.append(path.resolve())
        try:
            data = yaml.safe_load(path.read_bytes().decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise PolicyError(
                f"{path}: not UTF-8 text (byte {exc.start}); save the scenario file as UTF-8"
            ) from exc
        except yaml.YAMLError:
            break  # load_scenario reports it with the line
        base = data.get("base") if isinstance(data, dict) else None
        if base is None:
            break
        path = path.parent / str(base)
    return chain


def check_out(args: argparse.Namespace, files: Sequence[str]) -> None:
    """Refuse, before any work, an --out that is an input or cannot take the files."""
    inputs = input_paths(args)
    problems = input_overlap(args.out, inputs) + destination_problems(args.out, files)
    if problems:
        raise OutputError(problems)
