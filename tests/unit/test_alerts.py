"""The alert queue never makes anyone wait; bursts are detected once per window."""

from __future__ import annotations

import pytest

from todostack.observability.alerts import MAX_FIELD_CHARS, MAX_TEXT_CHARS, Alert, AlertQueue, BurstDetector


async def test_publishing_to_a_full_queue_drops_and_counts_without_waiting() -> None:
    queue = AlertQueue("http://127.0.0.1:9/never-delivered", capacity=3)  # nothing delivers: it fills up
    results = [queue.publish(Alert("load_shed", f"#{n}")) for n in range(10)]
    assert results == [True] * 3 + [False] * 7
    assert (queue.stats.published, queue.stats.dropped) == (10, 7)


async def test_without_a_webhook_alerts_are_only_logged(caplog: pytest.LogCaptureFixture) -> None:
    queue = AlertQueue(None, capacity=1)
    with caplog.at_level("WARNING", logger="todostack.alerts"):
        assert all(queue.publish(Alert("errors_burst", "many 500s")) for _ in range(5))
    assert queue.stats.dropped == 0
    assert sum("errors_burst" in r.getMessage() for r in caplog.records) == 5


def test_the_slack_payload_names_the_alert_and_its_details() -> None:
    payload = Alert("memory_guard", "over its share", {"before_mib": "300"}).as_slack("todostack")
    text = str(payload["text"])
    assert "`memory_guard`" in text
    assert "over its share" in text
    assert "before_mib: 300" in text


@pytest.mark.parametrize(
    ("summary", "shown"),
    [
        ("<!channel> wake up", "&lt;!channel&gt; wake up"),
        ("<https://evil.example|click here>", "&lt;https://evil.example|click here&gt;"),
        ("fish & chips &amp;", "fish &amp; chips &amp;amp;"),
        ("one\n• forged: line", "one • forged: line"),
    ],
    ids=["mention", "link", "ampersand", "forged-line"],
)
def test_client_text_is_escaped_for_slack(summary: str, shown: str) -> None:
    text = str(Alert("errors_burst", summary, {"path<>": summary}).as_slack("todostack")["text"])
    assert f": {shown}" in text
    assert f"• path&lt;&gt;: {shown}" in text
    assert "<" not in text
    assert ">" not in text
    assert len(text.splitlines()) == 2


def test_a_long_value_and_a_long_alert_are_cut() -> None:
    huge = "&" * 10_000
    text = str(Alert("errors_burst", huge, {f"k{n}": huge for n in range(50)}).as_slack("todostack")["text"])
    assert len(text) <= MAX_TEXT_CHARS
    assert text.endswith("…")
    assert "&amp;" * (MAX_FIELD_CHARS - 1) + "…" in text  # one value: cut, then escaped whole
    assert not text.rstrip("…").endswith(("&", "&a", "&am", "&amp"))  # never half an escape


@pytest.mark.parametrize(
    ("times", "fired"),
    [
        ([0, 1, 2], [False, False, True]),  # 3 within the window
        ([0, 20, 40], [False, False, False]),  # spread out: never 3 within 10 s
        ([0, 1, 2, 3, 4, 5], [False, False, True, False, False, False]),  # then quiet for a window
        ([0, 1, 2, 13, 14, 15], [False, False, True, False, False, True]),  # a new window may fire again
    ],
)
def test_a_burst_fires_once_per_window(times: list[float], fired: list[bool]) -> None:
    burst = BurstDetector(threshold=3, window_seconds=10)
    assert [burst.hit(t) for t in times] == fired
