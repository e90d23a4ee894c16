"""Bad input and faults: each gives its reason, good certificates beside it stay reported, serving goes on."""

from __future__ import annotations

import logging
import os

import pytest
from exporter_helpers import file_source, make_cert, make_p12, series

from x509_mixin.exporter import sources as sources_mod

PASS = "Zebra-Passphrase-9137"


def _good(tmp_path, ca, n="good"):
    c = make_cert(n, issuer=ca)
    (tmp_path / f"{n}.pem").write_bytes(c.pem)
    return c


def _run(exporter, tmp_path, **src):
    return exporter({"sources": [file_source(tmp_path / "*", **src)], "metrics": {"exposePerCertError": True}})


def _check(run, reason, bad_name, good=("good",), bad_block=False):
    """The reason is counted, the good certificates are there; as upstream, x509_cert_error reports a
    bad block beside the others (bad_block) but not a bundle that could not be read at all."""
    errs = run.errors()
    assert errs[reason] >= 1, errs
    assert all(v == 0 for r, v in errs.items() if r != reason), errs
    s = run.samples("x509_cert_not_after")
    assert sorted(x.labels["subject_CN"] for x in s) == sorted(good)
    bad = series(run.samples("x509_cert_error"), filename=bad_name)
    assert [x.value for x in bad] == ([1] if bad_block else [])
    assert all(x.value == 0 for x in series(run.samples("x509_cert_error"), subject_CN="good"))
    status, body, _ = run.request("/healthz")
    assert (status, body) == (200, "ok")


# Upstream's PEM parser (Go's encoding/pem) skips a block it cannot frame (truncated, bad base64):
# such a file finds no certificate; a well-framed block that is not a certificate is a bad block.
@pytest.mark.parametrize(
    "content,reason,bad_block",
    [
        (b"", "no_certificate_found", False),
        (b"\n  \n", "no_certificate_found", False),
        (b"-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n", "no_certificate_found", False),  # truncated
        (b"\x00\x01garbage\xff not pem at all", "no_certificate_found", False),
        (
            b"-----BEGIN CERTIFICATE-----\n!!!!not base64!!!!\n-----END CERTIFICATE-----\n",
            "no_certificate_found",
            False,
        ),
        (b"-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n", "bad_pem", True),  # not DER
        (b"-----BEGIN X509 CRL-----\nAAECAwQF\n-----END X509 CRL-----\n", "bad_crl", True),
        (b"-----BEGIN PRIVATE KEY-----\nAAECAwQF\n-----END PRIVATE KEY-----\n", "no_certificate_found", False),
        (
            b"-----BEGIN CERTIFICATE REQUEST-----\nAAECAwQF\n-----END CERTIFICATE REQUEST-----\n",
            "no_certificate_found",
            False,
        ),
    ],
)
def test_bad_pem_content(tmp_path, exporter, ca, content, reason, bad_block):
    _good(tmp_path, ca)
    (tmp_path / "bad.pem").write_bytes(content)
    run = _run(exporter, tmp_path)
    _check(run, reason, "bad.pem", bad_block=bad_block)


def test_truncated_chain_keeps_the_good_part(tmp_path, exporter, ca):
    """A truncated trailing block is skipped, as Go's encoding/pem does: the complete certificate stays."""
    leaf = make_cert("good", issuer=ca)
    (tmp_path / "chain.pem").write_bytes(leaf.pem + ca.pem[:60])
    run = _run(exporter, tmp_path)
    assert all(v == 0 for v in run.errors().values())
    assert [x.labels["subject_CN"] for x in run.samples("x509_cert_not_after")] == ["good"]


def test_garbage_der(tmp_path, exporter, ca):
    good = make_cert("good", issuer=ca)
    (tmp_path / "good.der").write_bytes(good.der)
    (tmp_path / "bad.der").write_bytes(b"\x30\x82\x01\x00garbage")
    run = _run(exporter, tmp_path, formats=["der"])
    _check(run, "bad_der", "bad.der")


