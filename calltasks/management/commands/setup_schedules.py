"""Re-assert the app's django-q2 schedules (the data migration registers them; run this after edits)."""

from django.core.management.base import BaseCommand

from calltasks.schedules import schedules_sync


class Command(BaseCommand):
    help = "Create or update the django-q2 schedules of the calltasks app and delete stale ones (idempotent)."

    def handle(self, *args, **options):
        counts = schedules_sync()
        self.stdout.write("schedules: created {created}, updated {updated}, deleted {deleted}".format(**counts))
