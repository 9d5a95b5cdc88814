"""Delivery: how the outside world reaches the use cases (HTTP API, web page, CLI)."""
