"""Certificates overview: what is expired or about to be, and where."""

from __future__ import annotations

import json

from x509_mixin.catalogue.metrics import PARSE_REASONS
from x509_mixin.mixin import dashboard_common as c
from x509_mixin.mixin import dashboard_rules as r
from x509_mixin.mixin import grafana as g
from x509_mixin.mixin import policies, truth
from x509_mixin.mixin import promql as q
from x509_mixin.mixin.config import Config

SOONEST = 50


def _state(cfg: Config, state: str) -> str:
    return f"sum({c.rec(cfg, r.STATE, 'state=' + json.dumps(state))})"


def _state_stat(cfg: Config, title: str, state: str, what: str, color: str, width: int) -> g.Panel:
    return g.stat(
        title,
        f"Certificates {what}. From the recording rule {r.STATE} (0 once none is left); {c.counted(cfg)}.",
        "none",
        g.Query(_state(cfg, state)),
        width=width,
        thresholds=[("green", None), (color, 1)] if color != "green" else [("green", None)],
    )


def _state_stats(cfg: Config) -> list[g.Panel]:
    """One stat per state; under certificateOverrides the thresholds are each certificate's own,
    so the titles name none, and the ignored certificates have a stat of their own."""
    policed = bool(cfg.certificateOverrides)

    def limit(name: str, days: float) -> str:
        return f"their own {name} (certificateOverrides; globally {days:g} days)" if policed else f"{days:g} days"

    crit, warn = limit("criticalDaysLeft", cfg.criticalDaysLeft), limit("warningDaysLeft", cfg.warningDaysLeft)
    states = [
        ("Expired", "expired", "past their expiry date", "red"),
        ("Critical" if policed else f"Critical (< {crit})", "critical", f"expiring within {crit}", "red"),
        (
            "Warning" if policed else f"Warning (< {warn})",
            "warning",
            f"expiring within {warn} but not {crit}",
            "orange",
        ),
        ("Fine", "fine", f"with {warn} or more left", "green"),
    ]
    if policies.ignored(cfg) is not None:
        states.append(("Ignored", "ignored", "a certificateOverrides entry ignores (no alert)", "blue"))
    width = g.GRID_WIDTH // len(states)
    return [_state_stat(cfg, *state, width=width) for state in states]


def _soonest_table(cfg: Config) -> g.Panel:
    columns = (
        c.cluster_column(cfg)
        + ("bundle", "place_kind")
        + c.locality_columns(cfg)
        + ("subject_CN", "issuer_CN", "serial_number", "Value")
    )
    # The subject as a literal value (the inventory's filters are regex-escaped by Grafana), and
    # the data source and cluster this table was read from.
    scope = "&".join("${" + v + ":queryparam}" for v in ("datasource",) + (("cluster",) if cfg.multiCluster else ()))
    where = c.recorded_matchers(cfg, per_certificate=True)
    policed = policies.policed(cfg, truth.NOT_AFTER, c.certificates(cfg), where)
    return g.table(
        "Certificates expiring soonest",
        f"The {SOONEST} certificates with the least time left (negative: expired), with their place, subject and "
        f"issuer; red below {cfg.criticalDaysLeft} days, orange below {cfg.warningDaysLeft} days.",
        "s",
        # Certificates a certificateOverrides entry ignores are not listed (the inventory has them).
        [g.Query(f"bottomk({SOONEST}, {c.described(policed)} - time())", instant=True)],
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
                        "&var-subject=${__value.raw:percentencode}",
                    }
                ],
            ),
        ],
    )


def panels(cfg: Config) -> list:
    state_by = q.by_scope(cfg, "state")
    out: list = [
        g.row("Expiry"),
        *_state_stats(cfg),
        g.timeseries(
            "Certificates by state" + (" and cluster" if cfg.multiCluster else ""),
            "Certificates per expiry state over time"
            + (", per cluster" if cfg.multiCluster else "")
            + ": a renewal moves a certificate back to fine.",
            "none",
            [g.Query(f"sum {state_by} ({c.rec(cfg, r.STATE)})", c.cluster_legend(cfg, "{{state}}"))],
            stack=True,
        ),
        g.timeseries(
            "Upcoming expiries",
            "Certificates that expire within 7, 30, 90, 180 and 365 days (not yet expired), over time.",
            "none",
            [
                g.Query(
                    f"sum {q.by_scope(cfg, 'within')} ({c.rec(cfg, r.WITHIN)})",
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
            g.Query(f"topk(20, sum by (issuer_CN) ({c.rec(cfg, r.ISSUER)}))", "{{issuer_CN}}", instant=True),
        ),
        g.bargauge(
            "Certificates by namespace",
            "Certificates held in Secrets and ConfigMaps, per namespace.",
            "none",
            g.Query(
                f"topk(20, sum by ({r.OBJECT_NAMESPACE}) ({c.rec(cfg, r.NAMESPACE)}))",
                "{{" + r.OBJECT_NAMESPACE + "}}",
                instant=True,
            ),
        ),
        g.bargauge(
            "Certificates by place",
            "Certificates per kind of place: file, kubeconfig, Secret, ConfigMap, caBundle.",
            "none",
            g.Query(f"sum by (place_kind) ({c.rec(cfg, r.PLACE_COUNT)})", "{{place_kind}}", instant=True),
        ),
        g.bargauge(
            "Soonest expiry by place",
            "Time left to the first expiry among the certificates of each kind of place (negative: one has expired).",
            "s",
            g.Query(
                f"min by (place_kind) ({c.rec(cfg, r.PLACE_SOONEST)}) - time()",
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
    reasons = f'reason=~"{"|".join(PARSE_REASONS)}"'
    out = [
        g.timeseries(
            "Bundles that failed to parse",
            "Parse failures per interval by exporter, source and reason (bad PEM, DER, PKCS#12, JKS or CRL, wrong "
            "passphrase, no certificate, kubeconfig decoding, timeout), from x509_source_errors_total; a counter "
            "created at its first failure shows it too.",
            "short",
            [
                g.Query(
                    c.increase(cfg, "x509_source_errors_total", ("source_name", "reason"), reasons),
                    c.cluster_legend(cfg, "{{instance}} {{source_name}} {{reason}}"),
                )
            ],
            width=24 if not cfg.gate("exposePerCertError") else 12,
        )
    ]
    if cfg.gate("exposePerCertError"):
        failing = f"{c.certificates(cfg, truth.BUNDLE_ERROR)} == 1"
        out.append(
            g.table(
                "Bundles in error",
                "Bundles the exporter cannot read or parse now (x509_cert_error); the reason is in the panel beside.",
                "none",
                [g.Query(c.described(failing), instant=True)],
                width=12,
                height=8,
                transformations=[
                    g.organize(c.cluster_column(cfg) + ("bundle", "place_kind") + c.locality_columns(cfg), c.HEADERS)
                ],
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
