"""Worker builders. The orchestrator worker runs the case workflow and the shared activities
(deadlines, notifications, delivery); a department worker runs one department's activities on
that department's task queue. Tests isolate themselves with uuid queues and department codes."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.worker import Worker

from activities.deadlines import DeadlineActivities
from activities.department import DepartmentActivities
from activities.notifications import NotificationActivities
from activities.readmodel import ReadModelActivities
from onething.db import migrate
from onething.queues import ORCHESTRATOR_TASK_QUEUE, department_task_queue
from onething.settings import Settings
from workflows.case import CaseWorkflow


def build_orchestrator_worker(
    client: Client, *, settings: Settings, task_queue: str = ORCHESTRATOR_TASK_QUEUE
) -> Worker:
    migrate(settings.database_url)
    deadlines = DeadlineActivities(settings)
    notifications = NotificationActivities(settings)
    read_model = ReadModelActivities(settings)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[CaseWorkflow],
        activities=[
            deadlines.compute_deadline,
            deadlines.resume_deadline,
            notifications.notify,
            notifications.deliver_result,
            read_model.record_case_event,
        ],
    )


def build_department_worker(
    client: Client, *, settings: Settings, department_code: str, task_queue: str | None = None
) -> Worker:
    migrate(settings.database_url)
    department = DepartmentActivities(settings, department_code)
    return Worker(
        client,
        task_queue=task_queue or department_task_queue(department_code),
        activities=[
            department.dispatch,
            department.decide_automatic,
            department.withdraw,
            department.record_outcome,
        ],
    )
