"""Task-queue names, defined once."""

ORCHESTRATOR_TASK_QUEUE = "onething-orchestrator"


def department_task_queue(department_code: str) -> str:
    return f"onething-dept-{department_code}"
