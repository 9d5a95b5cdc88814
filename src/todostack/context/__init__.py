"""The request context: Go's ``context.Context`` for asyncio.

One ``RequestContext`` per request, held in a ``contextvars.ContextVar`` so that every layer can
reach it without passing it through each signature: the HTTP layer creates it, the auth middleware
puts the principal in it, the adapters read the remaining budget from it and hand that to the
database. It imports nothing of the project but the eBPF probes, so any layer may import it.
``request.py`` holds ``RequestContext``, ``cancelled.py`` the causes and the exceptions below;
this module, which context is the current one.

What it carries:

* ``request_id``: from ``X-Request-ID`` or generated; echoed in the answer and in every log line.
* ``deadline``: an absolute ``loop.time()``; ``remaining()`` is what callees ask for.
* ``cause``: why the work was cancelled, recorded once, first writer wins (``context.Cause``).
* ``after(fn)``: a cleanup that runs exactly once, in its own task, when the request ends or is
  cancelled (``context.AfterFunc``); its ``stop()`` says whether it prevented the call.

Exceptions raised here (all are ``Exception``, unlike ``asyncio.CancelledError``)::

    Cancelled             the work stopped for a recorded cause
    ├── DeadlineExceeded  the budget ran out before (or while) the work could be done
    ├── Overloaded        the work was refused at once instead of queueing without bound
    ├── Unavailable       the database is unreachable, refusing, restarting or out of connections
    └── StorageFull       the database's disk is full: writes cannot be kept, reads still can
"""

from __future__ import annotations

import contextvars

from todostack.context.cancelled import Cancelled, Cause, DeadlineExceeded, Overloaded, StorageFull, Unavailable
from todostack.context.request import RequestContext

__all__ = [
    "Cancelled",
    "Cause",
    "DeadlineExceeded",
    "Overloaded",
    "RequestContext",
    "StorageFull",
    "Unavailable",
    "current",
    "remaining",
    "reset",
    "use",
]

_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar("todostack_request", default=None)


def current() -> RequestContext | None:
    """The context of the request being served, if any."""
    return _current.get()


def remaining() -> float | None:
    """The current request's remaining budget in seconds, ``None`` outside a request."""
    ctx = _current.get()
    return None if ctx is None else ctx.remaining()


def use(ctx: RequestContext | None) -> contextvars.Token[RequestContext | None]:
    """Make ``ctx`` current; give the token back to ``reset`` when done."""
    return _current.set(ctx)


def reset(token: contextvars.Token[RequestContext | None]) -> None:
    _current.reset(token)
