"""require('http') against a real server on 127.0.0.1 (TRAITOR_HTTP_DENY_PRIVATE is off by
default, so loopback is allowed here; the tests that turn it on say so)."""

from __future__ import annotations

import socket
import time

import pytest

from jsruntime import httpclient


def test_the_original_callback_form_gets_status_code_and_text(run, http_server: str) -> None:
    result = run(
        "var http = require('http');\n"
        f"http.get('{http_server}/hello', function (res) {{\n"
        "  console.log(res.Status, '|', res.StatusCode, '|', res.ResponseText);\n"
        "}, function (err) { console.log('error', err.message) });"
    )
    assert result.status == "succeeded", result.error
    assert result.output == "200 OK | 200 | hello from the test server"


def test_an_http_error_status_is_a_response_not_a_failure(run, http_server: str) -> None:
    result = run(
        f"require('http').get('{http_server}/missing', function (res) {{"
        " console.log(res.StatusCode, res.ok, res.ResponseText) },"
        " function (err) { console.log('error') })"
    )
    assert result.output == "404 false no such page"


def test_request_can_be_awaited_with_method_headers_and_a_json_body(run, http_server: str) -> None:
    result = run(
        "const http = require('http');\n"
        "(async () => {\n"
        f"  const res = await http.request({{method: 'POST', url: '{http_server}/echo',\n"
        "    headers: {'X-Test': 'yes'}, body: {a: 1}});\n"
        "  console.log(res.status, res.statusText, res.headers['content-type'], '|', res.body);\n"
        "})();"
    )
    assert result.status == "succeeded", result.error
    assert result.output == (
        '201 Created text/plain; charset=utf-8 | POST /echo application/json yes {"a":1}'
    )


def test_get_without_callbacks_returns_a_promise(run, http_server: str) -> None:
    result = run(
        f"require('http').get('{http_server}/hello').then(r => console.log(r.text().length))"
    )
    assert result.output == str(len("hello from the test server"))


def test_a_request_past_its_timeout_fails_and_the_script_goes_on(run, http_server: str) -> None:
    result = run(
        "require('http')\n"
        f"  .request({{url: '{http_server}/slow', timeout: 300}})\n"
        "  .then(() => console.log('answered'), e => console.log(e.code, e.message))\n"
        "  .then(() => console.log('went on'))"
    )
    assert result.status == "succeeded", result.error
    assert result.output == "ETIMEDOUT timed out\nwent on"


def test_a_request_cannot_outlive_the_run(run, http_server: str) -> None:
    result = run(
        f"require('http').get('{http_server}/slow', function () {{ console.log('answered') }},"
        " function (e) { console.log('the script went on after its deadline:', e.message) })",
        timeout_seconds=0.5,
    )
    assert result.status == "timed_out"
    assert result.error == "stopped after 0.5 s"
    assert result.output == ""


def test_a_response_over_the_size_cap_is_refused(run, http_server: str) -> None:
    script = (
        "var http = require('http');\n"
        "['/big', '/big-unannounced'].forEach(function (path) {\n"
        f"  http.get('{http_server}' + path,\n"
        "    function (r) { console.log('got', r.body.length) },\n"
        "    function (e) { console.log(path, e.code, e.message) });\n"
        "});"
    )
    result = run(script, http_response_bytes=1024 * 1024)
    assert result.output == (
        "/big ETOOLARGE response larger than the 1 MB limit\n"
        "/big-unannounced ETOOLARGE response larger than the 1 MB limit"
    )
    # Under a larger cap the same 2 MB body arrives whole.
    bigger = run(script.replace("'/big', ", ""), http_response_bytes=8 * 1024 * 1024)
    assert bigger.output == f"got {64 * 65536}"


