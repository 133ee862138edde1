"""The explicit task state machine (SPEC §3)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import pgettext_lazy


class TaskState(models.IntegerChoices):
    """The labels carry the context "task state": "Calling" is also a provider job status (呼叫中), while
    state 2 reads 开始外呼 (SPEC §3)."""

    CREATED = 1, pgettext_lazy("task state", "Created")
    CALLING = 2, pgettext_lazy("task state", "Calling")
    CALLS_DONE = 3, pgettext_lazy("task state", "Calls done")
    FOLLOWUPS_DONE = 4, pgettext_lazy("task state", "Follow-ups done")
    PAUSED = 5, pgettext_lazy("task state", "Paused")


#: Allowed transitions. Cancel is 2/5 → 3 (→ 4 as usual); states never move backwards otherwise.
TRANSITIONS: dict[int, frozenset[int]] = {
    TaskState.CREATED: frozenset({TaskState.CALLING}),
    TaskState.CALLING: frozenset({TaskState.PAUSED, TaskState.CALLS_DONE, TaskState.FOLLOWUPS_DONE}),
    TaskState.PAUSED: frozenset({TaskState.CALLING, TaskState.CALLS_DONE}),
    TaskState.CALLS_DONE: frozenset({TaskState.FOLLOWUPS_DONE}),
    TaskState.FOLLOWUPS_DONE: frozenset(),
}

#: States in which the provider may still be calling leads of the task.
ACTIVE_STATES = frozenset({TaskState.CALLING, TaskState.PAUSED})
#: States the monitor looks at.
MONITORED_STATES = frozenset({TaskState.CALLING, TaskState.CALLS_DONE})

#: Colours for the admin's state badges.
STATE_COLOURS = {
    TaskState.CREATED: "#6c757d",
    TaskState.CALLING: "#0d6efd",
    TaskState.CALLS_DONE: "#fd7e14",
    TaskState.FOLLOWUPS_DONE: "#198754",
    TaskState.PAUSED: "#ffc107",
}


def can_transition(current: int, target: int) -> bool:
    return target in TRANSITIONS.get(current, frozenset())
