"""Input and output serializers of the seed endpoints (explicit fields; outputs also document the schema)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from calltasks.api.fields import (
    DateRangeField,
    InterestFilterField,
    LocalDateField,
    LocalDateTimeField,
    local_datetime_text,
)
from calltasks.provider import statuses
from calltasks.states import TaskState
from dcc_project.phones import mask_phone
from followups.models import interest_label
from followups.selectors import DATE_DIMENSIONS, DateRange, LeadFilterSpec

MAX_PAGE_SIZE = 200
#: Largest database id (64-bit); larger numbers are rejected as invalid instead of overflowing the driver.
MAX_ID = 2**63 - 1
MAX_BATCH_TASKS = 100


# --- inputs --------------------------------------------------------------------------------------------------


class SizeDescSerializer(serializers.Serializer):
    """The lead filter: OR inside a dimension, AND across dimensions; dates are local days, end inclusive."""

    leads_type = serializers.ListField(child=serializers.CharField(max_length=20), required=False, default=list)
    leads_product = serializers.ListField(child=serializers.CharField(max_length=100), required=False, default=list)
    is_arrive = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=1), required=False, default=list
    )
    first_follow_start = LocalDateField(required=False, allow_null=True)
    first_follow_end = LocalDateField(required=False, allow_null=True)
    latest_follow_start = LocalDateField(required=False, allow_null=True)
    latest_follow_end = LocalDateField(required=False, allow_null=True)
    next_follow_start = LocalDateField(required=False, allow_null=True)
    next_follow_end = LocalDateField(required=False, allow_null=True)
    first_follow_ranges = serializers.ListField(child=DateRangeField(), required=False, default=list, max_length=50)
    latest_follow_ranges = serializers.ListField(child=DateRangeField(), required=False, default=list, max_length=50)
    next_follow_ranges = serializers.ListField(child=DateRangeField(), required=False, default=list, max_length=50)

    def validate(self, attrs):
        errors = {}
        for name in DATE_DIMENSIONS:
            start, end = attrs.get(f"{name}_start"), attrs.get(f"{name}_end")
            if start and end and start > end:
                errors[f"{name}_end"] = [_("The end date is before the start date.")]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    @staticmethod
    def date_ranges(attrs) -> dict[str, tuple[DateRange, ...]]:
        ranges: dict[str, tuple[DateRange, ...]] = {}
        for name in DATE_DIMENSIONS:
            items = list(attrs.get(f"{name}_ranges") or [])
            start, end = attrs.get(f"{name}_start"), attrs.get(f"{name}_end")
            if start or end:
                items.insert(0, DateRange(start=start, end=end))
            if items:
                ranges[name] = tuple(items)
        return ranges


class TaskCreateInputSerializer(serializers.Serializer):
    task_name = serializers.CharField(max_length=200)
    script_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    size_desc = SizeDescSerializer(required=False)
    leads_ids = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, default=list, max_length=20000
    )
    auto_start = serializers.BooleanField(required=False, allow_null=True, default=None)
    include_active = serializers.BooleanField(required=False, default=False)
    strategy = serializers.DictField(required=False, allow_null=True, default=None)

    def validate(self, attrs):
        if "size_desc" not in attrs and not attrs.get("leads_ids"):
            raise serializers.ValidationError(
                {"size_desc": [_("Give a lead filter (size_desc) or a list of leads_ids.")]}
            )
        if attrs.get("auto_start") and not attrs.get("script_id"):
            raise serializers.ValidationError(
                {"script_id": [_("A call script (script_id) is needed to start the task.")]}
            )
        if attrs.get("auto_start") is None:
            attrs["auto_start"] = bool(attrs.get("script_id"))
        return attrs

    def to_spec(self) -> LeadFilterSpec:
        attrs = self.validated_data
        size_desc = attrs.get("size_desc") or {}
        return LeadFilterSpec(
            leads_type=tuple(dict.fromkeys(size_desc.get("leads_type") or [])),
            leads_product=tuple(dict.fromkeys(size_desc.get("leads_product") or [])),
            is_arrive=tuple(sorted(set(size_desc.get("is_arrive") or []))),
            date_ranges=SizeDescSerializer.date_ranges(size_desc),
            leads_ids=tuple(dict.fromkeys(attrs.get("leads_ids") or [])),
        )

    def stored_size_desc(self) -> dict:
        """The filter as sent (after validation succeeded), plus the explicit lead list if one was given."""
        raw = self.initial_data.get("size_desc") if isinstance(self.initial_data, dict) else None
        stored = dict(raw) if isinstance(raw, dict) else {}
        if self.validated_data.get("leads_ids"):
            stored["leads_ids"] = list(self.validated_data["leads_ids"])
        return stored


class TaskIdInputSerializer(serializers.Serializer):
    task_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)


class TaskStartInputSerializer(TaskIdInputSerializer):
    script_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class SuspendResumeInputSerializer(TaskIdInputSerializer):
    action = serializers.ChoiceField(choices=["suspend", "resume"])


class QueryExecutionInputSerializer(TaskIdInputSerializer):
    page = serializers.IntegerField(min_value=1, required=False, default=1)
    page_size = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, required=False, default=20)
    refresh = serializers.BooleanField(required=False, default=False)
    only_followed = serializers.BooleanField(required=False, default=False)
    interest = InterestFilterField()


class PageInputSerializer(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, required=False, default=1)
    page_size = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, required=False, default=20)


class AutoTaskInputSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["start", "stop", "check"])


class CompletionCheckInputSerializer(serializers.Serializer):
    task_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    task_type = serializers.ChoiceField(
        choices=TaskState.choices,
        required=False,
        allow_null=True,
        help_text="informational: the state the caller expects",
    )
    task_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        min_length=1,
        max_length=MAX_BATCH_TASKS,
    )

    def validate(self, attrs):
        if "task_id" in attrs and "task_ids" in attrs:
            raise serializers.ValidationError({"task_ids": [_("Send either task_id or task_ids, not both.")]})
        if "task_id" not in attrs and "task_ids" not in attrs:
            raise serializers.ValidationError({"task_id": [_("This field is required.")]})
        return attrs


class LoginInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False, style={"input_type": "password"})


# --- outputs -------------------------------------------------------------------------------------------------


def task_type_label(value: int) -> str:
    try:
        return str(TaskState(value).label)
    except ValueError:
        return str(value)


class TaskStateSerializer(serializers.Serializer):
    """A task's state after an action."""

    task_id = serializers.IntegerField(source="pk")
    task_name = serializers.CharField()
    task_type = serializers.IntegerField()
    task_type_label = serializers.SerializerMethodField()
    job_group_id = serializers.CharField(allow_null=True)
    script_id = serializers.CharField()
    leads_count = serializers.IntegerField()
    create_time = LocalDateTimeField()
    started_at = LocalDateTimeField(allow_null=True)
    paused_at = LocalDateTimeField(allow_null=True)
    cancelled_at = LocalDateTimeField(allow_null=True)
    calls_done_at = LocalDateTimeField(allow_null=True)
    followups_done_at = LocalDateTimeField(allow_null=True)
    is_deleted = serializers.SerializerMethodField()

    def get_task_type_label(self, task) -> str:
        return task_type_label(task.task_type)

    def get_is_deleted(self, task) -> bool:
        return task.deleted_at is not None


