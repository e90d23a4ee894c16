"""Certificate inventory: find certificates by subject, issuer, namespace, path or serial, and
see their validity, time left, the history of their expiry date and the bundles (chains)
they belong to. Every panel reads the per-certificate truth (mixin.truth)."""

from __future__ import annotations

from x509_mixin.mixin import dashboard_common as c
from x509_mixin.mixin import dashboard_rules as r
from x509_mixin.mixin import grafana as g
from x509_mixin.mixin import policies, truth
from x509_mixin.mixin import promql as q
from x509_mixin.mixin.config import Config
from x509_mixin.mixin.overrides import Override

# (variable, label, certificate label). Query variables with "All": Grafana regex-escapes a
# chosen value, so a wildcard CN (`*.example.com`) or `ACME Device (G2)` matches literally.
FILTERS = (
    ("subject", "Subject CN", "subject_CN"),
    ("issuer", "Issuer CN", "issuer_CN"),
    ("path", "File path", "filepath"),
)


def variables(cfg: Config) -> list:
    out = [v for v in c.target_variables(cfg) if v[0].name in ("datasource", "cluster")]
    for name, label, field in FILTERS:
        out.append(
            g.query_variable(name, label, f"label_values({c.certificates(cfg)}, {field})", f"Certificates by {field}.")
        )
    out.insert(
        len(out) - 1,
        g.query_variable(
            "namespace",
            "Namespace",
            f"label_values({c.rec(cfg, r.NAMESPACE)}, {r.OBJECT_NAMESPACE})",
            "Certificates in Secrets and ConfigMaps of these namespaces (All: also those in files).",
        ),
    )
    out.append(g.textbox_variable("serial", "Serial", "A serial number (decimal digits, exact), or .* for all."))
    return out


def selected(cfg: Config, record: str = truth.NOT_AFTER) -> str:
    """The certificates matching the filters, once each. A certificate's namespace is its
    Secret's or its ConfigMap's, hence the two selectors (with All, both match all)."""
    filters = ", ".join(f'{field}=~"${name}"' for name, _, field in FILTERS) + ', serial_number=~"$serial"'
    either = " or ".join(
        c.certificates(cfg, record, f'{filters}, {ns}=~"$namespace"')
        for ns in ("secret_namespace", "configmap_namespace")
    )
    return f"({either})"


def _columns(cfg: Config) -> tuple[str, ...]:
    return (
        c.cluster_column(cfg)
        + ("bundle", "place_kind")
        + c.locality_columns(cfg)
        + ("subject_CN", "issuer_CN", "serial_number")
    )


def _certificates_table(cfg: Config) -> g.Panel:
    queries = [
        g.Query(f"{c.described(selected(cfg))} * 1000", instant=True),
        g.Query(f"{c.described(selected(cfg))} - time()", instant=True),
    ]
    values = ["Value #A", "Value #B"]
    names = {"Value #A": "Not after", "Value #B": "Time left"}
    if cfg.gate("exposeNotBefore"):
        queries.append(g.Query(f"{c.described(selected(cfg, truth.NOT_BEFORE))} * 1000", instant=True))
        values.insert(0, "Value #C")
        names["Value #C"] = "Not before"
    overrides = [
        g.override("Not after", unit="dateTimeAsIso"),
        g.coloured_cells("Time left", "s", c.day_thresholds(cfg)),
    ]
    if cfg.gate("exposeNotBefore"):
        overrides.insert(0, g.override("Not before", unit="dateTimeAsIso"))
    if cfg.certificateOverrides:
        # Which certificateOverrides entry applies to each certificate (0: the global settings).
        where = c.recorded_matchers(cfg, per_certificate=True)
        entry = policies.chain(cfg, truth.NOT_AFTER, _index, ignored=None, where=where)
        # Without the entries' labels, which would keep the row from merging with the others.
        policy = f"max without ({', '.join(policies.label_names(cfg))}) ({policies.also(cfg, entry, selected(cfg))})"
        ref = chr(ord("A") + len(queries))
        queries.append(g.Query(c.described(policy), instant=True))
        values.append(f"Value #{ref}")
        names[f"Value #{ref}"] = "Policy"
        overrides.append(g.override("Policy", unit="none", mappings=[_policy_names(cfg)]))
    return g.table(
        "Certificates",
        "The matching certificates, one row each (a file that one node holds shows its node), sorted by bundle "
        "so that a chain's certificates are together: validity period"
        + (
            " (not before, not after)"
            if cfg.gate("exposeNotBefore")
            else " end (not before needs the exporter's exposeNotBefore)"
        )
        + " and time left, coloured by the global thresholds"
        + (
            "; Policy names the certificateOverrides entry that decides a certificate's thresholds, labels or that "
            "it is ignored (0: none, the global settings)."
            if cfg.certificateOverrides
            else "."
        ),
        "s",
        queries,
        height=12,
        transformations=[
            {"id": "merge", "options": {}},
            g.organize(_columns(cfg) + tuple(values), {**c.HEADERS, **names}),
            g.sort_by("Bundle"),
        ],
        overrides=overrides,
    )


