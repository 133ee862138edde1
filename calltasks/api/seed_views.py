"""The seed endpoints (SPEC §7): parse → service or selector → seed envelope. No business logic here."""

from __future__ import annotations

import math

from django.contrib.auth import authenticate
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.throttling import ScopedRateThrottle

from calltasks.api import serializers as s
from calltasks.api.schema import enveloped, error_responses
from calltasks.models import MonitorRun
from calltasks.selectors import (
    call_task_list,
    followup_records_page,
    lead_row_filter_q,
    lead_rows_page,
    monitored_task_ids,
    task_call_statistics,
    task_execution_stats,
)
from calltasks.services.completion import CompletionResult, call_task_check_completion, call_task_state_checked
from calltasks.services.create import call_task_create
from calltasks.services.errors import TaskServiceError
from calltasks.services.lifecycle import (
    call_task_cancel,
    call_task_delete,
    call_task_pause,
    call_task_resume,
    call_task_start,
    task_get,
)
from calltasks.services.sync import call_task_sync
from calltasks.states import TaskState
from dcc_project.api.envelope import EnvelopeAPIView, error, success
from dcc_project.api.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from dcc_project.api.scoping import can_see_full_phone, organization_id_of

SEED_TAG = "seed API"


class SeedAPIView(EnvelopeAPIView):
    """Authenticated seed endpoint scoped to the caller's organization."""

    def organization_id(self) -> int:
        return organization_id_of(self.request.user)

    def parse(self, serializer_class, data=None):
        serializer = serializer_class(data=self.request.data if data is None else data)
        serializer.is_valid(raise_exception=True)
        return serializer

    def output_context(self) -> dict:
        return {"request": self.request, "full_phone": can_see_full_phone(self.request.user)}


def _pagination(page: int, page_size: int, total_count: int) -> dict:
    total_pages = max(1, math.ceil(total_count / page_size)) if total_count else 1
    return {
        "page": min(page, total_pages),
        "page_size": page_size,
        "total_pages": total_pages,
        "total_count": total_count,
    }


# --- create ----------------------------------------------------------------------------------------------------


