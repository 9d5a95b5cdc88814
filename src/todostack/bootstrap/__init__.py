"""The composition root: the one place that picks adapters and wires them to the use cases.

It only constructs (storage, services, the worker, the app); ``worker`` starts and stops what it
builds, and ``entrypoints`` decide the settings and call it. ``storage.py`` picks and opens the
storage (and applies its migrations); ``app.py`` builds the use cases on it, the worker and the app.
"""

from todostack.adapters.migrations import MigrationError
from todostack.adapters.storage import Storage
from todostack.bootstrap.app import create_app, open_services
from todostack.bootstrap.storage import migrate, open_storage, pending_migrations, with_secret_key

__all__ = [
    "MigrationError",
    "Storage",
    "create_app",
    "migrate",
    "open_services",
    "open_storage",
    "pending_migrations",
    "with_secret_key",
]
