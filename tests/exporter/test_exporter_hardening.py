"""Hardening: hostile names, trees, keystores, clocks and inputs cost what they touch, never the exporter."""

from __future__ import annotations

import base64
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from exporter_helpers import file_source, make_cert, make_crl, make_p12, series

from x509_mixin.exporter import pem, sources


def errors_of(run, source="files") -> dict[str, float]:
    return {
        s.labels["reason"]: s.value
        for s in series(run.samples("x509_source_errors_total"), source_name=source)
        if s.value
    }


def cns(run) -> list[str]:
    return sorted(s.labels["subject_CN"] for s in run.samples("x509_cert_not_after"))


def wait_for(predicate, timeout=10.0):
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


# ---- a file name that is not UTF-8 ----------------------------------------------------------


@pytest.mark.parametrize("mode", ["auto", "always", "never"])
def test_non_utf8_name_costs_one_bundle(tmp_path, exporter, ca, mode):
    raw = os.fsencode(tmp_path)
    (tmp_path / "a.pem").write_bytes(make_cert("a", issuer=ca).pem)
    with open(raw + b"/b\xff.pem", "wb") as fh:
        fh.write(make_cert("b", issuer=ca).pem)
    os.mkdir(raw + b"/dir\xfe")
    with open(raw + b"/dir\xfe/inner.pem", "wb") as fh:
        fh.write(make_cert("inner", issuer=ca).pem)
    (tmp_path / "c.pem").write_bytes(make_cert("c", issuer=ca).pem)  # listed after the bad name
    run = exporter({"sources": [file_source(tmp_path / "**" / "*.pem")], "metrics": {"collisionDiscriminator": mode}})
    assert cns(run) == ["a", "c"]
    assert errors_of(run) == {"walk_error": 2}  # b\xff.pem and dir\xfe/inner.pem, nothing else
    assert "x509_panic_total" not in run.metrics_text()
    assert series(run.samples("x509_source_up"))[0].value == 1
    status, page, _ = run.request("/")
    assert status == 200 and "b\ufffd.pem" in page and "not valid UTF-8" in page
    os.unlink(tmp_path / "c.pem")  # a later change is still seen
    run.poll()
    assert cns(run) == ["a"]
    assert errors_of(run) == {"walk_error": 4}  # walk errors count on every poll, as upstream


# ---- a stalled poll shows, and SIGTERM still stops the process ------------------------------


