"""`python manage.py runnode`: start a Traitor node with one command.

It migrates the database, creates the first administrator and API token on an empty
database (printed once), starts the node's services (dispatcher, sandbox pool) and serves
HTTP and websockets through Daphne until SIGTERM or SIGINT, then stops the services.

`--db` is applied by manage.py before Django reads its settings; this command checks that
it was, so `django-admin runnode --db …` fails plainly instead of using the wrong store.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import sys
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, IntegrityError, connection, transaction

FIRST_ADMIN = "admin"


class Command(BaseCommand):
    help = "Start a Traitor node: migrate, create the first admin, serve the API (Daphne)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "-m", "--mode", choices=["std", "multi"], default="std",
            help="std: one standalone node (default); multi: cluster mode (not built yet)",
        )  # fmt: skip
        parser.add_argument(
            "-r", "--redis", default="", help="multi: Redis URL, redis://host:6379/0"
        )
        parser.add_argument(
            "-mg", "--mongo", default="", help="multi: MongoDB URL, mongodb://host:27017"
        )
        parser.add_argument(
            "-c", "--cluster", default="",
            help="cluster name scoping this node's jobs (default: TRAITOR_CLUSTER or 'default')",
        )  # fmt: skip
        parser.add_argument("-ip", "--ip", default="0.0.0.0", help="address to listen on")
        parser.add_argument("-p", "--port", type=int, default=8080, help="port (default 8080)")
        parser.add_argument(
            "--db", default="",
            help="postgresql://user:password@host:5432/name instead of SQLite "
            "(same as TRAITOR_DATABASE_URL)",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        ip, port = self._check_address(options["ip"], options["port"])
        self._check_db_flag(options["db"])
        if options["mode"] == "multi":
            self._check_cluster_flags(options)
            raise CommandError(
                "cluster mode (-m multi) is not built yet; start a standalone node with -m std "
                "(README, section Node)"
            )
        for flag, name in (("redis", "-r/--redis"), ("mongo", "-mg/--mongo")):
            if options[flag]:
                self._say(f"note: {name} is only used by cluster mode (-m multi); ignored")
        if options["cluster"]:
            settings.TRAITOR_CLUSTER = options["cluster"]

        _check_port_free(ip, port)
        self._migrate()
        self._create_first_admin(ip, port)
        node_name = settings.TRAITOR_NODE_NAME or f"{socket.gethostname()}:{port}"
        self._serve(node_name, ip, port)

    # --- Flags ------------------------------------------------------------------------------

    def _check_address(self, ip: str, port: int) -> tuple[str, int]:
        if not 1 <= port <= 65535:
            raise CommandError(f"-p/--port: must be between 1 and 65535, got {port}")
        try:
            ipaddress.ip_address(ip.strip("[]"))
        except ValueError:
            raise CommandError(
                f"-ip/--ip: {ip!r} is not an IP address (0.0.0.0 for every interface, "
                "127.0.0.1 for this machine only)"
            ) from None
        return ip, port

    def _check_db_flag(self, url: str) -> None:
        if url and url != settings.TRAITOR_DATABASE_URL:
            raise CommandError(
                "--db is read before the settings load: start the node with "
                "`python manage.py runnode --db …`, or set TRAITOR_DATABASE_URL instead"
            )

    def _check_cluster_flags(self, options: dict[str, Any]) -> None:
        redis = options["redis"]
        if not redis:
            raise CommandError("-m multi needs -r/--redis, the Redis URL (redis://host:6379/0)")
        if urlsplit(redis).scheme not in ("redis", "rediss", "unix"):
            raise CommandError(f"-r/--redis: expected redis://host:6379/0, got {redis!r}")
        mongo = options["mongo"]
        if mongo and urlsplit(mongo).scheme not in ("mongodb", "mongodb+srv"):
            raise CommandError(f"-mg/--mongo: expected mongodb://host:27017, got {mongo!r}")
        if not mongo and connection.vendor != "postgresql":
            raise CommandError(
                "-m multi needs a store every node shares: -mg/--mongo mongodb://host:27017 "
                "or --db postgresql://…"
            )

    # --- Start-up ---------------------------------------------------------------------------

    def _say(self, line: str) -> None:
        self.stdout.write(line)
        # Supervisors and tests read this through a pipe: show each line as it is written.
        self.stdout.flush()

    def _migrate(self) -> None:
        try:
            call_command("migrate", interactive=False, verbosity=0)
        except DatabaseError as exc:
            reason = " ".join(str(exc).split())  # drivers' messages span lines
            raise CommandError(f"cannot use the database ({_describe_db()}): {reason}") from None

    def _create_first_admin(self, ip: str, port: int) -> None:
        """On an empty database only: an administrator and a token, printed this once."""
        from rest_framework.authtoken.models import Token

        user_model = get_user_model()
        if user_model.objects.exists():
            return
        password = secrets.token_urlsafe(18)
        try:
            with transaction.atomic():
                user = user_model.objects.create_superuser(FIRST_ADMIN, "", password)
                token = Token.objects.create(user=user)
        except IntegrityError:
            # Another node on the same database created it first; it printed them.
            return
        base = f"http://{_shown_host(ip)}:{port}"
        self._say(
            "\n".join(
                [
                    "First start on an empty database: created the administrator and an API "
                    "token. They are shown this once only.",
                    f"  admin user:     {FIRST_ADMIN}",
                    f"  admin password: {password}",
                    f"  API token:      {token.key}",
                    f"  use it as:      curl -H 'Authorization: Token {token.key}' "
                    f"{base}/api/jobList",
                    f"Change the password at {base}/admin/password_change/ or with "
                    f"`python manage.py changepassword {FIRST_ADMIN}`; replace the token at "
                    f"{base}/admin/authtoken/tokenproxy/ or with "
                    f"`python manage.py drf_create_token -r {FIRST_ADMIN}`.",
                ]
            )
        )

    def _serve(self, node_name: str, ip: str, port: int) -> None:
        # Daphne installs Twisted's asyncio reactor on import: import it only when serving.
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server

        from scheduler.node import start_node_services
        from traitor_site.asgi import application

        services = start_node_services(node_name)
        base = f"http://{_shown_host(ip)}:{port}"

        def ready() -> None:
            auth = "token or login" if settings.TRAITOR_AUTH else "OPEN: TRAITOR_AUTH=off"
            self._say(
                f"Traitor node {node_name} ready (std mode, {_describe_db()}): listening on "
                f"http://{ip}:{port}/ — API {base}/api/ ({auth}), admin {base}/admin/"
            )

        server = Server(
            application=application,
            endpoints=build_endpoint_description_strings(host=ip, port=port),
            signal_handlers=True,  # SIGTERM/SIGINT stop the reactor; run() then returns
            ready_callable=ready,
            verbosity=0,
        )
        try:
            server.run()
        finally:
            if server.listening_addresses:
                self._say(f"Traitor node {node_name} stopping")
            services.stop()
        if not server.listening_addresses:
            raise CommandError(
                f"could not listen on {ip}:{port} (is another process using the port? "
                "choose another with -p)"
            )


def _check_port_free(ip: str, port: int) -> None:
    """Fail before migrating and printing secrets when the port is plainly taken.

    Daphne reports a failed listen too (another process may take the port in between);
    this only makes the common mistake quick and plain.
    """
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As Twisted does: a port in TIME_WAIT after a restart counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((ip.strip("[]"), port))
        except OSError as exc:
            raise CommandError(
                f"could not listen on {ip}:{port}: {exc.strerror or exc} (is another process "
                "using the port? choose another with -p)"
            ) from None


def _shown_host(ip: str) -> str:
    """An address a browser on this machine can open."""
    if ip in ("0.0.0.0", "::", "[::]"):
        return "127.0.0.1"
    return f"[{ip}]" if ":" in ip and not ip.startswith("[") else ip


def _describe_db() -> str:
    db = settings.DATABASES["default"]
    if connection.vendor == "sqlite":
        return f"SQLite {db['NAME']}"
    return (
        f"{connection.vendor} {db.get('HOST') or 'localhost'}:{db.get('PORT') or ''}/{db['NAME']}"
    )


if __name__ == "__main__":  # pragma: no cover - run through manage.py
    sys.exit("run it as: python manage.py runnode")
