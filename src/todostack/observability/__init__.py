"""Alerts, metrics and request logging."""
