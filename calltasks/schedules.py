"""django-q2 schedules of the calltasks app, and their idempotent registration.

The definitions are plain data so the data migration (historical ``Schedule`` model) and the
``setup_schedules`` command (current model) share them. Registration updates or creates each schedule
by name and deletes schedules of ours that are no longer defined, in one transaction; writers are
serialised (migrations run one at a time), which matters because ``Schedule.name`` is not unique.

The monitor tick runs every minute: which tasks are due is decided per task by ``next_check_at``, so the
tick only fans out the due ones (engineering notes §B: catch_up off and timeout < retry in Q_CLUSTER).
"""

from __future__ import annotations

from django.db import transaction

#: Prefix of every schedule name this app owns (stale ones with this prefix are removed).
NAME_PREFIX = "calltasks."
MONITOR_TICK = "calltasks.monitor_tick"

SCHEDULES: dict[str, dict] = {
    MONITOR_TICK: {
        "func": "calltasks.tasks.monitor_tick",
        "schedule_type": "I",  # Schedule.MINUTES
        "minutes": 1,
        "repeats": -1,
    },
}


def schedules_sync(schedule_model=None) -> dict[str, int]:
    """Make the stored schedules match :data:`SCHEDULES`; safe to run any number of times."""
    if schedule_model is None:
        from django_q.models import Schedule as schedule_model
    counts = {"created": 0, "updated": 0, "deleted": 0}
    with transaction.atomic():
        for name, definition in SCHEDULES.items():
            existing = list(schedule_model.objects.filter(name=name).order_by("pk"))
            for duplicate in existing[1:]:  # heal duplicates left by earlier, unserialised writers
                duplicate.delete()
                counts["deleted"] += 1
            if existing:
                schedule = existing[0]
                changed = False
                for key, value in definition.items():
                    if getattr(schedule, key) != value:
                        setattr(schedule, key, value)
                        changed = True
                if changed:
                    schedule.save()
                    counts["updated"] += 1
            else:
                schedule_model.objects.create(name=name, **definition)
                counts["created"] += 1
        stale = schedule_model.objects.filter(name__startswith=NAME_PREFIX).exclude(name__in=list(SCHEDULES))
        counts["deleted"] += stale.delete()[0]
    return counts
