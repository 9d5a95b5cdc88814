"""Runtime: settings, and (later) container-aware sizing and the memory guard."""

from todostack.runtime.settings import Settings, SettingsError

__all__ = ["Settings", "SettingsError"]
