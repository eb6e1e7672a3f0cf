"""The command line: ``optimizer plan``, ``compare``, ``sweep``, ``explain`` and ``sample``.

``app`` is the entry point (exit codes, signals), ``parser`` the arguments and their Chinese help,
``commands`` one function per command, ``common`` what they share.
"""

from optimizer.cli.app import main
from optimizer.cli.commands import compare_view
from optimizer.cli.common import bundled_sample

__all__ = ["bundled_sample", "compare_view", "main"]