@method_decorator(sensitive_post_parameters(), name="dispatch")
class TaskCreateApi(SeedAPIView):
    """Create a call task from lead filters (``size_desc``) or ``leads_ids``; optionally start it at once."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "task_create"

    @extend_schema(
        tags=[SEED_TAG],
        summary="创建外呼任务 (create a call task from lead filters)",
        request=s.TaskCreateInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            200: enveloped(s.TaskCreateOutputSerializer(), "TaskCreateEnvelope"),
            **error_responses(400, 401, 409, 413, 422, 429),
        },
        examples=[
            OpenApiExample(
                "filter by grade, product and follow-up dates",
                request_only=True,
                value={
                    "task_name": "H级线索回访",
                    "script_id": "script_demo",
                    "size_desc": {
                        "leads_type": ["H级", "A级"],
                        "leads_product": ["星越L"],
                        "is_arrive": [0],
                        "latest_follow_start": "2025-01-01",
                        "latest_follow_end": "2025-01-31",
                        "next_follow_ranges": ["2025-02-01,2025-02-07", ["2025-03-01", None]],
                    },
                    "auto_start": True,
                },
            ),
            OpenApiExample(
                "created and started",
                response_only=True,
                value={
                    "status": "success",
                    "code": 200,
                    "message": "外呼任务已创建并开始外呼",
                    "data": {
                        "task_id": 123,
                        "task_name": "H级线索回访",
                        "leads_count": 5,
                        "create_time": "2025-01-31 10:00:00",
                        "size_desc": {"leads_type": ["H级", "A级"], "leads_product": ["星越L"]},
                        "task_type": 2,
                        "task_type_label": "开始外呼",
                        "script_id": "script_demo",
                        "job_group_id": "jg-0001",
                        "matched_count": 6,
                        "skipped_duplicate_phones": 1,
                        "skipped_in_active_task": 0,
                        "started": True,
                        "start_error": None,
                    },
                },
            ),
        ],
    )
    @idempotent
    def post(self, request):
        params = self.parse(s.TaskCreateInputSerializer)
        data = params.validated_data
        organization_id = self.organization_id()
        result = call_task_create(
            organization_id=organization_id,
            created_by_id=request.user.pk,
            task_name=data["task_name"],
            spec=params.to_spec(),
            size_desc=params.stored_size_desc(),
            script_id=data["script_id"],
            strategy=data["strategy"],
            include_leads_in_active_tasks=data["include_active"],
        )
        task = result.task
        started, start_error = False, None
        message = _("Call task created")
        if data["auto_start"]:
            try:
                task = call_task_start(task_id=task.pk, organization_id=organization_id)
                started = True
                message = _("Call task created and calling started")
            except TaskServiceError as exc:
                # The task stays created (state 1); the caller can start it again later.
                start_error = {"code": exc.http_status, "message": exc.message}
                message = _("Call task created, but starting it failed: %(error)s") % {"error": exc.message}
                task.refresh_from_db()
        state = s.TaskStateSerializer(task).data
        return success(
            {
                "task_id": task.pk,
                "task_name": task.task_name,
                "leads_count": task.leads_count,
                "create_time": state["create_time"],
                "size_desc": task.size_desc,
                "task_type": task.task_type,
                "task_type_label": state["task_type_label"],
                "script_id": task.script_id,
                "job_group_id": task.job_group_id,
                "matched_count": result.matched,
                "skipped_duplicate_phones": result.skipped_duplicate_phones,
                "skipped_in_active_task": result.skipped_in_active_task,
                "started": started,
                "start_error": start_error,
            },
            message,
        )


# --- query execution -----------------------------------------------------------------------------------------


class TaskExecutionQueryApi(SeedAPIView):
    """A page of the task's lead rows with outcome, transcript and follow-up, and the task's call statistics."""

    @extend_schema(
        tags=[SEED_TAG],
        summary="查询外呼执行情况 (lead rows with outcome, transcript and follow-up; refresh syncs first)",
        request=s.QueryExecutionInputSerializer,
        responses={
            200: enveloped(s.QueryExecutionOutputSerializer(), "QueryExecutionEnvelope"),
            **error_responses(400, 401, 404, 502),
        },
        examples=[
            OpenApiExample(
                "second page of interested leads, synced first",
                request_only=True,
                value={"task_id": 123, "page": 2, "page_size": 20, "refresh": True, "interest": 1},
            ),
            OpenApiExample(
                "result",
                response_only=True,
                value={
                    "status": "success",
                    "code": 200,
                    "message": "查询成功",
                    "data": {
                        "task_id": 123,
                        "task_name": "H级线索回访",
                        "task_type": 2,
                        "task_type_label": "开始外呼",
                        "jobs_data": [
                            {
                                "id": 1,
                                "leads_id": "L0000001",
                                "leads_name": "张先生",
                                "leads_phone": "138****5678",
                                "job_id": "job-1",
                                "reference_id": "dcc-123-1",
                                "status": "Succeeded",
                                "status_label": "已接通",
                                "detailed_status": "SucceededFinish",
                                "detailed_status_label": "已接通：对话完成",
                                "is_connected": True,
                                "is_final": True,
                                "failure_reason": "",
                                "failure_reason_label": "",
                                "attempts": 1,
                                "duration": 45,
                                "call_time": "2025-01-31 10:05:00",
                                "planed_time": "2025-01-31 10:04:58",
                                "calling_number": "05710000000",
                                "call_conversation": [
                                    {"Speaker": "Robot", "Script": "您好，这里是4S店。"},
                                    {"Speaker": "Contact", "Script": "周末可以来试驾。"},
                                ],
                                "is_interested": 1,
                                "interest_label": "有意向",
                                "follow_data": {
                                    "id": 9,
                                    "lead_id": 1,
                                    "follow_time": "2025-01-31 10:06:00",
                                    "leads_remark": "客户周末到店试驾",
                                    "first_follow_time": "2025-01-31 10:06:00",
                                    "new_follow_time": "2025-01-31 10:06:00",
                                    "next_follow_time": "2025-02-01 10:00:00",
                                    "is_arrive": False,
                                    "first_arrive_time": None,
                                    "is_interested": 1,
                                    "interest_label": "有意向",
                                    "judge": "rules",
                                    "source": "ai_call",
                                },
                                "recording_available": True,
                                "recording_url": "http://example.com/api/v1/lead-rows/1/recording/",
                            }
                        ],
                        "task_stats": {
                            "total_calls": 5,
                            "connected_calls": 3,
                            "not_connected_calls": 1,
                            "not_started_calls": 0,
                            "in_progress_calls": 1,
                            "followed_calls": 3,
                            "is_completed": False,
                        },
                        "pagination": {"page": 1, "page_size": 20, "total_pages": 1, "total_count": 5},
                        "refreshed": None,
                    },
                },
            ),
        ],
    )
    def post(self, request):
        data = self.parse(s.QueryExecutionInputSerializer).validated_data
        organization_id = self.organization_id()
        task = task_get(task_id=data["task_id"], organization_id=organization_id)
        refreshed = None
        if data["refresh"]:
            result = call_task_sync(task_id=task.pk)
            refreshed = {
                "provider_calls": result.provider_calls,
                "rows_updated": result.rows_updated,
                "records_written": result.records_written,
                "newly_final": result.newly_final,
                "skipped": result.skipped,
            }
            task = task_get(task_id=task.pk, organization_id=organization_id)
        row_filter = lead_row_filter_q(only_followed=data["only_followed"], interest=data.get("interest"))
        stats = task_execution_stats(task_id=task.pk, row_filter=row_filter or None)
        pagination = _pagination(data["page"], data["page_size"], stats.matching)
        rows = lead_rows_page(
            task_id=task.pk,
            row_filter=row_filter or None,
            offset=(pagination["page"] - 1) * pagination["page_size"],
            limit=pagination["page_size"],
        )
        jobs = s.JobRowSerializer(rows, many=True, context=self.output_context()).data
        message = _("Query succeeded") if stats.matching else _("No lead rows match the query")
        return success(
            {
                "task_id": task.pk,
                "task_name": task.task_name,
                "task_type": task.task_type,
                "task_type_label": s.task_type_label(task.task_type),
                "jobs_data": jobs,
                "task_stats": {
                    "total_calls": stats.total,
                    "connected_calls": stats.connected,
                    "not_connected_calls": stats.not_connected,
                    "not_started_calls": stats.not_started,
                    "in_progress_calls": stats.in_progress,
                    "followed_calls": stats.followed,
                    "is_completed": task.task_type in (TaskState.CALLS_DONE, TaskState.FOLLOWUPS_DONE),
                },
                "pagination": pagination,
                "refreshed": refreshed,
            },
            message,
        )


# --- monitor switch -------------------------------------------------------------------------------------------


class AutoTaskApi(SeedAPIView):
    """Switch the monitor on or off (both drivers honour the switch), or run one pass over the caller's tasks."""

    @extend_schema(
        tags=[SEED_TAG],
        summary="控制自动化任务监控 (start/stop the monitor, or run one pass now)",
        request=s.AutoTaskInputSerializer,
        responses={200: enveloped(s.AutoTaskOutputSerializer(), "AutoTaskEnvelope"), **error_responses(400, 401)},
        examples=[
            OpenApiExample("start", request_only=True, value={"action": "start"}),
            OpenApiExample(
                "started (seed 000)",
                response_only=True,
                value={
                    "status": "success",
                    "code": 200,
                    "message": "自动化任务监控已启动",
                    "data": {"is_running": True, "action": "start"},
                },
            ),
            OpenApiExample(
                "check",
                response_only=True,
                value={
                    "status": "success",
                    "code": 200,
                    "message": "任务检查完成：检查了 2 个任务，创建了 5 条跟进记录",
                    "data": {
                        "is_running": True,
                        "action": "check",
                        "run": {
                            "id": 42,
                            "outcome": "ok",
                            "tasks_checked": 2,
                            "records_written": 7,
                            "rows_updated": 6,
                            "followups_created": 5,
                            "tasks_completed": 1,
                            "errors": 0,
                        },
                    },
                },
            ),
        ],
    )
    def post(self, request):
        from calltasks.services import monitor

        action = self.parse(s.AutoTaskInputSerializer).validated_data["action"]
        organization_id = self.organization_id()  # users without an organization may not steer the monitor
        if action == "check":
            # "Check now" covers the caller's own tasks (due or not); other organizations' tasks stay untouched.
            task_ids = monitored_task_ids(organization_id=organization_id)
            run = monitor.monitor_run_once(driver=MonitorRun.Driver.API, task_ids=task_ids)
            data = {
                "is_running": monitor.monitor_is_enabled(),
                "action": action,
                "run": s.MonitorRunSerializer(run).data,
            }
            message = _("Task check finished: %(tasks)d tasks checked, %(followups)d follow-ups created") % {
                "tasks": run.tasks_checked,
                "followups": run.followups_created,
            }
            return success(data, message)
        state = monitor.monitor_set_enabled(enabled=action == "start", by=request.user.get_username())
        message = _("Automatic task monitoring started") if state.enabled else _("Automatic task monitoring stopped")
        return success({"is_running": state.enabled, "action": action}, message)


