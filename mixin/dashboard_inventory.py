"""Certificate inventory: find certificates by subject, issuer, namespace, path or serial, and
see their validity, time left, the history of their expiry date and the bundles (chains)
they belong to."""

from __future__ import annotations

from x509_mixin.mixin import dashboard_common as c
from x509_mixin.mixin import grafana as g
from x509_mixin.mixin import promql as q
from x509_mixin.mixin.config import Config

FILTERS = (
    ("subject", "Subject CN", "subject_CN"),
    ("issuer", "Issuer CN", "issuer_CN"),
    ("path", "File path", "filepath"),
    ("serial", "Serial", "serial_number"),
)


def variables(cfg: Config) -> list:
    out = c.target_variables(cfg)
    for name, label, field in FILTERS:
        out.append(g.textbox_variable(name, label, f"Regular expression on {field} (.* for all)."))
    out.insert(
        len(out) - 2,
        g.textbox_variable(
            "namespace", "Namespace", "Regular expression on the Secret's or ConfigMap's namespace (.* for all)."
        ),
    )
    return out


def selected(cfg: Config, metric: str = "x509_cert_not_after") -> str:
    """The certificates matching the filters, once each. A certificate's namespace is its
    Secret's or its ConfigMap's, hence the two selectors."""
    filters = ", ".join(f'{field}=~"${name}"' for name, _, field in FILTERS)
    either = " or ".join(
        c.sel(cfg, metric, f'{filters}, {ns}=~"$namespace"') for ns in ("secret_namespace", "configmap_namespace")
    )
    return q.per_certificate(cfg, f"({either})")


def _certificates_table(cfg: Config) -> g.Panel:
    columns = c.cluster_column(cfg) + ("bundle", "place_kind", "subject_CN", "issuer_CN", "serial_number")
    queries = [
        g.Query(f"{c.described(selected(cfg))} * 1000", instant=True),
        g.Query(f"{c.described(selected(cfg))} - time()", instant=True),
    ]
    values = ["Value #A", "Value #B"]
    names = {"Value #A": "Not after", "Value #B": "Time left"}
    if cfg.gate("exposeNotBefore"):
        queries.append(g.Query(f"{c.described(selected(cfg, 'x509_cert_not_before'))} * 1000", instant=True))
        values.insert(0, "Value #C")
        names["Value #C"] = "Not before"
    overrides = [
        g.override("Not after", unit="dateTimeAsIso"),
        g.coloured_cells("Time left", "s", c.day_thresholds(cfg)),
    ]
    if cfg.gate("exposeNotBefore"):
        overrides.insert(0, g.override("Not before", unit="dateTimeAsIso"))
    return g.table(
        "Certificates",
        "The matching certificates, one row each, sorted by bundle so that a chain's certificates "
        "are together: validity period"
        + (
            " (not before, not after)"
            if cfg.gate("exposeNotBefore")
            else " end (not before needs the exporter's exposeNotBefore)"
        )
        + " and time left, coloured by the configured thresholds.",
        "s",
        queries,
        height=12,
        transformations=[
            {"id": "merge", "options": {}},
            g.organize(columns + tuple(values), {**c.HEADERS, **names}),
            g.sort_by("Bundle"),
        ],
        overrides=overrides,
    )


def _crls(cfg: Config) -> g.Panel:
    """CRLs are series of their own (x509_crl_*); the issuer and path filters apply to them."""
    filters = 'issuer_CN=~"$issuer", filepath=~"$path"'
    crls = q.per_certificate(cfg, c.sel(cfg, "x509_crl_next_update", filters))
    columns = c.cluster_column(cfg) + ("bundle", "issuer_CN", "crl_number", "Value")
    warn = [("red", None), ("orange", 0), ("green", cfg.crlWarningDaysLeft * 86400)]
    return g.table(
        "CRLs",
        f"Certificate revocation lists and the time to their next update: red once stale, orange within "
        f"{cfg.crlWarningDaysLeft} days (CRLNeedsRefresh).",
        "s",
        [g.Query(f"{c.with_bundle(crls)} - time()", instant=True)],
        width=24,
        height=6,
        transformations=[g.organize(columns, {**c.HEADERS, "Value": "Next update in"}), g.sort_by("Next update in")],
        overrides=[g.coloured_cells("Next update in", "s", warn)],
    )


def panels(cfg: Config) -> list:
    certs = selected(cfg)
    history = f"max without (serial_number) ({certs}) * 1000"
    return [
        g.stat(
            "Matching certificates",
            "Certificates matching the filters, each counted once.",
            "none",
            g.Query(f"count({certs})"),
        ),
        g.stat(
            "Expired",
            "Matching certificates past their expiry date.",
            "none",
            g.Query(f"count({certs} - time() < 0)"),
            thresholds=[("green", None), ("red", 1)],
        ),
        g.stat(
            "Soonest expiry",
            "Time left to the first expiry among the matching certificates.",
            "s",
            g.Query(f"min({certs}) - time()"),
            thresholds=c.day_thresholds(cfg),
            no_value=None,
        ),
        g.stat(
            "Issuers",
            "Distinct issuers (CN) of the matching certificates.",
            "none",
            g.Query(f"count(count by (issuer_CN) ({certs}))"),
        ),
        _certificates_table(cfg),
        g.timeseries(
            "Expiry date history",
            "Each place's expiry date (not after) over time, the serial left out: a renewal "
            "shows as a step up, a certificate that is not renewed as a flat line. Narrow it with the filters.",
            "dateTimeAsIso",
            [g.Query(c.described(history), c.cluster_legend(cfg, "{{subject_CN}} ({{place_kind}} {{bundle}})"))],
            width=24,
            height=10,
        ),
        _crls(cfg),
        g.table(
            "Certificates per bundle",
            "How many certificates each bundle holds: a chain's leaf, "
            "intermediates and root are separate series of the same bundle.",
            "none",
            [g.Query(f"count {c.by(cfg, 'bundle', 'place_kind')} ({c.described(certs)})", instant=True)],
            height=8,
            overrides=[g.override("Value", displayName="Certificates")],
        ),
    ]


def dashboard(cfg: Config) -> dict:
    return g.dashboard_json(
        c.dashboard(
            cfg,
            "inventory",
            "Search the certificates by subject, issuer, namespace, path or serial: "
            "validity, time left, renewals and chains.",
        ),
        panels(cfg),
        variables(cfg),
    )
