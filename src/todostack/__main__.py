"""``python -m todostack`` is the ``todostack`` command."""

import sys

from todostack.delivery.cli import main

sys.exit(main())
