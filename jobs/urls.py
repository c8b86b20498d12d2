"""API routes under /api/. One line per endpoint; other parts add theirs here.

`api/run` is shared by method: POST creates and enables a job (here), GET shows one run
(the runs part adds `GET=<its view>` to the `by_method(...)` call).
"""

from __future__ import annotations

from django.urls import path

from jobs.views.base import by_method
from jobs.views.cron_preview import CronPreviewView
from jobs.views.enable import EnableView
from jobs.views.job import JobView
from jobs.views.job_list import JobListView
from jobs.views.run import CreateAndEnableView
from jobs.views.runs import RunListView, RunView, TriggerView
from jobs.views.script import ScriptView

urlpatterns = [
    path("job", JobView.as_view()),
    path("enable", EnableView.as_view()),
    path("script", ScriptView.as_view()),
    path("jobList", JobListView.as_view()),
    path("run", by_method(POST=CreateAndEnableView.as_view(), GET=RunView.as_view())),
    path("trigger", TriggerView.as_view()),
    path("runs", RunListView.as_view()),
    path("cron/preview", CronPreviewView.as_view()),
]
