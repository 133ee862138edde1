"""OutboundBot provider: signed RPC client, typed results, status vocabulary."""

from calltasks.provider.client import (
    IDEMPOTENT_ACTIONS,
    MAX_JOBS_PER_CALL,
    NON_IDEMPOTENT_ACTIONS,
    OutboundBotClient,
)
from calltasks.provider.errors import ProviderError
from calltasks.provider.types import (
    AssignJobsResult,
    CallAttempt,
    JobDetail,
    JobGroup,
    JobGroupPage,
    JobGroupProgress,
    JobListPage,
    JobResult,
    JobsPage,
    JobSpec,
    Recording,
    TaskSummary,
)

__all__ = [
    "IDEMPOTENT_ACTIONS",
    "MAX_JOBS_PER_CALL",
    "NON_IDEMPOTENT_ACTIONS",
    "AssignJobsResult",
    "CallAttempt",
    "JobDetail",
    "JobGroup",
    "JobGroupPage",
    "JobGroupProgress",
    "JobListPage",
    "JobResult",
    "JobSpec",
    "JobsPage",
    "OutboundBotClient",
    "ProviderError",
    "Recording",
    "TaskSummary",
]
