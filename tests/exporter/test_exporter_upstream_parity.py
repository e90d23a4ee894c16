"""Parity with x509-certificate-exporter v4.2.0: one test per applicable entry of the upstream
expectations (../shared/upstream/fixtures/EXPECTATIONS.md), each citing the upstream test it
mirrors. The inputs are built here: the byte strings upstream's Go tests use, and certificates
made with `cryptography`.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from exporter_helpers import file_source, make_cert, make_crl, make_p12, name, series

from x509_mixin.catalogue import metrics as cat
from x509_mixin.exporter.config import ConfigError, parse_config
from x509_mixin.exporter.registry import _trim_path
from x509_mixin.exporter.walk import PatternError, compile_pattern


def pem_block(kind: str, der: bytes) -> bytes:
    """What Go's pem.EncodeToMemory writes: 64-column base64 between BEGIN and END lines."""
    b64 = base64.b64encode(der).decode()
    body = "".join(b64[i : i + 64] + "\n" for i in range(0, len(b64), 64))
    return f"-----BEGIN {kind}-----\n{body}-----END {kind}-----\n".encode()


def kubeconfig(clusters=(), users=()) -> str:
    """clusters/users: (name, field, value) with field a kubeconfig key such as certificate-authority-data."""
    out = "apiVersion: v1\nkind: Config\nclusters:\n"
    out += "".join(f"- name: {n}\n  cluster:\n    server: https://k8s:6443\n    {f}: {v}\n" for n, f, v in clusters)
    out += "users:\n" + "".join(f"- name: {n}\n  user:\n    {f}: {v}\n" for n, f, v in users)
    return out


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def errors_of(run, source="files") -> dict[str, float]:
    return {s.labels["reason"]: s.value for s in series(run.samples("x509_source_errors_total"), source_name=source)}


def nonzero(run, source="files") -> dict[str, float]:
    return {r: v for r, v in errors_of(run, source).items() if v}


def cert_errors(run) -> list[tuple[str, float]]:
    return sorted((s.labels["filename"], s.value) for s in run.samples("x509_cert_error"))


def single_file(exporter, tmp_path, content: bytes, fname="bundle.pem", **src):
    (tmp_path / fname).write_bytes(content)
    return exporter(
        {"sources": [file_source(tmp_path / fname, **src)], "metrics": {"exposePerCertError": True}},
    )


# ---- reason codes per parser (pkg/cert/*) ------------------------------------------------


def test_pem_garbage_is_no_certificate_found(tmp_path, exporter):
    """pkg/cert/pem/pem_test.go:105-113: `just garbage no PEM markers` is a fatal no_certificate_found."""
    run = single_file(exporter, tmp_path, b"just garbage no PEM markers")
    assert nonzero(run) == {"no_certificate_found": 1}
    assert cert_errors(run) == []  # a bundle-level error has no x509_cert_error series


def test_pem_key_only_is_no_certificate_found(tmp_path, exporter):
    """pkg/cert/pem/pem_test.go:115-121: a PRIVATE KEY block alone is a fatal no_certificate_found."""
    run = single_file(exporter, tmp_path, pem_block("PRIVATE KEY", b"ignored"))
    assert nonzero(run) == {"no_certificate_found": 1}


def test_pem_bad_certificate_block(tmp_path, exporter, ca):
    """pkg/cert/pem/pem_test.go:88-103: a CERTIFICATE block of "not asn.1" is bad_pem at index 0; a
    good certificate after it is still read; on its own it adds no no_certificate_found (pem.go)."""
    good = make_cert("after-the-bad-block", issuer=ca)
    (tmp_path / "mixed.pem").write_bytes(pem_block("CERTIFICATE", b"not asn.1") + good.pem)
    (tmp_path / "alone.pem").write_bytes(pem_block("CERTIFICATE", b"not asn.1"))
    run = exporter(
        {
            "sources": [file_source(tmp_path / "*.pem")],
            "metrics": {"exposePerCertError": True, "collisionDiscriminator": "always"},
        }
    )
    assert nonzero(run) == {"bad_pem": 2}
    [s] = run.samples("x509_cert_not_after")
    assert s.labels["subject_CN"] == "after-the-bad-block" and s.value == good.not_after
    # the good certificate is item 1 of its bundle: upstream's discriminator hashes that index
    ref = f"file:{tmp_path / 'mixed.pem'}".encode()
    want = hashlib.sha256(good.der + b"\0" + ref + b"\0" + (1).to_bytes(4, "big")).hexdigest()[:8]
    assert s.labels["discriminator"] == want
    # an item error (index >= 0) is an x509_cert_error series with empty certificate slots
    assert cert_errors(run) == [("alone.pem", 1), ("mixed.pem", 0), ("mixed.pem", 1)]
    bad = [x for x in run.samples("x509_cert_error") if x.value == 1]
    assert {x.labels["serial_number"] for x in bad} == {""} and {x.labels["discriminator"] for x in bad} == {""}


