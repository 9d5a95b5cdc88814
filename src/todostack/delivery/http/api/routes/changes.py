"""The change feed: ``GET /changes?since=`` (pages) and ``GET /changes/stream`` (Server-Sent Events).

A stream starts where the client says (``Last-Event-ID``, which browsers send when they
reconnect by themselves, or ``?since=``), else at the newest change. Each change is one event
with its id as ``id:``; a comment line goes out when the stream has been quiet for the
heartbeat interval; ``resync`` says the changes after the client's position are no longer all
kept (reload, then follow on from the event's id). At shutdown the stream ends with a ``retry:``
hint, so the browser reconnects (to a worker that stays) and resumes from its last id.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar import Response, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter, QueryParameter
from litestar.response import Stream
from msgspec import Meta, Struct

from todostack.delivery.http.api.paths import API_PREFIX
from todostack.delivery.http.api.request import ApiRequest
from todostack.delivery.http.api.responses import AUTHED, problems
from todostack.delivery.http.api.services import FeedOptions
from todostack.delivery.http.asgi.sending import JsonResponse
from todostack.domain import Change, FieldError, Invalid, Principal
from todostack.usecases import ChangeHub, ChangePage, ChangeService
from todostack.usecases.changes import CHANGES_LIMIT_MAX

__all__ = ["STREAM_PATH", "handlers"]

log = logging.getLogger("todostack.feed")

STREAM_PATH = f"{API_PREFIX}/changes/stream"
# The largest integer JavaScript (and a JSON number read as a double) holds exactly.
_ID_MAX = 2**53 - 1
ChangeId = Annotated[int, Meta(ge=0, le=_ID_MAX)]
_STREAM_BATCH = 200


class ChangeOut(Struct):
    id: ChangeId
    entity: Literal["todo", "list"]
    entity_id: Annotated[str, Meta(max_length=36, examples=["0b5f7c1e-3c1d-4f7a-9a7e-2f6d7b1e9c3a"])]
    version: Annotated[int, Meta(ge=1, le=2**31 - 1)]
    kind: Literal["created", "updated", "deleted"]
    at: datetime

    @classmethod
    def of(cls, c: Change) -> ChangeOut:
        return cls(c.id, c.entity.value, c.entity_id, c.version, c.kind.value, c.at)


class ChangeFeedPage(Struct):
    items: Annotated[list[ChangeOut], Meta(max_length=CHANGES_LIMIT_MAX)]
    next: ChangeId
    more: bool
    resync: bool


_encode = msgspec.json.Encoder().encode


def _event(kind: str, event_id: int, data: object) -> bytes:
    return b"event: %s\nid: %d\ndata: %s\n\n" % (kind.encode(), event_id, _encode(data))


def _page_out(page: ChangePage) -> ChangeFeedPage:
    return ChangeFeedPage([ChangeOut.of(c) for c in page.items], page.next, page.more, page.resync)


@get(
    "/changes",
    summary="What changed in your todos and lists since a change id, one page at a time",
    description=(
        "Every write to one of your todos or lists is recorded as a change, in the same transaction as the "
        "write, with an id that only grows. Pass the `next` of one answer as `since` to get the following "
        "changes (also given as a `Link: rel=next` header while `more` is true). `resync: true` means the "
        "changes after `since` are no longer all kept: reload what you show, then follow on from `next`."
    ),
    responses=problems(*AUTHED),
    tags=["changes"],
)
async def list_changes(
    request: ApiRequest,
    since: Annotated[int, QueryParameter(ge=0, le=_ID_MAX, description="the last change id you have seen")] = 0,
    limit: Annotated[int, QueryParameter(ge=1, le=CHANGES_LIMIT_MAX)] = 100,
) -> Response[ChangeFeedPage]:
    page = await request.services.changes.page(request.principal, since, limit)
    headers = {}
    if page.more:
        headers["Link"] = f'<{API_PREFIX}/changes?since={page.next}&limit={limit}>; rel="next"'
    return JsonResponse(_page_out(page), headers=headers)


def _start(last_event_id: str | None, since: int | None) -> int | None:
    """Where the stream starts: ``Last-Event-ID`` wins (the browser's own reconnect)."""
    if last_event_id is not None and last_event_id.strip():
        raw = last_event_id.strip()
        if not raw.isdigit() or int(raw) > _ID_MAX:
            raise Invalid([FieldError("Last-Event-ID", "must be a change id this stream sent (a whole number)")])
        return int(raw)
    return since


async def _events(
    changes: ChangeService, hub: ChangeHub, principal: Principal, start: int | None, options: FeedOptions
) -> AsyncIterator[bytes]:
    goodbye = b"retry: %d\n: the server is restarting; reconnect\n\n" % options.retry_ms
    with hub.subscribe(principal.user_id) as sub:
        try:
            async with hub.reads:
                last = await changes.latest() if start is None else start
        except Exception:
            log.warning("a change stream could not start; the client will reconnect", exc_info=True)
            yield goodbye
            return
        # First the reconnect delay browsers should use, and where this stream stands.
        yield b"retry: %d\nevent: ready\nid: %d\ndata: %s\n\n" % (options.retry_ms, last, _encode({"since": last}))
        while not sub.closing:
            try:
                async with hub.reads:
                    page = await changes.page(principal, last, _STREAM_BATCH)
            except Exception:
                log.warning("a change stream could not read the outbox; the client will reconnect", exc_info=True)
                break
            if page.resync:
                last = page.next
                yield _event("resync", last, {"next": last})
                continue
            for change in page.items:
                yield _event("change", change.id, ChangeOut.of(change))
            last = page.next
            if page.more:
                continue
            if not await sub.wait(options.heartbeat_seconds) and not sub.closing:
                yield b": heartbeat\n\n"
        yield goodbye


@get(
    "/changes/stream",
    summary="Your changes as they happen (Server-Sent Events)",
    description=(
        "A `text/event-stream` of `change` events (the same objects as `GET /changes` lists), each with its "
        "change id as `id:`. Resume with the `Last-Event-ID` header (browsers send it when they reconnect) or "
        "`?since=`; without either the stream starts at the newest change. The first event, `ready`, says "
        "where the stream starts; a `: heartbeat` comment line goes out on a quiet stream; a `resync` event "
        "says the changes after your position are no longer all kept: reload, then follow on. At shutdown the "
        "stream ends with a `retry:` hint. The stream has no time limit; each worker holds a bounded number "
        "of them (503 + `Retry-After` past it)."
    ),
    responses={
        200: ResponseSpec(None, description="The event stream", media_type="text/event-stream"),
        **problems(*AUTHED, 503),
    },
    tags=["changes"],
)
async def stream_changes(
    request: ApiRequest,
    since: Annotated[
        int | None,
        # Litestar drops a zero lower bound from an optional parameter's schema: said again for the document.
        QueryParameter(ge=0, le=_ID_MAX, description="resume after this change id", schema_extra={"minimum": 0}),
    ] = None,
    last_event_id: Annotated[
        str | None,
        HeaderParameter(
            name="Last-Event-ID",
            max_length=32,
            pattern=r"^\s*[0-9]*\s*$",
            description="the id of the last event received: the stream resumes after it",
            required=False,
        ),
    ] = None,
) -> Stream:
    services = request.services
    start = _start(last_event_id, since)
    options = request.handed.feed_options
    return Stream(
        _events(services.changes, services.feed, request.principal, start, options),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


handlers = [list_changes, stream_changes]