# --- completion checks ------------------------------------------------------------------------------------------


def completion_message(result: CompletionResult) -> str:
    if result.task_type == TaskState.PAUSED:
        return _(
            "The task is paused; a check never changes a paused task (%(finished)d of %(total)d calls finished)"
        ) % {
            "finished": result.finished_calls,
            "total": result.total_calls,
        }
    if result.task_type == TaskState.CREATED:
        return _("The task has not been started yet")
    if result.is_completed and result.total_calls and result.connected_calls == result.total_calls:
        return _("The task is complete: every call was connected")
    if result.is_completed:
        return _("The task is complete: every call has finished, %(connected)d of %(total)d connected") % {
            "connected": result.connected_calls,
            "total": result.total_calls,
        }
    return _("The task is not complete yet: %(finished)d of %(total)d calls finished, %(connected)d connected") % {
        "finished": result.finished_calls,
        "total": result.total_calls,
        "connected": result.connected_calls,
    }


def completion_data(result: CompletionResult) -> dict:
    return {**result.as_dict(), "task_type_label": s.task_type_label(result.task_type), "changed": result.changed}


COMPLETION_EXAMPLE = OpenApiExample(
    "all connected (seed 002)",
    response_only=True,
    value={
        "status": "success",
        "code": 200,
        "message": "任务已完成，所有通话都已接通",
        "data": {
            "task_id": 123,
            "task_type": 3,
            "task_type_label": "外呼完成",
            "is_completed": True,
            "total_calls": 5,
            "connected_calls": 5,
            "finished_calls": 5,
            "followed_calls": 0,
            "changed": True,
        },
    },
)


