from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from calltasks.api import urls as seed_urls
from calltasks.api.seed_views import LoginApi
from calltasks.views_dashboard import install_admin_urls
from calltasks.views_recordings import RecordingView

# The dashboard (admin:dcc_dashboard, /admin/dashboard/) and monitor page (admin:dcc_monitor, /admin/monitor/)
# are admin-site views in the admin namespace, ahead of the admin's own URLs.
install_admin_urls(admin.site)
# The admin's header and page titles are the product's name (Chinese through the catalog), not "Django 管理".
admin.site.site_header = settings.ADMIN_SITE_HEADER
admin.site.site_title = settings.ADMIN_SITE_HEADER

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("dcc_project.api.urls_v1")),
    path("api/login", LoginApi.as_view(), name="api-login"),
    # Recordings are personal data: served only to authenticated users of the row's organization.
    path("recordings/<int:lead_task_id>/", RecordingView.as_view(), name="recording"),
    # The seed endpoints answer at the seed paths both under /api/ and at the root.
    path("api/", include((seed_urls.urlpatterns, "seed"), namespace="seed-api")),
    path("", include((seed_urls.urlpatterns, "seed"), namespace="seed")),
]

# API paths that match no route answer in their documented JSON shape (seed envelope / DRF), not an HTML page.
handler404 = "dcc_project.errors.page_not_found"
handler500 = "dcc_project.errors.server_error"
