"""deploy/compose.yaml read as data: what must hold between Traefik's settings and the app's."""

from __future__ import annotations

import yaml

from tests.deploy_tools import COMPOSE_FILE, compose_traefik_flag, go_duration_seconds
from todostack.runtime.request_settings import RequestSettings


def test_traefik_drops_an_idle_backend_connection_before_the_app_closes_it() -> None:
    """The app closes a keep-alive connection idle for its header read timeout; Traefik (Go's transport) must
    stop using it first, or a request it writes as the app closes it is lost (a 502 for a POST)."""
    idle = go_duration_seconds(compose_traefik_flag("serversTransport.forwardingTimeouts.idleConnTimeout"))
    app_env = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["app"]["environment"]
    app_timeout = float(
        app_env.get("TODOSTACK_HEADER_READ_TIMEOUT_SECONDS", RequestSettings().header_read_timeout_seconds)
    )
    # A margin of seconds: both timers start when a request ends, but not at the same instant.
    assert idle <= app_timeout - 2, (idle, app_timeout)


def test_go_durations_are_read_as_traefik_reads_them() -> None:
    assert go_duration_seconds("10s") == 10
    assert go_duration_seconds("1m30s") == 90
    assert go_duration_seconds("500ms") == 0.5
    assert go_duration_seconds("1h") == 3600
