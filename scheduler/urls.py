from __future__ import annotations

from django.urls import path

from scheduler import views

urlpatterns = [
    path("healthz", views.healthz),
    path("metrics", views.prometheus_metrics),
]
