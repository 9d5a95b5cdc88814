"""The operator's settings come from TODOSTACK_OPERATOR_* variables; bad values are one clear line."""

from __future__ import annotations

import pytest

from todostack_operator.cli import main
from todostack_operator.settings import OperatorConfig, SettingsError

pytestmark = pytest.mark.unit


def test_defaults_are_cluster_wide_standalone_json() -> None:
    config = OperatorConfig.from_env({})
    assert config.namespaces == ()
    assert config.peering is None
    assert (config.resync_seconds, config.health_port, config.metrics_port) == (60.0, 8081, 8080)
    assert config.log_format == "json"


def test_every_variable_is_read() -> None:
    config = OperatorConfig.from_env(
        {
            "TODOSTACK_OPERATOR_NAMESPACES": "shop, blog ,",
            "TODOSTACK_OPERATOR_RESYNC_SECONDS": "2.5",
            "TODOSTACK_OPERATOR_BACKOFF_SECONDS": "0.5",
            "TODOSTACK_OPERATOR_BACKOFF_MAX_SECONDS": "4",
            "TODOSTACK_OPERATOR_PEERING": "todostack-operator",
            "TODOSTACK_OPERATOR_HEALTH_PORT": "9001",
            "TODOSTACK_OPERATOR_METRICS_PORT": "0",
            "TODOSTACK_OPERATOR_LOG_FORMAT": "PLAIN",
            "TODOSTACK_OPERATOR_SERVER": "http://127.0.0.1:6443",
        }
    )
    assert config.namespaces == ("shop", "blog")
    assert config.resync_seconds == 2.5
    assert config.peering == "todostack-operator"
    assert (config.health_port, config.metrics_port, config.log_format) == (9001, 0, "plain")
    assert config.server == "http://127.0.0.1:6443"
    assert [config.backoff(i) for i in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        pytest.param("RESYNC_SECONDS", "often", "must be a number", id="not-a-number"),
        pytest.param("RESYNC_SECONDS", "0", "at least", id="zero-interval"),
        pytest.param("LOG_FORMAT", "xml", "json or plain", id="unknown-log-format"),
    ],
)
def test_bad_values_are_refused_by_name(name: str, value: str, words: str) -> None:
    with pytest.raises(SettingsError, match=f"TODOSTACK_OPERATOR_{name}.*{words}"):
        OperatorConfig.from_env({f"TODOSTACK_OPERATOR_{name}": value})


def test_the_cli_says_which_variable_is_wrong(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TODOSTACK_OPERATOR_METRICS_PORT", "eighty")
    assert main(["run"]) == 2
    assert "TODOSTACK_OPERATOR_METRICS_PORT must be a number" in capsys.readouterr().err
