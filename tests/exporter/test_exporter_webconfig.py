"""basic_auth_users and http_server_config of the web config, against a real exporter on 127.0.0.1."""

from __future__ import annotations

import base64
import http.client
import os
import statistics
import time

import bcrypt
import pytest
from exporter_helpers import file_source

from x509_mixin.exporter.config import ConfigError
from x509_mixin.exporter.webconfig import load_web_config

SECRET_PASSWORD = b"Corr3ct-Horse-7781"


def _basic(user: str, password: bytes) -> str:
    return "Basic " + base64.b64encode(user.encode() + b":" + password).decode()


def _hash(password: bytes, cost: int = 4) -> str:
    return bcrypt.hashpw(password, bcrypt.gensalt(rounds=cost)).decode()


def _start(exporter, tmp_path, web_yaml: str):
    web = tmp_path / "web.yml"
    web.write_text(web_yaml)
    return exporter(
        {
            "sources": [file_source(tmp_path / "*.pem")],
            "server": {"listen": "127.0.0.1:0", "webConfigFile": str(web)},
        }
    )


def _timed_status(run, authorization: str) -> tuple[int, float]:
    conn = http.client.HTTPConnection("127.0.0.1", run.port, timeout=30)
    conn.connect()
    t0 = time.perf_counter()
    conn.request("GET", "/metrics", headers={"Authorization": authorization})
    r = conn.getresponse()
    r.read()
    elapsed = time.perf_counter() - t0
    conn.close()
    return r.status, elapsed


def test_unknown_user_costs_a_bcrypt_comparison_too(exporter, tmp_path):
    """A wrong password answers in the same time for an unknown user as for a real one.

    Cost 10 makes one comparison tens of milliseconds, so the gap without the dummy comparison
    (a dictionary miss) is two orders of magnitude; the samples alternate so that load on the
    machine falls on both sides alike.
    """
    run = _start(exporter, tmp_path, f"basic_auth_users:\n  alice: '{_hash(SECRET_PASSWORD, 10)}'\n")
    known, unknown = [], []
    for i in range(7):  # a new password each time: nothing is served from the cache
        status, t = _timed_status(run, _basic("alice", b"wrong-%d" % i))
        assert status == 401
        known.append(t)
        status, t = _timed_status(run, _basic("mallory", b"wrong-%d" % i))
        assert status == 401
        unknown.append(t)
    assert statistics.median(unknown) > 0.5 * statistics.median(known), (known, unknown)
    assert _timed_status(run, _basic("alice", SECRET_PASSWORD))[0] == 200


def test_basic_auth_answers(exporter, tmp_path):
    run = _start(
        exporter, tmp_path, f"basic_auth_users:\n  alice: '{_hash(SECRET_PASSWORD)}'\n  bob: '{_hash(b'b')}'\n"
    )
    good = _basic("alice", SECRET_PASSWORD)
    assert run.request("/metrics", {"Authorization": good})[0] == 200
    assert run.request("/metrics", {"Authorization": good.replace("Basic", "basic")})[0] == 200  # scheme: any case
    for bad in (
        _basic("alice", b"b"),  # bob's password
        _basic("bob", SECRET_PASSWORD),
        _basic("alice", SECRET_PASSWORD + b"x" * 80),  # longer than bcrypt's 72 bytes
        "Basic !!not-base64!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Bearer " + base64.b64encode(b"alice:" + SECRET_PASSWORD).decode(),
    ):
        status, body, headers = run.request("/metrics", {"Authorization": bad})
        assert (status, body, headers["WWW-Authenticate"]) == (401, "Unauthorized", 'Basic realm="x509-exporter"')
    assert run.request("/healthz")[0] == 200  # probes stay open


def test_users_are_reloaded_when_the_file_changes(exporter, tmp_path):
    run = _start(exporter, tmp_path, f"basic_auth_users:\n  alice: '{_hash(b'old')}'\n")
    assert run.request("/metrics", {"Authorization": _basic("alice", b"old")})[0] == 200
    web = tmp_path / "web.yml"
    tmp = tmp_path / "web.tmp"
    tmp.write_text(f"basic_auth_users:\n  alice: '{_hash(b'new')}'\n")
    os.replace(tmp, web)
    assert run.request("/metrics", {"Authorization": _basic("alice", b"new")})[0] == 200
    assert run.request("/metrics", {"Authorization": _basic("alice", b"old")})[0] == 401


GOOD = _hash(SECRET_PASSWORD)


