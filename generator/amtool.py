"""The amtool wrapper: `check-config` and `config routes test` on the generated Alertmanager
configuration, as Alertmanager loads it (a snippet merged into a minimal configuration)."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import yaml

from x509_mixin.generator.promtool import Result
from x509_mixin.mixin.alertmanager import placeholders
from x509_mixin.mixin.config import Config

INSTALL_HINT = "install Debian's `prometheus-alertmanager` package (`make tools` does it as root)"
# The root receiver of the configuration a snippet is merged into: what is not the mixin's.
HOST_RECEIVER = "host-default"


class AmtoolMissing(RuntimeError):
    pass


def amtool() -> str:
    path = shutil.which("amtool")
    if path is None:
        raise AmtoolMissing(f"amtool not found on PATH: {INSTALL_HINT}")
    return path


def _run(args: list[str]) -> Result:
    proc = subprocess.run([amtool(), *args], capture_output=True, text=True, timeout=120)
    return Result(proc.returncode == 0, proc.returncode, (proc.stdout + proc.stderr).strip())


def merge_snippet(snippet: dict, host: dict) -> dict:
    """A configuration with the snippet merged in, as docs/alertmanager.md says: its routes
    first in `route.routes`, its receivers and inhibit_rules after the host's."""
    merged = copy.deepcopy(host)
    route = merged.setdefault("route", {})
    route["routes"] = copy.deepcopy(snippet["routes"]) + route.get("routes", [])
    have = {r["name"] for r in merged.setdefault("receivers", [])}
    merged["receivers"] += [copy.deepcopy(r) for r in snippet["receivers"] if r["name"] not in have]
    merged["inhibit_rules"] = merged.get("inhibit_rules", []) + copy.deepcopy(snippet["inhibit_rules"])
    return merged


def as_loaded(cfg: Config, generated: dict) -> dict:
    """The generated configuration as Alertmanager loads it: itself, or (a snippet) merged into
    a minimal configuration that defines the receivers it names."""
    if cfg.alertmanager.output == "config":
        return generated
    names = [HOST_RECEIVER, *placeholders(cfg)]
    return merge_snippet(generated, {"route": {"receiver": HOST_RECEIVER}, "receivers": [{"name": n} for n in names]})


def loadable(cfg: Config, generated: Path) -> Path:
    """The generated file, or (a snippet) the configuration it is merged into, written beside it."""
    if cfg.alertmanager.output == "config":
        return generated
    merged = generated.with_name(generated.stem + "-merged.yaml")
    merged.write_text(yaml.safe_dump(as_loaded(cfg, yaml.safe_load(generated.read_text())), sort_keys=False))
    return merged


def check_config(path: Path) -> Result:
    return _run(["check-config", str(path)])


def route(path: Path, labels: dict[str, str]) -> list[str]:
    """The receivers an alert with these labels goes to (`amtool config routes test`)."""
    args = ["config", "routes", "test", f"--config.file={path}", *(f"{k}={v}" for k, v in labels.items())]
    proc = subprocess.run([amtool(), *args], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"amtool config routes test failed: {(proc.stdout + proc.stderr).strip()}")
    return proc.stdout.strip().split(",")