def test_stalled_poll_marks_the_source_down(tmp_path, exporter, ca, monkeypatch):
    monkeypatch.setattr(sources, "STALL_GRACE", 0.3)
    p = tmp_path / "a.pem"
    p.write_bytes(make_cert("a", issuer=ca).pem)
    hold, release = threading.Event(), threading.Event()
    real = sources._read

    def read(path):
        if hold.is_set():
            release.wait(30)  # a read that hangs (a dead network filesystem)
        return real(path)

    monkeypatch.setattr(sources, "_read", read)
    run = exporter({"sources": [file_source(tmp_path / "*.pem", refreshInterval="50ms")]})
    up = 'x509_source_up{source_kind="file",source_name="files"}'
    assert f"{up} 1" in run.metrics_text()
    hold.set()
    p.write_bytes(make_cert("a2", issuer=ca).pem)  # changed: the next poll reads it, and hangs
    try:
        wait_for(lambda: run.request("/readyz")[:2] == (503, "stalled"))
        assert f"{up} 0" in run.metrics_text()
        page = run.request("/")[1]
        assert "stalled: poll running for" in page and 'class="ko">stalled: files<' in page
        assert run.request("/healthz")[:2] == (200, "ok")
    finally:
        hold.clear()
        release.set()
    wait_for(lambda: run.request("/readyz")[:2] == (200, "ready"))
    wait_for(lambda: f"{up} 1" in run.metrics_text())
    assert cns(run) == ["a2"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.mark.slow
def test_sigterm_stops_a_process_whose_big_poll_hangs(tmp_path, ca):
    """Thousands of changed files, then a read that never returns: the source shows as down, no
    worker process exists, and SIGTERM still ends the process (exit 0)."""
    tree = tmp_path / "tree"
    data = make_cert("many", issuer=ca).pem
    for d in range(3):
        (tree / f"d{d}").mkdir(parents=True)
        for i in range(1000):
            (tree / f"d{d}" / f"c{i:04d}.pem").write_bytes(data)
    (tree / "zz").mkdir()
    (tree / "zz" / "hang.pem").write_bytes(data)
    port = _free_port()
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        f"server: {{listen: '127.0.0.1:{port}'}}\ncache: {{filePoll: {{interval: 1s}}}}\n"
        f"sources:\n- {{kind: file, name: big, paths: ['{tree}/*/*.pem']}}\n"
    )
    code = textwrap.dedent(
        """
        import sys, threading
        from x509_mixin.exporter import sources
        real = sources._read
        def read(path):
            if path.endswith("hang.pem"):
                threading.Event().wait()  # never returns
            return real(path)
        sources._read = read
        sources.STALL_GRACE = 0.5
        from x509_mixin.exporter.cli import main
        sys.exit(main(sys.argv[1:]))
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code, "--config", str(cfg)], stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: _get(port, "/healthz")[0] == 200 if _port_open(port) else False, 20)
        up = 'x509_source_up{source_kind="file",source_name="big"} 0'
        wait_for(lambda: up in _get(port, "/metrics")[1], 30)
        assert _get(port, "/readyz") == (503, "stalled")  # its first poll hangs
        children = [c for task in os.listdir(f"/proc/{proc.pid}/task") for c in _read_text(proc.pid, task).split()]
        assert children == []  # no worker processes
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "received SIGTERM, shutting down" in proc.stderr.read()


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _read_text(pid: int, task: str) -> str:
    try:
        with open(f"/proc/{pid}/task/{task}/children") as fh:
            return fh.read()
    except OSError:
        return ""


# ---- symlinks: loops, directory links, every hop in scope ----------------------------------


def _linked_tree(tmp_path, ca):
    root = tmp_path / "root"
    (root / "sub" / "real").mkdir(parents=True)
    (root / "cert.pem").write_bytes(make_cert("top", issuer=ca).pem)
    (root / "sub" / "real" / "inner.pem").write_bytes(make_cert("inner", issuer=ca).pem)
    (root / "sub" / "loop").symlink_to("..")  # a loop back to root
    (root / "self").symlink_to(".")
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "linked.pem").write_bytes(make_cert("linked", issuer=ca).pem)
    (root / "linkdir").symlink_to(other)
    return root


@pytest.mark.parametrize(
    "options,want",
    [
        ({}, ["inner", "top"]),
        ({"followSymlinks": False}, ["inner", "top"]),  # a directory link does not bypass it
        ({"followSymlinkDirs": True}, ["inner", "linked", "top"]),  # each once: loops end at a known inode
    ],
)
def test_directory_symlinks_and_loops_under_doublestar(tmp_path, exporter, ca, options, want):
    root = _linked_tree(tmp_path, ca)
    run = exporter({"sources": [file_source(root / "**" / "*.pem", **options)]})
    assert cns(run) == want
    assert errors_of(run) == {}


def test_every_symlink_hop_is_checked_against_the_scope(tmp_path, exporter, ca):
    watch = tmp_path / "watch"
    outside = tmp_path / "outside"
    watch.mkdir()
    outside.mkdir()
    (outside / "secret.pem").write_bytes(make_cert("outside", issuer=ca).pem)
    (watch / "real.pem").write_bytes(make_cert("inside", issuer=ca).pem)
    (watch / "hop2.pem").symlink_to(outside / "secret.pem")  # absolute, not under any mapping
    (watch / "hop1.pem").symlink_to("hop2.pem")  # in scope itself, but leads out
    (watch / "dirlink").symlink_to("../outside")
    (watch / "via-dir.pem").symlink_to("dirlink/secret.pem")  # a directory link on the way leaves
    (watch / "host.pem").symlink_to("/host/pki/real.pem")  # translated into the scope: fine
    run = exporter(
        {
            "sources": [file_source(watch / "*.pem", pathMappings=[{"from": "/host/pki", "to": str(watch)}])],
            "metrics": {"exposePerCertError": True},
        }
    )
    assert sorted((s.labels["filename"], s.labels["subject_CN"]) for s in run.samples("x509_cert_not_after")) == [
        ("host.pem", "inside"),
        ("real.pem", "inside"),
    ]
    assert errors_of(run) == {"out_of_scope_symlink": 3}  # hop1, hop2, via-dir


def test_a_scope_root_that_is_itself_a_symlink(tmp_path, exporter, ca):
    """The `to` directory may be a symlink (a mount point): it is trusted, the hops below it are checked."""
    real = tmp_path / "real-mount"
    real.mkdir()
    (real / "kubelet-2026.pem").write_bytes(make_cert("kubelet", issuer=ca).pem)
    (real / "current.pem").symlink_to("/var/lib/kubelet/pki/kubelet-2026.pem")
    mount = tmp_path / "mount"
    mount.symlink_to(real)
    run = exporter(
        {
            "sources": [
                file_source(mount / "current.pem", pathMappings=[{"from": "/var/lib/kubelet/pki", "to": str(mount)}])
            ]
        }
    )
    assert cns(run) == ["kubelet"] and errors_of(run) == {}


# ---- excludePaths: * stays within a segment, ** spans segments -----------------------------


def test_exclude_wildcards_do_not_cross_slashes(tmp_path, exporter, ca):
    """`*` stays in one segment, `**` spans any number; an excluded directory is not entered (upstream
    pkg/fileglob: a/private/sub matches **/private/*, so z.pem under it is excluded too)."""
    for rel in (
        "top.pem",
        "sub/deep.pem",
        "private/x.pem",
        "a/private/y.pem",
        "a/private/sub/z.pem",
        "b/privateer/w.pem",
        "skipdir/s.pem",
    ):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(make_cert(rel.rsplit("/", 1)[-1][:-4], issuer=ca).pem)
    run = exporter(
        {
            "sources": [
                file_source(
                    tmp_path / "**" / "*.pem",
                    excludePaths=[
                        str(tmp_path / "*.pem"),
                        str(tmp_path / "**" / "private" / "*"),
                        str(tmp_path / "skip*"),
                    ],
                )
            ]
        }
    )
    assert cns(run) == ["deep", "w"]


# ---- an unreadable directory: counted, and what was under it stays -------------------------


@pytest.mark.parametrize(
    "error,reason",
    [(PermissionError(13, "Permission denied"), "permission_denied"), (OSError(5, "Input/output error"), "walk_error")],
)
def test_unreadable_directory_keeps_its_certificates(tmp_path, exporter, ca, error, reason):
    (tmp_path / "keep").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "keep" / "a.pem").write_bytes(make_cert("a", issuer=ca).pem)
    (tmp_path / "other" / "b.pem").write_bytes(make_cert("b", issuer=ca).pem)
    run = exporter({"sources": [file_source(tmp_path / "**" / "*.pem")]})
    walker = run.exp.sources[0].walker
    real = walker.listdir

    def listdir(path):
        if path.endswith("/keep"):
            raise error
        return real(path)

    walker.listdir = listdir
    run.poll()
    run.poll()
    assert cns(run) == ["a", "b"]  # the certificate under the unreadable directory is still reported
    assert errors_of(run) == {reason: 2}  # on every poll
    status, page, _ = run.request("/")
    assert f"{tmp_path / 'keep'}</td>" in page and "cannot list the directory" in page
    walker.listdir = real
    os.unlink(tmp_path / "keep" / "a.pem")
    run.poll()
    assert cns(run) == ["b"]
    assert series(run.samples("x509_source_bundles"))[0].value == 1


def test_deleted_directory_drops_its_certificates(tmp_path, exporter, ca):
    """Unlike an unreadable directory, one that is gone takes its certificates along; a glob whose base
    directory is missing counts not_found on every poll (upstream pkg/fileglob/fileglob_test.go TestWalkMissingDir)."""
    (tmp_path / "pki" / "sub").mkdir(parents=True)
    (tmp_path / "pki" / "sub" / "a.pem").write_bytes(make_cert("a", issuer=ca).pem)
    run = exporter({"sources": [file_source(tmp_path / "pki" / "**" / "*.pem")]})
    assert cns(run) == ["a"]
    shutil.rmtree(tmp_path / "pki")
    run.poll()
    run.poll()
    assert cns(run) == []
    assert errors_of(run) == {"not_found": 2}


@pytest.mark.skipif(os.geteuid() == 0, reason="root lists every directory")
def test_unreadable_directory_non_root(tmp_path, exporter, ca):
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "a.pem").write_bytes(make_cert("a", issuer=ca).pem)
    run = exporter({"sources": [file_source(tmp_path / "**" / "*.pem")]})
    (tmp_path / "keep").chmod(0)
    try:
        run.poll()
        assert cns(run) == ["a"] and errors_of(run) == {"permission_denied": 1}
    finally:
        (tmp_path / "keep").chmod(0o755)


# ---- PKCS#12 -------------------------------------------------------------------------------------


def test_fixing_the_passphrase_file_is_noticed(tmp_path, exporter, ca):
    (tmp_path / "ks").mkdir()
    (tmp_path / "ks" / "a.p12").write_bytes(make_p12(make_cert("ks", issuer=ca), passphrase=b"Right-Pass-1"))
    pw = tmp_path / "pass.txt"
    pw.write_text("Wrong-Pass-2\n")
    run = exporter(
        {"sources": [file_source(tmp_path / "ks" / "*.p12", formats=["pkcs12"], pkcs12={"passphraseFile": str(pw)})]}
    )
    assert errors_of(run) == {"bad_passphrase": 1} and cns(run) == []
    run.poll()
    assert errors_of(run) == {"bad_passphrase": 1}  # unchanged keystore and passphrase: not parsed again
    pw.write_text("Right-Pass-1\n")  # the keystore itself does not change
    run.poll()
    assert cns(run) == ["ks"]
    assert errors_of(run) == {"bad_passphrase": 1}
    assert run.samples("x509_pkcs12_passphrase_failures_total")[0].value == 1
    for path in ("/metrics", "/"):
        text = run.request(path)[1]
        assert "Right-Pass-1" not in text and "Wrong-Pass-2" not in text


def test_crafted_short_keystores_never_raise(tmp_path, exporter, ca):
    real = make_p12(make_cert("ks", issuer=ca), passphrase=b"pw")
    rng = random.Random(7)
    blobs = [b"\x30\x02\x02\x01", b"\x30\x03\x02\x01\x03", b"\x30\x80", b"\x30", b"\x02\x01\x03"]
    blobs += [real[:k] for k in range(1, 48)] + [real[:4] + bytes(rng.randrange(256) for _ in range(rng.randrange(60)))]
    blobs += [bytes([0x30, n]) + bytes(rng.randrange(256) for _ in range(n)) for n in range(1, 40)]
    for i, blob in enumerate(blobs):
        (tmp_path / f"k{i:03d}.p12").write_bytes(blob)
    (tmp_path / "good.p12").write_bytes(real)
    run = exporter(
        {
            "sources": [file_source(tmp_path / "*.p12", formats=["pkcs12"], pkcs12={"passphrase": "pw"})],
            "cache": {"filePoll": {"interval": "1h", "skipUnchanged": False}},
        }
    )
    run.poll()
    run.poll()
    assert cns(run) == ["ks"]
    errs = errors_of(run)
    # parsed on each of the 3 polls, each unchanged file's error counted once
    assert set(errs) <= {"bad_pkcs12", "bad_passphrase"} and sum(errs.values()) == len(blobs)
    assert "x509_panic_total" not in run.metrics_text()
    assert series(run.samples("x509_source_bundles"))[0].value == len(blobs) + 1


# ---- the clock -------------------------------------------------------------------------------------


def test_expired_follows_the_clock_both_ways(tmp_path, exporter, ca):
    c = make_cert("c", issuer=ca, days=1)
    crl = make_crl(ca, number=1, next_days=1)
    (tmp_path / "c.pem").write_bytes(c.pem + crl.public_bytes(Encoding.PEM))
    run = exporter({"sources": [file_source(tmp_path / "c.pem")], "metrics": {"exposeRelative": True}})
    t_cert, t_crl = c.not_after, int(crl.next_update_utc.timestamp())
    clock = [0.0]
    run.exp.registry.clock = lambda: clock[0]

    def state():
        fams = run.families()
        return (
            fams["x509_cert_expired"].samples[0].value,
            fams["x509_crl_stale"].samples[0].value,
            fams["x509_cert_expires_in_seconds"].samples[0].value,
        )

    clock[0] = max(t_cert, t_crl) + 100  # past both dates
    assert state() == (1, 1, t_cert - clock[0])
    clock[0] = min(t_cert, t_crl) - 100  # an NTP step back: neither has expired
    assert state() == (0, 0, 100 + (t_cert - min(t_cert, t_crl)))
    clock[0] = max(t_cert, t_crl) + 5  # forward again
    assert state()[:2] == (1, 1)


# ---- no duplicate series ---------------------------------------------------------------------


def _sample_keys(text: str) -> list[str]:
    return [line.rsplit(" ", 1)[0] for line in text.splitlines() if line and not line.startswith("#")]


@pytest.mark.parametrize("mode", ["auto", "always", "never"])
def test_same_crl_twice_and_overlapping_sources(tmp_path, exporter, ca, mode):
    crl = make_crl(ca, number=9).public_bytes(Encoding.PEM)
    (tmp_path / "twice.crl").write_bytes(crl + crl)
    (tmp_path / "leaf.pem").write_bytes(make_cert("leaf", issuer=ca).pem)
    (tmp_path / "badblock.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n")
    run = exporter(
        {
            "sources": [file_source(tmp_path / "*", name="one"), file_source(tmp_path / "*", name="two")],
            "metrics": {"collisionDiscriminator": mode, "exposePerCertError": True},
        }
    )
    text = run.metrics_text()
    keys = _sample_keys(text)
    assert len(keys) == len(set(keys))  # a duplicate series would make the whole scrape invalid
    fams = run.families()
    assert len(fams["x509_cert_not_after"].samples) == 1  # seen by both sources, one series
    crls = fams["x509_crl_next_update"].samples
    if mode == "never":
        assert [s.labels.get("discriminator") for s in crls] == [None]
        assert fams["x509_cert_collision_dropped_total"].samples[0].value >= 1
    else:
        assert (
            len(crls) == 2
            and len({s.labels["discriminator"] for s in crls}) == 2
            and "" not in {s.labels["discriminator"] for s in crls}
        )
    assert [s.value for s in series(fams["x509_cert_error"].samples, filename="badblock.pem")] == [1]
    assert {s.labels["source_name"]: s.value for s in fams["x509_source_bundles"].samples} == {"one": 3, "two": 3}


# ---- PEM parsing is linear, and frames blocks as Go does ---------------------------------------


def test_many_unterminated_begin_lines(tmp_path, exporter, ca):
    """516 KiB of BEGIN lines without END (34 s of quadratic parsing before): the certificate after
    them is read, a file of them alone finds no certificate, and the exporter gets ready."""
    junk = b"-----BEGIN CERTIFICATE-----\n" * 19_000
    assert len(junk) > 516 * 1024
    (tmp_path / "then-a-cert.pem").write_bytes(junk + make_cert("after", issuer=ca).pem)
    (tmp_path / "only-begins.pem").write_bytes(junk)
    run = exporter({"sources": [file_source(tmp_path / "*.pem")]})
    assert cns(run) == ["after"]
    assert errors_of(run) == {"no_certificate_found": 1}


def go_pem_decode(data: bytes) -> list[tuple[bytes, bytes]]:
    """A line-by-line transcription of Go's encoding/pem.Decode loop (the reference, quadratic)."""

    def get_line(d: bytes) -> tuple[bytes, bytes]:
        i = d.find(b"\n")
        if i < 0:
            i = j = len(d)
        else:
            j = i + 1
            if i > 0 and d[i - 1 : i] == b"\r":
                i -= 1
        return d[:i].rstrip(b" \t"), d[j:]

    out = []
    rest = data
    while True:
        while True:
            if rest.startswith(b"-----BEGIN "):
                rest = rest[11:]
            elif b"\n-----BEGIN " in rest:
                rest = rest.split(b"\n-----BEGIN ", 1)[1]
            else:
                return out
            type_line, rest = get_line(rest)
            if not type_line.endswith(b"-----"):
                continue
            kind = type_line[:-5]
            headers = False
            while True:
                if not rest:
                    return out
                line, nxt = get_line(rest)
                if b":" not in line:
                    break
                headers, rest = True, nxt
            if not headers and rest.startswith(b"-----END "):
                end, trailer = 0, 9
            else:
                end = rest.find(b"\n-----END ")
                trailer = end + 10
            if end < 0:
                continue
            tail = rest[trailer:]
            if len(tail) < len(kind) + 5 or not tail[: len(kind) + 5].startswith(kind):
                continue
            if not tail[: len(kind) + 5].endswith(b"-----"):
                continue
            if get_line(tail[len(kind) + 5 :])[0]:
                continue
            body = rest[:end].replace(b" ", b"").replace(b"\t", b"").replace(b"\r", b"").replace(b"\n", b"")
            try:
                if len(body) % 4:
                    raise ValueError
                decoded = base64.b64decode(body, validate=True)
            except ValueError:
                continue
            rest = get_line(rest[end + 9 :])[1]
            out.append((kind, decoded))
            break


def test_pem_framing_matches_go(ca):
    """Random mixes of PEM-ish lines framed by exporter/pem.py and by the transcription of Go's loop."""
    good = base64.b64encode(b"certificate bytes!").decode()
    vocab = [
        "-----BEGIN CERTIFICATE-----",
        "-----BEGIN X509 CRL-----",
        "-----BEGIN PRIVATE KEY-----",
        "-----END CERTIFICATE-----",
        "-----END X509 CRL-----",
        "-----END CERTIFICATE----- trailing",
        "-----END CERTIFICATE-----  ",
        "Proc-Type: 4,ENCRYPTED",
        good[:16],
        good[16:],
        good,
        "QUFB",
        "QQ==",
        "not base64!",
        "",
        "   ",
        "-----BEGIN CERTIFICATE----- x",
        "x-----BEGIN CERTIFICATE-----",
    ]
    rng = random.Random(1234)
    for _ in range(3000):
        lines = [rng.choice(vocab) for _ in range(rng.randrange(1, 14))]
        sep = rng.choice(["\n", "\r\n"])
        data = (sep.join(lines) + rng.choice(["", sep])).encode()
        assert list(pem.blocks(data)) == go_pem_decode(data), data
    real = ca.pem
    assert list(pem.blocks(real)) == go_pem_decode(real) and len(go_pem_decode(real)) == 1


# ---- errors are counted as upstream counts them --------------------------------------------------


@pytest.mark.parametrize("skip", [True, False])
def test_unchanged_broken_file_counts_once_per_change(tmp_path, exporter, skip):
    """A file's parse error counts once per change of the file, with or without skipUnchanged
    (upstream counts each parse: without skipUnchanged, 2 a minute for one old broken file, which
    pages as SourceErrorsSustained); a kubeconfig is re-read and counted on every poll in both
    modes, as upstream."""
    (tmp_path / "broken.pem").write_bytes(b"not a certificate")
    (tmp_path / "kubeconfig").write_text("clusters: [")
    run = exporter(
        {
            "sources": [
                file_source(tmp_path / "broken.pem"),
                {"kind": "kubeconfig", "name": "kc", "paths": [str(tmp_path / "kubeconfig")]},
            ],
            "cache": {"filePoll": {"interval": "1h", "skipUnchanged": skip}},
        }
    )
    run.poll()
    run.poll()
    assert errors_of(run) == {"no_certificate_found": 1}
    assert errors_of(run, "kc") == {"decode_failed": 3}
    # A change counts again; the next unchanged polls do not.
    (tmp_path / "broken.pem").write_bytes(b"still not a certificate")
    run.poll()
    run.poll()
    assert errors_of(run) == {"no_certificate_found": 2}


def test_hostile_kubeconfigs_cost_their_own_bundle(tmp_path, exporter, ca):
    """Deeply nested YAML, a duplicate key, entries of the wrong shape: decode_failed for that file, the
    others are read, the poll goes on (yaml.v3 refuses the same documents)."""
    good = base64.b64encode(ca.pem).decode()
    (tmp_path / "a-nested").write_text("clusters: " + "[" * 5000 + "]" * 5000)
    (tmp_path / "b-dup").write_text("clusters: []\nclusters: []\n")
    (tmp_path / "c-shape").write_text("clusters:\n  name: not-a-list\n")
    (tmp_path / "d-good").write_text(f"clusters:\n- name: c\n  cluster:\n    certificate-authority-data: {good}\n")
    (tmp_path / "e-empty").write_text("")
    run = exporter({"sources": [{"kind": "kubeconfig", "name": "kc", "paths": [str(tmp_path / "*")]}]})
    assert cns(run) == ["Test Root CA"]
    assert errors_of(run, "kc") == {"decode_failed": 3}
    assert "x509_panic_total" not in run.metrics_text()
    assert series(run.samples("x509_source_bundles"), source_name="kc")[0].value == 4  # an empty one yields none


def test_a_fifo_swapped_in_never_blocks_a_read(tmp_path):
    fifo = tmp_path / "fifo.pem"
    os.mkfifo(fifo)
    with pytest.raises(OSError) as e:
        sources._read(str(fifo))
    assert "not a regular file" in str(e.value)


def test_p12_base64_in_pem_source_is_not_a_certificate(tmp_path, exporter, ca):
    """A keystore in a PEM-only source finds no certificate, and costs nothing else."""
    (tmp_path / "ks.p12").write_bytes(make_p12(make_cert("ks", issuer=ca)))
    (tmp_path / "ok.pem").write_bytes(make_cert("ok", issuer=ca).pem)
    run = exporter({"sources": [file_source(tmp_path / "*")]})
    assert cns(run) == ["ok"] and errors_of(run) == {"no_certificate_found": 1}
