"""OutboundBot 2019-12-26 value sets (job status, task status, failure reasons) and our own outcomes.

One vocabulary for the client, the simulator, the services and the admin. Codes and names follow
``shared/reference/outboundbot-api.md`` §3; the labels are what supervisors read.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

# --- Job (one lead) -------------------------------------------------------------------------------
JOB_SCHEDULING = "Scheduling"
JOB_EXECUTING = "Executing"
JOB_SUCCEEDED = "Succeeded"
JOB_PAUSED = "Paused"
JOB_FAILED = "Failed"
JOB_CANCELLED = "Cancelled"
JOB_DRAFTED = "Drafted"

JOB_STATUS_CODES: dict[str, int] = {
    JOB_SCHEDULING: 0,
    JOB_EXECUTING: 1,
    JOB_SUCCEEDED: 2,
    JOB_PAUSED: 3,
    JOB_FAILED: 4,
    JOB_CANCELLED: 5,
    JOB_DRAFTED: 6,
}

JOB_STATUS_LABELS = {
    JOB_SCHEDULING: _("Scheduling"),
    JOB_EXECUTING: _("Calling"),
    JOB_SUCCEEDED: _("Connected"),
    JOB_PAUSED: _("Paused"),
    JOB_FAILED: _("Not connected"),
    JOB_CANCELLED: _("Cancelled"),
    JOB_DRAFTED: _("Draft"),
}

#: Job statuses after which the provider never calls the lead again.
JOB_FINAL_STATUSES = frozenset({JOB_SUCCEEDED, JOB_FAILED, JOB_CANCELLED})

# --- Task (one call attempt) ------------------------------------------------------------------------
# name -> (code, label, connected)
TASK_STATUSES: dict[str, tuple[int, object, bool]] = {
    "Executing": (0, _("Calling"), False),
    "Succeeded": (1, _("Connected"), True),
    "NoAnswer": (2, _("No answer"), False),
    "NotExist": (3, _("Number does not exist"), False),
    "Busy": (4, _("Busy"), False),
    "Cancelled": (5, _("Cancelled"), False),
    "Failed": (6, _("Call failed"), False),
    "NotConnected": (7, _("Unreachable"), False),
    "PoweredOff": (8, _("Powered off"), False),
    "OutOfService": (9, _("Out of service"), False),
    "InArrears": (10, _("In arrears"), False),
    "EmptyNumber": (11, _("Empty number (not dialled)"), False),
    "PerDayCallCountLimit": (12, _("Daily call limit reached (not dialled)"), False),
    "ContactBlockList": (13, _("On the block list (not dialled)"), False),
    "CallerNotRegistered": (14, _("Caller number not registered"), False),
    "Terminated": (15, _("Terminated (not dialled)"), False),
    "VerificationCancelled": (16, _("Pre-call check failed"), False),
    "OutOfServiceNoCall": (17, _("Out of service (not dialled)"), False),
    "InArrearsNoCall": (18, _("In arrears (not dialled)"), False),
    "CallingNumberNotExist": (19, _("Caller number does not exist"), False),
    "SucceededFinish": (20, _("Connected: conversation finished"), True),
    "SucceededChatbotHangUpAfterNoAnswer": (21, _("Connected: bot hung up after no reply"), True),
    "SucceededChatbotHangUpAfterSilence": (22, _("Connected: bot hung up after silence"), True),
    "SucceededClientHangUpAfterNoAnswer": (23, _("Connected: customer hung up after no reply"), True),
    "SucceededClientHangUp": (24, _("Connected: customer hung up"), True),
    "SucceededTransferByIntent": (25, _("Connected: transferred to an agent"), True),
    "SucceededTransferAfterNoAnswer": (26, _("Connected: transferred after no reply"), True),
    "SucceededInoInterAction": (27, _("Connected: no interaction"), True),
    "SucceededError": (28, _("Connected: system error"), True),
    "SucceededSpecialInterceptVoiceAssistant": (29, _("Connected: voice assistant answered"), True),
    "SucceededSpecialInterceptExtensionNumberTransfer": (30, _("Connected: extension transfer"), True),
    "SucceededSpecialInterceptCustomSpecialIntercept": (31, _("Connected: custom intercept"), True),
    "HighRiskSipCode": (32, _("High-risk number (not dialled)"), False),
}

TASK_STATUS_BY_CODE: dict[int, str] = {code: name for name, (code, _label, _c) in TASK_STATUSES.items()}

#: Seed 002's "Connected" plus every status the provider reports for an answered call (codes 1, 20–31).
CONNECTED_STATUSES = frozenset(
    {"Connected"} | {name for name, (_code, _label, connected) in TASK_STATUSES.items() if connected}
)

# --- Job failure reasons ------------------------------------------------------------------------------
FAILURE_REASON_LABELS = {
    "Unknown": _("Unknown"),
    "NoAnswer": _("No answer"),
    "InvalidStrategy": _("Invalid strategy"),
    "NoStrategy": _("No strategy"),
    "TimeUp": _("Calling window expired"),
    "CallFailed": _("Call failed"),
    "PerDayCallCountLimit": _("Daily call limit reached"),
    "JobPerDayCallCountLimit": _("Daily attempts for this number reached"),
    "ContactBlockList": _("On the block list"),
    "EmptyNumber": _("Empty number"),
    "VerificationCancelled": _("Pre-call check failed"),
    "ContactSuspended": _("Contact suspended"),
    "InArrears": _("In arrears"),
    "OutOfService": _("Out of service"),
    "NoneRepeatableJobMaxAttemptCountLimit": _("Maximum attempts reached"),
}

# Our own reasons for rows that end without a provider outcome (SPEC §3 "final outcome").
REASON_NOT_ASSIGNED = "NotAssigned"
REASON_TIMEOUT = "Timeout"
REASON_CANCELLED = "Cancelled"
FAILURE_REASON_LABELS.update(
    {
        REASON_NOT_ASSIGNED: _("Not accepted by the provider"),
        REASON_TIMEOUT: _("Unfinished at the task deadline"),
        REASON_CANCELLED: _("Task cancelled before the call"),
    }
)


def is_connected(status: str | None) -> bool:
    """True for seed 002's connected statuses and every ``Succeeded*`` sub-status."""
    if not status:
        return False
    return status in CONNECTED_STATUSES or status.startswith("Succeeded")


def is_final_job_status(status: str | None) -> bool:
    return status in JOB_FINAL_STATUSES


def status_label(status: str | None) -> str:
    """Chinese (translated) label for any job or task status; unknown values are shown as they are."""
    if not status:
        return str(_("Not started"))
    if status in TASK_STATUSES:
        return str(TASK_STATUSES[status][1])
    if status in JOB_STATUS_LABELS:
        return str(JOB_STATUS_LABELS[status])
    if status == "Connected":
        return str(_("Connected"))
    return status


def failure_reason_label(reason: str | None) -> str:
    if not reason:
        return ""
    label = FAILURE_REASON_LABELS.get(reason)
    if label is None and reason in TASK_STATUSES:
        label = TASK_STATUSES[reason][1]
    return str(label) if label is not None else reason
