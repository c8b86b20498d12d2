"""API routes under /api/. One line per endpoint; other parts add theirs here.

`api/run` is shared by method: POST creates and enables a job (here), GET shows one run
(the runs part adds `GET=<its view>` to the `by_method(...)` call).
"""

from __future__ import annotations

from django.urls import path

from jobs.views.base import by_method
from jobs.views.enable import EnableView
from jobs.views.job import JobView
from jobs.views.job_list import JobListView
from jobs.views.run import CreateAndEnableView
from jobs.views.script import ScriptView

urlpatterns = [
    path("job", JobView.as_view()),
    path("enable", EnableView.as_view()),
    path("script", ScriptView.as_view()),
    path("jobList", JobListView.as_view()),
    path("run", by_method(POST=CreateAndEnableView.as_view())),
]
