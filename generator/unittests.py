"""promtool unit-test suites, run on the rules generated for a configuration.

A suite is a folder of `tests/promtool/` with a `config.yaml` and hand-written promtool test
files whose expectations hold for that configuration; the folders ship inside the
distribution as the package `x509_mixin.suites`. The same files also prove the rules
generated for other configurations: `adapt` rewrites their expectations for the keys whose
effect on an alert is mechanical (names, severities, extra labels and annotations, runbook
links, disabled alerts, the selector, the cluster label). A configuration that changes
anything else (thresholds, `for`, gates, deduplication...) cannot reuse a suite's
expectations, and the suite is reported as skipped rather than passed.
"""

from __future__ import annotations

import copy
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from x509_mixin.catalogue.promql import matches, op, parse_vector_selector, selector_matchers, selector_text
from x509_mixin.generator import promtool
from x509_mixin.generator.build import ALERTS_FILE, RULES_FILE, write
from x509_mixin.mixin import dashboard_rules, policies, truth
from x509_mixin.mixin.alerts import alerts
from x509_mixin.mixin.config import Config, load
from x509_mixin.mixin.dashboards import rendered_dashboard_url

SUITES_DIR: Traversable = resources.files("x509_mixin.suites")
RULE_FILE_NAME = "prometheus_alerts.yaml"
RECORDING_FILE_NAME = "prometheus_rules.yaml"

# Config fields whose effect `adapt` can apply to a suite's expectations.
ADAPTABLE = frozenset(
    {
        "alertNamePrefix",
        "severities",
        "extraAlertLabels",
        "extraAlertAnnotations",
        "runbookUrlPattern",
        "disabledAlerts",
        "selector",
        "multiCluster",
        "clusterLabel",
        "prometheusRule",
        "grafanaUrl",
        "dashboardUidPrefix",
        "dashboardTags",
        "dashboardFolder",
        "dashboardSidecarLabels",
        "lint",
        "alertmanager",
    }
)
CLUSTER_VALUE = "east"

# Non-default configurations the default suite also runs under (see tests and docs).
VARIANTS: dict[str, dict[str, Any]] = {
    "chart-names": {
        "alertNamePrefix": "",
        "severities": {"CertificateRenewal": "info", "SourceDown": "warning"},
        "extraAlertLabels": {"team": "pki", "page": "false"},
        "extraAlertAnnotations": {"dashboard": "https://grafana.example.org/d/x509"},
        "runbookUrlPattern": "https://wiki.example.org/runbooks/x509#%s",
        "grafanaUrl": "https://grafana.example.org/",
        "dashboardUidPrefix": "pki-",
    },
    "multi-cluster": {"multiCluster": True, "clusterLabel": "k8s_cluster"},
    "selector": {"selector": 'job="certs", env=~"prod|staging"', "disabledAlerts": ["KubeWatchResyncStorm"]},
}
# The suites that also run under variants, and which (the overrides' labels would clash with
# chart-names' extraAlertLabels, which the configuration refuses).
VARIANT_RUNS: dict[str, tuple[str, ...]] = {
    "defaults": tuple(VARIANTS),
    "faults": tuple(VARIANTS),
    "not-before": tuple(VARIANTS),
    "overrides": ("multi-cluster", "selector"),
    "by-reason": tuple(VARIANTS),
}


class CannotAdapt(Exception):
    pass


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    ok: bool = True
    ran: int = 0


@dataclass(frozen=True)
class Suite:
    name: str
    path: Traversable
    config: dict[str, Any]

    @property
    def files(self) -> list[Traversable]:
        found = (p for p in self.path.iterdir() if p.name.endswith(".yaml") and p.name != "config.yaml")
        return sorted(found, key=lambda p: p.name)


def suites(root: Traversable = SUITES_DIR) -> list[Suite]:
    """Every folder of `root` holding a config.yaml, by name."""
    found = []
    for folder in sorted((d for d in root.iterdir() if d.is_dir()), key=lambda d: d.name):
        cfg_file = folder / "config.yaml"
        if cfg_file.is_file():
            found.append(Suite(folder.name, folder, yaml.safe_load(cfg_file.read_text(encoding="utf-8")) or {}))
    return found


def variant_config(suite: Suite, variant: str) -> Config:
    """The suite's configuration under a variant's keys."""
    return load({**suite.config, **VARIANTS[variant]})


def differing_fields(a: Config, b: Config) -> set[str]:
    return {f.name for f in fields(Config) if f.name != "raw" and getattr(a, f.name) != getattr(b, f.name)}


