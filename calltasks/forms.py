"""Admin forms of the call-task app: creating a task from lead filters (the same filters as the API)."""

from __future__ import annotations

import re

from django import forms
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from calltasks.api.serializers import TaskCreateInputSerializer
from followups.models import Lead, Organization
from followups.selectors import DATE_DIMENSIONS, LeadFilterSpec

#: API ``size_desc`` keys whose form field has another name.
SIZE_DESC_TO_FIELD = {"leads_product": "products", "leads_type": "grades"}
#: Placeholder name for validating the filters of a count request (the name is not needed to count).
COUNT_TASK_NAME = "count"
_ID_SEPARATORS = re.compile(r"[\s,;，；、]+")

DATE_LABELS = {
    "first_follow": (_("First follow-up from"), _("First follow-up to")),
    "latest_follow": (_("Latest follow-up from"), _("Latest follow-up to")),
    "next_follow": (_("Next follow-up from"), _("Next follow-up to")),
}


def _distinct(organization_id: int | None, column: str) -> list[tuple[str, str]]:
    qs = Lead.objects.exclude(**{column: ""})
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    values = qs.order_by(column).values_list(column, flat=True).distinct()
    return [(value, value) for value in values]


def default_task_name() -> str:
    return gettext("Call task %(time)s") % {"time": timezone.localtime().strftime("%Y-%m-%d %H:%M")}


class TaskCreateForm(forms.Form):
    organization = forms.ModelChoiceField(label=_("Organization"), queryset=Organization.objects.none())
    task_name = forms.CharField(
        label=_("Task name"), max_length=200, widget=forms.TextInput(attrs={"class": "vTextField"})
    )
    products = forms.MultipleChoiceField(
        label=_("Products"), required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("Any of the ticked products; none ticked = every product."),
    )
    grades = forms.MultipleChoiceField(
        label=_("Lead grades"), required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("Any of the ticked grades; none ticked = every grade."),
    )
    is_arrive = forms.ChoiceField(
        label=_("Store visit"),
        required=False,
        choices=[("", _("Any")), ("1", _("Visited the store")), ("0", _("Not visited"))],
        widget=forms.RadioSelect,
    )
    first_follow_start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    first_follow_end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    latest_follow_start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    latest_follow_end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    next_follow_start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    next_follow_end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    leads_ids = forms.CharField(
        label=_("Lead ids"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Optional: only these lead ids (separated by spaces, commas or new lines)."),
    )
    include_active = forms.BooleanField(
        label=_("Include leads already in an active task"), required=False
    )
    script_id = forms.CharField(
        label=_("Call script id"), max_length=64, required=False,
        widget=forms.TextInput(attrs={"class": "vTextField"}),
        help_text=_("The OutboundBot script to call with; needed to start calling, can be set later."),
    )
    auto_start = forms.BooleanField(label=_("Start calling right after creating"), required=False)

    def __init__(self, *args, user, count_only: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.count_only = count_only
        for name in DATE_DIMENSIONS:
            start_label, end_label = DATE_LABELS[name]
            self.fields[f"{name}_start"].label = start_label
            self.fields[f"{name}_end"].label = end_label
        if user.organization_id is not None:
            # Everyone with an organization creates tasks for it; only organization-less superusers pick one.
            del self.fields["organization"]
            self.organization_id = user.organization_id
        else:
            self.fields["organization"].queryset = Organization.objects.order_by("name")
            self.organization_id = self._chosen_organization_id()
        if count_only:
            self.fields["task_name"].required = False
        self.fields["products"].choices = _distinct(self.organization_id, "leads_product")
        self.fields["grades"].choices = _distinct(self.organization_id, "leads_type")
        self.serializer: TaskCreateInputSerializer | None = None

    def _chosen_organization_id(self) -> int | None:
        raw = self.data.get("organization") if self.is_bound else None
        try:
            return int(raw) if raw else None
        except (TypeError, ValueError):
            return None

    def date_field_rows(self):
        """(start, end) bound-field pairs for the template."""
        return [(self[f"{name}_start"], self[f"{name}_end"]) for name in DATE_DIMENSIONS]

    def api_payload(self) -> dict:
        """The cleaned form as the body of ``POST /create-autoCall-tasks``."""
        data = self.cleaned_data
        size_desc: dict = {}
        if data.get("products"):
            size_desc["leads_product"] = list(data["products"])
        if data.get("grades"):
            size_desc["leads_type"] = list(data["grades"])
        if data.get("is_arrive") in ("0", "1"):
            size_desc["is_arrive"] = [int(data["is_arrive"])]
        for name in DATE_DIMENSIONS:
            for edge in ("start", "end"):
                value = data.get(f"{name}_{edge}")
                if value:
                    size_desc[f"{name}_{edge}"] = value.isoformat()
        leads_ids = [item for item in _ID_SEPARATORS.split(data.get("leads_ids") or "") if item]
        return {
            "task_name": (data.get("task_name") or "").strip() or (COUNT_TASK_NAME if self.count_only else ""),
            "script_id": (data.get("script_id") or "").strip(),
            "size_desc": size_desc,
            "leads_ids": leads_ids,
            "auto_start": bool(data.get("auto_start")),
            "include_active": bool(data.get("include_active")),
        }

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        serializer = TaskCreateInputSerializer(data=self.api_payload())
        if not serializer.is_valid():
            self._add_serializer_errors(serializer.errors)
            return cleaned
        self.serializer = serializer
        return cleaned

    def _add_serializer_errors(self, errors, prefix: str = "") -> None:
        for key, value in errors.items():
            if key == "size_desc" and isinstance(value, dict):
                self._add_serializer_errors(value, prefix="size_desc")
                continue
            name = SIZE_DESC_TO_FIELD.get(key, key) if prefix else key
            field = name if name in self.fields else None
            for message in _flatten(value):
                self.add_error(field, message)

    # --- results (only after is_valid()) --------------------------------------------------------------------

    def spec(self) -> LeadFilterSpec:
        return self.serializer.to_spec()

    def stored_size_desc(self) -> dict:
        return self.serializer.stored_size_desc()


def _flatten(value) -> list[str]:
    if isinstance(value, dict):
        return [message for item in value.values() for message in _flatten(item)]
    if isinstance(value, list):
        return [message for item in value for message in _flatten(item)]
    return [str(value)]
