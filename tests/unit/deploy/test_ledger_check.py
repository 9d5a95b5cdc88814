"""The ledger check's verdict (deploy/chaos/ledger_check.py): what counts as lost or duplicated."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "deploy" / "chaos" / "ledger_check.py"


@pytest.fixture(scope="module")
def ledger_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ledger_check", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_acknowledged_write_read_back_once_holds(ledger_check: ModuleType) -> None:
    report = ledger_check.check_ledger({"k1": "id1", "k2": "id2"}, Counter({("k1", "id1"): 1, ("k2", "id2"): 1}))
    assert report["verdict"] == "holds"
    assert (report["acknowledged"], report["readable"], report["lost"], report["duplicates"]) == (2, 2, 0, 0)


def test_a_write_the_service_no_longer_returns_is_lost(ledger_check: ModuleType) -> None:
    report = ledger_check.check_ledger({"k1": "id1", "k2": "id2"}, Counter({("k1", "id1"): 1}))
    assert report["verdict"] == "broken"
    assert report["lost"] == 1
    assert report["examples"]["lost"] == ["k2"]


def test_a_retry_that_created_a_second_todo_is_a_duplicate(ledger_check: ModuleType) -> None:
    titles = Counter({("k1", "id1"): 1, ("k1", "id9"): 1})
    report = ledger_check.check_ledger({"k1": "id1"}, titles)
    assert report["verdict"] == "broken"
    assert report["duplicates"] == 1
    assert report["lost"] == 0


def test_an_unacknowledged_write_that_landed_is_neither_lost_nor_a_duplicate(ledger_check: ModuleType) -> None:
    # A 504 "outcome unknown" that did commit, never retried: present once, acknowledged never.
    report = ledger_check.check_ledger({"k1": "id1"}, Counter({("k1", "id1"): 1, ("k2", "id2"): 1}))
    assert report["verdict"] == "holds"


def test_it_refuses_anything_but_http(ledger_check: ModuleType) -> None:
    with pytest.raises(ValueError, match="not an HTTP URL"):
        ledger_check.fetch_titles("file:///etc", "token")
