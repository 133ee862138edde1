"""Creating a call task from lead filters or an explicit lead list (SPEC §4 "Create")."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from calltasks.models import CallTask, LeadTask
from calltasks.services.errors import NoMatchingLeads, ValidationFailed
from calltasks.states import TaskState
from calltasks.strategy import build_strategy
from followups.selectors import LeadFilterSpec, lead_filter

logger = logging.getLogger(__name__)

#: States in which a task will still call its leads: a lead there is "in an active task".
ACTIVE_TASK_STATES = (TaskState.CREATED, TaskState.CALLING, TaskState.PAUSED)


@dataclass
class TaskCreateResult:
    task: CallTask
    matched: int
    skipped_duplicate_phones: int
    skipped_in_active_task: int


def reference_id_for(task_id: int, lead_pk: int) -> str:
    """Deterministic and unique: one row per (task, lead)."""
    return f"dcc-{task_id}-{lead_pk}"


@sensitive_variables("candidates", "unique", "seen_phones", "candidate")
def call_task_create(
    *,
    organization_id: int,
    created_by_id: int | None,
    task_name: str,
    spec: LeadFilterSpec,
    size_desc: dict,
    script_id: str = "",
    strategy: dict | None = None,
    include_leads_in_active_tasks: bool = False,
) -> TaskCreateResult:
    """Select the leads, drop duplicate phones and leads already being called, write task + rows atomically."""
    task_name = (task_name or "").strip()
    if not task_name:
        raise ValidationFailed(_("A task name is required."))
    resolved_strategy = build_strategy(strategy)

    candidates = list(
        lead_filter(organization_id=organization_id, spec=spec).values_list(
            "pk", "leads_id", "leads_user_name", "leads_user_phone"
        )
    )
    matched = len(candidates)
    if not candidates:
        raise NoMatchingLeads(_("No leads match the conditions."))

    skipped_active = 0
    if not include_leads_in_active_tasks:
        busy = set(
            LeadTask.objects.filter(
                task__organization_id=organization_id,
                task__deleted_at__isnull=True,
                task__task_type__in=ACTIVE_TASK_STATES,
                lead_id__in=[pk for pk, *_ in candidates],
            ).values_list("lead_id", flat=True)
        )
        before = len(candidates)
        candidates = [c for c in candidates if c[0] not in busy]
        skipped_active = before - len(candidates)

    seen_phones: set[str] = set()
    unique = []
    for candidate in candidates:
        if candidate[3] in seen_phones:
            continue
        seen_phones.add(candidate[3])
        unique.append(candidate)
    skipped_phones = len(candidates) - len(unique)

    if not unique:
        raise NoMatchingLeads(_("Every matching lead is already in an active task."))
    cap = settings.CALLTASKS_MAX_LEADS_PER_TASK or 0  # 0 = no cap
    if 0 < cap < len(unique):
        raise ValidationFailed(
            _("%(count)d leads match, more than the limit of %(cap)d per task. Narrow the conditions.")
            % {"count": len(unique), "cap": cap}
        )

    now = timezone.now()
    with transaction.atomic():
        task = CallTask.objects.create(
            task_name=task_name[:200],
            organization_id=organization_id,
            created_by_id=created_by_id,
            create_time=now,
            leads_count=len(unique),
            script_id=script_id or "",
            task_type=TaskState.CREATED,
            size_desc=size_desc,
            strategy=resolved_strategy,
        )
        LeadTask.objects.bulk_create(
            [
                LeadTask(
                    task=task,
                    lead_id=pk,
                    leads_id=leads_id,
                    leads_name=name,
                    leads_phone=phone,
                    reference_id=reference_id_for(task.pk, pk),
                    created_at=now,
                )
                for pk, leads_id, name, phone in unique
            ],
            batch_size=1000,
        )
    logger.info(
        _("Created call task %(name)s (ID: %(id)s) with %(count)s leads"),
        {"name": task.task_name, "id": task.pk, "count": task.leads_count},
    )
    return TaskCreateResult(
        task=task, matched=matched, skipped_duplicate_phones=skipped_phones, skipped_in_active_task=skipped_active
    )