class StartErrorSerializer(serializers.Serializer):
    code = serializers.IntegerField(help_text="HTTP status the start would have answered with")
    message = serializers.CharField()


class TaskCreateOutputSerializer(serializers.Serializer):
    task_id = serializers.IntegerField()
    task_name = serializers.CharField()
    leads_count = serializers.IntegerField()
    create_time = serializers.CharField()
    size_desc = serializers.JSONField()
    task_type = serializers.IntegerField()
    task_type_label = serializers.CharField()
    script_id = serializers.CharField()
    job_group_id = serializers.CharField(allow_null=True)
    matched_count = serializers.IntegerField()
    skipped_duplicate_phones = serializers.IntegerField()
    skipped_in_active_task = serializers.IntegerField()
    started = serializers.BooleanField()
    start_error = StartErrorSerializer(allow_null=True)


class FollowDataSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    lead_id = serializers.IntegerField()
    follow_time = LocalDateTimeField()
    leads_remark = serializers.CharField()
    first_follow_time = LocalDateTimeField(allow_null=True)
    new_follow_time = LocalDateTimeField(allow_null=True)
    next_follow_time = LocalDateTimeField(allow_null=True)
    is_arrive = serializers.BooleanField()
    first_arrive_time = LocalDateTimeField(allow_null=True)
    is_interested = serializers.IntegerField(allow_null=True)
    interest_label = serializers.SerializerMethodField()
    judge = serializers.CharField()
    source = serializers.CharField()

    def get_interest_label(self, follow) -> str:
        return interest_label(follow.is_interested)


class MaskedPhoneMixin:
    def phone(self, value: str) -> str:
        return value if self.context.get("full_phone") else mask_phone(value)


