"""Demo call tasks for ``make run``: a few tasks on the demo leads, started against the simulator.

Run once the provider simulator answers (``manage.py demo_tasks``; ``scripts/devstack.py`` does it after the
stack is up). Idempotent: when the demo organization already has a task nothing is created, so restarting
``make run`` does not call the same leads again. The monitor then takes the started tasks to state 4 by
itself, so the admin's task list, lead rows, transcripts, recordings and the dashboard have real data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from calltasks.models import CallTask
from calltasks.services.create import call_task_create
from calltasks.services.errors import TaskServiceError
from calltasks.services.lifecycle import call_task_start
from followups.demo import DEMO_ORG, DEMO_USERNAME
from followups.models import Organization, User
from followups.selectors import LeadFilterSpec

logger = logging.getLogger(__name__)


#: The simulator accepts any script id; a real deployment's tasks carry the script configured on the provider.
DEMO_SCRIPT_ID = "demo-script"


@dataclass(frozen=True)
class DemoTaskPlan:
    name: str
    spec: LeadFilterSpec
    size_desc: dict
    start: bool


#: What a supervisor would plausibly set up on the demo data: two started tasks and one left to start by hand.
DEMO_TASKS = (
    DemoTaskPlan("演示：A级线索回访", LeadFilterSpec(leads_type=("A级",)), {"leads_type": ["A级"]}, True),
    DemoTaskPlan(
        "演示：星越L 意向确认",
        LeadFilterSpec(leads_product=("星越L",), leads_type=("B级", "C级")),
        {"leads_product": ["星越L"], "leads_type": ["B级", "C级"]},
        True,
    ),
    DemoTaskPlan("演示：H级线索（待启动）", LeadFilterSpec(leads_type=("H级",)), {"leads_type": ["H级"]}, False),
)


@dataclass
class DemoTasksResult:
    created: list[int] = field(default_factory=list)
    started: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    already_present: bool = False


def demo_tasks_ensure(*, plans: tuple[DemoTaskPlan, ...] = DEMO_TASKS) -> DemoTasksResult:
    """Create (and start) the demo tasks unless the demo organization already has tasks."""
    result = DemoTasksResult()
    organization = Organization.objects.filter(code=DEMO_ORG[0]).first()
    if organization is None:
        result.errors.append("demo organization missing: run seed_demo first")
        return result
    if CallTask.objects.filter(organization=organization, deleted_at__isnull=True).exists():
        result.already_present = True
        return result
    creator = User.objects.filter(username=DEMO_USERNAME).first()
    for plan in plans:
        try:
            created = call_task_create(
                organization_id=organization.pk,
                created_by_id=creator.pk if creator else None,
                task_name=plan.name,
                spec=plan.spec,
                size_desc=plan.size_desc,
                script_id=DEMO_SCRIPT_ID,
            )
        except TaskServiceError as exc:
            result.errors.append(f"{plan.name}: {exc}")
            continue
        result.created.append(created.task.pk)
        if not plan.start:
            continue
        try:
            call_task_start(task_id=created.task.pk, organization_id=organization.pk)
        except TaskServiceError as exc:  # the simulator is down: the task stays in state 1, startable later
            result.errors.append(f"{plan.name}: {exc}")
            continue
        result.started.append(created.task.pk)
    return result
