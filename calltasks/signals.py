"""Signal wiring (kept thin: the receivers live in the services)."""

from django.db.models.signals import post_save

from calltasks.models import OutboundCallRecord
from calltasks.services.completion import call_record_saved


def connect() -> None:
    post_save.connect(call_record_saved, sender=OutboundCallRecord, dispatch_uid="calltasks.call_record_saved")
