from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.db import connection


def test_the_session_never_uses_the_real_traitor_home() -> None:
    assert str(settings.TRAITOR_HOME) == os.environ["TRAITOR_HOME"]
    assert "traitor-test-home-" in str(settings.TRAITOR_HOME)


@pytest.mark.django_db
def test_the_database_is_the_one_asked_for() -> None:
    expected = "postgresql" if os.environ.get("TRAITOR_TEST_DB") == "postgresql" else "sqlite"
    assert connection.vendor == expected
