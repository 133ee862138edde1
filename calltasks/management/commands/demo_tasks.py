"""``manage.py demo_tasks``: create and start the demo call tasks once (see calltasks/demo.py)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from calltasks.demo import demo_tasks_ensure


class Command(BaseCommand):
    help = "Create the demo call tasks on the demo leads and start them against the provider (idempotent)."

    def handle(self, *args, **options) -> None:
        if getattr(settings, "PRODUCTION", False):
            raise CommandError("拒绝执行：DJANGO_ENV=production 时不创建演示任务。")
        result = demo_tasks_ensure()
        if result.already_present:
            self.stdout.write("演示组织已有外呼任务，未重复创建。")
            return
        self.stdout.write(f"已创建演示外呼任务 {len(result.created)} 个，已启动 {len(result.started)} 个。")
        for error in result.errors:
            self.stderr.write(f"  未完成：{error}")
        if not result.created:
            raise CommandError("没有创建任何演示任务。")
