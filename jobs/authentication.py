"""Session login for the API, as a browser logged in at /admin/ uses it.

DRF's SessionAuthentication runs Django's CSRF check on DRF's Request, whose `POST` parses
the body with the view's parsers. The API views have none (`jobs.views.base.json_body` reads
bodies itself), so every JSON write from a browser failed with a 415 before the check even
looked at the token. Django's own request answers `POST` for a JSON body with an empty form
without reading it: the check runs on that one, and reads the token from `X-CSRFToken`.
"""

from __future__ import annotations

from rest_framework import authentication, exceptions
from rest_framework.request import Request

CSRF_HINT = (
    "a write from a logged-in browser session needs Django's CSRF token: send the value of "
    "the csrftoken cookie in an X-CSRFToken header (README, section API), or call the API "
    "with 'Authorization: Token <key>' instead"
)


class CsrfFailed(exceptions.PermissionDenied):
    """A session write without a valid CSRF token; the message says how to send one."""


class SessionAuthentication(authentication.SessionAuthentication):
    def enforce_csrf(self, request: Request) -> None:
        django_request = request._request

        def no_response(_request: object) -> None:  # pragma: no cover - never called
            return None

        check = authentication.CSRFCheck(no_response)
        check.process_request(django_request)  # reads the csrftoken cookie into META
        reason = check.process_view(django_request, None, (), {})
        if reason:
            raise CsrfFailed(f"{CSRF_HINT} (Django: {reason})")
