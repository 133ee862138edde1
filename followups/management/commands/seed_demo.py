"""``manage.py seed_demo``: the demo organization, a supervisor login, an API token and sample leads."""

from __future__ import annotations

import json
import os
from dataclasses import asdict

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from followups.demo import DemoResult, seed_demo


class Command(BaseCommand):
    help = "Create or refresh the demo data (idempotent): organizations, supervisor login, API token, leads."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="where the web server answers")
        parser.add_argument("--json", action="store_true", help="print the logins and token as one JSON object")
        parser.add_argument("--keep-dates", action="store_true", help="load the file's dates without shifting them")
        parser.add_argument("--force", action="store_true", help="allow running with DJANGO_ENV=production")

    def handle(self, *args, **options) -> None:
        production = getattr(settings, "PRODUCTION", False)
        if production and not options["force"]:
            raise CommandError("拒绝执行：DJANGO_ENV=production 时不创建演示数据（确需执行请加 --force）。")
        if production and not os.environ.get("DEMO_PASSWORD"):
            raise CommandError("生产环境下必须通过环境变量 DEMO_PASSWORD 指定演示账号密码。")
        result = seed_demo(shift_dates=not options["keep_dates"], create_admin=not production)
        base_url = options["base_url"].rstrip("/")
        if options["json"]:
            self.stdout.write(json.dumps({**asdict(result), "base_url": base_url}, ensure_ascii=False))
            return
        self.stdout.write(self.summary(result, base_url))

    @staticmethod
    def summary(result: DemoResult, base_url: str) -> str:
        login = result.supervisor
        lines = [
            "演示数据已就绪（可重复执行，结果不变）",
            f"  组织：{result.organization_name}（{result.organization_code}），线索 {result.leads} 条，"
            f"历史跟进记录 {result.followups} 条",
            f"  第二个组织：{result.other_organization_name}，线索 {result.other_leads} 条（用于演示租户隔离）",
            f"  管理后台：{base_url}/admin/",
            f"  主管账号：{login.username}    密码：{login.password}",
            f"  API 令牌：{login.token}",
            f"    示例：curl -H 'access-token: {login.token}' {base_url}/api/v1/leads/",
            f"  第二个组织的账号：{result.other_supervisor.username}（同一密码），"
            f"API 令牌：{result.other_supervisor.token}",
            f"  API 文档：{base_url}/api/docs/",
        ]
        if result.admin_username:
            lines.append(f"  超级管理员：{result.admin_username}    密码：{result.admin_password}（仅限开发环境）")
        return "\n".join(lines)