def test_pem_bad_crl_block(tmp_path, exporter):
    """pkg/cert/pem/pem_test.go:229-238: an "X509 CRL" block of "not asn.1" is exactly one bad_crl, no CRL."""
    run = single_file(exporter, tmp_path, pem_block("X509 CRL", b"not asn.1"))
    assert nonzero(run) == {"bad_crl": 1}
    assert not run.samples("x509_crl_next_update")


@pytest.mark.parametrize(
    "content,reason,test",
    [
        (b"\x00\x01\x02\x03", "bad_der", "pkg/cert/der/der_test.go:150-161"),
        (b"", "no_certificate_found", "pkg/cert/der/der_test.go:163-171"),
        (
            b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            "bad_der",  # upstream asserts a fatal error, not its reason: the DER parser's is bad_der
            "pkg/cert/der/der_test.go:176-182",
        ),
    ],
)
def test_der_reasons(tmp_path, exporter, content, reason, test):
    """The DER parser: garbage is bad_der, empty input no_certificate_found, PEM text a fatal error."""
    run = single_file(exporter, tmp_path, content, "blob.der", formats=["der"])
    assert nonzero(run) == {reason: 1}, test
    assert cert_errors(run) == []


def test_der_certificate_then_crl(tmp_path, exporter, ca):
    """pkg/cert/der/der.go: one DER certificate, else one DER CRL (a .crl from a distribution point)."""
    crl = make_crl(ca, number=7)
    (tmp_path / "ca.crl").write_bytes(crl.public_bytes(Encoding.DER))
    (tmp_path / "leaf.der").write_bytes(make_cert("der-leaf", issuer=ca).der)
    run = exporter({"sources": [file_source(tmp_path / "*", formats=["der"])]})
    assert [s.labels["subject_CN"] for s in run.samples("x509_cert_not_after")] == ["der-leaf"]
    assert [s.labels["crl_number"] for s in run.samples("x509_crl_next_update")] == ["7"]
    assert nonzero(run) == {}


@pytest.mark.parametrize(
    "content,test",
    [
        (b"garbage", "pkg/cert/pkcs12/pkcs12_test.go:121-126"),
        (b"garbage-not-pkcs12", "dev/scenarios/scenarios.go:362-371"),
    ],
)
def test_pkcs12_garbage_is_bad_pkcs12(tmp_path, exporter, content, test):
    """Not a PKCS#12 keystore: bad_pkcs12, which only bumps the counter (no x509_cert_error series)."""
    run = single_file(exporter, tmp_path, content, "ks.p12", formats=["pkcs12"])
    assert nonzero(run) == {"bad_pkcs12": 1}, test
    assert cert_errors(run) == []
    assert run.samples("x509_pkcs12_passphrase_failures_total")[0].value == 0


def test_file_source_not_a_cert(tmp_path, exporter):
    """pkg/source/file/file_test.go:98-118: `not a cert` read by a file source gives a fatal bundle."""
    run = single_file(exporter, tmp_path, b"not a cert", "bad.pem")
    assert nonzero(run) == {"no_certificate_found": 1}
    assert series(run.samples("x509_source_bundles"), source_name="files")[0].value == 1


def test_bad_pem_block_of_a_tls_secret_in_a_file(tmp_path, exporter):
    """dev/scenarios/scenarios.go:351-360 and test/e2e/e2e_test.go:405-426 (the bad-pem Secret): a
    CERTIFICATE block of 16 x 'A' gives bad_pem > 0 and an x509_cert_error series (its index is >= 0);
    the same bytes in a file go through the same PEM parser."""
    block = b"-----BEGIN CERTIFICATE-----\n" + b64(b"A" * 16).encode() + b"\n-----END CERTIFICATE-----\n"
    run = single_file(exporter, tmp_path, block, "tls.crt")
    assert nonzero(run) == {"bad_pem": 1}
    assert cert_errors(run) == [("tls.crt", 1)]


def test_wrong_passphrase_with_several_formats(tmp_path, exporter, ca):
    """dev/scenarios/scenarios.go:378-387 and pkg/registry/registry_test.go:380-411: a keystore whose
    passphrase is wrong is bad_passphrase, and x509_pkcs12_passphrase_failures_total{source_name} +1
    (routed by the bundle's format), also when pem and der are tried first."""
    (tmp_path / "ks.p12").write_bytes(make_p12(make_cert("ks", issuer=ca), passphrase=b"the-right-one"))
    run = exporter(
        {
            "sources": [
                file_source(
                    tmp_path / "ks.p12",
                    formats=["pem", "der", "pkcs12"],
                    pkcs12={"passphrase": "a-wrong-one", "tryEmptyPassphrase": False},
                )
            ]
        }
    )
    assert nonzero(run) == {"bad_passphrase": 1}
    assert [(s.labels, s.value) for s in run.samples("x509_pkcs12_passphrase_failures_total")] == [
        ({"source_name": "files"}, 1.0)
    ]


# ---- source-level reasons ------------------------------------------------------------------