class CompletionCheckApi(SeedAPIView):
    """Check (and advance) the completion state of one task or a batch."""

    @extend_schema(
        tags=[SEED_TAG],
        summary="检查任务完成状态 (one task, or a batch with task_ids)",
        description=(
            "`{task_id, task_type?}` checks one task (`task_type` is informational). `{task_ids: [...]}` checks up "
            "to 100 tasks; ids that do not exist or belong to another organization are reported inside the batch "
            "result as not found. A paused task is never changed by a check."
        ),
        request=s.CompletionCheckInputSerializer,
        responses={
            200: enveloped(s.CompletionOutputSerializer(), "CompletionEnvelope"),
            **error_responses(400, 401, 404),
        },
        examples=[
            OpenApiExample("seed 002 request", request_only=True, value={"task_id": 123, "task_type": 2}),
            OpenApiExample("batch request", request_only=True, value={"task_ids": [123, 124]}),
            COMPLETION_EXAMPLE,
        ],
    )
    def post(self, request):
        data = self.parse(s.CompletionCheckInputSerializer).validated_data
        organization_id = self.organization_id()
        if "task_ids" in data:
            return self.batch(organization_id, list(dict.fromkeys(data["task_ids"])))
        task = task_get(task_id=data["task_id"], organization_id=organization_id)
        result = call_task_check_completion(task_id=task.pk)
        return success(completion_data(result), completion_message(result))

    def batch(self, organization_id: int, task_ids: list[int]):
        visible = set(
            call_task_list(organization_id=organization_id).filter(pk__in=task_ids).values_list("pk", flat=True)
        )
        items = []
        for task_id in task_ids:
            if task_id not in visible:
                items.append(
                    {"task_id": task_id, "found": False, "code": 404, "message": _("Task not found."), "result": None}
                )
                continue
            result = call_task_check_completion(task_id=task_id)
            items.append(
                {
                    "task_id": task_id,
                    "found": True,
                    "code": 200,
                    "message": completion_message(result),
                    "result": completion_data(result),
                }
            )
        completed = sum(1 for item in items if item["result"] and item["result"]["is_completed"])
        not_found = sum(1 for item in items if not item["found"])
        message = _("Checked %(count)d tasks: %(completed)d complete, %(missing)d not found") % {
            "count": len(items),
            "completed": completed,
            "missing": not_found,
        }
        return success({"results": items, "completed_count": completed, "not_found_count": not_found}, message)


