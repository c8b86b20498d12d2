from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    # The web console is not built yet: the node's address opens the admin meanwhile.
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/", include("jobs.urls")),
    path("", include("scheduler.urls")),
]