def test_read_error_reasons(tmp_path, exporter, ca):
    """pkg/source/file/file_test.go:124-144: a read failing with EACCES is permission_denied, ENOENT
    not_found, anything else read_failed."""
    for n in ("eacces", "enoent", "eio"):
        (tmp_path / f"{n}.pem").write_bytes(make_cert(n, issuer=ca).pem)
    run = exporter({"sources": [file_source(tmp_path / "*.pem")]})
    src = run.exp.sources[0]
    raising = {
        "eacces.pem": PermissionError(13, "Permission denied"),
        "enoent.pem": FileNotFoundError(2, "No such file or directory"),
        "eio.pem": OSError(5, "Input/output error"),
    }

    def read(path):
        raise raising[os.path.basename(path)]

    src.read = read
    for f in tmp_path.glob("*.pem"):
        f.write_bytes(f.read_bytes() + b"\n")  # changed: read again
    run.poll()
    assert nonzero(run) == {"permission_denied": 1, "not_found": 1, "read_failed": 1}


def test_relative_symlink_escaping_the_scope(tmp_path, exporter, ca):
    """pkg/source/file/file_test.go:383-432 and dev/scenarios/hostpath.go:157-165: a relative symlink
    that leaves every pathMappings[].to is out_of_scope_symlink and its target is never parsed."""
    pki = tmp_path / "watch" / "file-X" / "var" / "lib" / "kubelet" / "pki"
    pki.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.pem").write_bytes(make_cert("must-not-be-read", issuer=ca).pem)
    (pki / "escape.pem").symlink_to("../" * 32 + str(outside / "secret.pem").lstrip("/"))
    run = exporter(
        {"sources": [file_source(pki / "*.pem", pathMappings=[{"from": "/var/lib/kubelet/pki", "to": str(pki)}])]}
    )
    assert nonzero(run) == {"out_of_scope_symlink": 1}
    assert run.samples("x509_cert_not_after") == []


def test_dangling_symlinks(tmp_path, exporter):
    """pkg/fileglob/fileglob_test.go:272 and :400: a dangling symlink is broken_symlink; so are the
    v3 fixtures badlink.pem (-> /toto/basic.pem) and badlink-relative.pem (-> ./does-not-exists/basic.pem),
    where v3 oddly reported a certificate."""
    (tmp_path / "badlink.pem").symlink_to("/toto/basic.pem")
    (tmp_path / "badlink-relative.pem").symlink_to("./does-not-exists/basic.pem")
    run = exporter({"sources": [file_source(tmp_path / "*")]})
    assert nonzero(run) == {"broken_symlink": 2}
    assert run.samples("x509_cert_not_after") == []


def test_kubeconfig_reasons(tmp_path, exporter, ca):
    """pkg/source/kubeconfig: `not-yaml: [` is decode_failed (kubeconfig_test.go:117-132), CA data
    "!!!" decode_failed (kubeconfig_test.go:134-146, kubeconfig.go:186-196), a missing kubeconfig and a
    missing referenced file read_failed (kubeconfig.go:150-218)."""
    (tmp_path / "not-yaml").write_text("not-yaml: [")
    (tmp_path / "bad-b64.yaml").write_text('clusters:\n- name: c1\n  cluster:\n    certificate-authority-data: "!!!"\n')
    (tmp_path / "ref.yaml").write_text(kubeconfig(clusters=[("c1", "certificate-authority", "./does-not-exists.pem")]))
    run = exporter(
        {
            "sources": [
                {
                    "kind": "kubeconfig",
                    "name": "kc",
                    "paths": [str(tmp_path / n) for n in ("not-yaml", "bad-b64.yaml", "ref.yaml", "missing.yaml")],
                }
            ]
        }
    )
    assert nonzero(run, "kc") == {"decode_failed": 2, "read_failed": 2}
    assert run.samples("x509_cert_not_after") == []


# ---- registry: gates, CRLs, collisions, pre-created series (pkg/registry) -------------------


def test_default_gates(tmp_path, exporter, ca):
    """pkg/registry/registry_test.go:683-707: not_before and expired are gated; the exporter's config
    turns exposeExpired on by default, so the defaults give not_after and expired only."""
    (tmp_path / "a.pem").write_bytes(make_cert("a", issuer=ca).pem)
    run = exporter({"sources": [file_source(tmp_path / "a.pem")]})
    cert_families = {f for f in run.families() if f.startswith("x509_cert_") and "collision" not in f}
    assert cert_families == {"x509_cert_not_after", "x509_cert_expired"}


