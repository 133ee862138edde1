"""``manage.py run_monitor [--once] [--interval N]``: the monitor loop for supervisor (SPEC §5).

Every ``--interval`` seconds it runs one pass over the due tasks (each task's ``next_check_at`` decides
whether it is due). It honours the persistent switch (``/auto-task`` start/stop). SIGTERM or SIGINT
finishes the task being checked, then exits with status 0; a second signal exits at once.
"""

from __future__ import annotations

import logging
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils import translation
from django.utils.translation import gettext as _

from calltasks.models import MonitorRun
from calltasks.services.monitor import monitor_is_enabled, monitor_run_once

logger = logging.getLogger("calltasks.monitor")


class Command(BaseCommand):
    help = "Run the call-task monitor: check due tasks every --interval seconds (or once with --once)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run one pass and exit.")
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="Seconds between passes (default: MONITOR_FAST_INTERVAL_SECONDS).",
        )

    def handle(self, *args, **options):
        translation.activate(settings.LANGUAGE_CODE)
        self._stop = False
        self._install_signal_handlers()
        if options["once"]:
            run = monitor_run_once(driver=MonitorRun.Driver.COMMAND, should_stop=self._should_stop)
            self._report(run)
            return
        interval = options["interval"] if options["interval"] is not None else settings.MONITOR_FAST_INTERVAL_SECONDS
        interval = max(0.1, float(interval))
        self._say(_("Automated task monitor started"))
        was_enabled = None
        try:
            while not self._stop:
                close_old_connections()
                try:
                    enabled = monitor_is_enabled()
                    if enabled != was_enabled and was_enabled is not None:
                        logger.info(
                            _("Automated task monitoring is on") if enabled else _("Automated task monitoring is off")
                        )
                    was_enabled = enabled
                    if enabled:
                        run = monitor_run_once(
                            driver=MonitorRun.Driver.COMMAND, should_stop=self._should_stop, record_empty=False
                        )
                        if run.pk:
                            self._report(run)
                except Exception:  # never let one broken pass (database restart…) end the loop
                    logger.exception("Monitor loop iteration failed")
                self._sleep(interval)
        finally:
            close_old_connections()
            self._say(_("Automated task monitor stopped"))

    # --- helpers ---------------------------------------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        def request_stop(signum, frame):
            if self._stop:  # second signal: stop now
                raise SystemExit(1)
            self._stop = True
            logger.info(_("Stop requested; finishing the current task"))

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)

    def _should_stop(self) -> bool:
        return self._stop

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stop:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(0.2, left))

    def _say(self, message: str) -> None:
        logger.info(message)
        self.stdout.write(message)
        self.stdout.flush()

    def _report(self, run: MonitorRun) -> None:
        self.stdout.write(
            f"run={run.pk} outcome={run.outcome} tasks={run.tasks_checked} records={run.records_written} "
            f"followups={run.followups_created} completed={run.tasks_completed} errors={run.errors}"
        )
        self.stdout.flush()