def _index(o: Override | None) -> str:
    return "0" if o is None else str(o.index)


def _policy_names(cfg: Config) -> dict:
    """Grafana value mappings: an entry's number -> its matchers and what it does."""
    names = {"0": {"text": "global thresholds"}}
    for o in cfg.certificateOverrides:
        what = (
            "ignored"
            if o.ignore
            else f"warning {o.warningDaysLeft:g}, critical {o.criticalDaysLeft:g} days"
            + "".join(f", {k}={v}" for k, v in sorted(o.labels.items()))
        )
        names[str(o.index)] = {"text": f"{o.index}: {o.selector} ({what})"}
    return {"type": "value", "options": names}


def _crls(cfg: Config) -> g.Panel:
    """CRLs are series of their own; the issuer and path filters apply to them."""
    crls = c.certificates(cfg, truth.CRL_NEXT_UPDATE, 'issuer_CN=~"$issuer", filepath=~"$path"')
    columns = c.cluster_column(cfg) + ("bundle",) + c.locality_columns(cfg) + ("issuer_CN", "crl_number", "Value")
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
    node = "".join(f" {{{{{label}}}}}" for label in c.locality_columns(cfg))
    per_bundle = q.by_scope(cfg, "bundle", "place_kind", *c.locality_columns(cfg))
    return [
        g.stat(
            "Matching certificates",
            f"Certificates matching the filters; {c.counted(cfg)}.",
            "none",
            g.Query(f"count({certs}) or vector(0)"),
        ),
        g.stat(
            "Expired",
            "Matching certificates past their expiry date.",
            "none",
            g.Query(f"count({certs} - time() < 0) or vector(0)"),
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
            g.Query(f"count(count by (issuer_CN) ({certs})) or vector(0)"),
        ),
        _certificates_table(cfg),
        g.timeseries(
            "Expiry date history",
            "Each place's expiry date (not after) over time, the serial left out (a file that one node holds, per "
            "node): a renewal shows as a step up, a certificate that is not renewed as a flat line. Narrow it with "
            "the filters.",
            "dateTimeAsIso",
            [
                g.Query(
                    c.described(history),
                    c.cluster_legend(cfg, "{{subject_CN}} ({{place_kind}} {{bundle}}" + node + ")"),
                )
            ],
            width=24,
            height=10,
        ),
        _crls(cfg),
        g.table(
            "Certificates per bundle",
            "How many certificates each bundle holds (per node for a file that one node holds): a chain's leaf, "
            "intermediates and root are separate series of the same bundle.",
            "none",
            [g.Query(f"count {per_bundle} ({c.described(certs)})", instant=True)],
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