def test_crl_series(tmp_path, exporter, ca):
    """pkg/registry/registry_test.go:132-181 (next_update, number 7, stale 0), :183-206 (stale 1 past
    nextUpdate), :208-221 (no x509_crl_* without a CRL) and :349-378 (stale, stale_in_seconds and
    fresh_since_seconds are gated; next_update, this_update and number always on)."""
    fresh, old = make_crl(ca, number=7, next_days=2), make_crl(ca, number=3, next_days=-1, this_days=-3)
    (tmp_path / "fresh.crl").write_bytes(fresh.public_bytes(Encoding.PEM))
    (tmp_path / "old.crl").write_bytes(old.public_bytes(Encoding.PEM))
    (tmp_path / "leaf.pem").write_bytes(make_cert("leaf", issuer=ca).pem)
    run = exporter({"sources": [file_source(tmp_path / "*.crl")], "metrics": {"exposeRelative": True}})
    fams = run.families()
    nu = series(fams["x509_crl_next_update"].samples, filename="fresh.crl")[0]
    assert nu.value == int(fresh.next_update_utc.timestamp()) and nu.labels["crl_number"] == "7"
    assert series(fams["x509_crl_number"].samples, filename="fresh.crl")[0].value == 7
    assert series(fams["x509_crl_stale"].samples, filename="fresh.crl")[0].value == 0
    assert series(fams["x509_crl_stale"].samples, filename="old.crl")[0].value == 1
    assert {"x509_crl_stale_in_seconds", "x509_crl_fresh_since_seconds", "x509_crl_this_update"} <= set(fams)
    gated_off = exporter(
        {"sources": [file_source(tmp_path / "*.crl", name="off")], "metrics": {"exposeExpired": False}}
    ).families()
    assert {f for f in gated_off if f.startswith("x509_crl_")} == {
        "x509_crl_next_update",
        "x509_crl_this_update",
        "x509_crl_number",
    }
    no_crl = exporter({"sources": [file_source(tmp_path / "leaf.pem", name="nocrl")]}).families()
    assert not [f for f in no_crl if f.startswith("x509_crl_")]


def _same_cert_twice(tmp_path, ca):
    """v3's bad/duplicate.pem: the same certificate twice in one file."""
    c = make_cert("dup", issuer=ca, serial=4242)
    (tmp_path / "duplicate.pem").write_bytes(c.pem + c.pem)
    return c


def _disc(der: bytes, ref: str, index: int) -> str:
    return hashlib.sha256(der + b"\0" + ref.encode() + b"\0" + index.to_bytes(4, "big")).hexdigest()[:8]


def test_collision_auto(tmp_path, exporter, ca):
    """pkg/registry/registry_test.go:223-269 (and v3's bad/duplicate.pem under v4): the same certificate
    twice in one bundle gives 2 series with a non-empty discriminator, x509_cert_collision_total >= 1 and
    x509_cert_collision_dropped_total 0; no error (v3 counted a read error instead)."""
    c = _same_cert_twice(tmp_path, ca)
    run = exporter({"sources": [file_source(tmp_path / "duplicate.pem")]})
    ref = f"file:{tmp_path / 'duplicate.pem'}"
    discs = sorted(s.labels["discriminator"] for s in run.samples("x509_cert_not_after"))
    assert discs == sorted([_disc(c.der, ref, 0), _disc(c.der, ref, 1)])
    assert run.samples("x509_cert_collision_total")[0].value >= 1
    assert run.samples("x509_cert_collision_dropped_total")[0].value == 0
    assert nonzero(run) == {}


def test_collision_always(tmp_path, exporter, ca):
    """pkg/registry/registry_test.go:271-293: always mode puts a discriminator on every series."""
    c = make_cert("one", issuer=ca)
    (tmp_path / "one.pem").write_bytes(c.pem)
    run = exporter({"sources": [file_source(tmp_path / "one.pem")], "metrics": {"collisionDiscriminator": "always"}})
    [s] = run.samples("x509_cert_not_after")
    assert s.labels["discriminator"] == _disc(c.der, f"file:{tmp_path / 'one.pem'}", 0)


def test_collision_never(tmp_path, exporter, ca):
    """pkg/registry/registry_test.go:295-341: never mode keeps only the earliest-expiring certificate
    and adds 1 to x509_cert_collision_dropped_total."""
    late, early = make_cert("x", issuer=ca, serial=1, days=30), make_cert("x", issuer=ca, serial=1, days=5)
    (tmp_path / "x.pem").write_bytes(late.pem + early.pem)
    run = exporter({"sources": [file_source(tmp_path / "x.pem")], "metrics": {"collisionDiscriminator": "never"}})
    fams = run.families()  # one scrape: both counters tick once per scrape while the collision lasts
    [s] = fams["x509_cert_not_after"].samples
    assert s.value == early.not_after and "discriminator" not in s.labels
    assert fams["x509_cert_collision_dropped_total"].samples[0].value == 1
    assert fams["x509_cert_collision_total"].samples[0].value == 1