@pytest.mark.parametrize(
    "value",
    [
        GOOD[:-1],  # truncated by one character
        GOOD[:29],
        GOOD.replace("$04$", "$03$", 1),  # cost below bcrypt's minimum
        GOOD.replace("$04$", "$32$", 1),
        GOOD.replace("$2b$", "$2x$", 1),
        GOOD[:-1] + "!",
        SECRET_PASSWORD.decode(),  # a plain password
        "12345",
    ],
)
def test_malformed_hashes_are_refused_at_start_naming_the_user_never_the_hash(tmp_path, value):
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users:\n  alice: '{GOOD}'\n  bob: '{value}'\n")
    with pytest.raises(ConfigError) as e:
        load_web_config(str(web))
    assert e.value.problems == [
        "web config: basic_auth_users.bob: not a valid bcrypt hash ($2a$, $2b$ or $2y$, a cost from 04 to 31, "
        "then 53 characters); generate one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`"
    ]
    assert value not in str(e.value) and GOOD not in str(e.value)


def test_all_three_bcrypt_prefixes_are_accepted(tmp_path):
    web = tmp_path / "web.yml"
    users = {p: GOOD.replace("$2b$", p, 1) for p in ("$2a$", "$2b$", "$2y$")}
    web.write_text("basic_auth_users:\n" + "".join(f"  u{i}: '{h}'\n" for i, h in enumerate(users.values())))
    wc = load_web_config(str(web))
    assert all(wc.check(_basic(f"u{i}", SECRET_PASSWORD)) for i in range(3))


def test_allowed_headers_on_every_response(exporter, tmp_path):
    headers = {
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "sameorigin",
        "X-XSS-Protection": "1; mode=block",
        "Content-Security-Policy": "default-src 'self'",
    }
    lines = "".join(f'    {k}: "{v}"\n' for k, v in headers.items())
    run = _start(exporter, tmp_path, f"http_server_config:\n  headers:\n{lines}basic_auth_users:\n  alice: '{GOOD}'\n")
    auth = {"Authorization": _basic("alice", SECRET_PASSWORD)}
    for path, hdrs, status in (
        ("/metrics", auth, 200),
        ("/metrics", {}, 401),
        ("/nope", auth, 404),
        ("/healthz", {}, 200),
    ):
        got_status, body, got = run.request(path, hdrs)
        assert got_status == status
        assert {k: got.get(k) for k in headers} == headers
        assert int(got["Content-Length"]) == len(body.encode())


def test_blank_header_is_unset_and_a_number_is_text(exporter, tmp_path):
    run = _start(exporter, tmp_path, "http_server_config:\n  headers:\n    X-XSS-Protection: ''\n")
    assert "X-XSS-Protection" not in run.request("/healthz")[2]
    run = _start(exporter, tmp_path, "http_server_config:\n  headers:\n    X-XSS-Protection: 0\n")
    assert run.request("/healthz")[2]["X-XSS-Protection"] == "0"


@pytest.mark.parametrize(
    "headers,problem",
    [
        (
            "Content-Length: '0'",
            "web config: http_server_config.headers.Content-Length: this header cannot be set; use one of "
            "Strict-Transport-Security, X-Content-Type-Options, X-Frame-Options, X-XSS-Protection, "
            "Content-Security-Policy",
        ),
        ("Set-Cookie: a=b", "web config: http_server_config.headers.Set-Cookie: this header cannot be set"),
        ("x-frame-options: deny", "web config: http_server_config.headers.x-frame-options: this header cannot be set"),
        (
            "X-Frame-Options: allow-from x",
            "web config: http_server_config.headers.X-Frame-Options: invalid value 'allow-from x'; use one of deny, "
            "sameorigin",
        ),
        (
            "X-Content-Type-Options: sniff",
            "web config: http_server_config.headers.X-Content-Type-Options: invalid value 'sniff'; use one of nosniff",
        ),
        (
            'Content-Security-Policy: "a\\r\\nSet-Cookie: x=y"',
            "web config: http_server_config.headers.Content-Security-Policy: expected a one-line ASCII string",
        ),
        (
            "X-XSS-Protection: [1]",
            "web config: http_server_config.headers.X-XSS-Protection: expected a one-line ASCII string",
        ),
        (
            "Content-Security-Policy: default-src 'self' é",
            "web config: http_server_config.headers.Content-Security-Policy: expected a one-line ASCII string",
        ),
    ],
)
def test_header_refusals(tmp_path, headers, problem):
    web = tmp_path / "web.yml"
    web.write_text(f"http_server_config:\n  headers:\n    {headers}\n")
    with pytest.raises(ConfigError) as e:
        load_web_config(str(web))
    assert problem in e.value.problems[0] and len(e.value.problems) == 1


def test_http_server_config_refusals(tmp_path):
    web = tmp_path / "web.yml"
    web.write_text("http_server_config:\n  http2: 'yes'\n  keepalive: true\nrate_limitt: {}\n")
    with pytest.raises(ConfigError) as e:
        load_web_config(str(web))
    assert e.value.problems == [
        "web config: rate_limitt: unknown key; remove it (known keys: tls_server_config, http_server_config, "
        "basic_auth_users)",
        "web config: http_server_config.keepalive: unknown key; remove it (known keys: headers, http2)",
        "web config: http_server_config.http2: expected true or false",
    ]
