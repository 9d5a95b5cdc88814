"""Bounded label values: nothing a client sends becomes a new metric series or span name."""

from __future__ import annotations

__all__ = ["KNOWN_METHODS", "method_label", "status_label"]

# RFC 9110's methods and PATCH (OpenTelemetry's list): any other method a client makes up is
# counted as "_OTHER", or each one would be a new series (3,000 made-up methods: 7.5 MiB a scrape).
KNOWN_METHODS = frozenset({"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"})


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else "_OTHER"


def status_label(status: int) -> int:
    """A status as a label: HTTP's 100-599, or 0 for anything else (never a client's number)."""
    return status if 100 <= status <= 599 else 0