def test_pre_created_series(tmp_path, exporter, ca):
    """pkg/registry/registry_test.go:432-524 and cmd/x509-certificate-exporter/main.go:324-338: for each
    configured source every one of the 17 bundle reasons exists at 0, the collision pair exists per
    source kind, and the passphrase counter per source name once some source reads PKCS#12."""
    (tmp_path / "a.pem").write_bytes(make_cert("a", issuer=ca).pem)
    (tmp_path / "kc").write_text(kubeconfig(clusters=[("c", "certificate-authority-data", b64(ca.pem))]))
    run = exporter(
        {
            "sources": [
                file_source(tmp_path / "a.pem", name="pem-files"),
                file_source(tmp_path / "*.p12", name="keystores", formats=["pkcs12"]),
                {"kind": "kubeconfig", "name": "kc", "paths": [str(tmp_path / "kc")]},
            ]
        }
    )
    errs = run.samples("x509_source_errors_total")
    assert len(cat.BUNDLE_REASONS) == 17 and len(errs) == 3 * 17
    for kind, src in (("file", "pem-files"), ("file", "keystores"), ("kubeconfig", "kc")):
        got = series(errs, source_kind=kind, source_name=src)
        assert sorted(s.labels["reason"] for s in got) == sorted(cat.BUNDLE_REASONS)
        assert {s.value for s in got} == {0}
    assert sorted((s.labels["source_kind"], s.value) for s in run.samples("x509_cert_collision_total")) == [
        ("file", 0),
        ("kubeconfig", 0),
    ]
    assert sorted(s.labels["source_kind"] for s in run.samples("x509_cert_collision_dropped_total")) == [
        "file",
        "kubeconfig",
    ]
    assert sorted(s.labels["source_name"] for s in run.samples("x509_pkcs12_passphrase_failures_total")) == [
        "kc",
        "keystores",
        "pem-files",
    ]


def test_no_pkcs12_counter_without_pkcs12(tmp_path, exporter, ca):
    """pkg/registry/registry.go (Pkcs12InUse): the passphrase counter only exists when a source reads PKCS#12."""
    (tmp_path / "a.pem").write_bytes(make_cert("a", issuer=ca).pem)
    run = exporter({"sources": [file_source(tmp_path / "a.pem")]})
    assert "x509_pkcs12_passphrase_failures_total" not in run.metrics_text()


# ---- labels (pkg/registry/labels.go) ---------------------------------------------------------


