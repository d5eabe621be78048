"""Builders for the orchestrator worker and the per-department workers."""

from workers.builders import build_department_worker, build_orchestrator_worker

__all__ = ["build_department_worker", "build_orchestrator_worker"]
