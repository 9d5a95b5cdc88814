"""The Litestar application: routers, error mapping, OpenAPI and interactive docs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from litestar import Litestar, Router
from litestar._openapi.plugin import OpenAPIPlugin  # no public name; Litestar.openapi_schema builds half of it
from litestar.datastructures import CacheControlHeader, State
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

from todostack import __version__
from todostack.delivery.http.api.auth import BearerAuthMiddleware
from todostack.delivery.http.api.hot import HotRoutes
from todostack.delivery.http.api.openapi import CompletedJsonRenderPlugin
from todostack.delivery.http.api.paths import API_PREFIX, OPENAPI_PATH, SWAGGER_ASSETS
from todostack.delivery.http.api.problems import exception_handlers
from todostack.delivery.http.api.request import Handed, request_class
from todostack.delivery.http.api.routes import auth, changes, health, lists, todos
from todostack.delivery.http.api.routes.options import with_options
from todostack.delivery.http.api.routes.pprof import pprof_router
from todostack.delivery.http.api.routes.testing import testing_router
from todostack.delivery.http.api.routes.todobackend import (
    CAPACITY_MAX,
    CORS_HEADERS,
    PREFIX,
    todobackend_router,
)
from todostack.delivery.http.api.services import HttpConfig, Services
from todostack.delivery.http.api.struct_schemas import StrictStructSchemaPlugin
from todostack.delivery.http.asgi.answers import add_vary
from todostack.delivery.http.asgi.bodies import validate_body
from todostack.delivery.http.asgi.lifecycle import Lifecycle
from todostack.delivery.http.asgi.proxies import TrustedProxies, parse_networks
from todostack.delivery.http.asgi.reporting import RequestReporter
from todostack.delivery.http.asgi.scope import RequestScopeMiddleware
from todostack.delivery.http.asgi.types import HeaderDecorator, RawHeaders
from todostack.delivery.web import SECURITY_HEADERS, web_router
from todostack.observability.alerts import AlertQueue, run_alert_queue
from todostack.observability.logs import AccessLog, LogSink
from todostack.observability.metrics import Metrics
from todostack.observability.tracing import Tracing
from todostack.profiling.ondemand import OnDemand
from todostack.profiling.profiler import Profiler

__all__ = ["create_http_app"]


def _headers(table: dict[str, str]) -> RawHeaders:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in table.items()]


_SECURITY = _headers(SECURITY_HEADERS)
_CORS = _headers(CORS_HEADERS)


def _with(headers: RawHeaders, extra: RawHeaders) -> RawHeaders:
    """``headers`` with ``extra`` set: any header of the same name is replaced."""
    names = {name for name, _ in extra}
    return [h for h in headers if h[0].lower() not in names] + extra


def _decorator(todobackend: bool) -> HeaderDecorator:
    """Security headers on every HTML answer; CORS on every todobackend answer, errors included.

    One synchronous call per response in the request-scope middleware, where Litestar's
    ``before_send`` hooks were two awaited calls per message on every response, JSON included.
    """

    def decorate(path: str, headers: RawHeaders) -> RawHeaders:
        if todobackend and path.startswith(PREFIX):
            headers = _with(headers, _CORS)
        elif path.startswith(API_PREFIX):
            # Who is asking (token or session cookie) and, for cookie writes, from where.
            headers = add_vary(headers, b"Authorization, Cookie, Origin")
        for name, value in headers:
            if name.lower() == b"content-type":
                if value.startswith(b"text/html"):
                    headers = _with(headers, _SECURITY)
                break
        return headers

    return decorate


async def _build_openapi(app: Litestar) -> None:
    """Build the served OpenAPI document (objects, then the dict) while the worker starts, in a
    thread: 50-300 ms of CPU that, left to the first ``GET /api/openapi.json``, held that worker's
    event loop and every request queued behind it."""
    await asyncio.to_thread(app.plugins.get(OpenAPIPlugin).provide_openapi_schema)


def _openapi() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Todo Stack",
        version=__version__,
        description=(
            f"A todo service. Authenticate with `POST {API_PREFIX}/auth/token` and send "
            "`Authorization: Bearer <token>`. Errors are RFC 9457 `application/problem+json`."
        ),
        path=OPENAPI_PATH,
        # /api/docs is the web router's page: Litestar's Swagger page has an inline script.
        render_plugins=[CompletedJsonRenderPlugin({("GET", PREFIX): CAPACITY_MAX})],
        components=Components(
            security_schemes={
                "BearerAuth": SecurityScheme(type="http", scheme="bearer", description="from /auth/token")
            }
        ),
        use_handler_docstrings=False,
    )


def _probes(config: HttpConfig) -> list[Any]:
    scrape = health.metrics_handler(public=config.metrics_public, admin_token=config.admin_token)
    return [*health.handlers, *([scrape] if scrape is not None else [])]


def create_http_app(
    config: HttpConfig,
    open_services: Callable[[], AbstractAsyncContextManager[Services]],
    *,
    metrics: Metrics | None = None,
    alerts: AlertQueue | None = None,
    lifecycle: Lifecycle | None = None,
    profiles: OnDemand | None = None,
    tracing: Tracing | None = None,
    logs: LogSink | None = None,
) -> Litestar:
    """Build the ASGI app. ``open_services`` runs once per worker, inside its event loop;
    ``tracing``: the worker's tracer (off when not given); ``logs``: where access lines wait to be
    written (without one, they go through structlog)."""
    metrics = metrics if metrics is not None else Metrics()
    tracing = tracing if tracing is not None else Tracing()
    alerts = alerts if alerts is not None else AlertQueue(None)
    if lifecycle is None:
        lifecycle = Lifecycle(
            max_inflight=config.max_inflight, policy=config.shutdown, max_streams=config.feed.max_streams
        )
    if profiles is None:
        profiles = OnDemand(Profiler(), None)

    handed = Handed(lifecycle, metrics, profiles, config.feed)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if config.handle_signals:
            lifecycle.install_signal_handlers()
        async with run_alert_queue(alerts), open_services() as services:
            handed.services = services
            lifecycle.close_streams = services.feed.close
            try:
                yield
            finally:
                await lifecycle.settle()  # the pools close only after the requests using them
        lifecycle.log_stop_step("services closed")

    public_handlers = [auth.register, auth.token, auth.revoke_token, auth.open_session, auth.close_session]
    private_handlers = [
        auth.me,
        auth.sign_out_everywhere,
        auth.change_password,
        *lists.handlers,
        *todos.handlers,
        *changes.handlers,
    ]
    public_api = Router(API_PREFIX, route_handlers=with_options(public_handlers))
    private_api = Router(
        API_PREFIX,
        route_handlers=with_options(private_handlers),
        middleware=[DefineMiddleware(BearerAuthMiddleware, handed=handed)],
        security=[{"BearerAuth": []}],
    )
    handlers: list[Any] = [
        public_api,
        private_api,
        Router("/", route_handlers=_probes(config)),
        create_static_files_router(
            SWAGGER_ASSETS,
            directories=[str(swagger_ui_path)],
            cache_control=CacheControlHeader(max_age=86400, public=True),
            include_in_schema=False,
        ),
    ]
    handlers.append(web_router())
    if config.test_endpoints:
        handlers.append(testing_router())
    if config.admin_token:
        handlers.append(pprof_router(config.admin_token))
    if config.todobackend_enabled:
        handlers.append(todobackend_router())

    errors = exception_handlers(tracing)
    app = Litestar(
        route_handlers=handlers,
        lifespan=[lifespan],
        on_startup=[_build_openapi],
        exception_handlers=errors,
        before_request=validate_body,
        plugins=[StrictStructSchemaPlugin()],
        openapi_config=_openapi(),
        request_max_body_size=config.max_body_bytes,
        debug=config.debug,
        logging_config=None,
        request_class=request_class(handed),
        # For tools and tests that look at a running app; handlers use ``request.handed``.
        state=State({"lifecycle": lifecycle, "metrics": metrics, "alerts": alerts, "profiles": profiles}),
    )
    inner: Any = app.asgi_handler
    if config.hot_routes:
        # Inside the request scope (every request keeps its id, deadline, metrics and access line).
        inner = HotRoutes(inner, handed, errors, app.request_class, config.max_body_bytes)
    # Outside Litestar's own stack (which starts after routing), so that every answer, 404s
    # included, runs in a request context and carries the request id.
    app.asgi_handler = RequestScopeMiddleware(  # type: ignore[assignment]
        inner,
        budgets=config.budgets,
        lifecycle=lifecycle,
        on_done=RequestReporter(metrics, alerts, AccessLog(logs if logs is not None else LogSink())),
        decorate=_decorator(config.todobackend_enabled),
        compression=config.compression,
        stream_paths=frozenset({changes.STREAM_PATH}),
        tracing=tracing,
    )
    # Outermost: the client's address, scheme and host are settled before anything reads them.
    app.asgi_handler = TrustedProxies(  # type: ignore[assignment]
        app.asgi_handler,  # type: ignore[arg-type]
        parse_networks(config.trusted_proxies),
    )
    return app
