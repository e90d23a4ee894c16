"""Polling: skipUnchanged, atomic symlink swaps (certbot, Kubernetes volumes), removals."""

from __future__ import annotations

import os

from exporter_helpers import file_source, make_cert, series


def test_skip_unchanged_and_removal(tmp_path, exporter, ca):
    for n in ("a", "b"):
        (tmp_path / f"{n}.pem").write_bytes(make_cert(n, issuer=ca).pem)
    run = exporter({"sources": [file_source(tmp_path / "*.pem")]})
    st = run.exp.registry.stats["files"]
    parsed = st.parsed
    run.poll()
    assert st.parsed == parsed and st.skipped_unchanged == 2  # nothing re-read
    os.unlink(tmp_path / "b.pem")
    run.poll()
    assert [x.labels["subject_CN"] for x in run.samples("x509_cert_not_after")] == ["a"]
    os.unlink(tmp_path / "a.pem")
    run.poll()
    assert run.samples("x509_cert_not_after") == []
    assert run.samples("x509_source_bundles")[0].value == 0  # stays at 0 after deletions


def test_skip_unchanged_off_rereads(tmp_path, exporter, ca):
    (tmp_path / "a.pem").write_bytes(make_cert("a", issuer=ca).pem)
    run = exporter(
        {
            "sources": [file_source(tmp_path / "*.pem")],
            "cache": {"filePoll": {"interval": "1h", "skipUnchanged": False}},
        }
    )
    st = run.exp.registry.stats["files"]
    parsed = st.parsed
    run.poll()
    assert st.parsed == parsed + 1


def test_certbot_style_symlink_swap(tmp_path, exporter, ca):
    archive = tmp_path / "archive"
    live = tmp_path / "live"
    archive.mkdir()
    live.mkdir()
    c1, c2 = make_cert("site", issuer=ca, days=5), make_cert("site", issuer=ca, days=90)
    (archive / "fullchain1.pem").write_bytes(c1.pem)
    (archive / "fullchain2.pem").write_bytes(c2.pem)
    (live / "fullchain.pem").symlink_to("../archive/fullchain1.pem")
    run = exporter({"sources": [file_source(live / "*.pem")]})
    assert run.samples("x509_cert_not_after")[0].value == c1.not_after
    tmp = live / "fullchain.pem.new"
    tmp.symlink_to("../archive/fullchain2.pem")
    os.replace(tmp, live / "fullchain.pem")
    run.poll()
    s = run.samples("x509_cert_not_after")
    assert [x.value for x in s] == [c2.not_after] and s[0].labels["filepath"] == str(live / "fullchain.pem")


def test_kubernetes_volume_style_swap(tmp_path, exporter, ca):
    """tls.crt -> ..data/tls.crt and ..data -> ..2024_01: only the ..data link moves."""
    vol = tmp_path / "vol"
    vol.mkdir()
    c1, c2 = make_cert("k", issuer=ca, days=5), make_cert("k", issuer=ca, days=60)
    for ts, c in (("..2024_01", c1), ("..2024_02", c2)):
        (vol / ts).mkdir()
        (vol / ts / "tls.crt").write_bytes(c.pem)
    (vol / "..data").symlink_to("..2024_01")
    (vol / "tls.crt").symlink_to("..data/tls.crt")
    run = exporter({"sources": [file_source(vol / "*.crt")]})
    assert run.samples("x509_cert_not_after")[0].value == c1.not_after
    tmp = vol / "..data_tmp"
    tmp.symlink_to("..2024_02")
    os.replace(tmp, vol / "..data")
    run.poll()
    assert [x.value for x in run.samples("x509_cert_not_after")] == [c2.not_after]


def test_globs_recursive_and_exclude(tmp_path, exporter, ca):
    (tmp_path / "x" / "y").mkdir(parents=True)
    (tmp_path / "x" / "y" / "deep.pem").write_bytes(make_cert("deep", issuer=ca).pem)
    (tmp_path / "x" / "skip.pem").write_bytes(make_cert("skip", issuer=ca).pem)
    (tmp_path / "top.pem").write_bytes(make_cert("top", issuer=ca).pem)
    run = exporter({"sources": [file_source(tmp_path / "**" / "*.pem", excludePaths=[str(tmp_path / "x" / "skip*")])]})
    assert sorted(x.labels["subject_CN"] for x in run.samples("x509_cert_not_after")) == ["deep", "top"]


def test_refresh_interval_polls_in_background(tmp_path, exporter, ca):
    import time

    run = exporter({"sources": [file_source(tmp_path / "*.pem", refreshInterval="100ms")]})
    (tmp_path / "late.pem").write_bytes(make_cert("late", issuer=ca).pem)
    end = time.monotonic() + 5
    while time.monotonic() < end and not run.samples("x509_cert_not_after"):
        time.sleep(0.05)
    assert [x.labels["subject_CN"] for x in run.samples("x509_cert_not_after")] == ["late"]
    assert series(run.samples("x509_source_up"))[0].value == 1
