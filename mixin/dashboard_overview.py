"""Certificates overview: what is expired or about to be, and where."""

from __future__ import annotations

import json

from x509_mixin.mixin import dashboard_common as c
from x509_mixin.mixin import dashboard_rules as r
from x509_mixin.mixin import grafana as g
from x509_mixin.mixin.config import Config

SOONEST = 50
NAMED = 'namespace!=""'
PARSE_REASONS = (
    "bad_pem|bad_der|bad_crl|bad_pkcs12|bad_jks|bad_passphrase|no_certificate_found|decode_failed|parse_timeout"
)


def _state(cfg: Config, state: str) -> str:
    return f"sum({c.sel(cfg, r.STATE, 'state=' + json.dumps(state), instance=False)})"


def _state_stat(cfg: Config, title: str, state: str, what: str, color: str) -> g.Panel:
    counted = (
        "a certificate reported by several exporters counts once"
        if cfg.deduplicates
        else "deduplicateReporters is off: each exporter's report counts"
    )
    return g.stat(
        title,
        f"Certificates {what}. From the recording rule {r.STATE}; {counted}.",
        "none",
        g.Query(_state(cfg, state)),
        thresholds=[("green", None), (color, 1)] if color != "green" else [("green", None)],
    )


def _soonest_table(cfg: Config) -> g.Panel:
    columns = c.cluster_column(cfg) + ("bundle", "place_kind", "subject_CN", "issuer_CN", "serial_number", "Value")
    scope = "&".join("${" + v + ":queryparam}" for v in (("cluster",) if cfg.multiCluster else ()) + ("job",))
    return g.table(
        "Certificates expiring soonest",
        f"The {SOONEST} certificates with the least time left (negative: expired), with their place, subject and "
        f"issuer; red below {cfg.criticalDaysLeft} days, orange below {cfg.warningDaysLeft} days.",
        "s",
        [g.Query(f"bottomk({SOONEST}, {c.described(c.certificates(cfg))} - time())", instant=True)],
        height=12,
        transformations=[g.organize(columns, {**c.HEADERS, "Value": "Time left"}), g.sort_by("Time left")],
        overrides=[
            g.coloured_cells("Time left", "s", c.day_thresholds(cfg)),
            # From a certificate to its history and chain in the inventory.
            g.override(
                "Subject CN",
                links=[
                    {
                        "title": "Open in the certificate inventory",
                        "targetBlank": False,
                        "url": f"/d/{c.uid(cfg, 'inventory')}?${{__url_time_range}}&{scope}"
                        "&var-subject=${__value.raw}",
                    }
                ],
            ),
        ],
    )


def panels(cfg: Config) -> list:
    state_by = c.by(cfg, "state")
    out: list = [
        g.row("Expiry"),
        _state_stat(cfg, "Expired", "expired", "past their expiry date", "red"),
        _state_stat(
            cfg,
            f"Critical (< {cfg.criticalDaysLeft} days)",
            "critical",
            f"expiring within {cfg.criticalDaysLeft} days",
            "red",
        ),
        _state_stat(
            cfg,
            f"Warning (< {cfg.warningDaysLeft} days)",
            "warning",
            f"expiring within {cfg.warningDaysLeft} days but not {cfg.criticalDaysLeft}",
            "orange",
        ),
        _state_stat(cfg, "Fine", "fine", f"with {cfg.warningDaysLeft} days or more left", "green"),
        g.timeseries(
            "Certificates by state" + (" and cluster" if cfg.multiCluster else ""),
            "Certificates per expiry state over time"
            + (", per cluster" if cfg.multiCluster else "")
            + ": a renewal moves a certificate back to fine.",
            "none",
            [g.Query(f"sum {state_by} ({c.sel(cfg, r.STATE, instance=False)})", c.cluster_legend(cfg, "{{state}}"))],
            stack=True,
        ),
        g.timeseries(
            "Upcoming expiries",
            "Certificates that expire within 7, 30, 90, 180 and 365 days (not yet expired), over time.",
            "none",
            [
                g.Query(
                    f"sum {c.by(cfg, 'within')} ({c.sel(cfg, r.WITHIN, instance=False)})",
                    c.cluster_legend(cfg, "within {{within}}"),
                )
            ],
        ),
        _soonest_table(cfg),
        g.row("Where the certificates are"),
        g.bargauge(
            "Certificates by issuer",
            "The 20 issuers (CN) with the most certificates.",
            "none",
            g.Query(
                f"topk(20, sum by (issuer_CN) ({c.sel(cfg, r.ISSUER, instance=False)}))", "{{issuer_CN}}", instant=True
            ),
        ),
        g.bargauge(
            "Certificates by namespace",
            "Certificates held in Secrets and ConfigMaps, per namespace.",
            "none",
            g.Query(
                f"topk(20, sum by (namespace) ({c.sel(cfg, r.NAMESPACE, NAMED, False)}))", "{{namespace}}", instant=True
            ),
        ),
        g.bargauge(
            "Certificates by place",
            "Certificates per kind of place: file, kubeconfig, Secret, ConfigMap, caBundle.",
            "none",
            g.Query(
                f"sum by (place_kind) ({c.sel(cfg, r.PLACE_COUNT, instance=False)})", "{{place_kind}}", instant=True
            ),
        ),
        g.bargauge(
            "Soonest expiry by place",
            "Time left to the first expiry among the certificates of each kind of place (negative: one has expired).",
            "s",
            g.Query(
                f"min by (place_kind) ({c.sel(cfg, r.PLACE_SOONEST, instance=False)}) - time()",
                "{{place_kind}}",
                instant=True,
            ),
            thresholds=c.day_thresholds(cfg),
        ),
        g.row("Failures"),
    ]
    out += failures(cfg)
    return out


def failures(cfg: Config) -> list:
    errors = c.sel(cfg, "x509_source_errors_total", f'reason=~"{PARSE_REASONS}"')
    out = [
        g.timeseries(
            "Bundles that failed to parse",
            "Parse failures per second by source and reason (bad PEM, DER, PKCS#12, JKS or CRL, wrong passphrase, "
            "no certificate, kubeconfig decoding, timeout), from x509_source_errors_total.",
            "cps",
            [
                g.Query(
                    f"sum {c.by(cfg, 'source_name', 'reason')} (rate({errors}[$__rate_interval]))",
                    c.cluster_legend(cfg, "{{source_name}} {{reason}}"),
                )
            ],
            width=24 if not cfg.gate("exposePerCertError") else 12,
        )
    ]
    if cfg.gate("exposePerCertError"):
        failing = f"{c.certificates(cfg, 'x509_cert_error')} == 1"
        out.append(
            g.table(
                "Bundles in error",
                "Bundles the exporter cannot read or parse now (x509_cert_error); the reason is in the panel beside.",
                "none",
                [g.Query(c.described(failing), instant=True)],
                width=12,
                height=8,
                transformations=[g.organize(c.cluster_column(cfg) + ("bundle", "place_kind"), c.HEADERS)],
            )
        )
    return out


def dashboard(cfg: Config) -> dict:
    return g.dashboard_json(
        c.dashboard(
            cfg,
            "overview",
            "Expired and expiring X.509 certificates watched by x509-certificate-exporter, "
            "where they are and what failed to parse.",
        ),
        panels(cfg),
        c.target_variables(cfg),
    )