@pytest.mark.parametrize("case", ["wrong", "missing", "empty_needed", "corrupt", "truncated"])
def test_pkcs12_faults(tmp_path, exporter, ca, case, caplog):
    good = make_cert("good", issuer=ca)
    (tmp_path / "good.p12").write_bytes(make_p12(good, passphrase=PASS.encode()))
    other = make_cert("other", issuer=ca)
    p12 = {"passphrase": PASS}
    if case == "wrong":
        blob = make_p12(other, passphrase=b"another-passphrase")
        reason = "bad_passphrase"
    elif case == "missing":
        blob = make_p12(other, passphrase=PASS.encode())
        p12 = {}
        (tmp_path / "good.p12").write_bytes(make_p12(good, passphrase=None))
        reason = "bad_passphrase"
    elif case == "empty_needed":  # keystore without passphrase, no tryEmptyPassphrase, a passphrase configured
        blob = make_p12(other, passphrase=b"x")
        reason = "bad_passphrase"
    elif case == "corrupt":
        blob = os.urandom(600)
        reason = "bad_pkcs12"
    else:
        blob = make_p12(other, passphrase=PASS.encode())[:200]
        reason = "bad_pkcs12"
    (tmp_path / "bad.p12").write_bytes(blob)
    caplog.set_level(logging.DEBUG, logger="x509_mixin")
    run = _run(exporter, tmp_path, formats=["pkcs12"], pkcs12=p12)
    _check(run, reason, "bad.p12")
    pf = run.samples("x509_pkcs12_passphrase_failures_total")[0].value
    assert pf == (1 if reason == "bad_passphrase" else 0)
    # the passphrase never shows up anywhere
    for path in ("/metrics", "/"):
        assert PASS not in run.request(path)[1]
    assert PASS not in caplog.text


def test_pkcs12_empty_passphrase_and_passphrase_file(tmp_path, exporter, ca):
    a, b = make_cert("good", issuer=ca), make_cert("filepass", issuer=ca)
    (tmp_path / "ks").mkdir()
    (tmp_path / "ks" / "empty.p12").write_bytes(make_p12(a, passphrase=None))
    (tmp_path / "ks2").mkdir()
    (tmp_path / "ks2" / "file.p12").write_bytes(make_p12(b, [ca], passphrase=PASS.encode()))
    pw = tmp_path / "pw.txt"
    pw.write_text(PASS + "\n")
    run = exporter(
        {
            "sources": [
                file_source(
                    tmp_path / "ks" / "*.p12", name="empty", formats=["pkcs12"], pkcs12={"tryEmptyPassphrase": True}
                ),
                file_source(
                    tmp_path / "ks2" / "*.p12", name="file", formats=["pkcs12"], pkcs12={"passphraseFile": str(pw)}
                ),
            ]
        }
    )
    assert sorted(x.labels["subject_CN"] for x in run.samples("x509_cert_not_after")) == [
        "Test Root CA",
        "filepass",
        "good",
    ]
    assert all(v == 0 for v in run.errors().values())


def test_size_cap(tmp_path, exporter, ca, monkeypatch):
    _good(tmp_path, ca)
    big = tmp_path / "big.pem"
    with open(big, "wb") as fh:
        fh.truncate(sources_mod.MAX_FILE_BYTES + 1)
    run = _run(exporter, tmp_path)
    _check(run, "read_failed", "big.pem")


def test_directory_where_a_file_was_expected(tmp_path, exporter, ca):
    _good(tmp_path, ca)
    (tmp_path / "dir.pem").mkdir()
    run = exporter(
        {"sources": [file_source(tmp_path / "good.pem", tmp_path / "dir.pem")], "metrics": {"exposePerCertError": True}}
    )
    _check(run, "read_failed", "dir.pem")


def test_glob_matched_directory_is_skipped(tmp_path, exporter, ca):
    _good(tmp_path, ca)
    (tmp_path / "sub").mkdir()
    run = _run(exporter, tmp_path)
    assert all(v == 0 for v in run.errors().values())


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_no_read_permission_non_root(tmp_path, exporter, ca):
    _good(tmp_path, ca)
    p = tmp_path / "secret.pem"
    p.write_bytes(make_cert("x", issuer=ca).pem)
    p.chmod(0)
    run = _run(exporter, tmp_path)
    _check(run, "permission_denied", "secret.pem")


def test_no_read_permission(tmp_path, exporter, ca):
    """EACCES from the read itself (injected: the tests may run as root, who reads every file)."""
    _good(tmp_path, ca)
    (tmp_path / "secret.pem").write_bytes(make_cert("x", issuer=ca).pem)
    run = _run(exporter, tmp_path)
    src = run.exp.sources[0]
    real = src.read

    def read(path):
        if path.endswith("secret.pem"):
            raise PermissionError(13, "Permission denied", path)
        return real(path)

    src.read = read
    src._cache.clear()
    run.poll()
    errs = run.errors()
    assert errs["permission_denied"] == 1
    assert [x.labels["subject_CN"] for x in run.samples("x509_cert_not_after")] == ["good"]


