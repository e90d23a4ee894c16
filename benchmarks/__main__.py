"""`make bench`: the reference exporter at 1,000 / 10,000 / 100,000 certificates (one per file).

Method: one EC key signs 500 distinct certificates once; file i holds certificate i % 500, so
every file is its own series (the filename/filepath labels differ) and generation stays fast.
For each size:
  * ready:   a real exporter process (`x509-mixin exporter --config`) from spawn to /readyz 200;
  * scrape:  median wall time of full GETs of /metrics over HTTP (body read);
  * RSS:     VmRSS of that process after the scrapes;
  * poll:    median time of one poll of the unchanged tree (skipUnchanged on), in-process;
  * render:  median in-process render of our registry vs a straightforward prometheus-client
             collector that rebuilds every family (GaugeMetricFamily.add_metric) on each scrape,
             both measured in the same run with the same label values.
Targets at 10,000 (default gates): scrape < 30 ms, < 1/10 of the straightforward collector,
RSS < 80 MiB, ready < 3 s, unchanged poll < 200 ms.

`python -m benchmarks pem` runs only the PEM parsing figures (benchmarks/pem.py), `exporter`
only the above, `rules` only the rule evaluation cost of certificateOverrides in a real
Prometheus (benchmarks/rules.py); all three run by default.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks.common import free_port, get, make_pems, write_tree

SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "1000,10000,100000").split(",")]


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure_process(root: str, n: int) -> dict:
    port = free_port()
    cfg = os.path.join(root, "..", f"bench-{n}.yaml")
    with open(cfg, "w") as fh:
        fh.write(
            f"server: {{listen: '127.0.0.1:{port}'}}\nlog: {{level: warn}}\n"
            f"cache: {{filePoll: {{interval: 1h}}}}\n"
            f"sources:\n- kind: file\n  name: bench\n  paths: ['{root}/*/*.pem']\n"
        )
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from x509_mixin.exporter.cli import main; sys.exit(main(sys.argv[1:]))",
            "--config",
            cfg,
        ]
    )
    try:
        ready = None
        while time.perf_counter() - t0 < 600:
            try:
                if get(port, "/readyz")[0] == 200:
                    ready = time.perf_counter() - t0
                    break
            except OSError:
                pass
            time.sleep(0.01)
        reps = 3 if n >= 100000 else 21
        times, size = [], 0
        for _ in range(reps):
            s = time.perf_counter()
            status, body = get(port, "/metrics")
            times.append(time.perf_counter() - s)
            size = len(body)
            assert status == 200
        del body
        return {
            "ready_s": ready,
            "scrape_ms": statistics.median(times) * 1000,
            "rss_mib": rss_mib(proc.pid),
            "body_mib": size / 2**20,
        }
    finally:
        proc.terminate()
        proc.wait(30)


def measure_in_process(root: str, n: int) -> dict:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily

    from x509_mixin.catalogue.metrics import CERT_LABELS, DISCRIMINATOR_LABEL
    from x509_mixin.exporter.app import make_source
    from x509_mixin.exporter.config import parse_config
    from x509_mixin.exporter.registry import Registry

    cfg = parse_config({"sources": [{"kind": "file", "name": "bench", "paths": [f"{root}/*/*.pem"]}]})
    reg = Registry(cfg.metrics, [("file", "bench", ("pem",))])
    src = make_source(cfg.sources[0], cfg, reg)
    src.poll_once()
    polls = []
    for _ in range(3 if n >= 100000 else 7):
        s = time.perf_counter()
        src.poll_once()
        polls.append(time.perf_counter() - s)
    reps = 3 if n >= 100000 else 21
    ours = []
    for _ in range(reps):
        s = time.perf_counter()
        b"".join(reg.render())
        ours.append(time.perf_counter() - s)

    # The straightforward collector: same certificates, same label values, rebuilt on every scrape.
    from x509_mixin.exporter import parsers
    from x509_mixin.exporter.walk import Entry

    rows = []
    names = list(CERT_LABELS) + [DISCRIMINATOR_LABEL]
    for path in sorted(e.path for e in src.walker.walk() if isinstance(e, Entry)):
        with open(path, "rb") as fh:
            info = parsers.parse_pem(fh.read()).certs[0]
        vals = [os.path.basename(path), path] + [""] * 11 + [info.serial, ""]
        vals += [info.issuer.get(f, "") for f in ("C", "ST", "L", "O", "OU", "CN")]
        vals += [info.subject.get(f, "") for f in ("C", "ST", "L", "O", "OU", "CN")] + [""]
        rows.append((vals, info.not_after))

    class Straightforward:
        def collect(self):
            now = time.time()
            na = GaugeMetricFamily("x509_cert_not_after", "Certificate expiration date", labels=names)
            ex = GaugeMetricFamily("x509_cert_expired", "1 if the certificate has expired", labels=names)
            for vals, not_after in rows:
                na.add_metric(vals, not_after)
                ex.add_metric(vals, 1.0 if now > not_after else 0.0)
            yield na
            yield ex

    creg = CollectorRegistry()
    creg.register(Straightforward())
    base = []
    for _ in range(1 if n >= 100000 else 5):
        s = time.perf_counter()
        generate_latest(creg)
        base.append(time.perf_counter() - s)
    return {
        "poll_ms": statistics.median(polls) * 1000,
        "render_ms": statistics.median(ours) * 1000,
        "baseline_ms": statistics.median(base) * 1000,
    }


def main(argv: list[str]) -> int:
    """`python -m benchmarks [pem] [exporter] [rules]` (all by default)."""
    which = set(argv) or {"pem", "exporter", "rules"}
    print(__doc__.strip().splitlines()[0])
    print("generating certificates (500 distinct, one EC key) ...", flush=True)
    pems = make_pems()
    status = 0
    if "pem" in which:
        from benchmarks.pem import run as run_pem

        status = run_pem(pems[0])
    if "rules" in which:
        from benchmarks.rules import run as run_rules

        status |= run_rules(pems)
    if "exporter" not in which:
        return status
    results = []
    for n in SIZES:
        root = tempfile.mkdtemp(prefix=f"x509-bench-{n}-")
        try:
            tree = os.path.join(root, "tree")
            t = time.perf_counter()
            write_tree(tree, n, pems)
            print(f"\n== {n:,} certificates in {n:,} files (written in {time.perf_counter() - t:.1f} s)", flush=True)
            p = measure_process(tree, n)
            i = measure_in_process(tree, n)
            r = {"n": n, **p, **i}
            results.append(r)
            print(f"ready after start        {r['ready_s']:.2f} s")
            print(f"scrape median (HTTP)     {r['scrape_ms']:.1f} ms   body {r['body_mib']:.1f} MiB")
            print(f"resident memory          {r['rss_mib']:.1f} MiB")
            print(f"poll of unchanged tree   {r['poll_ms']:.1f} ms")
            print(
                f"render median            {r['render_ms']:.1f} ms   straightforward collector "
                f"{r['baseline_ms']:.1f} ms   ratio {r['render_ms'] / r['baseline_ms']:.3f}",
                flush=True,
            )
        finally:
            shutil.rmtree(root, ignore_errors=True)
    failed = []
    for r in results:
        if r["n"] == 10000:
            checks = {
                "scrape < 30 ms": r["scrape_ms"] < 30,
                "scrape < 1/10 of straightforward": r["scrape_ms"] < r["baseline_ms"] / 10,
                "RSS < 80 MiB": r["rss_mib"] < 80,
                "ready < 3 s": (r["ready_s"] or 99) < 3,
                "unchanged poll < 200 ms": r["poll_ms"] < 200,
            }
            print("\ntargets at 10,000: " + ", ".join(f"{k}: {'ok' if v else 'MISSED'}" for k, v in checks.items()))
            failed = [k for k, v in checks.items() if not v]
    return 1 if failed or status else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
