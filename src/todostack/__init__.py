"""Todo Stack: a production-grade todo service."""

__version__ = "0.1.0"
