"""tls_server_config with exporter-toolkit's meaning, proven by real handshakes on 127.0.0.1.

Clients are Python's `ssl`; the server is the exporter. Each client certificate is issued by the
test CA (known to the server through client_ca_file) or self-signed (unknown to the server).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import ssl
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from exporter_helpers import file_source, make_cert
from tls_helpers import REFUSED, client_context, issue, server_pair, tls_get

from x509_mixin.exporter.config import ConfigError
from x509_mixin.exporter.webconfig import load_web_config


@pytest.fixture(scope="module")
def pki():
    ca = issue("Test client CA", ca=True)
    return {
        "ca": ca,
        "server": server_pair(ca, serial=101),
        "known": issue("known", ca, [x509.DNSName("allowed.example")]),
        "other_san": issue("other", ca, [x509.DNSName("other.example")]),
        "uri": issue("uri", ca, [x509.UniformResourceIdentifier("spiffe://cluster/ns/mon/sa/prometheus")]),
        "ip": issue("ip", ca, [x509.IPAddress(ipaddress.ip_address("10.1.2.3"))]),
        "email": issue("email", ca, [x509.RFC822Name("scraper@example.org")]),
        "unknown": issue("self-signed", None, [x509.DNSName("allowed.example")]),
    }


@pytest.fixture
def tls_exporter(tmp_path, exporter, pki, ca):
    """tls_exporter(web_config_yaml_tail, server_options) -> (Running, files dict)."""
    (tmp_path / "c.pem").write_bytes(make_cert("served", issuer=ca).pem)
    files = {"ca": pki["ca"].write(tmp_path, "ca")[0]}
    files["server"] = pki["server"].write(tmp_path, "server")
    for name in ("known", "other_san", "uri", "ip", "email", "unknown"):
        files[name] = pki[name].write(tmp_path, name)

    def start(tls_yaml: str = "", **server):
        web = tmp_path / "web.yml"
        web.write_text("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n" + tls_yaml)
        run = exporter(
            {
                "sources": [file_source(tmp_path / "c.pem")],
                "server": {"listen": "127.0.0.1:0", "webConfigFile": str(web), **server},
            }
        )
        return run, files

    return start


def _get(run, files, client: str | None = None, **opts):
    return tls_get(run.port, client_context(files["ca"], files[client] if client else None, **opts))[0]


CA_FILE = "  client_ca_file: ca.crt\n"


@pytest.mark.parametrize(
    "auth,ca_file,expected",
    [
        # no certificate, a certificate from the known CA, a self-signed one
        ("NoClientCert", "", (200, 200, 200)),
        ("RequestClientCert", "", (200, 200, 200)),
        ("RequireAnyClientCert", "", (REFUSED, 200, 200)),
        ("RequireClientCert", "", (REFUSED, 200, 200)),  # exporter-toolkit's old name
        ("VerifyClientCertIfGiven", CA_FILE, (200, 200, REFUSED)),
        ("RequireAndVerifyClientCert", CA_FILE, (REFUSED, 200, REFUSED)),
    ],
)
def test_client_auth_types_as_go(tls_exporter, auth, ca_file, expected):
    run, files = tls_exporter(f"  client_auth_type: {auth}\n" + ca_file)
    assert (_get(run, files), _get(run, files, "known"), _get(run, files, "unknown")) == expected


@pytest.mark.parametrize(
    "allowed,client,expected",
    [
        ("allowed.example", "known", 200),
        ("allowed.example", "other_san", REFUSED),
        ("spiffe://cluster/ns/mon/sa/prometheus", "uri", 200),
        ("10.1.2.3", "ip", 200),
        ("scraper@example.org", "email", 200),
        ("scraper@example.org", "known", REFUSED),
        ("allowed.example", None, REFUSED),  # no certificate at all
    ],
)
def test_client_allowed_sans(tls_exporter, allowed, client, expected):
    run, files = tls_exporter(
        f"  client_auth_type: RequireAndVerifyClientCert\n{CA_FILE}  client_allowed_sans: [other.test, '{allowed}']\n"
    )
    assert _get(run, files, client) == expected


def test_client_allowed_sans_with_request_client_cert(tls_exporter):
    # certificates are not verified, but the SAN must still be listed, and one must be sent
    run, files = tls_exporter("  client_auth_type: RequestClientCert\n  client_allowed_sans: [allowed.example]\n")
    assert [_get(run, files, c) for c in ("unknown", "other_san", None)] == [200, REFUSED, REFUSED]


def test_cipher_suites_and_server_preference(tls_exporter):
    aes128, aes256 = "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384"
    tls12 = {"max_version": ssl.TLSVersion.TLSv1_2}
    suites = "  max_version: TLS12\n  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n"
    run, files = tls_exporter(suites)
    ctx = client_context(files["ca"], ciphers=f"{aes128}:{aes256}", **tls12)
    status, info = tls_get(run.port, ctx)
    assert (status, info["cipher"], info["version"]) == (200, aes256, "TLSv1.2")  # the server's order wins
    ctx = client_context(files["ca"], ciphers="ECDHE-ECDSA-CHACHA20-POLY1305", **tls12)
    assert tls_get(run.port, ctx)[0] == REFUSED  # a suite the server does not list
    run2, _ = tls_exporter(suites + "  prefer_server_cipher_suites: false\n")
    ctx = client_context(files["ca"], ciphers=f"{aes128}:{aes256}", **tls12)
    assert tls_get(run2.port, ctx)[1]["cipher"] == aes128  # the client's order


def test_only_tls13_suites_leave_tls12_without_a_suite(tls_exporter):
    # Go never applies TLS 1.3 names, so TLS 1.2 gets no suite at all; TLS 1.3 keeps its defaults
    run, files = tls_exporter("  cipher_suites: [TLS_AES_128_GCM_SHA256]\n")
    assert _get(run, files, max_version=ssl.TLSVersion.TLSv1_2) == REFUSED
    status, info = tls_get(run.port, client_context(files["ca"]))
    assert (status, info["version"]) == (200, "TLSv1.3")


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1 is deprecated:DeprecationWarning")  # the client's side
def test_min_and_max_version(tls_exporter):
    run, files = tls_exporter("  min_version: TLS13\n")
    assert _get(run, files, max_version=ssl.TLSVersion.TLSv1_2) == REFUSED
    assert _get(run, files) == 200
    run, files = tls_exporter("  max_version: TLS12\n")
    status, info = tls_get(run.port, client_context(files["ca"]))
    assert (status, info["version"]) == (200, "TLSv1.2")
    # TLS 1.0 when asked for, as Go (OpenSSL 3 needs its security level lowered for it, on both sides)
    tls10 = {"min_version": ssl.TLSVersion.TLSv1, "max_version": ssl.TLSVersion.TLSv1, "ciphers": "DEFAULT:@SECLEVEL=0"}
    assert _get(run, files, **tls10) == REFUSED
    run, files = tls_exporter("  min_version: TLS10\n")
    status, info = tls_get(run.port, client_context(files["ca"], **tls10))
    assert (status, info["version"]) == (200, "TLSv1")


@pytest.mark.parametrize(
    "curves,client_curve,expected",
    [
        ("[CurveP384]", "secp384r1", 200),
        ("[CurveP384]", "prime256v1", REFUSED),
        ("[X25519, CurveP256]", "prime256v1", 200),
        ("[X25519, CurveP256]", "secp521r1", REFUSED),
        ("[CurveP521]", "X25519", REFUSED),
    ],
)
def test_curve_preferences(tls_exporter, curves, client_curve, expected):
    run, files = tls_exporter(f"  curve_preferences: {curves}\n")
    assert _get(run, files, curve=client_curve) == expected


def _replace(path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # as cert-manager and certbot do: the reader sees old or new, never half


def _served(run, files) -> bytes | str:
    status, info = tls_get(run.port, client_context(files["ca"]))
    return info["peer"] if status == 200 else status


def _wait_served(run, files, der: bytes) -> None:
    end = time.monotonic() + 10
    while _served(run, files) != der:
        assert time.monotonic() < end, "the renewed certificate was never served"
        time.sleep(0.05)


def test_renewed_serving_certificate_is_served_without_restart(tls_exporter, pki, tmp_path, caplog):
    run, files = tls_exporter()
    assert _served(run, files) == pki["server"].der
    renewed = server_pair(pki["ca"], serial=102)
    crt, key = files["server"]
    # a half-done renewal (new certificate, old key) is refused: the old pair stays in force
    caplog.set_level(logging.ERROR, logger="x509_mixin.exporter")
    _replace(crt, renewed.cert.public_bytes(serialization.Encoding.PEM))
    assert _served(run, files) == pki["server"].der
    assert "does not match the certificate" in caplog.text and "previous one stays in force" in caplog.text
    tmp = tmp_path / "new"
    tmp.mkdir()
    _, new_key = renewed.write(tmp, "n")
    _replace(key, new_key.read_bytes())
    _wait_served(run, files, renewed.der)
    assert "PRIVATE KEY" not in caplog.text


def test_turning_tls_off_needs_a_restart(tls_exporter, tmp_path, pki, caplog):
    run, files = tls_exporter()
    caplog.set_level(logging.ERROR, logger="x509_mixin.exporter")
    (tmp_path / "web.yml").write_text("basic_auth_users: {}\n")
    assert _served(run, files) == pki["server"].der
    assert "turning TLS on or off needs a restart" in caplog.text


@pytest.mark.parametrize(
    "tls_yaml,needle",
    [
        (
            "  min_version: TLS13\n  max_version: TLS12\n",
            "tls_server_config.min_version: TLS13 is above max_version TLS12",
        ),
        ("  max_version: TLS11\n", "tls_server_config.min_version: TLS12 is above max_version TLS11"),
        ("  min_version: SSL3\n", "tls_server_config.min_version: invalid value 'SSL3'; use one of TLS10, TLS11"),
        (
            "  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n",
            "cipher_suites: unknown cipher suite 'TLS_RSA_WITH_RC4_128_SHA'",
        ),
        ("  cipher_suites: [ECDHE-RSA-AES128-GCM-SHA256]\n", "use Go's names"),
        (
            "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n  max_version: TLS12\n",
            "cipher_suites: lists only TLS 1.3 suites",
        ),
        ("  curve_preferences: [P-256]\n", "curve_preferences: unknown curve 'P-256'"),
        ("  client_auth_type: Always\n", "client_auth_type: invalid value 'Always'"),
        ("  client_ca_file: ca.crt\n", "client_ca_file: set but client_auth_type is NoClientCert"),
        ("  client_auth_type: RequireAndVerifyClientCert\n", "client_ca_file: required with client_auth_type"),
        (
            "  client_allowed_sans: [a.example]\n",
            "client_allowed_sans: has no effect with client_auth_type NoClientCert",
        ),
        ("  prefer_server_cipher_suites: maybe\n", "prefer_server_cipher_suites: expected true or false"),
        ("  cert_filse: x\n", "tls_server_config.cert_filse: unknown key"),
    ],
)
def test_tls_refusals(tmp_path, pki, tls_yaml, needle):
    pki["server"].write(tmp_path, "server")
    pki["ca"].write(tmp_path, "ca")
    (tmp_path / "web.yml").write_text(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n" + tls_yaml
    )
    with pytest.raises(ConfigError) as e:
        load_web_config(str(tmp_path / "web.yml"))
    assert needle in "\n".join(e.value.problems)


def test_tls_file_refusals_never_show_key_bytes(tmp_path, pki):
    crt, key = pki["server"].write(tmp_path, "server")
    other_crt, other_key = issue("other", pki["ca"]).write(tmp_path, "other")
    web = tmp_path / "web.yml"
    cases = {
        ("server.crt", "other.key"): "key_file: " + str(other_key) + " does not match the certificate",
        ("server.key", "server.key"): "cert_file: " + str(key) + " holds no PEM certificate",
        ("server.crt", "server.crt"): "key_file: " + str(crt) + " holds no PEM private key",
        ("missing.crt", "server.key"): "cert_file: cannot read " + str(tmp_path / "missing.crt") + " (No such file",
    }
    for (c, k), needle in cases.items():
        web.write_text(f"tls_server_config:\n  cert_file: {c}\n  key_file: {k}\n")
        with pytest.raises(ConfigError) as e:
            load_web_config(str(web))
        text = "\n".join(e.value.problems)
        assert needle in text and "PRIVATE KEY" not in text and "BEGIN" not in text
