"""``python -m todostack`` is the ``todostack`` command."""

import sys

from todostack.entrypoints.cli import main

sys.exit(main())
