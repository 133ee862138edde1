"""Domain errors raised by the services and mapped to the seed envelope by the API layer."""

from __future__ import annotations

from django.utils.translation import gettext as _


class TaskServiceError(Exception):
    """Base class: carries an HTTP status and a user-facing (translated) message."""

    http_status = 400
    code = "invalid"

    def __init__(self, message: str | None = None, *, data: dict | None = None):
        super().__init__(message or self.default_message())
        self.message = message or self.default_message()
        self.data = data or {}

    def default_message(self) -> str:
        return _("The request could not be processed.")


class ValidationFailed(TaskServiceError):
    http_status = 400
    code = "validation"


class NoMatchingLeads(TaskServiceError):
    http_status = 400
    code = "no_leads"

    def default_message(self) -> str:
        return _("No leads match the conditions.")


class TaskNotFound(TaskServiceError):
    http_status = 404
    code = "not_found"

    def default_message(self) -> str:
        return _("Task not found.")


class InvalidTaskState(TaskServiceError):
    http_status = 409
    code = "wrong_state"

    def default_message(self) -> str:
        return _("The task is not in a state that allows this action.")


class ProviderFailure(TaskServiceError):
    http_status = 502
    code = "provider"

    def default_message(self) -> str:
        return _("The outbound-call provider did not accept the request. Please try again later.")


class DailyBudgetExceeded(TaskServiceError):
    """Starting the task would hand the provider more leads today than the organization's daily budget."""

    http_status = 429
    code = "daily_budget"

    def default_message(self) -> str:
        return _("The daily call budget of the organization is used up. Please start the task tomorrow.")
