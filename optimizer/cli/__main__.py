"""``python -m optimizer.cli`` runs the command line, like ``optimizer`` and ``python -m optimizer``."""

import sys

from optimizer.cli.app import main

sys.exit(main())