def _task_id_from_path(value: str) -> int:
    from rest_framework.exceptions import ValidationError

    try:
        task_id = int(value)
    except (TypeError, ValueError):
        task_id = 0
    if not 1 <= task_id <= s.MAX_ID:
        raise ValidationError({"task_id": [_("A valid integer is required.")]})
    return task_id


TASK_ID_PATH = OpenApiParameter("task_id", int, OpenApiParameter.PATH, description="call task id")


class CompletionCheckDetailApi(SeedAPIView):
    """Check (and advance) the completion state of one task."""

    @extend_schema(
        tags=[SEED_TAG],
        summary="检查任务完成状态 (GET)",
        parameters=[TASK_ID_PATH],
        responses={
            200: enveloped(s.CompletionOutputSerializer(), "CompletionEnvelope"),
            **error_responses(400, 401, 404),
        },
        examples=[COMPLETION_EXAMPLE],
    )
    def get(self, request, task_id):
        task = task_get(task_id=_task_id_from_path(task_id), organization_id=self.organization_id())
        result = call_task_check_completion(task_id=task.pk)
        return success(completion_data(result), completion_message(result))


class TaskFollowupRecordsApi(SeedAPIView):
    """The task's follow-up records with call statistics; runs the completion check first."""

    @extend_schema(
        tags=[SEED_TAG],
        summary="获取任务跟进记录 (runs the completion check first)",
        parameters=[
            TASK_ID_PATH,
            OpenApiParameter("page", int, OpenApiParameter.QUERY, required=False),
            OpenApiParameter("page_size", int, OpenApiParameter.QUERY, required=False, description="1–200"),
        ],
        responses={
            200: enveloped(s.FollowupRecordsOutputSerializer(), "FollowupRecordsEnvelope"),
            **error_responses(400, 401, 404),
        },
        examples=[
            OpenApiExample(
                "records",
                response_only=True,
                value={
                    "status": "success",
                    "code": 200,
                    "message": "查询成功",
                    "data": {
                        "task_info": {
                            "id": 123,
                            "task_name": "H级线索回访",
                            "task_type": 4,
                            "task_type_label": "跟进完成",
                            "create_time": "2025-01-31 10:00:00",
                            "leads_count": 5,
                            "is_completed": True,
                        },
                        "call_statistics": {
                            "total_calls": 5,
                            "connected_calls": 3,
                            "failed_calls": 0,
                            "busy_calls": 1,
                            "no_answer_calls": 1,
                            "success_rate": 60.0,
                        },
                        "followup_records": [
                            {
                                "id": 1,
                                "follow_id": 9,
                                "leads_id": "L0000001",
                                "leads_name": "张先生",
                                "leads_phone": "138****5678",
                                "is_interested": 1,
                                "interest_label": "有意向",
                                "leads_remark": "客户周末到店试驾",
                                "follow_time": "2025-01-31 10:06:00",
                                "next_follow_time": "2025-02-01 10:00:00",
                                "judge": "rules",
                                "call_duration": 45,
                                "call_status": "Succeeded",
                                "call_status_label": "已接通",
                                "is_connected": True,
                                "call_time": "2025-01-31 10:05:00",
                            }
                        ],
                        "pagination": {"page": 1, "page_size": 20, "total_pages": 1, "total_count": 5},
                    },
                },
            )
        ],
    )
    def get(self, request, task_id):
        page = self.parse(s.PageInputSerializer, data=request.query_params).validated_data
        task = task_get(task_id=_task_id_from_path(task_id), organization_id=self.organization_id())
        task.task_type = call_task_state_checked(task=task)
        statistics = task_call_statistics(task_id=task.pk)
        pagination = _pagination(page["page"], page["page_size"], statistics.total)
        rows = followup_records_page(
            task_id=task.pk,
            offset=(pagination["page"] - 1) * pagination["page_size"],
            limit=pagination["page_size"],
        )
        return success(
            {
                "task_info": s.TaskInfoSerializer(task).data,
                "call_statistics": statistics.as_dict(),
                "followup_records": s.FollowupRecordSerializer(rows, many=True, context=self.output_context()).data,
                "pagination": pagination,
            },
            _("Query succeeded"),
        )


