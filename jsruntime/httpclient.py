"""`require('http')` on the host side: runs inside the sandbox worker, never in the parent.

Every hop of a request (the first and each redirect) resolves the host name, checks every
address it resolves to, and connects to the checked address itself, so a name cannot
resolve to a public address for the check and to the metadata service for the connection.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

from jsruntime.types import human_bytes

MAX_REDIRECTS = 5
REDIRECTS = {301, 302, 303, 307, 308}
DEFAULT_TIMEOUT_SECONDS = 30.0
USER_AGENT = "Traitor-Script/1"
# Cloud metadata services that are not link-local, refused like link-local ones.
METADATA = {
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("192.0.0.192"),  # Oracle Cloud (classic)
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
}
SHARED_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT, private in practice
NAT64 = ipaddress.ip_network("64:ff9b::/96")

_ssl_context: ssl.SSLContext | None = None


class HttpError(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address, deny_private: bool) -> str:
    """Why a script may not connect to this address, or "" when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return refusal(address.ipv4_mapped, deny_private)
        if address in NAT64:
            return refusal(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), deny_private)
    if address.is_link_local or address in METADATA:
        return "link-local and cloud-metadata addresses are always refused"
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return "unspecified, multicast and reserved addresses are always refused"
    if isinstance(address, ipaddress.IPv4Address) and address == ipaddress.IPv4Address(
        "255.255.255.255"
    ):
        return "the broadcast address is always refused"
    if deny_private and (address.is_loopback or address.is_private or address in SHARED_SPACE):
        return "private and loopback addresses are refused on this node (TRAITOR_HTTP_DENY_PRIVATE)"
    return ""


def _resolve(host: str, port: int, deny_private: bool) -> list[tuple[Any, ...]]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise HttpError(f"cannot resolve {host}: {exc.args[-1]}", "ENOTFOUND") from None
    if not infos:
        raise HttpError(f"cannot resolve {host}", "ENOTFOUND")
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        why = refusal(address, deny_private)
        if why:
            # One bad address refuses the name: no retrying until a lucky pick.
            raise HttpError(f"refused to connect to {host} ({address}): {why}", "EREFUSED")
    return infos


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that was checked, whatever the name resolves to now."""

    def __init__(self, host: str, port: int, sockaddr: Any, family: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._sockaddr = sockaddr
        self._family = family

    def connect(self) -> None:
        sock = socket.socket(self._family, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self._sockaddr)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    def connect(self) -> None:
        super().connect()
        global _ssl_context
        if _ssl_context is None:
            _ssl_context = ssl.create_default_context()
        self.sock = _ssl_context.wrap_socket(self.sock, server_hostname=self.host)


def fetch(
    options: dict[str, Any], *, deadline: float, max_bytes: int, deny_private: bool
) -> dict[str, Any]:
    """One request as the script asked for it, following redirects when allowed."""
    method = str(options.get("method") or "GET").upper()
    url = str(options.get("url", ""))
    headers = {str(k): str(v) for k, v in dict(options.get("headers") or {}).items()}
    body = options.get("body")
    data = None if body is None else str(body).encode("utf-8")
    timeout = options.get("timeout")
    wanted = DEFAULT_TIMEOUT_SECONDS if timeout is None else max(float(timeout) / 1000.0, 0.001)
    own_deadline = min(deadline, time.monotonic() + wanted)
    redirected = False
    for _ in range(MAX_REDIRECTS + 1):
        response = _one_request(method, url, headers, data, own_deadline, max_bytes, deny_private)
        location = response.pop("location")
        if (
            response["status"] in REDIRECTS
            and location
            and options.get("followRedirects", True) is not False
        ):
            url = urljoin(url, location)
            redirected = True
            if response["status"] == 303 or (
                response["status"] in (301, 302) and method not in ("GET", "HEAD")
            ):
                method, data = "GET", None
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            continue
        response["redirected"] = redirected
        return response
    raise HttpError(f"more than {MAX_REDIRECTS} redirects", "EREDIRECTS")


def _one_request(
    method: str,
    url: str,
    headers: dict[str, str],
    data: bytes | None,
    deadline: float,
    max_bytes: int,
    deny_private: bool,
) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise HttpError(f"only http and https URLs can be fetched, not {url!r}", "EPROTOCOL")
    host = parts.hostname
    if not host:
        raise HttpError(f"the URL {url!r} has no host", "EINVAL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise HttpError(f"the URL {url!r} has a bad port", "EINVAL") from None
    left = deadline - time.monotonic()
    if left <= 0:
        raise HttpError("timed out", "ETIMEDOUT")
    family, _, _, _, sockaddr = _resolve(host, port, deny_private)[0]
    kind = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = kind(host, port, sockaddr, family, timeout=left)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    sent = {"User-Agent": USER_AGENT, **headers}
    try:
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        length = response.getheader("Content-Length")
        if length and length.isdigit() and int(length) > max_bytes:
            raise HttpError(_too_large(max_bytes), "ETOOLARGE")
        chunks = []
        received = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HttpError("timed out", "ETIMEDOUT")
            if connection.sock is not None:
                connection.sock.settimeout(left)
            chunk = response.read1(65536)
            if not chunk:
                break
            received += len(chunk)
            if received > max_bytes:
                raise HttpError(_too_large(max_bytes), "ETOOLARGE")
            chunks.append(chunk)
        payload = b"".join(chunks)
        charset = response.headers.get_content_charset() or "utf-8"
        try:
            text = payload.decode(charset, "replace")
        except LookupError:
            text = payload.decode("utf-8", "replace")
        return {
            "status": response.status,
            "reason": response.reason,
            "headers": {k.lower(): v for k, v in response.getheaders()},
            "body": text,
            "url": url,
            "location": response.getheader("Location"),
        }
    except TimeoutError:
        raise HttpError("timed out", "ETIMEDOUT") from None
    except ValueError as exc:
        # http.client refuses header and method values with line breaks (header injection).
        raise HttpError(f"invalid request: {exc}", "EINVAL") from None
    except ssl.SSLError as exc:
        raise HttpError(f"TLS error with {host}: {exc.reason or exc}", "ETLS") from None
    except (OSError, http.client.HTTPException) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise HttpError(f"request to {host} failed: {reason}", "ECONNECTION") from None
    finally:
        connection.close()


def _too_large(max_bytes: int) -> str:
    return f"response larger than the {human_bytes(max_bytes)} limit"
