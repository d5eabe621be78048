"""Department adapters: how a department's activities reach the department. Settings choose one
per department (``Settings.department_adapters``), so a department can connect its own system
without any change to the workflows."""

from activities.adapters.base import Adapter, adapter_for

__all__ = ["Adapter", "adapter_for"]