def test_label_slots_order_and_values(tmp_path, exporter, ca):
    """pkg/registry/labels.go (inferred in EXPECTATIONS.md): the fixed slots in order, unused ones "",
    subject_ST/issuer_ST from the province (v4; v3 took StreetAddress, cf. v3 testSinglePEM
    internal/exporter_test.go:992-1044), no source_name/source_kind on per-certificate series."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Province"),
            x509.NameAttribute(NameOID.STREET_ADDRESS, "Street"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "L"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "O"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "OU"),
            x509.NameAttribute(NameOID.COMMON_NAME, "CN"),
        ]
    )
    c = make_cert(subject=subject, issuer=ca, serial=1)
    (tmp_path / "single.pem").write_bytes(c.pem)
    run = exporter({"sources": [file_source(tmp_path / "single.pem")]})
    [s] = run.samples("x509_cert_not_after")
    assert list(s.labels) == list(cat.CERT_LABELS) + ["discriminator"]
    assert s.labels["filename"] == "single.pem" and s.labels["filepath"] == str(tmp_path / "single.pem")
    assert s.labels["serial_number"] == "1" and s.labels["crl_number"] == ""
    assert [s.labels[f"subject_{f}"] for f in cat.DN_FIELDS] == ["FR", "Province", "L", "O", "OU", "CN"]
    assert s.labels["issuer_CN"] == "Test Root CA"
    empty = [n for n in cat.CERT_LABELS if n.startswith(("embedded_", "secret_", "configmap_", "cabundle_"))]
    assert len(empty) == 11 and all(s.labels[n] == "" for n in empty)


def test_kubeconfig_embedded_labels(tmp_path, exporter, ca):
    """pkg/source/kubeconfig/kubeconfig_test.go (TestKubeconfigEmbeddedData, TestKubeconfigFileRef) and
    labels.go: embedded_kind is cluster or user, embedded_key the entry's name; v3's yaml-embedded.conf
    and yaml-paths.conf give 2 certificates each."""
    admin = make_cert("admin", issuer=ca)
    (tmp_path / "ca.crt").write_bytes(ca.pem)
    (tmp_path / "embedded.conf").write_text(
        kubeconfig(
            clusters=[("kind-cluster", "certificate-authority-data", b64(ca.pem))],
            users=[("kind-admin", "client-certificate-data", b64(admin.pem))],
        )
    )
    (tmp_path / "paths.conf").write_text(
        kubeconfig(
            clusters=[("c-ref", "certificate-authority", "./ca.crt")],
            users=[("u-ref", "client-certificate", str(tmp_path / "ca.crt"))],
        )
    )
    run = exporter({"sources": [{"kind": "kubeconfig", "name": "kc", "paths": [str(tmp_path / "*.conf")]}]})
    got = {
        (s.labels["filename"], s.labels["embedded_kind"], s.labels["embedded_key"], s.labels["subject_CN"])
        for s in run.samples("x509_cert_not_after")
    }
    assert got == {
        ("embedded.conf", "cluster", "kind-cluster", "Test Root CA"),
        ("embedded.conf", "user", "kind-admin", "admin"),
        ("paths.conf", "cluster", "c-ref", "Test Root CA"),
        ("paths.conf", "user", "u-ref", "Test Root CA"),
    }
    assert nonzero(run, "kc") == {}


def test_kubeconfig_same_certificate_twice(tmp_path, exporter, ca):
    """v3's yaml-multi-certs.conf under v4 (internal/exporter_test.go:621-648 in v3; collisions in
    registry_test.go:223-269): CA data holding the same certificate twice gives 2 series told apart by
    their discriminator, and no error."""
    (tmp_path / "multi.conf").write_text(
        kubeconfig(clusters=[("c", "certificate-authority-data", b64(ca.pem + ca.pem))])
    )
    run = exporter({"sources": [{"kind": "kubeconfig", "name": "kc", "paths": [str(tmp_path / "multi.conf")]}]})
    ref = f"kubeconfig:{tmp_path / 'multi.conf'}#cluster/c"
    discs = sorted(s.labels["discriminator"] for s in run.samples("x509_cert_not_after"))
    assert discs == sorted([_disc(ca.der, ref, 0), _disc(ca.der, ref, 1)])
    assert nonzero(run, "kc") == {}


def test_trim_path_components(tmp_path, exporter, ca):
    """pkg/registry/registry_test.go:796-809: trimPath("/a/b/c",1)="/b/c", (…,0) unchanged, (…,5)="",
    ("a/b/c",1)="b/c" (relative paths cannot be configured here; the function is checked directly)."""
    d = tmp_path / "a" / "b"
    d.mkdir(parents=True)
    (d / "c").write_bytes(make_cert("c", issuer=ca).pem)
    path = str(d / "c")
    depth = len(path.strip("/").split("/"))
    for n, want in ((1, "/" + path.strip("/").split("/", 1)[1]), (0, path), (depth, ""), (depth + 5, "")):
        run = exporter({"sources": [file_source(path, name=f"trim{n}")], "metrics": {"trimPathComponents": n}})
        [s] = run.samples("x509_cert_not_after")
        assert (s.labels["filepath"], s.labels["filename"]) == (want, "c"), n
    assert _trim_path("a/b/c", 1) == "b/c" and _trim_path("/a/b/c", 1) == "/b/c"


def test_dn_field_selection(tmp_path, exporter, ca):
    """pkg/registry/registry_test.go:811-819: DN field names are case-insensitive and kept in the
    canonical order C, ST, L, O, OU, CN (exposeSubjectFields / exposeIssuerFields)."""
    (tmp_path / "a.pem").write_bytes(make_cert(subject=name(C="FR", O="Org", CN="x"), issuer=ca).pem)
    run = exporter(
        {
            "sources": [file_source(tmp_path / "a.pem")],
            "metrics": {"exposeSubjectFields": ["cn", " o "], "exposeIssuerFields": ["Cn"]},
        }
    )
    [s] = run.samples("x509_cert_not_after")
    assert [k for k in s.labels if k.startswith(("issuer_", "subject_"))] == ["issuer_CN", "subject_O", "subject_CN"]
    assert (s.labels["subject_O"], s.labels["subject_CN"]) == ("Org", "x")


# ---- host-path scenarios (dev/scenarios/hostpath.go, test/e2e/values.yaml) -----------------


def test_host_path_scenarios(tmp_path, exporter, ca):
    """dev/scenarios/hostpath.go: filepath is the on-host path once trimPathComponents strips
    /mnt/watch/<kind>-<sha1>; a relative symlink carries the link's path; an absolute host symlink works
    through pathMappings; recursive ** globs; a directory-and-extension watch is a `dir/*.crt` glob."""
    root = tmp_path / "mnt" / "watch" / "file-0123abcd"
    pki = root / "etc" / "pki"
    kubelet = root / "var" / "lib" / "kubelet" / "pki"
    (pki / "deep" / "er").mkdir(parents=True)
    kubelet.mkdir(parents=True)
    (pki / "static.pem").write_bytes(make_cert("static.example.test", issuer=ca).pem)
    (pki / "deep" / "er" / "nested.crt").write_bytes(make_cert("nested", issuer=ca).pem)
    (pki / "deep" / "er" / "skip.key").write_bytes(b"not a certificate")
    (kubelet / "kubelet-client-2026.pem").write_bytes(make_cert("kubelet-client", issuer=ca).pem)
    (kubelet / "kubelet-client-current.pem").symlink_to("kubelet-client-2026.pem")
    (kubelet / "kubelet-server-current.pem").symlink_to("/var/lib/kubelet/pki/kubelet-client-2026.pem")
    trim = len(str(tmp_path).strip("/").split("/")) + 3
    run = exporter(
        {
            "sources": [
                file_source(
                    pki / "static.pem",
                    pki / "**" / "*.crt",
                    kubelet / "kubelet-*-current.pem",
                    pathMappings=[{"from": "/var/lib/kubelet/pki", "to": str(kubelet)}],
                )
            ],
            "metrics": {"trimPathComponents": trim},
        }
    )
    got = sorted((s.labels["filepath"], s.labels["subject_CN"]) for s in run.samples("x509_cert_not_after"))
    assert got == [
        ("/etc/pki/deep/er/nested.crt", "nested"),
        ("/etc/pki/static.pem", "static.example.test"),
        ("/var/lib/kubelet/pki/kubelet-client-current.pem", "kubelet-client"),
        ("/var/lib/kubelet/pki/kubelet-server-current.pem", "kubelet-client"),
    ]
    assert nonzero(run) == {}


# ---- v3 fixtures under v4 semantics (EXPECTATIONS.md, "inferred") ---------------------------


def _garbled_certificate() -> bytes:
    """Like v3's corrupted.pem: a well-formed PEM block whose DER is garbled."""
    der = bytearray(make_cert("corrupted").der)
    der[10:20] = b"\xff" * 10
    return pem_block("CERTIFICATE", bytes(der))


