from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CalltasksConfig(AppConfig):
    name = "calltasks"
    verbose_name = _("AI outbound calls")

    def ready(self) -> None:
        from calltasks import signals
        from dcc_project import db

        db.connect()
        signals.connect()