# --- lifecycle actions --------------------------------------------------------------------------------------------


def _state_example(name: str, message: str, task_type: int, label: str) -> OpenApiExample:
    return OpenApiExample(
        name,
        response_only=True,
        value={
            "status": "success",
            "code": 200,
            "message": message,
            "data": {
                "task_id": 123,
                "task_name": "H级线索回访",
                "task_type": task_type,
                "task_type_label": label,
                "job_group_id": "jg-0001",
                "script_id": "script_demo",
                "leads_count": 5,
                "create_time": "2025-01-31 10:00:00",
                "started_at": "2025-01-31 10:01:00",
                "paused_at": "2025-01-31 11:00:00" if task_type == TaskState.PAUSED else None,
                "cancelled_at": None,
                "calls_done_at": None,
                "followups_done_at": None,
                "is_deleted": False,
            },
        },
    )


TASK_STATE_ENVELOPE = enveloped(s.TaskStateSerializer(), "TaskStateEnvelope")


class TaskStartApi(SeedAPIView):
    """Start calling: create the provider job group and assign the task's leads."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "task_start"

    @extend_schema(
        tags=[SEED_TAG],
        summary="开始外呼 (1 → 2: create the provider job group and assign the leads)",
        request=s.TaskStartInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={200: TASK_STATE_ENVELOPE, **error_responses(400, 401, 404, 409, 413, 422, 429, 502)},
        examples=[
            OpenApiExample("start", request_only=True, value={"task_id": 123, "script_id": "script_demo"}),
            _state_example("started", "外呼任务已开始", 2, "开始外呼"),
        ],
    )
    @idempotent
    def post(self, request):
        data = self.parse(s.TaskStartInputSerializer).validated_data
        task = call_task_start(
            task_id=data["task_id"], organization_id=self.organization_id(), script_id=data["script_id"] or None
        )
        return success(s.TaskStateSerializer(task).data, _("Calling started"))


class TaskSuspendResumeApi(SeedAPIView):
    """Pause or resume calling at the provider."""

    @extend_schema(
        tags=[SEED_TAG],
        summary="暂停/恢复外呼 (2 ⇄ 5)",
        request=s.SuspendResumeInputSerializer,
        responses={200: TASK_STATE_ENVELOPE, **error_responses(400, 401, 404, 409, 502)},
        examples=[
            OpenApiExample("suspend", request_only=True, value={"action": "suspend", "task_id": 123}),
            _state_example("suspended", "外呼任务已暂停", 5, "已暂停"),
        ],
    )
    def post(self, request):
        data = self.parse(s.SuspendResumeInputSerializer).validated_data
        organization_id = self.organization_id()
        if data["action"] == "suspend":
            task = call_task_pause(task_id=data["task_id"], organization_id=organization_id)
            message = _("Calling paused")
        else:
            task = call_task_resume(task_id=data["task_id"], organization_id=organization_id)
            message = _("Calling resumed")
        return success(s.TaskStateSerializer(task).data, message)


class TaskCancelApi(SeedAPIView):
    """Cancel the remaining calls; a task never started is deleted instead."""

    @extend_schema(
        tags=[SEED_TAG],
        summary="取消外呼 (2/5 → 3; a task never started is deleted instead)",
        request=s.TaskIdInputSerializer,
        responses={200: TASK_STATE_ENVELOPE, **error_responses(400, 401, 404, 409, 502)},
        examples=[
            OpenApiExample("cancel", request_only=True, value={"task_id": 123}),
            _state_example("cancelled", "外呼任务已取消", 3, "外呼完成"),
        ],
    )
    def post(self, request):
        data = self.parse(s.TaskIdInputSerializer).validated_data
        task = call_task_cancel(task_id=data["task_id"], organization_id=self.organization_id())
        if task.deleted_at is not None:
            message = _("The task had not been started, so it was deleted")
        else:
            message = _("Calling cancelled")
        return success(s.TaskStateSerializer(task).data, message)


class TaskDeleteApi(SeedAPIView):
    """Soft-delete a task that is not calling."""

    @extend_schema(
        tags=[SEED_TAG],
        summary="删除任务 (soft delete; allowed in 1, 3 and 4)",
        request=s.TaskIdInputSerializer,
        responses={200: TASK_STATE_ENVELOPE, **error_responses(400, 401, 404, 409)},
        examples=[
            OpenApiExample("delete", request_only=True, value={"task_id": 123}),
            _state_example("deleted", "任务已删除", 4, "跟进完成"),
        ],
    )
    def post(self, request):
        data = self.parse(s.TaskIdInputSerializer).validated_data
        task = call_task_delete(task_id=data["task_id"], organization_id=self.organization_id())
        return success(s.TaskStateSerializer(task).data, _("Task deleted"))


# --- login ----------------------------------------------------------------------------------------------------------


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class LoginApi(EnvelopeAPIView):
    """Exchange a username and password for the API token used in the ``access-token`` header."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(
        tags=[SEED_TAG],
        summary="登录，获取 API 令牌 (a DRF token for the access-token header)",
        request=s.LoginInputSerializer,
        responses={200: enveloped(s.LoginOutputSerializer(), "LoginEnvelope"), **error_responses(400, 401)},
        auth=[],
        examples=[
            OpenApiExample("login", request_only=True, value={"username": "supervisor", "password": "********"}),
            OpenApiExample(
                "token",
                response_only=True,
                value={
                    "status": "success",
                    "code": 200,
                    "message": "登录成功",
                    "data": {
                        "access_token": "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b",
                        "token_type": "Token",
                        "user": {
                            "id": 1,
                            "username": "supervisor",
                            "organization": {"id": 1, "name": "演示经销商", "code": "DEMO"},
                        },
                    },
                },
            ),
        ],
    )
    @sensitive_variables("serializer")
    def post(self, request):
        serializer = s.LoginInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(
            request, username=serializer.validated_data["username"], password=serializer.validated_data["password"]
        )
        if user is None:
            return error(
                status.HTTP_401_UNAUTHORIZED,
                _("Incorrect username or password"),
                headers={"WWW-Authenticate": "Token"},
            )
        token, _created = Token.objects.get_or_create(user=user)
        organization = user.organization
        return success(
            {
                "access_token": token.key,
                "token_type": "Token",
                "user": {
                    "id": user.pk,
                    "username": user.get_username(),
                    "organization": (
                        {"id": organization.pk, "name": organization.name, "code": organization.code}
                        if organization
                        else None
                    ),
                },
            },
            _("Login succeeded"),
        )
