"""Register the monitor's django-q2 schedule (idempotent: update-or-create by name)."""

from django.db import migrations


def register(apps, schema_editor):
    from calltasks.schedules import schedules_sync

    schedules_sync(apps.get_model("django_q", "Schedule"))


def unregister(apps, schema_editor):
    from calltasks.schedules import NAME_PREFIX

    apps.get_model("django_q", "Schedule").objects.filter(name__startswith=NAME_PREFIX).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("calltasks", "0003_monitor_on_by_default"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(register, unregister)]
