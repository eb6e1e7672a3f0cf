"""The entry point: parse, check the arguments, run one command, turn failures into exit codes.

Bad input ends with one readable message that lists every problem, exit code 2, and no output
files; a solver failure exits with 3. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
from collections.abc import Sequence

from optimizer.cli.commands import cmd_compare, cmd_explain, cmd_plan, cmd_sample, cmd_sweep
from optimizer.cli.common import (
    setup_logging,
    stderr_console,
    verbosity,
)
from optimizer.cli.parser import build_parser
from optimizer.errors import (
    DataError,
    InfeasibleError,
    OptimizerError,
    OutputError,
    PolicyError,
    SolverError,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 for bad data, policy or an infeasible scenario, 3 for a solver failure.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    bad = _argument_problems(args)
    if bad:
        parser.exit(2, "".join(f"optimizer {args.command}: error: {b}\n" for b in bad))
    setup_logging(verbosity(args), stderr_console())
    with _sigterm_as_interrupt():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    """Run one command and turn every expected failure into a message and an exit code."""
    try:
        if args.command == "plan":
            return cmd_plan(args)
        if args.command == "compare":
            return cmd_compare(args)
        if args.command == "explain":
            return cmd_explain(args)
        if args.command == "sweep":
            return cmd_sweep(args)
        return cmd_sample(args)
    except (DataError, PolicyError, InfeasibleError, OutputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        print("nothing was written.", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"error: cannot read or write{where}: {exc.strerror or exc}", file=sys.stderr)
        print("nothing was written.", file=sys.stderr)
        return 2
    except SolverError as exc:
        print(f"solver error: {exc}", file=sys.stderr)
        return 3
    except OptimizerError as exc:  # pragma: no cover - every subclass is handled above
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted; nothing half-written was left: the output folder holds the previous "
            "or the new complete files.",
            file=sys.stderr,
        )
        return 130


_TIME_LIMIT_MAX = 7 * 24 * 3600.0


def _argument_problems(args: argparse.Namespace) -> list[str]:
    """Return one message per command-line value that cannot be used (before any work)."""
    problems = []
    limit = getattr(args, "time_limit", None)
    if limit is not None and not (math.isfinite(limit) and 0 < limit <= _TIME_LIMIT_MAX):
        problems.append(
            f"--time-limit {limit}: give seconds, a number above 0 and at most "
            f"{_TIME_LIMIT_MAX:.0f} (7 days), e.g. --time-limit 300"
        )
    workers = getattr(args, "workers", None)
    least = 0 if args.command == "sweep" else 1  # sweep --workers 0: in this process, no Dask
    if workers is not None and workers < least:
        problems.append(
            f"--workers {workers}: give {least} or more processes (default: one per core)"
        )
    return problems


class _sigterm_as_interrupt:
    """Turn SIGTERM into KeyboardInterrupt during a command, so temporary files are removed."""

    def __enter__(self) -> None:
        self._old: object = None
        try:
            self._old = signal.signal(signal.SIGTERM, self._raise)
        except ValueError:  # not the main thread: leave signals alone
            pass

    @staticmethod
    def _raise(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)  # type: ignore[arg-type]