def test_v3_corrupted_pem(tmp_path, exporter):
    """corrupted.pem -> bad_pem, plus an x509_cert_error series."""
    run = single_file(exporter, tmp_path, _garbled_certificate(), "corrupted.pem")
    assert nonzero(run) == {"bad_pem": 1}
    assert cert_errors(run) == [("corrupted.pem", 1)]


def test_v3_image_jpg(tmp_path, exporter):
    """image.jpg -> no_certificate_found."""
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + os.urandom(200) + b"\xff\xd9"
    run = single_file(exporter, tmp_path, jpeg, "image.jpg")
    assert nonzero(run) == {"no_certificate_found": 1}


def test_v3_kubeconfig_fixtures(tmp_path, exporter, ca):
    """yaml-embedded-error.conf -> CA bad_pem, client OK; bad/yaml-bad-base64.conf -> no_certificate_found
    for both entries (valid base64 of mangled PEM); bad/yaml-basic.conf -> client no_certificate_found;
    yaml-paths-error.conf -> CA read_failed (relative to the kubeconfig's directory), client OK;
    not-yaml.conf (`bad: {`) -> decode_failed."""
    good = ca.pem
    mangled = good.replace(b"-----BEGIN CERTIFICATE-----", b"---- CERTIFICATE-----")
    (tmp_path / "basic.pem").write_bytes(good)
    files = {
        "yaml-embedded-error.conf": kubeconfig(
            clusters=[("c", "certificate-authority-data", b64(_garbled_certificate()))],
            users=[("u", "client-certificate-data", b64(good))],
        ),
        "yaml-bad-base64.conf": kubeconfig(
            clusters=[("c", "certificate-authority-data", b64(b"----%" + mangled[5:]))],
            users=[("u", "client-certificate-data", b64(mangled))],
        ),
        "yaml-basic.conf": kubeconfig(
            clusters=[("c", "certificate-authority-data", b64(good))],
            users=[("u", "client-certificate-data", b64(mangled))],
        ),
        "yaml-paths-error.conf": kubeconfig(
            clusters=[("c", "certificate-authority", "./does-not-exists.pem")],
            users=[("u", "client-certificate", "./basic.pem")],
        ),
        "not-yaml.conf": "bad: {",
    }
    for fname, text in files.items():
        (tmp_path / fname).write_text(text)
    srcs = [{"kind": "kubeconfig", "name": f.split(".")[0], "paths": [str(tmp_path / f)]} for f in files]
    run = exporter({"sources": srcs})
    assert nonzero(run, "yaml-embedded-error") == {"bad_pem": 1}
    assert nonzero(run, "yaml-bad-base64") == {"no_certificate_found": 2}
    assert nonzero(run, "yaml-basic") == {"no_certificate_found": 1}
    assert nonzero(run, "yaml-paths-error") == {"read_failed": 1}
    assert nonzero(run, "not-yaml") == {"decode_failed": 1}
    got = sorted((s.labels["filename"], s.labels["embedded_kind"]) for s in run.samples("x509_cert_not_after"))
    assert got == [
        ("yaml-basic.conf", "cluster"),
        ("yaml-embedded-error.conf", "user"),
        ("yaml-paths-error.conf", "user"),
    ]


def test_reason_list_comes_from_the_catalogue():
    """pkg/cert/reason.go: the 17 BundleReasons, in upstream's order."""
    assert cat.BUNDLE_REASONS == (
        "bad_pem",
        "bad_crl",
        "bad_der",
        "bad_jks",
        "bad_pkcs12",
        "bad_passphrase",
        "no_certificate_found",
        "read_failed",
        "permission_denied",
        "not_found",
        "api_error",
        "decode_failed",
        "broken_symlink",
        "out_of_scope_symlink",
        "parse_timeout",
        "walk_error",
        "rate_limited",
    )


def test_subject_street_address_is_not_st(tmp_path, exporter):
    """v3 filled subject_ST from StreetAddress (internal/exporter_test.go:1137-1160); v4 from the province:
    a certificate with only a street address has an empty subject_ST."""
    subj = x509.Name([x509.NameAttribute(NameOID.STREET_ADDRESS, "ST"), x509.NameAttribute(NameOID.COMMON_NAME, "CN")])
    (tmp_path / "st.pem").write_bytes(make_cert(subject=subj).pem)
    run = exporter({"sources": [file_source(tmp_path / "st.pem")]})
    [s] = run.samples("x509_cert_not_after")
    assert s.labels["subject_ST"] == "" and s.labels["subject_CN"] == "CN"
    assert re.fullmatch(r"\d+", s.labels["serial_number"])