def test_a_redirect_to_the_metadata_address_is_refused(run, http_server: str) -> None:
    result = run(
        f"require('http').get('{http_server}/to-metadata',"
        " function (r) { console.log('followed') },"
        " function (e) { console.log(e.code, e.message) })"
    )
    assert result.output == (
        "EREFUSED refused to connect to 169.254.169.254 (169.254.169.254): "
        "link-local and cloud-metadata addresses are always refused"
    )


def test_a_redirect_to_an_allowed_address_is_followed(run, http_server: str) -> None:
    result = run(
        f"require('http').get('{http_server}/to-hello', function (r) {{"
        " console.log(r.StatusCode, r.redirected, r.url.endsWith('/hello'), r.ResponseText) })"
    )
    assert result.output == "200 true true hello from the test server"


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
        "http://100.100.100.200/",
    ],
)
def test_link_local_metadata_and_unspecified_addresses_are_always_refused(run, url: str) -> None:
    result = run(
        f"require('http').get('{url}', function () {{ console.log('connected') }},"
        " function (e) { console.log(e.code) })"
    )
    assert result.output == "EREFUSED"


def test_only_http_and_https_urls_are_fetched(run) -> None:
    result = run(
        "require('http').request('file:///etc/passwd').catch(e => console.log(e.code, e.message))"
    )
    assert (
        result.output
        == "EPROTOCOL only http and https URLs can be fetched, not 'file:///etc/passwd'"
    )


def test_loopback_is_refused_after_resolution_when_the_operator_denies_private(
    run, http_server: str, settings
) -> None:
    settings.TRAITOR_HTTP_DENY_PRIVATE = True
    port = http_server.rsplit(":", 1)[1]
    result = run(
        "var http = require('http');\n"
        f"['http://127.0.0.1:{port}/hello', 'http://localhost:{port}/hello', 'http://10.1.2.3/']"
        ".forEach(function (u) {\n"
        "  http.get(u, function () { console.log('connected') },\n"
        "    function (e) { console.log(e.message) })\n"
        "});"
    )
    # "localhost" is a name: it is refused for the first address it resolves to.
    first = socket.getaddrinfo("localhost", int(port), type=socket.SOCK_STREAM)[0][4][0]
    why = "private and loopback addresses are refused on this node (TRAITOR_HTTP_DENY_PRIVATE)"
    assert [line.text for line in result.console] == [
        f"refused to connect to 127.0.0.1 (127.0.0.1): {why}",
        f"refused to connect to localhost ({first}): {why}",
        f"refused to connect to 10.1.2.3 (10.1.2.3): {why}",
    ]


def test_a_name_that_resolves_to_link_local_is_refused_before_connecting(monkeypatch) -> None:
    # This machine has no DNS name that points at 169.254.169.254, so getaddrinfo is replaced
    # here (and only here) by one that answers like a hostile resolver would.
    connected: list[object] = []

    def hostile_resolver(host: str, port: int, *args: object, **kwargs: object) -> list:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))]

    monkeypatch.setattr(httpclient.socket, "getaddrinfo", hostile_resolver)
    monkeypatch.setattr(
        httpclient._PinnedHTTPConnection, "connect", lambda self: connected.append(self)
    )
    with pytest.raises(httpclient.HttpError) as refused:
        httpclient.fetch(
            {"url": "http://innocent.example/"},
            deadline=time.monotonic() + 5,
            max_bytes=1024,
            deny_private=False,
        )
    assert refused.value.code == "EREFUSED"
    assert str(refused.value) == (
        "refused to connect to innocent.example (169.254.169.254): "
        "link-local and cloud-metadata addresses are always refused"
    )
    assert connected == []


def test_a_header_with_a_line_break_is_refused_not_sent(run, http_server: str) -> None:
    result = run(
        f"require('http').request({{url: '{http_server}/echo', method: 'POST',"
        " headers: {'X-Test': 'a\\r\\nX-Injected: 1'}})"
        ".then(r => console.log('sent', r.body), e => console.log(e.code))"
    )
    assert result.output == "EINVAL"
