"""Seed endpoint routes; mounted both at the root and under ``/api/`` (see ``dcc_project/urls.py``).

Paths are exactly as the seeds spell them; the same path with a trailing slash is accepted too (and
left out of the OpenAPI schema).
"""

from django.urls import path

from calltasks.api import seed_views as views

ROUTES = [
    ("create-autoCall-tasks", views.TaskCreateApi, "task-create"),
    ("query-task-execution", views.TaskExecutionQueryApi, "task-execution"),
    ("auto-task", views.AutoTaskApi, "auto-task"),
    ("check_task_completion", views.CompletionCheckApi, "completion-check"),
    ("check_task_completion/<str:task_id>", views.CompletionCheckDetailApi, "completion-check-detail"),
    ("task_followup_records/<str:task_id>", views.TaskFollowupRecordsApi, "task-followup-records"),
    ("start-call-task", views.TaskStartApi, "task-start"),
    ("suspend-resume-task", views.TaskSuspendResumeApi, "task-suspend-resume"),
    ("cancel-call-task", views.TaskCancelApi, "task-cancel"),
    ("delete-call-task", views.TaskDeleteApi, "task-delete"),
]

urlpatterns = [path(route, view.as_view(), name=name) for route, view, name in ROUTES] + [
    path(f"{route}/", view.as_view(schema=None), name=f"{name}-slash") for route, view, name in ROUTES
]