# ---- globs (pkg/fileglob) -------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern", ["", "foo/{a,b}", "foo\\bar", "foo/[abc", "foo/[]", "foo/[z-a]", "foo/**bar/baz", "foo/bar**"]
)
def test_glob_compile_errors(pattern):
    """pkg/fileglob/fileglob_test.go:114-130 (TestCompileErrors), and the exporter refuses such a path."""
    with pytest.raises(PatternError):
        compile_pattern(pattern)
    if pattern:
        with pytest.raises(ConfigError) as e:
            parse_config({"sources": [{"kind": "file", "name": "a", "paths": ["/" + pattern]}]})
        assert "sources[0].paths: invalid value" in str(e.value)


def test_glob_compile_success():
    """pkg/fileglob/fileglob_test.go:132-145 (TestCompileSuccess)."""
    for pattern in ("/etc/x.pem", "/etc/**/*.pem", "/etc/?.pem", "/etc/[a-z].pem", "/etc/[!0-9].pem", "relative/*"):
        compile_pattern(pattern)


@pytest.mark.parametrize(
    "pattern,path,want",
    [
        ("/etc/x.pem", "/etc/x.pem", True),
        ("/etc/x.pem", "/etc/y.pem", False),
        ("/etc/*.pem", "/etc/x.pem", True),
        ("/etc/*.pem", "/etc/sub/x.pem", False),
        ("/etc/**/*.pem", "/etc/x.pem", True),
        ("/etc/**/*.pem", "/etc/a/b/x.pem", True),
        ("/etc/**/*.pem", "/etc/a/b/x.crt", False),
        ("/etc/?.pem", "/etc/a.pem", True),
        ("/etc/?.pem", "/etc/ab.pem", False),
        ("/etc/[a-c].pem", "/etc/b.pem", True),
        ("/etc/[a-c].pem", "/etc/d.pem", False),
        ("/etc/[!a-c].pem", "/etc/d.pem", True),
        ("/etc/[!a-c].pem", "/etc/a.pem", False),
        ("/a/b", "/a/b/", True),
        ("/a/**", "/a", True),
        ("/a/**", "/a/x/y", True),
    ],
)
def test_glob_match(pattern, path, want):
    """pkg/fileglob/fileglob_test.go:147-178 (TestPatternMatch): what excludePaths use."""
    assert compile_pattern(pattern).match(path) is want


def test_walk_basic_excludes_and_dotfiles(tmp_path, exporter, ca):
    """pkg/fileglob/fileglob_test.go:180-203 (TestWalkBasic: /etc/kubernetes/pki/**/*.crt finds the three
    .crt and nothing else) and :205-220 (TestWalkExcludes: /a/sub/** hides the whole directory); `*`
    matches names starting with a dot, as Go's matcher does (Kubernetes volumes keep `..data` there)."""
    pki = tmp_path / "etc" / "kubernetes" / "pki"
    (pki / "etcd").mkdir(parents=True)
    (pki / "sub").mkdir()
    for rel in ("ca.crt", "apiserver.crt", "etcd/peer.crt", ".hidden.crt", "sub/excluded.crt"):
        (pki / rel).write_bytes(make_cert(rel.rsplit("/", 1)[-1], issuer=ca).pem)
    (pki / "apiserver.key").write_bytes(b"k")
    run = exporter({"sources": [file_source(pki / "**" / "*.crt", excludePaths=[str(pki / "sub" / "**")])]})
    got = sorted(s.labels["subject_CN"] for s in run.samples("x509_cert_not_after"))
    assert got == [".hidden.crt", "apiserver.crt", "ca.crt", "peer.crt"]
    assert nonzero(run) == {}


def test_try_empty_passphrase_defaults_on(tmp_path, exporter, ca):
    """cmd/x509-certificate-exporter/main.go:472-476: once a pkcs12 block is given, tryEmptyPassphrase
    defaults to true, so a keystore without a passphrase opens even when one is configured."""
    (tmp_path / "nopass.p12").write_bytes(make_p12(make_cert("nopass", issuer=ca), passphrase=None))
    run = exporter(
        {"sources": [file_source(tmp_path / "nopass.p12", formats=["pkcs12"], pkcs12={"passphrase": "other"})]}
    )
    assert [s.labels["subject_CN"] for s in run.samples("x509_cert_not_after")] == ["nopass"]
    off = exporter(
        {
            "sources": [
                file_source(
                    tmp_path / "nopass.p12",
                    name="off",
                    formats=["pkcs12"],
                    pkcs12={"passphrase": "other", "tryEmptyPassphrase": False},
                )
            ]
        }
    )
    assert nonzero(off, "off") == {"bad_passphrase": 1}