class LeadRowFieldsMixin(MaskedPhoneMixin):
    """Method fields shared by every serializer of a lead row (seed jobs_data and /api/v1/lead-rows/)."""

    def get_leads_phone(self, row) -> str:
        return self.phone(row.leads_phone)

    def get_failure_reason_label(self, row) -> str:
        return statuses.failure_reason_label(row.failure_reason)

    def get_interest_label(self, row) -> str:
        return interest_label(row.is_interested)

    def get_recording_available(self, row) -> bool:
        return bool(row.recording_file)

    def get_recording_url(self, row) -> str | None:
        if not row.recording_file:
            return None
        path = reverse("recording", args=[row.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class JobRowSerializer(LeadRowFieldsMixin, serializers.Serializer):
    """One lead row of a task: the provider job, its outcome, transcript and follow-up."""

    id = serializers.IntegerField()
    leads_id = serializers.CharField()
    leads_name = serializers.CharField()
    leads_phone = serializers.SerializerMethodField(help_text="masked unless the user may see full numbers")
    job_id = serializers.CharField(source="call_job_id", allow_null=True)
    reference_id = serializers.CharField()
    status = serializers.CharField(source="call_status")
    status_label = serializers.SerializerMethodField()
    detailed_status = serializers.CharField(source="last_task_status")
    detailed_status_label = serializers.SerializerMethodField()
    is_connected = serializers.BooleanField()
    is_final = serializers.SerializerMethodField()
    failure_reason = serializers.CharField()
    failure_reason_label = serializers.SerializerMethodField()
    attempts = serializers.IntegerField()
    duration = serializers.IntegerField(source="call_duration", allow_null=True, help_text="seconds")
    call_time = LocalDateTimeField(allow_null=True)
    planed_time = LocalDateTimeField(allow_null=True)
    calling_number = serializers.CharField()
    call_conversation = serializers.JSONField(allow_null=True, help_text="transcript: list of turns")
    is_interested = serializers.IntegerField(allow_null=True)
    interest_label = serializers.SerializerMethodField()
    follow_data = FollowDataSerializer(source="leads_follow", allow_null=True)
    recording_available = serializers.SerializerMethodField()
    recording_url = serializers.SerializerMethodField(help_text="authenticated download of the stored recording")

    def get_status_label(self, row) -> str:
        return statuses.status_label(row.call_status)

    def get_detailed_status_label(self, row) -> str:
        return statuses.status_label(row.last_task_status) if row.last_task_status else ""

    def get_is_final(self, row) -> bool:
        return row.final_at is not None


class TaskStatsSerializer(serializers.Serializer):
    total_calls = serializers.IntegerField()
    connected_calls = serializers.IntegerField()
    not_connected_calls = serializers.IntegerField()
    not_started_calls = serializers.IntegerField()
    in_progress_calls = serializers.IntegerField()
    followed_calls = serializers.IntegerField()
    is_completed = serializers.BooleanField()


class PaginationSerializer(serializers.Serializer):
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    total_pages = serializers.IntegerField()
    total_count = serializers.IntegerField()


class SyncSummarySerializer(serializers.Serializer):
    provider_calls = serializers.IntegerField()
    rows_updated = serializers.IntegerField()
    records_written = serializers.IntegerField()
    newly_final = serializers.IntegerField()
    skipped = serializers.BooleanField()


class QueryExecutionOutputSerializer(serializers.Serializer):
    task_id = serializers.IntegerField()
    task_name = serializers.CharField()
    task_type = serializers.IntegerField()
    task_type_label = serializers.CharField()
    jobs_data = JobRowSerializer(many=True)
    task_stats = TaskStatsSerializer()
    pagination = PaginationSerializer()
    refreshed = SyncSummarySerializer(allow_null=True)


class MonitorRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    outcome = serializers.CharField()
    tasks_checked = serializers.IntegerField()
    records_written = serializers.IntegerField()
    rows_updated = serializers.IntegerField()
    followups_created = serializers.IntegerField()
    tasks_completed = serializers.IntegerField()
    errors = serializers.IntegerField()


class AutoTaskOutputSerializer(serializers.Serializer):
    is_running = serializers.BooleanField()
    action = serializers.CharField()
    run = MonitorRunSerializer(required=False, help_text="only for check: what the pass did")


class CompletionOutputSerializer(serializers.Serializer):
    task_id = serializers.IntegerField()
    task_type = serializers.IntegerField()
    task_type_label = serializers.CharField()
    is_completed = serializers.BooleanField()
    total_calls = serializers.IntegerField()
    connected_calls = serializers.IntegerField()
    finished_calls = serializers.IntegerField()
    followed_calls = serializers.IntegerField()
    changed = serializers.BooleanField(help_text="the check moved the task to a new state")


class BatchCompletionItemSerializer(serializers.Serializer):
    task_id = serializers.IntegerField()
    found = serializers.BooleanField()
    code = serializers.IntegerField()
    message = serializers.CharField()
    result = CompletionOutputSerializer(allow_null=True)


class BatchCompletionOutputSerializer(serializers.Serializer):
    results = BatchCompletionItemSerializer(many=True)
    completed_count = serializers.IntegerField()
    not_found_count = serializers.IntegerField()


class TaskInfoSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    task_name = serializers.CharField()
    task_type = serializers.IntegerField()
    task_type_label = serializers.SerializerMethodField()
    create_time = LocalDateTimeField()
    leads_count = serializers.IntegerField()
    is_completed = serializers.SerializerMethodField()

    def get_task_type_label(self, task) -> str:
        return task_type_label(task.task_type)

    def get_is_completed(self, task) -> bool:
        return task.task_type in (TaskState.CALLS_DONE, TaskState.FOLLOWUPS_DONE)


class CallStatisticsSerializer(serializers.Serializer):
    total_calls = serializers.IntegerField()
    connected_calls = serializers.IntegerField()
    failed_calls = serializers.IntegerField()
    busy_calls = serializers.IntegerField()
    no_answer_calls = serializers.IntegerField()
    success_rate = serializers.FloatField(help_text="percent")


class FollowupRecordSerializer(MaskedPhoneMixin, serializers.Serializer):
    """One lead row of the task with its follow-up record (fields from the follow-up are null until it exists)."""

    id = serializers.IntegerField()
    follow_id = serializers.IntegerField(source="leads_follow_id", allow_null=True)
    leads_id = serializers.CharField()
    leads_name = serializers.CharField()
    leads_phone = serializers.SerializerMethodField()
    is_interested = serializers.IntegerField(allow_null=True)
    interest_label = serializers.SerializerMethodField()
    leads_remark = serializers.CharField(source="leads_follow.leads_remark", default=None, allow_null=True)
    follow_time = LocalDateTimeField(source="leads_follow.follow_time", default=None, allow_null=True)
    next_follow_time = LocalDateTimeField(source="leads_follow.next_follow_time", default=None, allow_null=True)
    judge = serializers.CharField(source="leads_follow.judge", default=None, allow_null=True)
    call_duration = serializers.IntegerField(allow_null=True, help_text="seconds")
    call_status = serializers.CharField()
    call_status_label = serializers.SerializerMethodField()
    is_connected = serializers.BooleanField()
    call_time = LocalDateTimeField(allow_null=True)

    def get_leads_phone(self, row) -> str:
        return self.phone(row.leads_phone)

    def get_interest_label(self, row) -> str:
        return interest_label(row.is_interested)

    def get_call_status_label(self, row) -> str:
        return statuses.status_label(row.call_status)

    def to_representation(self, row) -> dict:
        """The declared fields' output, built directly: DRF's per-field machinery was most of a page's cost.

        The fields above still define the schema; ``tests/calltasks/api/test_followup_records.py`` checks that
        this returns exactly what ``Serializer.to_representation`` would.
        """
        follow = row.leads_follow
        return {
            "id": row.id,
            "follow_id": row.leads_follow_id,
            "leads_id": _text(row.leads_id),
            "leads_name": _text(row.leads_name),
            "leads_phone": self.phone(row.leads_phone),
            "is_interested": row.is_interested,
            "interest_label": interest_label(row.is_interested),
            "leads_remark": None if follow is None else _text(follow.leads_remark),
            "follow_time": None if follow is None else local_datetime_text(follow.follow_time),
            "next_follow_time": None if follow is None else local_datetime_text(follow.next_follow_time),
            "judge": None if follow is None else _text(follow.judge),
            "call_duration": row.call_duration,
            "call_status": _text(row.call_status),
            "call_status_label": statuses.status_label(row.call_status),
            "is_connected": row.is_connected,
            "call_time": local_datetime_text(row.call_time),
        }


def _text(value) -> str | None:
    """``CharField`` output: ``str``, ``None`` kept."""
    return None if value is None else str(value)


class FollowupRecordsOutputSerializer(serializers.Serializer):
    task_info = TaskInfoSerializer()
    call_statistics = CallStatisticsSerializer()
    followup_records = FollowupRecordSerializer(many=True)
    pagination = PaginationSerializer()


class OrganizationBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    code = serializers.CharField()


class LoginUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    organization = OrganizationBriefSerializer(allow_null=True)


class LoginOutputSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    token_type = serializers.CharField()
    user = LoginUserSerializer()
