"""What the three dashboards share: uids, variables, links and the selector of every query."""

from __future__ import annotations

from grafanalib import core as G

from x509_mixin.mixin import grafana as g
from x509_mixin.mixin import promql as q
from x509_mixin.mixin.config import Config
from x509_mixin.mixin.dashboard_rules import with_place_kind

# Dashboard key -> (uid suffix, title)
DASHBOARDS: dict[str, tuple[str, str]] = {
    "overview": ("overview", "X509 / Certificates overview"),
    "inventory": ("inventory", "X509 / Certificate inventory"),
    "exporter": ("exporter", "X509 / Exporter and sources"),
}


def uid(cfg: Config, key: str) -> str:
    return cfg.dashboardUidPrefix + DASHBOARDS[key][0]


def matchers(cfg: Config, instance: bool = True) -> str:
    """The configured selector and the dashboard's cluster, job and instance variables.

    Recorded series have no instance (the reporters are aggregated away), so they take
    `instance=False`.
    """
    parts = [cfg.selector]
    if cfg.multiCluster:
        parts.append(f'{cfg.clusterLabel}=~"$cluster"')
    parts.append('job=~"$job"')
    if instance:
        parts.append('instance=~"$instance"')
    return ", ".join(parts)


def sel(cfg: Config, metric: str, extra: str = "", instance: bool = True) -> str:
    body = matchers(cfg, instance) + (f", {extra}" if extra else "")
    return f"{metric}{{{body}}}"


def certificates(cfg: Config, metric: str = "x509_cert_not_after") -> str:
    """Each certificate of the selected targets once, however many exporters report it."""
    return q.per_certificate(cfg, sel(cfg, metric))


BUNDLE_SLOTS = (
    "filepath",
    "secret_namespace",
    "secret_name",
    "secret_key",
    "configmap_namespace",
    "configmap_name",
    "configmap_key",
    "cabundle_resource_kind",
    "cabundle_resource_name",
)
# Table headers of the labels the certificate tables show.
HEADERS = {
    "bundle": "Bundle",
    "place_kind": "Kind",
    "subject_CN": "Subject CN",
    "issuer_CN": "Issuer CN",
    "serial_number": "Serial",
    "crl_number": "CRL number",
}


def with_bundle(expr: str) -> str:
    """`bundle`: the place's filled slots joined (a file path, `namespace name key`...); a
    chain's certificates share it."""
    slots = ", ".join(f'"{slot}"' for slot in BUNDLE_SLOTS)
    return f'label_replace(label_join({expr}, "bundle", " ", {slots}), "bundle", "$1", "bundle", " *(.*?) *")'


def described(expr: str) -> str:
    """Certificates with their `place_kind` and `bundle` labels, for tables."""
    return with_bundle(with_place_kind(expr))


def cluster_column(cfg: Config) -> tuple[str, ...]:
    return (cfg.clusterLabel,) if cfg.multiCluster else ()


def by(cfg: Config, *labels: str) -> str:
    """`by (...)` keeping the cluster label when multiCluster is on."""
    names = ((cfg.clusterLabel,) if cfg.multiCluster else ()) + labels
    return f"by ({', '.join(names)})" if names else ""


def cluster_legend(cfg: Config, legend: str) -> str:
    return f"{{{{{cfg.clusterLabel}}}}} {legend}" if cfg.multiCluster else legend


def target_variables(cfg: Config) -> list[tuple[G.Template, str]]:
    """datasource, cluster (multiCluster), job, instance: each narrows the next."""
    up = f"up{{{cfg.selector}}}"
    variables = [g.datasource_variable("The Prometheus data source scraping the x509 certificate exporters.")]
    scope = cfg.selector
    if cfg.multiCluster:
        variables.append(
            g.query_variable(
                "cluster", "Cluster", f"label_values({up}, {cfg.clusterLabel})", "Clusters with an exporter target."
            )
        )
        scope += f', {cfg.clusterLabel}=~"$cluster"'
    variables.append(
        g.query_variable(
            "job",
            "Job",
            f"label_values(up{{{scope}}}, job)",
            "Scrape jobs of the exporters (the configured selector applies).",
        )
    )
    variables.append(
        g.query_variable(
            "instance",
            "Instance",
            f'label_values(up{{{scope}, job=~"$job"}}, instance)',
            "Exporter targets. Counts read from recording rules cover every target of the "
            "selected jobs (each certificate once).",
        )
    )
    return variables


def links(cfg: Config, current: str) -> list[G.DashboardLink]:
    """Links to the other two dashboards, keeping the time range and the variables."""
    return [
        G.DashboardLink(
            title=title,
            uri=f"/d/{uid(cfg, key)}",
            type="link",
            icon="dashboard",
            includeVars=True,
            keepTime=True,
            tooltip=f"Open {title}",
        )
        for key, (_, title) in DASHBOARDS.items()
        if key != current
    ]


def dashboard(cfg: Config, key: str, description: str) -> G.Dashboard:
    return G.Dashboard(
        title=DASHBOARDS[key][1],
        uid=uid(cfg, key),
        description=description,
        tags=list(cfg.dashboardTags),
        links=links(cfg, key),
        refresh="1m",
        time=G.Time("now-24h", "now"),
        timezone="browser",
    )


def day_thresholds(cfg: Config) -> g.Thresholds:
    """Seconds left coloured by the configured thresholds: red < critical <= orange < warning <= green."""
    return [("red", None), ("orange", cfg.criticalDaysLeft * 86400), ("green", cfg.warningDaysLeft * 86400)]
