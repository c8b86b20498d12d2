#!/usr/bin/env python
"""Django's command-line utility for Traitor (`python manage.py runnode` starts a node)."""

import os
import sys


def apply_db_flag(argv: list[str]) -> None:
    """`runnode --db URL` must reach the settings, which Django reads before any command runs."""
    if len(argv) < 2 or argv[1] != "runnode":
        return
    for i, arg in enumerate(argv):
        if arg == "--db" and i + 1 < len(argv):
            url = argv[i + 1]
        elif arg.startswith("--db="):
            url = arg[len("--db=") :]
        else:
            continue
        if not url.startswith(("postgresql://", "postgres://", "sqlite://")):
            sys.exit(f"--db: expected postgresql://user:password@host:5432/name, got {url!r}")
        os.environ["TRAITOR_DATABASE_URL"] = url


def load_settings() -> None:
    """Read the settings now: a malformed TRAITOR_* variable is one line and exit status 2.

    The settings raise ImproperlyConfigured naming the variable; Django would print it under
    a 40-line traceback. Any other error keeps its traceback: that is a bug to report.
    """
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        settings.INSTALLED_APPS  # noqa: B018 - the first read imports the settings module
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"traitor: {exc}\n")
        sys.exit(2)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "traitor_site.settings")
    apply_db_flag(sys.argv)
    load_settings()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
