"""Operations endpoints: `GET /healthz` and `GET /metrics`.

Both are open (no login), as monitoring probes expect; they reveal counts and liveness,
never jobs or scripts.
"""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from scheduler import metrics, node


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the dispatch loop is alive and the database answers, else 503 saying which."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        database = "ok"
    except Exception as exc:
        database = f"unreachable: {exc}"
    services = node.current()
    if services is None:
        scheduler = "not running in this process"
    elif services.alive():
        scheduler = "ok"
    else:
        scheduler = "stalled: the dispatch loop has not completed a step recently"
    healthy = database == "ok" and scheduler == "ok"
    body = {
        "status": "ok" if healthy else "unhealthy",
        "scheduler": scheduler,
        "database": database,
        "node": services.node_name if services else None,
        "runsInFlight": services.executor.in_flight if services and services.executor else 0,
    }
    return JsonResponse(body, status=200 if healthy else 503)


@require_GET
def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    return HttpResponse(generate_latest(metrics.REGISTRY), content_type=CONTENT_TYPE_LATEST)
