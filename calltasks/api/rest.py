"""REST resources under ``/api/v1/``: call tasks (with lifecycle actions), lead rows, call records, statistics.

DRF conventions: explicit serializer fields, pagination on every list, django-filter filters, ordering, and
every queryset scoped to the caller's organization (another organization's object is a 404). Writes go
through the services; service errors keep their HTTP status (400/404/409/502).
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms as django_forms
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from calltasks.api.fields import InterestFilterField
from calltasks.api.serializers import (
    MAX_ID,
    CompletionOutputSerializer,
    FollowDataSerializer,
    LeadRowFieldsMixin,
    SyncSummarySerializer,
    TaskCreateInputSerializer,
    task_type_label,
)
from calltasks.models import CallTask, LeadTask, OutboundCallRecord
from calltasks.provider import statuses
from calltasks.selectors import (
    TaskStatistics,
    call_record_list,
    interest_q,
    lead_row_list,
    task_statistics,
    task_statistics_list,
)
from calltasks.services.completion import call_task_check_completion
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
from dcc_project.api.envelope import DomainErrorsMixin
from dcc_project.api.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from dcc_project.api.scoping import can_see_full_phone, organization_id_of

# --- serializers -----------------------------------------------------------------------------------------------


class TaskProgressSerializer(serializers.Serializer):
    task_id = serializers.IntegerField()
    total_leads = serializers.IntegerField()
    finished_calls = serializers.IntegerField()
    connected_calls = serializers.IntegerField()
    not_connected_calls = serializers.IntegerField()
    followed_calls = serializers.IntegerField()
    connect_rate = serializers.FloatField(help_text="percent of all leads")
    interested = serializers.IntegerField()
    not_interested = serializers.IntegerField()
    unable_to_judge = serializers.IntegerField()
    pending_follow = serializers.IntegerField()


class CallTaskSerializer(serializers.ModelSerializer):
    """A task with its progress (from the list's grouped annotations; no per-row queries)."""

    task_type_label = serializers.SerializerMethodField()
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = CallTask
        fields = [
            "id",
            "task_name",
            "task_type",
            "task_type_label",
            "leads_count",
            "script_id",
            "size_desc",
            "strategy",
            "job_group_id",
            "created_by",
            "create_time",
            "started_at",
            "paused_at",
            "cancelled_at",
            "calls_done_at",
            "followups_done_at",
            "last_checked_at",
            "next_check_at",
            "progress",
        ]
        read_only_fields = fields

    def get_task_type_label(self, task) -> str:
        return task_type_label(task.task_type)

    @extend_schema_field(TaskProgressSerializer(allow_null=True))
    def get_progress(self, task):
        if not hasattr(task, "rows_total"):
            return None
        return TaskStatistics.from_annotated(task).as_dict()


class TaskStatisticsSerializer(serializers.Serializer):
    task_id = serializers.IntegerField(source="pk")
    task_name = serializers.CharField()
    task_type = serializers.IntegerField()
    task_type_label = serializers.SerializerMethodField()
    create_time = serializers.DateTimeField()
    statistics = serializers.SerializerMethodField()

    def get_task_type_label(self, task) -> str:
        return task_type_label(task.task_type)

    @extend_schema_field(TaskProgressSerializer())
    def get_statistics(self, task) -> dict:
        return TaskStatistics.from_annotated(task).as_dict()


class LeadRowSerializer(LeadRowFieldsMixin, serializers.ModelSerializer):
    leads_phone = serializers.SerializerMethodField(help_text="masked unless the user may see full numbers")
    task_id = serializers.IntegerField(read_only=True)
    call_status_label = serializers.SerializerMethodField()
    last_task_status_label = serializers.SerializerMethodField()
    failure_reason_label = serializers.SerializerMethodField()
    interest_label = serializers.SerializerMethodField()
    follow_up = FollowDataSerializer(source="leads_follow", read_only=True, allow_null=True)
    recording_available = serializers.SerializerMethodField()
    recording_url = serializers.SerializerMethodField(help_text="authenticated download of the stored recording")

    class Meta:
        model = LeadTask
        fields = [
            "id",
            "task_id",
            "leads_id",
            "leads_name",
            "leads_phone",
            "reference_id",
            "call_job_id",
            "call_status",
            "call_status_label",
            "last_task_status",
            "last_task_status_label",
            "is_connected",
            "failure_reason",
            "failure_reason_label",
            "attempts",
            "call_duration",
            "call_time",
            "planed_time",
            "final_at",
            "calling_number",
            "call_conversation",
            "is_interested",
            "interest_label",
            "follow_up",
            "recording_available",
            "recording_url",
        ]
        read_only_fields = fields

    def get_call_status_label(self, row) -> str:
        return statuses.status_label(row.call_status)

    def get_last_task_status_label(self, row) -> str:
        return statuses.status_label(row.last_task_status) if row.last_task_status else ""


class CallRecordSerializer(serializers.ModelSerializer):
    task_id = serializers.IntegerField(source="call_task_id", read_only=True)
    lead_row_id = serializers.IntegerField(source="lead_task_id", read_only=True)
    call_status_label = serializers.SerializerMethodField()

    class Meta:
        model = OutboundCallRecord
        fields = [
            "id",
            "task_id",
            "lead_row_id",
            "job_group_id",
            "job_id",
            "provider_task_id",
            "call_status",
            "call_status_label",
            "status_code",
            "end_reason",
            "has_answered",
            "called_number",
            "calling_number",
            "planed_time",
            "actual_time",
            "end_time",
            "duration",
            "hang_up_direction",
            "conversation",
            "created",
            "updated",
        ]
        read_only_fields = fields

    def get_call_status_label(self, record) -> str:
        return statuses.status_label(record.call_status)


class TaskCreatedSerializer(CallTaskSerializer):
    start_error = serializers.SerializerMethodField()

    class Meta(CallTaskSerializer.Meta):
        fields = [*CallTaskSerializer.Meta.fields, "start_error"]
        read_only_fields = fields

    def get_start_error(self, task) -> str | None:
        return self.context.get("start_error")


class StartActionInputSerializer(serializers.Serializer):
    script_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class SyncOutputSerializer(serializers.Serializer):
    task = CallTaskSerializer()
    sync = SyncSummarySerializer()


# --- filters ------------------------------------------------------------------------------------------------------


class InterestFilter(django_filters.Filter):
    """``?is_interested=1`` / ``0,2`` / ``pending`` (not judged yet)."""

    field_class = django_filters.fields.forms.RegexField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("regex", r"^\s*(0|1|2|pending)(\s*,\s*(0|1|2|pending))*\s*$")
        kwargs.setdefault("help_text", '0 无法判断, 1 有意向, 2 无意向, "pending" 待跟进; comma-separated')
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value in (None, ""):
            return qs
        field = InterestFilterField()
        condition = None
        for part in str(value).split(","):
            q = interest_q(field.to_internal_value(part), self.field_name)
            condition = q if condition is None else condition | q
        return qs.filter(condition)


class IdFilter(django_filters.NumberFilter):
    """A database id: whole numbers within the 64-bit range (larger ones are a 400, not a driver overflow)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        kwargs.setdefault("decimal_places", 0)
        super().__init__(*args, **kwargs)


class CharInFilter(django_filters.BaseInFilter, django_filters.CharFilter):
    """Comma-separated strings; each item is a form CharField, so a NUL character is a 400 (PostgreSQL rejects it)."""


class UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 date-time converted to UTC before it reaches the database.

    Python accepts UTC offsets up to ±23:59 but PostgreSQL only up to ±15:59 (a 500 there before), and a value
    whose UTC equivalent falls outside years 1–9999 cannot be represented: both are a 400.
    """

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return value
        try:
            return value.astimezone(dt.UTC)
        except (OverflowError, ValueError) as exc:
            raise django_forms.ValidationError(self.error_messages["invalid"], code="invalid") from exc


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class SmallNumberInFilter(django_filters.BaseInFilter, django_filters.NumberFilter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", 32767)
        kwargs.setdefault("decimal_places", 0)
        super().__init__(*args, **kwargs)


class CallTaskFilter(django_filters.FilterSet):
    task_type = SmallNumberInFilter(field_name="task_type", help_text="comma-separated states 1–5")
    task_name = django_filters.CharFilter(field_name="task_name", lookup_expr="icontains")
    created_after = UtcIsoDateTimeFilter(field_name="create_time", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="create_time", lookup_expr="lt")

    class Meta:
        model = CallTask
        fields = ["task_type", "task_name", "job_group_id"]


class LeadRowFilter(django_filters.FilterSet):
    task = IdFilter(field_name="task_id")
    call_status = CharInFilter(field_name="call_status", help_text="comma-separated job statuses")
    is_connected = django_filters.BooleanFilter()
    is_interested = InterestFilter(field_name="is_interested")
    has_follow_up = django_filters.BooleanFilter(field_name="leads_follow", lookup_expr="isnull", exclude=True)
    is_final = django_filters.BooleanFilter(field_name="final_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = LeadTask
        fields = ["task", "call_status", "is_connected", "is_interested", "leads_id"]


class CallRecordFilter(django_filters.FilterSet):
    task = IdFilter(field_name="call_task_id")
    lead_row = IdFilter(field_name="lead_task_id")
    call_status = CharInFilter(field_name="call_status", help_text="comma-separated call statuses")
    has_answered = django_filters.BooleanFilter()

    class Meta:
        model = OutboundCallRecord
        fields = ["task", "lead_row", "call_status", "has_answered", "job_id"]


# --- viewsets -------------------------------------------------------------------------------------------------------


class OrganizationScopedViewSetMixin(DomainErrorsMixin):
    def organization_id(self) -> int:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user, no organization
            return 0
        return organization_id_of(self.request.user)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["full_phone"] = can_see_full_phone(self.request.user)
        return context


TASK_CREATE_EXAMPLE = OpenApiExample(
    "create from filters",
    request_only=True,
    value={
        "task_name": "H级线索回访",
        "script_id": "script_demo",
        "size_desc": {
            "leads_type": ["H级"],
            "leads_product": ["星越L"],
            "latest_follow_ranges": ["2025-01-01,2025-01-31"],
        },
        "auto_start": False,
    },
)


class CallTaskViewSet(
    OrganizationScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Call tasks of the caller's organization. DELETE is a soft delete (allowed in states 1, 3 and 4)."""

    serializer_class = CallTaskSerializer
    filterset_class = CallTaskFilter
    ordering_fields = ["create_time", "id", "task_type", "leads_count"]
    ordering = ["-create_time", "-id"]
    throttle_scopes = {"create": "task_create", "start": "task_start"}

    def get_queryset(self):
        return task_statistics_list(organization_id=self.organization_id())

    def get_throttles(self):
        scope = self.throttle_scopes.get(getattr(self, "action", None) or "")
        if scope:
            self.throttle_scope = scope
            return [ScopedRateThrottle()]
        return super().get_throttles()

    def _task(self) -> CallTask:
        return task_get(task_id=self._pk(), organization_id=self.organization_id())

    def _pk(self) -> int:
        try:
            return int(self.kwargs["pk"])
        except (TypeError, ValueError) as exc:
            raise Http404 from exc

    def _respond(self, task: CallTask, code: int = status.HTTP_200_OK) -> Response:
        annotated = self.get_queryset().filter(pk=task.pk).first() or task
        return Response(self.get_serializer(annotated).data, status=code)

    @extend_schema(
        request=TaskCreateInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={201: TaskCreatedSerializer},
        examples=[TASK_CREATE_EXAMPLE],
    )
    @idempotent
    def create(self, request, *args, **kwargs):
        params = TaskCreateInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
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
        start_error = None
        if data["auto_start"]:
            try:
                call_task_start(task_id=result.task.pk, organization_id=organization_id)
            except TaskServiceError as exc:
                start_error = exc.message
        task = self.get_queryset().get(pk=result.task.pk)
        context = {**self.get_serializer_context(), "start_error": start_error}
        return Response(TaskCreatedSerializer(task, context=context).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        call_task_delete(task_id=self._pk(), organization_id=self.organization_id())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=StartActionInputSerializer, parameters=[IDEMPOTENCY_KEY_PARAMETER], responses={200: CallTaskSerializer}
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def start(self, request, pk=None):
        params = StartActionInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        script_id = params.validated_data["script_id"] or None
        task = call_task_start(task_id=self._pk(), organization_id=self.organization_id(), script_id=script_id)
        return self._respond(task)

    @extend_schema(request=None, responses={200: CallTaskSerializer})
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return self._respond(call_task_pause(task_id=self._pk(), organization_id=self.organization_id()))

    @extend_schema(request=None, responses={200: CallTaskSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._respond(call_task_resume(task_id=self._pk(), organization_id=self.organization_id()))

    @extend_schema(request=None, responses={200: CallTaskSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        task = call_task_cancel(task_id=self._pk(), organization_id=self.organization_id())
        if task.deleted_at is not None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return self._respond(task)

    @extend_schema(
        request=None,
        responses={200: SyncOutputSerializer, 502: OpenApiResponse(OpenApiTypes.OBJECT, "provider failure")},
        description="Pull the task's results from the provider now (what the monitor does on each pass).",
    )
    @action(detail=True, methods=["post"])
    def sync(self, request, pk=None):
        task = self._task()
        result = call_task_sync(task_id=task.pk)
        summary = {
            "provider_calls": result.provider_calls,
            "rows_updated": result.rows_updated,
            "records_written": result.records_written,
            "newly_final": result.newly_final,
            "skipped": result.skipped,
        }
        annotated = self.get_queryset().get(pk=task.pk)
        return Response({"task": self.get_serializer(annotated).data, "sync": summary})

    @extend_schema(request=None, responses={200: CompletionOutputSerializer})
    @action(detail=True, methods=["post"], url_path="check-completion")
    def check_completion(self, request, pk=None):
        task = self._task()
        result = call_task_check_completion(task_id=task.pk)
        return Response(
            {**result.as_dict(), "task_type_label": task_type_label(result.task_type), "changed": result.changed}
        )

    @extend_schema(responses={200: TaskProgressSerializer})
    @action(detail=True, methods=["get"])
    def stats(self, request, pk=None):
        task = self._task()
        return Response(task_statistics(task_id=task.pk).as_dict())


class TaskStatisticsViewSet(OrganizationScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Per-task totals, connected and interest counts; one grouped aggregate query per page."""

    serializer_class = TaskStatisticsSerializer
    filterset_class = CallTaskFilter
    ordering_fields = ["create_time", "id", "task_type"]
    ordering = ["-create_time", "-id"]

    def get_queryset(self):
        return task_statistics_list(organization_id=self.organization_id())


class LeadRowViewSet(OrganizationScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Lead rows (one per task and lead) with outcome, transcript and follow-up. Phones masked by default."""

    serializer_class = LeadRowSerializer
    filterset_class = LeadRowFilter
    ordering_fields = ["id", "task_id", "call_time", "call_duration", "final_at"]
    ordering = ["task_id", "id"]

    def get_queryset(self):
        return lead_row_list(organization_id=self.organization_id())


class CallRecordViewSet(OrganizationScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """One record per provider call attempt (called numbers are stored masked)."""

    serializer_class = CallRecordSerializer
    filterset_class = CallRecordFilter
    ordering_fields = ["id", "actual_time", "duration"]
    ordering = ["-id"]

    def get_queryset(self):
        return call_record_list(organization_id=self.organization_id())
