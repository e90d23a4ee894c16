"""The toolkit works when installed, not only from a checkout: the wheel and the sdist built
from the working tree are each installed into a fresh virtual environment outside the
checkout, and every command runs from an empty folder."""

from __future__ import annotations

import datetime as dt
import http.client
import os
import re
import signal
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from x509_mixin.generator.build import render
from x509_mixin.generator.unittests import suites
from x509_mixin.mixin.alerts import alert_groups
from x509_mixin.mixin.config import load

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
DIST = f"x509_mixin-{PROJECT['version']}"
SUITE_FILES = sorted(
    p.relative_to(ROOT / "tests/promtool").as_posix() for p in (ROOT / "tests/promtool").glob("*/*.yaml")
)
# What a user's shell has, without anything pointing into the checkout or its venv.
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


def run(args: list, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict[str, Path]:
    """The sdist of a copy of the working tree (tracked and not-ignored files), and the wheel
    built from that sdist, as `python -m build` does: the wheel proves the sdist complete."""
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dist")
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], ROOT)
    assert listed.returncode == 0, listed.stderr
    for rel in filter(None, listed.stdout.split("\0")):
        if (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            (src / rel).write_bytes((ROOT / rel).read_bytes())
    built = run([sys.executable, "-m", "build", "--outdir", out, src], src)
    assert built.returncode == 0, built.stdout + built.stderr
    return {"wheel": out / f"{DIST}-py3-none-any.whl", "sdist": out / f"{DIST}.tar.gz"}


def test_wheel_and_sdist_carry_the_suites_and_the_runbooks(dists):
    wheel = set(zipfile.ZipFile(dists["wheel"]).namelist())
    for rel in SUITE_FILES:
        assert f"x509_mixin/suites/{rel}" in wheel, rel
    assert "x509_mixin/docs/runbooks.md" in wheel
    assert not any(name.endswith((".libsonnet", ".json")) for name in wheel)
    with tarfile.open(dists["sdist"]) as sdist:
        names = set(sdist.getnames())
    for rel in SUITE_FILES:
        assert f"{DIST}/tests/promtool/{rel}" in names, rel
    assert f"{DIST}/docs/runbooks.md" in names


@pytest.fixture(scope="module", params=["wheel", "sdist"])
def installed(request, dists, tmp_path_factory) -> Path:
    """The bin folder of a fresh virtual environment with the artifact and its dependencies
    (resolved by pip, from its cache where it can)."""
    venv = tmp_path_factory.mktemp(f"venv-{request.param}")
    created = run([sys.executable, "-m", "venv", "--without-pip", venv], venv)
    assert created.returncode == 0, created.stderr
    pip = [sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--quiet"]
    done = run([*pip, dists[request.param]], venv, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return venv / "bin"


@pytest.fixture
def empty(tmp_path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def test_installed_code_is_the_packages_and_version_prints(installed, empty):
    where = run([installed / "python", "-c", "import x509_mixin.generator.cli as m; print(m.__file__)"], empty)
    assert where.stdout.strip().startswith(str(installed.parent)), where.stdout + where.stderr
    version = run([installed / "x509-mixin", "--version"], empty)
    assert (version.returncode, version.stdout) == (0, f"x509-mixin {PROJECT['version']}\n")


def test_build_writes_the_default_artifacts(installed, empty):
    result = run([installed / "x509-mixin", "build"], empty)
    assert result.returncode == 0, result.stderr
    for rel, text in render(load()).items():
        assert (empty / rel).read_text() == text, rel


def test_lint_runs_every_check_including_runbook_anchors(installed, empty):
    result = run([installed / "x509-mixin", "lint"], empty)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert (
        result.stdout == "lint: ok (promtool check rules --lint=all --lint-fatal, mixin rule checks, dashboard checks, "
        "amtool check-config)\n"
    )
    # The shipped runbooks are read: anchors that are not their headings are reported.
    (empty / "c.yaml").write_text("runbookUrlPattern: https://wiki.example.org/x509#runbook-%s\n")
    result = run([installed / "x509-mixin", "lint", "--config", "c.yaml"], empty)
    alerts = [r["alert"] for r in alert_groups(load())[0]["rules"] if "alert" in r]
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"alerts/runbook-anchor: alert {a}: runbook anchor #runbook-{a[4:].lower()} is not a heading of docs/runbooks.md"
        for a in alerts
    ]


def test_test_runs_the_shipped_suites(installed, empty):
    # Only the diagnostics suite fits this configuration: it runs, every other suite shipped
    # is listed as skipped (the full run is proven in test_promtool_suites.py).
    (empty / "c.yaml").write_text("exporter: {exposeDiagnostics: true}\n")
    result = run([installed / "x509-mixin", "test", "--config", "c.yaml"], empty)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "ok      diagnostics (1 files)" in lines
    # The Alertmanager routing cases of this configuration, then one line per shipped suite.
    routes = [line for line in lines if line.startswith("ok      alertmanager routes")]
    assert len(routes) == 1 and routes[0].endswith("cases, amtool config routes test)")
    suite_lines = [line for line in lines if line not in routes]
    assert sorted(re.match(r"(?:ok|skipped) +([\w-]+)", line).group(1) for line in suite_lines) == sorted(
        s.name for s in suites()
    )


def test_migrate_rules_rewrites_a_v3_rule(installed, empty):
    v3 = "groups:\n- name: certs\n  rules:\n  - alert: ReadErrors\n    expr: delta(x509_read_errors[15m]) > 0\n"
    (empty / "v3.yaml").write_text(v3)
    result = run([installed / "x509-mixin", "migrate", "rules", "v3.yaml"], empty)
    assert result.returncode == 0, result.stderr
    assert result.stdout == v3.replace("delta(x509_read_errors[15m])", "increase(x509_source_errors_total[15m])")
    assert result.stderr.startswith(
        "v3.yaml:5: delta(x509_read_errors[15m]) > 0 -> increase(x509_source_errors_total[15m]) > 0 "
    )


def _certificate(path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "installed.example")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def test_exporter_serves_a_certificate_and_stops_on_sigterm(installed, empty):
    (empty / "certs").mkdir()
    _certificate(empty / "certs" / "a.pem")
    config = {
        "sources": [{"kind": "file", "name": "files", "paths": [str(empty / "certs" / "*.pem")]}],
        "server": {"listen": "127.0.0.1:0"},
    }
    (empty / "exporter.yaml").write_text(yaml.safe_dump(config))
    log = empty / "exporter.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [installed / "x509-mixin", "exporter", "--config", "exporter.yaml"], cwd=empty, env=ENV, stderr=err
        )
    try:
        deadline, port, ready = time.monotonic() + 30, None, False
        while time.monotonic() < deadline and not ready:
            assert proc.poll() is None, log.read_text()
            found = re.search(r"serving on port (\d+)", log.read_text())
            port = int(found.group(1)) if found else None
            ready = port is not None and _get(port, "/readyz")[0] == 200
            if not ready:
                time.sleep(0.05)
        assert ready and port, log.read_text()
        status, metrics = _get(port, "/metrics")
        assert status == 200
        assert re.search(r'^x509_cert_not_after\{[^}]*subject_CN="installed\.example"[^}]*\} \d', metrics, re.M), (
            metrics
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "received SIGTERM, shutting down" in log.read_text()
