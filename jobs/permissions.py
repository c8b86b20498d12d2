"""Who may call the API: everyone logged in, or everyone when TRAITOR_AUTH=off."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.permissions import BasePermission
from rest_framework.request import Request


class ApiAccess(BasePermission):
    # Read per request rather than when the view class is built, so the setting can change
    # without re-importing the views (tests flip it; operators set it at start-up).
    def has_permission(self, request: Request, view: Any) -> bool:
        if not settings.TRAITOR_AUTH:
            return True
        return bool(request.user and request.user.is_authenticated)