def effective_config(suite: Suite, user: Config | None) -> Config:
    """The suite's configuration with the user's adaptable keys on top.

    Raises CannotAdapt when the user's configuration differs from the suite's in a key whose
    effect on the expectations is not mechanical.
    """
    base = load(suite.config)
    if user is None:
        return base
    blocking = differing_fields(base, user) - ADAPTABLE
    if blocking:
        raise CannotAdapt("the configuration changes " + ", ".join(sorted(blocking)))
    overlay = {k: v for k, v in user.raw.items() if k in ADAPTABLE}
    return load({**suite.config, **copy.deepcopy(dict(overlay))})


# ---- adapting expectations ------------------------------------------------------------


def _selector_labels(selector: str) -> tuple[dict[str, str], set[str]]:
    """Label values that satisfy the selector, and the names of its equality matchers."""
    values, equal = {}, set()
    for m in selector_matchers(selector):
        if op(m) == "=":
            values[m.name] = m.value
            equal.add(m.name)
        elif op(m) == "=~":
            first = m.value.split("|")[0]
            if re.escape(first) != first or not re.fullmatch(m.value, first):
                raise CannotAdapt(
                    f"selector matcher {m.name}=~{m.value!r}: no literal alternative to label series with"
                )
            values[m.name] = first
        else:  # != and !~ : the suites' series must already satisfy them
            current = "x509-certificate-exporter" if m.name == "job" else ""
            ok = (current != m.value) if op(m) == "!=" else not re.fullmatch(m.value, current)
            if not ok:
                raise CannotAdapt(f"selector matcher on {m.name} excludes the suites' series")
    return values, equal


def _matches(selector: str, labels: dict[str, str]) -> bool:
    return all(matches(m, labels.get(m.name, "")) for m in selector_matchers(selector))


def _relabel_series(series: str, base_selector: str, targets: dict[str, str], everywhere: dict[str, str]) -> str:
    """Series of the exporter's targets get `targets`; every series gets `everywhere`."""
    expr = parse_vector_selector(series)
    labels = {m.name: m.value for m in expr.matchers.matchers}
    if _matches(base_selector, labels):
        labels.update(targets)
    labels.update(everywhere)
    return selector_text(expr.name or "", labels)


# What each alert is about (certificate or exporter), for its dashboard link.
KINDS = {a.base: a.kind for a in alerts(load({"exporter": {"exposeNotBefore": True, "exposePerCertError": True}}))}

# Recorded from the per-certificate truth, without the reporters' labels.
CERTIFICATE_RECORDS = frozenset(
    (truth.NOT_AFTER, truth.NOT_BEFORE, truth.EXPIRES_IN, truth.VALID_SINCE, truth.CRL_NEXT_UPDATE, truth.BUNDLE_ERROR)
    + dashboard_rules.RECORDS
    + (policies.WARNING, policies.CRITICAL, policies.CRL_WARNING)
)


def _kept(sample: dict, labels: dict[str, str], reporter: set[str]) -> dict[str, str]:
    """The selector's labels a recorded series keeps: the per-certificate truth aggregates the
    reporters' labels away (mixin.truth)."""
    name = parse_vector_selector(sample["labels"]).name or ""
    if name in CERTIFICATE_RECORDS:
        return {k: v for k, v in labels.items() if k not in reporter}
    return labels


