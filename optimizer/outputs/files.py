"""Write a plan's files into a folder, all or nothing, never over an input.

The guarantees (docs/outputs.md, "What a run may write"):

- the output folder is checked before the first byte: it must not be, nor contain, any input
  file; it must be (or be creatable as) a writable folder; no file the tool writes may exist
  there as a folder (or the reverse); a little free space must be left;
- every file is written into a temporary sibling folder, then put in place with renames; while
  the renames run, SIGINT and SIGTERM wait, and a failing rename puts the old files back;
- whatever happens (an exception, SIGINT, SIGTERM, a full disk) the temporary folder is removed
  and the folder holds either the old complete output or the new one;
- every file-system failure is an :class:`~optimizer.errors.OutputError` naming the path.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from optimizer.errors import OutputError
from optimizer.outputs import maps, tables
from optimizer.outputs.grassroots import add_grassroots_layers  # grassroots (issue 14)
from optimizer.outputs.plan_json import plan_json_text
from optimizer.progress import NO_PROGRESS, Progress
from optimizer.report.plan import Plan
from optimizer.schema import FACILITY_LABELS_ZH

__all__ = [
    "MIN_FREE_BYTES",
    "PLAN_FILES",
    "destination_problems",
    "input_overlap",
    "staged_output",
    "write_plan",
]

logger = logging.getLogger(__name__)

PLAN_FILES: tuple[str, ...] = (
    "plan.json",
    "facilities.csv",
    "townships.csv",
    "plan.xlsx",
    "jurisdictions.gpkg",
    "map.html",
)
"""The files :func:`write_plan` writes."""

MIN_FREE_BYTES = 32 * 1024 * 1024
"""A destination with less free space than this is refused before writing (32 MiB)."""


def _real(path: str | Path) -> Path:
    return Path(os.path.realpath(os.path.expanduser(str(path))))


def input_overlap(out: str | Path, inputs: Iterable[str | Path]) -> list[str]:
    """Return one problem per input file that ``out`` is, or holds (at any depth).

    A folder inside the data folder is fine; the data folder itself, a folder above it, or an
    input file are not (writing there would replace or mix with the planners' files).

    Parameters
    ----------
    out
        The output folder asked for.
    inputs
        Every input path of the run (data files, scenario files, roads); folders count too.

    Returns
    -------
    list of str
        Problems, empty when ``out`` touches no input.
    """
    o = _real(out)
    problems = []
    for p in dict.fromkeys(str(p) for p in inputs if p is not None):
        r = _real(p)
        if r == o:
            problems.append(
                f"the output folder {out} is the input {p}: choose another --out "
                "(a new folder, or a subfolder of the data folder)"
            )
        elif o in r.parents:
            problems.append(
                f"the output folder {out} holds the input file {p}; writing there would "
                "replace or mix with your data: choose another --out (a new folder, or a "
                "subfolder of the data folder)"
            )
    return problems


def _first_existing(path: Path) -> Path:
    p = path
    while not os.path.lexists(p) and p != p.parent:
        p = p.parent
    return p


def destination_problems(
    out: str | Path,
    files: Sequence[str] = (),
    dirs: Sequence[str] = (),
    *,
    min_free: int = MIN_FREE_BYTES,
) -> list[str]:
    """Check, before writing, that ``out`` can take the files ``files`` and folders ``dirs``.

    Parameters
    ----------
    out
        The output folder (created when missing).
    files, dirs
        Names of the files and folders that will be put in ``out``.
    min_free
        Bytes of free space required on its file system.

    Returns
    -------
    list of str
        One readable problem per obstacle, empty when the write can go ahead.
    """
    out = Path(out)
    if os.path.lexists(out) and not out.is_dir():
        return [f"the output folder {out} exists as a file: choose a folder name for --out"]
    base = _first_existing(out.absolute())
    if not base.is_dir():
        return [f"the output folder {out} cannot be created: {base} is a file, not a folder"]
    problems = []
    if not os.access(base, os.W_OK | os.X_OK):
        what = "write in" if base == out.absolute() else f"create {out} in"
        problems.append(f"no permission to {what} {base}: choose another --out")
    if out.is_dir():
        for name in files:
            if (out / name).is_dir():
                problems.append(
                    f"{out / name} is a folder, but the tool writes a file of that name: "
                    "move it away or choose another --out"
                )
        for name in dirs:
            if os.path.lexists(out / name) and not (out / name).is_dir():
                problems.append(
                    f"{out / name} is a file, but the tool writes a folder of that name: "
                    "move it away or choose another --out"
                )
    with contextlib.suppress(OSError):
        free = shutil.disk_usage(base).free
        if free < min_free:
            problems.append(
                f"only {free / 2**20:.1f} MiB free on the disk of {base} "
                f"(at least {min_free / 2**20:.0f} MiB needed): free some space or choose another --out"
            )
    return problems


def _foreign_entries(out: Path, names: Iterable[str]) -> list[str]:
    if not out.is_dir():
        return []
    own = set(names)
    return sorted(e for e in os.listdir(out) if e not in own and not e.startswith("."))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class _SignalsHeld:
    """Hold SIGINT and SIGTERM while the renames run; :meth:`release` re-sends what came."""

    def __init__(self) -> None:
        self.pending: list[int] = []
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _SignalsHeld:
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, lambda signum, _frame: self.pending.append(signum))
        return self

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._old.items():
            signal.signal(s, handler)

    def release(self) -> None:
        """Deliver the first signal that arrived while held (to the handler now in place)."""
        if self.pending:
            signal.raise_signal(self.pending[0])


def _raise_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """Let SIGTERM unwind like SIGINT (so the temporary folder is removed) when nobody else set it."""
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _os_message(exc: OSError, out: Path) -> str:
    where = exc.filename or out
    if exc.errno == errno.ENOSPC:
        return f"the disk is full while writing {where}: free some space or choose another --out"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"no permission to write {where}: choose another --out"
    return f"cannot write {where}: {exc.strerror or exc}"


def _commit(tmp: Path, out: Path) -> None:
    """Put every entry of ``tmp`` into ``out`` by renames; on failure put the old ones back."""
    if not os.path.lexists(out):
        os.rename(tmp, out)
        return
    backup = tmp / ".previous"
    backup.mkdir()
    moved_old: list[str] = []
    moved_new: list[str] = []
    try:
        for name in sorted(e for e in os.listdir(tmp) if e != ".previous"):
            if os.path.lexists(out / name):
                os.replace(out / name, backup / name)
                moved_old.append(name)
            os.replace(tmp / name, out / name)
            moved_new.append(name)
    except OSError:
        for name in reversed(moved_new):
            with contextlib.suppress(OSError):
                os.replace(out / name, tmp / name)
        for name in reversed(moved_old):
            with contextlib.suppress(OSError):
                os.replace(backup / name, out / name)
        raise


@contextlib.contextmanager
def staged_output(
    out: str | Path,
    files: Sequence[str] = (),
    dirs: Sequence[str] = (),
    *,
    inputs: Iterable[str | Path] = (),
    known: Iterable[str] = (),
) -> Iterator[Path]:
    """Check ``out``, hand a temporary sibling folder to write into, then put it in place.

    Parameters
    ----------
    out
        The output folder.
    files, dirs
        Names of the files and folders that will be written (checked before writing).
    inputs
        Input paths the output must not be or contain (see :func:`input_overlap`).
    known
        Names of other files this tool keeps in ``out`` (a sweep run's ``row.json``): left
        alone without a note.

    Yields
    ------
    pathlib.Path
        The temporary folder; everything in it at the end of the block goes into ``out``.

    Raises
    ------
    OutputError
        Before writing, when ``out`` cannot take the files; while writing, when the file
        system fails. Either way ``out`` is unchanged and no temporary folder is left.
    """
    out = Path(out)
    problems = input_overlap(out, inputs) + destination_problems(out, files, dirs)
    if problems:
        raise OutputError(problems)
    foreign = _foreign_entries(out, [*files, *dirs, *known])
    if foreign:
        shown = ", ".join(foreign[:5]) + (" …" if len(foreign) > 5 else "")
        logger.warning(
            "%s holds %d file(s) this tool did not write (%s); they are left as they are",
            out,
            len(foreign),
            shown,
        )
    created: list[Path] = []
    tmp: Path | None = None
    held = _SignalsHeld()
    try:
        with _sigterm_unwinds():
            try:
                parent = out.absolute().parent
                for d in reversed([parent, *parent.parents]):
                    if not d.exists():
                        d.mkdir()
                        created.append(d)
                where = parent if os.access(parent, os.W_OK | os.X_OK) else out
                tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=where))
                os.chmod(tmp, 0o777 & ~_umask())
                yield tmp
                with held:
                    _commit(tmp, out)
                created.clear()
            except OSError as exc:
                raise OutputError(_os_message(exc, out)) from exc
            finally:
                if tmp is not None:
                    shutil.rmtree(tmp, ignore_errors=True)
                for d in reversed(created):
                    with contextlib.suppress(OSError):
                        d.rmdir()
    finally:
        held.release()


def write_plan(
    plan: Plan,
    out_dir: str | Path,
    *,
    map_tiles: str | None = None,
    inputs: Iterable[str | Path] = (),
    progress: Progress = NO_PROGRESS,
    known: Iterable[str] = (),
) -> list[Path]:
    """Write every output file of ``plan`` into ``out_dir``, all or nothing.

    See :func:`staged_output` for the guarantees: the folder is checked first, never over an
    input (``plan.sources`` and ``inputs``), the files go in by renames, and a failure or an
    interruption leaves the old complete output and no temporary folder.

    Parameters
    ----------
    plan
        The plan to write.
    out_dir
        Output folder (created if needed).
    map_tiles
        Optional tile URL template of an office tile server for the map.
    inputs
        Further input paths to protect (scenario files).
    progress
        Told of each file (or group of files) being written; default: silent.
    known
        Names of other files of this tool that may lie in ``out_dir`` (see
        :func:`staged_output`).

    Returns
    -------
    list of pathlib.Path
        The files written: ``plan.json``, ``facilities.csv``, ``townships.csv``, ``plan.xlsx``,
        ``jurisdictions.gpkg`` and ``map.html``.

    Raises
    ------
    OutputError
        When ``out_dir`` cannot take the files (see :func:`staged_output`).
    """
    out = Path(out_dir)
    protect = [*plan.sources.values(), *inputs]
    with staged_output(out, PLAN_FILES, inputs=protect, known=known) as tmp:
        names = _write_all(plan, tmp, map_tiles=map_tiles, progress=progress)
    return [out / name for name in names]


def _write_all(plan: Plan, d: Path, *, map_tiles: str | None, progress: Progress) -> list[str]:
    """Write each file into the folder ``d``; return their names in writing order."""
    n_towns, n_fac = len(plan.townships), len(plan.facilities)
    with progress.stage("write:plan.json", "写出 plan.json"):
        (d / "plan.json").write_text(plan_json_text(plan), encoding="utf-8")
    names = ["plan.json"]
    with progress.stage("write:tables", "写出 表格（facilities.csv、townships.csv、plan.xlsx）"):
        names += tables.write_tables(plan, d)
    with progress.stage("write:jurisdictions", "写出 辖区图层 jurisdictions.gpkg"):
        names += tables.write_jurisdictions(plan, d)
    label = "、".join(FACILITY_LABELS_ZH[t] for t in plan.types)
    title = f"{label}布局方案：{plan.policy.name}"
    with progress.stage("write:map", f"写出 地图 map.html（{n_towns:,} 个乡镇，{n_fac:,} 个机构）"):
        m = maps.plan_map(
            plan.townships,
            plan.facilities,
            title=title,
            facility_types=list(plan.types),
            tiles=map_tiles,
            synthetic=plan.synthetic,
            checks=plan.outcome_counts(),
        )
        if plan.grassroots is not None:  # grassroots (issue 14): 网格 and 村（社区） layers
            add_grassroots_layers(m, plan.grassroots)
        maps.save_map(m, d / "map.html")
    names.append("map.html")
    return names