def test_broken_symlink_loop_and_out_of_scope(tmp_path, exporter, ca):
    _good(tmp_path, ca)
    (tmp_path / "dangling.pem").symlink_to(tmp_path / "nowhere.pem")
    (tmp_path / "loop1.pem").symlink_to(tmp_path / "loop2.pem")
    (tmp_path / "loop2.pem").symlink_to(tmp_path / "loop1.pem")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.pem"
    outside.write_bytes(make_cert("outside", issuer=ca).pem)
    (tmp_path / "escape.pem").symlink_to(outside)
    run = exporter(
        {
            "sources": [file_source(tmp_path / "*.pem", pathMappings=[{"from": str(tmp_path), "to": str(tmp_path)}])],
            "metrics": {"exposePerCertError": True},
        }
    )
    errs = run.errors()
    assert errs["broken_symlink"] == 3  # the dangling link and both links of the loop
    assert errs["out_of_scope_symlink"] == 1
    assert [x.labels["subject_CN"] for x in run.samples("x509_cert_not_after")] == ["good"]
    # bundle-level errors: counted, no x509_cert_error series (upstream)
    assert [x.labels["subject_CN"] for x in run.samples("x509_cert_error")] == ["good"]


def test_symlink_followed_without_mappings_and_skipped_when_not_following(tmp_path, exporter, ca):
    outside = tmp_path / "store"
    outside.mkdir()
    (outside / "real.pem").write_bytes(make_cert("linked", issuer=ca).pem)
    watched = tmp_path / "watched"
    watched.mkdir()
    (watched / "link.pem").symlink_to(outside / "real.pem")
    run = exporter(
        {
            "sources": [
                file_source(watched / "*.pem", name="follow"),
                file_source(watched / "*.pem", name="nofollow", followSymlinks=False),
            ]
        }
    )
    s = run.samples("x509_cert_not_after")
    assert [(x.labels["filepath"]) for x in s] == [str(watched / "link.pem")]
    # x509_source_bundles appears from the first bundle on: never for a source that holds none
    assert not series(run.samples("x509_source_bundles"), source_name="nofollow")
    assert series(run.samples("x509_source_up"), source_name="nofollow")[0].value == 1


def test_file_deleted_between_listing_and_reading(tmp_path, exporter, ca):
    _good(tmp_path, ca)
    victim = tmp_path / "victim.pem"
    victim.write_bytes(make_cert("victim", issuer=ca).pem)
    run = _run(exporter, tmp_path)
    src = run.exp.sources[0]
    real = src.read

    def read(path):
        if path.endswith("victim.pem"):
            os.unlink(path)  # gone after the listing, before the read
        return real(path)

    src.read = read
    victim.write_bytes(make_cert("victim2", issuer=ca).pem + b"\n")  # changed: will be re-read
    run.poll()
    assert run.errors()["not_found"] == 1
    assert [x.labels["subject_CN"] for x in run.samples("x509_cert_not_after")] == ["good"]
    run.poll()  # next poll: the file is simply gone
    assert not series(run.samples("x509_cert_error"), filename="victim.pem")
    assert series(run.samples("x509_source_bundles"))[0].value == 1


def test_missing_literal_path(tmp_path, exporter, ca):
    _good(tmp_path, ca)
    run = exporter({"sources": [file_source(tmp_path / "good.pem", tmp_path / "absent.pem")]})
    assert run.errors()["not_found"] >= 1
    assert [x.labels["subject_CN"] for x in run.samples("x509_cert_not_after")] == ["good"]


def test_rotated_file(tmp_path, exporter, ca):
    old = make_cert("good", issuer=ca, days=3)
    p = tmp_path / "tls.pem"
    p.write_bytes(old.pem)
    run = _run(exporter, tmp_path)
    assert run.samples("x509_cert_not_after")[0].value == old.not_after
    new = make_cert("good", issuer=ca, days=90)
    tmp = tmp_path / ".tls.pem.tmp"
    tmp.write_bytes(new.pem)
    os.replace(tmp, p)  # logrotate / atomic rename
    run.poll()
    s = run.samples("x509_cert_not_after")
    assert [x.value for x in s] == [new.not_after]


def test_poll_crash_marks_source_down_and_counts_panic(tmp_path, exporter, ca):
    _good(tmp_path, ca)
    run = _run(exporter, tmp_path)
    src = run.exp.sources[0]

    def boom():
        raise RuntimeError("boom")

    src.poll = boom
    run.poll()
    assert run.samples("x509_source_up")[0].value == 0
    assert [(x.labels, x.value) for x in run.samples("x509_panic_total")] == [({"component": "source/files"}, 1.0)]
    assert run.request("/healthz")[0] == 200
