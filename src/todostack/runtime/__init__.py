"""Runtime: settings, container-aware sizing (CPU quota, memory limit), and the memory guard."""

from todostack.runtime.container import size_service
from todostack.runtime.settings import Settings, SettingsError
from todostack.runtime.sizing import Sizing

__all__ = ["Settings", "SettingsError", "Sizing", "size_service"]