def adapt(doc: dict, base: Config, cfg: Config) -> dict:
    """A suite file's expectations rewritten from configuration `base` to `cfg`."""
    doc = copy.deepcopy(doc)
    new_labels, equal = ({}, set()) if cfg.selector == base.selector else _selector_labels(cfg.selector)
    cluster = {}
    if cfg.multiCluster and not base.multiCluster:
        cluster[cfg.clusterLabel] = CLUSTER_VALUE
    elif cfg.multiCluster != base.multiCluster or (base.multiCluster and cfg.clusterLabel != base.clusterLabel):
        raise CannotAdapt("only single-cluster suites can be adapted to multiCluster")
    # Labels the deduplicated certificate alerts aggregate away.
    reporter = set(cfg.reporterLabels) if cfg.deduplicates else set()
    for test in doc.get("tests", []):
        for item in test.get("input_series", []):
            item["series"] = _relabel_series(item["series"], base.selector, new_labels, cluster)
        # Recorded series keep the cluster label and every label of the selector.
        for expr_test in test.get("promql_expr_test", []):
            for sample in expr_test.get("exp_samples") or []:
                sample["labels"] = _relabel_series(
                    sample["labels"], "", {}, {**_kept(sample, new_labels, reporter), **cluster}
                )
        for rule_test in test.get("alert_rule_test", []):
            name = rule_test["alertname"]
            if not name.startswith(base.alertNamePrefix):
                raise CannotAdapt(f"alert {name} does not carry the prefix {base.alertNamePrefix!r}")
            short = name[len(base.alertNamePrefix) :]
            rule_test["alertname"] = cfg.alert_name(short)
            if short in cfg.disabledAlerts:
                rule_test["exp_alerts"] = []
            for alert in rule_test.get("exp_alerts") or []:
                labels = alert.setdefault("exp_labels", {})
                per_target = "instance" in labels
                labels["severity"] = cfg.severities[short]
                labels.update(cfg.extraAlertLabels)
                renamed = {}
                for label, value in new_labels.items():
                    # absent() keeps exactly the selector's equality matchers; the others
                    # keep the label unless deduplication aggregates it away.
                    keep = label in equal if short == "ExporterAbsent" else per_target or label not in reporter
                    if keep:
                        if labels.get(label) not in (None, value):
                            renamed[str(labels[label])] = value
                        labels[label] = value
                if cluster and short != "ExporterAbsent":
                    labels[cfg.clusterLabel] = CLUSTER_VALUE
                ann = alert.setdefault("exp_annotations", {})
                if "runbook_url" in ann:
                    ann["runbook_url"] = cfg.runbook_url(short)
                ann.update(cfg.extraAlertAnnotations)
                url = rendered_dashboard_url(cfg, KINDS[short], {k: str(v) for k, v in labels.items()})
                if url:
                    ann["dashboard_url"] = url
                if "description" in ann and base.selector != cfg.selector:
                    text = ann["description"].replace("{" + base.selector + "}", "{" + cfg.selector + "}")
                    for old, value in renamed.items():
                        text = re.sub(rf"(?<![\w.-]){re.escape(old)}(?![\w.-])", value, text)
                    ann["description"] = text
    return doc


# ---- running ---------------------------------------------------------------------------


def run_suite(
    suite: Suite,
    cfg: Config,
    workdir: Path,
    rules_cfg: Config | None = None,
    mutate: Callable[[str], str] | None = None,
    files: list[Traversable] | None = None,
) -> promtool.Result:
    """Generate the rules for `cfg`, adapt the suite's files to it, run promtool test rules.

    `rules_cfg` and `mutate` (applied to the rule file's text) exist to prove that the suites
    catch a wrong rule: the expectations stay those of `cfg`.
    """
    base = load(suite.config)
    write(rules_cfg or cfg, workdir)
    text = (workdir / ALERTS_FILE).read_text()
    (workdir / RULE_FILE_NAME).write_text(mutate(text) if mutate else text)
    (workdir / RECORDING_FILE_NAME).write_text((workdir / RULES_FILE).read_text())
    written = []
    for src in files or suite.files:
        doc = yaml.safe_load(src.read_text(encoding="utf-8"))
        doc["rule_files"] = [RULE_FILE_NAME, RECORDING_FILE_NAME]
        dst = workdir / src.name
        dst.write_text(yaml.safe_dump(adapt(doc, base, cfg), sort_keys=False))
        written.append(dst)
    return promtool.test_rules(written)


def run_suites(user: Config | None = None, root: Traversable = SUITES_DIR, variants: bool = True) -> Report:
    """Every suite under its own configuration (and the variants), or adapted to `user`."""
    report = Report()
    plan: list[tuple[str, Suite, Config | None]] = []
    for suite in suites(root):
        plan.append((suite.name, suite, user))
        if user is None and variants:
            runs = VARIANT_RUNS.get(suite.name, ())
            plan += [(f"{suite.name} as {v}", suite, variant_config(suite, v)) for v in runs]
    for label, suite, overlay in plan:
        try:
            cfg = effective_config(suite, overlay)
        except CannotAdapt as exc:
            report.lines.append(f"skipped {label}: {exc}")
            continue
        with tempfile.TemporaryDirectory(prefix="x509-mixin-test-") as tmp:
            result = run_suite(suite, cfg, Path(tmp))
        report.ran += 1
        if result.ok:
            report.lines.append(f"ok      {label} ({len(suite.files)} files)")
        else:
            report.ok = False
            report.lines.append(f"FAILED  {label}:\n{result.output}")
    if report.ran == 0:
        report.ok = False
        report.lines.append("no suite could run under this configuration")
    return report
