"""Seed endpoint routes; mounted both at the root and under ``/api/`` (see ``dcc_project/urls.py``).

Paths are matched with and without a trailing slash, exactly as the seeds spell them.
"""

from django.urls import re_path

from calltasks.api import seed_views as views

urlpatterns = [
    re_path(r"^create-autoCall-tasks/?$", views.TaskCreateApi.as_view(), name="task-create"),
    re_path(r"^query-task-execution/?$", views.TaskExecutionQueryApi.as_view(), name="task-execution"),
    re_path(r"^auto-task/?$", views.AutoTaskApi.as_view(), name="auto-task"),
    re_path(r"^check_task_completion/?$", views.CompletionCheckApi.as_view(), name="completion-check"),
    re_path(
        r"^check_task_completion/(?P<task_id>[^/]+)/?$",
        views.CompletionCheckDetailApi.as_view(),
        name="completion-check-detail",
    ),
    re_path(
        r"^task_followup_records/(?P<task_id>[^/]+)/?$",
        views.TaskFollowupRecordsApi.as_view(),
        name="task-followup-records",
    ),
    re_path(r"^start-call-task/?$", views.TaskStartApi.as_view(), name="task-start"),
    re_path(r"^suspend-resume-task/?$", views.TaskSuspendResumeApi.as_view(), name="task-suspend-resume"),
    re_path(r"^cancel-call-task/?$", views.TaskCancelApi.as_view(), name="task-cancel"),
    re_path(r"^delete-call-task/?$", views.TaskDeleteApi.as_view(), name="task-delete"),
]
