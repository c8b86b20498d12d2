"""Websocket routes. The debug socket (`ws /api/debug?id=`) arrives with the console issue."""

from __future__ import annotations

websocket_urlpatterns: list = []
