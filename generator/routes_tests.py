"""Routing cases for the generated Alertmanager configuration, run with `amtool config routes test`.

Every alert the configuration generates must reach the receiver of its severity; a name the
configuration does not generate (disabled, gated off, or another team's alert that merely
starts like one of ours) must not reach the mixin's receivers but the default one.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from x509_mixin.generator import amtool
from x509_mixin.generator.build import alertmanager_text
from x509_mixin.mixin.alertmanager import default_receiver, owner_receiver, owners, receiver
from x509_mixin.mixin.alerts import CERTIFICATE, alerts
from x509_mixin.mixin.config import ALERT_NAMES, ERROR_ALERTS, Config, load

# Non-default configurations whose routes `x509-mixin test` also proves (docs/alertmanager.md).
VARIANTS: dict[str, dict[str, Any]] = {
    "snippet, chart names": {
        "alertNamePrefix": "",
        "severities": {"CertificateRenewal": "info", "ExporterDown": "critical", "CRLNeedsRefresh": "info"},
        "disabledAlerts": ["KubeWatchResyncStorm"],
        "extraAlertLabels": {"team": "pki"},
        "alertmanager": {
            "output": "snippet",
            "receivers": {"critical": "pagerduty-oncall", "warning": "jira-pki", "info": None},
        },
    },
    "owners and error reasons": {
        "errorsByReason": True,
        "certificateOverrides": [
            {"matchers": 'secret_namespace=~"payments|billing"', "warningDaysLeft": 60, "labels": {"team": "payments"}},
            {"matchers": 'issuer_O="Let\'s Encrypt"', "warningDaysLeft": 20, "labels": {"team": "web"}},
        ],
        "severities": {"CRLNeedsRefresh": "info"},
        "alertmanager": {
            "labelReceivers": {
                "team": {"payments": "payments-oncall", "web": None},
                "reason": {"bad_passphrase": "keystore-owners", "http_403": "platform-rbac"},
            }
        },
    },
    "every alert, warnings nowhere, info to chat": {
        "multiCluster": True,
        "exporter": {"exposeNotBefore": True, "exposePerCertError": True},
        "severities": {"CertificateNotYetValid": "info"},
        "alertmanager": {"receivers": {"warning": None, "info": "pki-chat"}},
    },
}


@dataclass(frozen=True)
class Case:
    labels: dict[str, str]
    expected: str
    note: str = ""  # why the case is there: a name not generated, an owner label


@dataclass(frozen=True)
class Outcome:
    case: Case
    got: list[str]

    @property
    def ok(self) -> bool:
        return self.got == [self.case.expected]


def cases(cfg: Config) -> list[Case]:
    extra = dict(cfg.extraAlertLabels)
    out = []
    for alert in alerts(cfg):
        severity = cfg.severities[alert.base]
        labels = {"alertname": cfg.alert_name(alert.base), "severity": severity, **extra}
        out.append(Case(labels, receiver(cfg, severity)))
        # and to the receiver its labels choose: a certificateOverrides owner, an error reason
        if alert.kind == CERTIFICATE or (cfg.errorsByReason and alert.base in ERROR_ALERTS):
            for label, value, name in owners(cfg, alert.kind):
                case = Case({**labels, label: value}, owner_receiver(cfg, severity, name), f"{label}={value}")
                out.append(case)
    other = amtool.HOST_RECEIVER if cfg.alertmanager.output == "snippet" else default_receiver(cfg)
    generated = {a.base for a in alerts(cfg)}
    foreign = [cfg.alert_name("CertificateExpiration") + "Soon"]
    foreign += [cfg.alert_name(base) for base in ALERT_NAMES if base not in generated]
    out += [Case({"alertname": name, "severity": "critical", **extra}, other, "not generated") for name in foreign]
    if extra:  # one of our names, without the mixin's own labels: someone else's alert
        labels = {"alertname": cfg.alert_name("CertificateExpiration"), "severity": "critical"}
        out.append(Case(labels, other, "without " + ", ".join(f"{k}={v}" for k, v in extra.items())))
    return out


def run(cfg: Config) -> list[Outcome]:
    with tempfile.TemporaryDirectory(prefix="x509-mixin-routes-") as tmp:
        generated = Path(tmp) / "alertmanager.yaml"
        generated.write_text(alertmanager_text(cfg))
        path = amtool.loadable(cfg, generated)
        return [Outcome(case, amtool.route(path, case.labels)) for case in cases(cfg)]


def report(user: Config | None) -> tuple[bool, list[str]]:
    """`x509-mixin test`'s lines: the defaults and the variants, or the user's configuration."""
    plan = [("alertmanager routes", user or load())]
    if user is None:
        plan += [(f"alertmanager routes as {name}", load(data)) for name, data in VARIANTS.items()]
    ok, lines = True, []
    for label, cfg in plan:
        outcomes = run(cfg)
        wrong = [o for o in outcomes if not o.ok]
        if wrong:
            ok = False
            lines.append(f"FAILED  {label}:")
            lines += [f"  {o.case.labels}: expected {o.case.expected}, amtool says {', '.join(o.got)}" for o in wrong]
        else:
            lines.append(f"ok      {label} ({len(outcomes)} cases, amtool config routes test)")
    return ok, lines
