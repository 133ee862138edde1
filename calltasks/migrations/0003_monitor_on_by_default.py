from django.db import migrations


def monitor_on(apps, schema_editor):
    MonitorState = apps.get_model("calltasks", "MonitorState")
    MonitorState.objects.get_or_create(pk=1, defaults={"enabled": True, "updated_by": "migrate"})


class Migration(migrations.Migration):
    dependencies = [("calltasks", "0002_initial")]

    operations = [migrations.RunPython(monitor_on, migrations.RunPython.noop)]
