from rest_framework.routers import DefaultRouter

from calltasks.api.rest import CallRecordViewSet, CallTaskViewSet, LeadRowViewSet, TaskStatisticsViewSet
from followups.api import FollowUpViewSet, LeadViewSet

router = DefaultRouter()
router.register("leads", LeadViewSet, basename="lead")
router.register("call-tasks", CallTaskViewSet, basename="call-task")
router.register("lead-rows", LeadRowViewSet, basename="lead-row")
router.register("call-records", CallRecordViewSet, basename="call-record")
router.register("follow-ups", FollowUpViewSet, basename="follow-up")
router.register("task-statistics", TaskStatisticsViewSet, basename="task-statistics")

urlpatterns = router.urls
