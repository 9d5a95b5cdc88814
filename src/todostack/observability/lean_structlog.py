"""structlog, imported without rich.

structlog's package imports ``structlog.dev``, which imports rich (and with it pygments)
whenever rich is installed, only to format tracebacks in its console renderer; Litestar
depends on rich, so it always is: 81 modules and 5.5 MiB of ``import todostack.bootstrap``,
3 MiB of each worker's RSS under load, for a renderer the service uses only on a terminal
(docs/benchmarks.md, "Worker memory: structlog without rich"). rich is hidden while
structlog loads, so its console renderer formats tracebacks as plain text. The service imports
structlog from here, never directly.
"""

from __future__ import annotations

import sys

__all__ = ["structlog"]

_hide_rich = "rich" not in sys.modules and "structlog" not in sys.modules
if _hide_rich:
    sys.modules["rich"] = None  # type: ignore[assignment]  # ``import rich`` raises ImportError
try:
    import structlog
finally:
    if _hide_rich:
        del sys.modules["rich"]
