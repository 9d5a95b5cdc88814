"""Delivery: how the outside world reaches the use cases (the HTTP API and the web page)."""
