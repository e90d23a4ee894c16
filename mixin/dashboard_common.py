"""What the three dashboards share: uids, variables, links and the selector of every query."""

from __future__ import annotations

from grafanalib import core as G

from x509_mixin.mixin import grafana as g
from x509_mixin.mixin import promql as q
from x509_mixin.mixin import truth
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


def matchers(cfg: Config) -> str:
    """A target's series: the configured selector and the cluster, job and instance variables."""
    parts = [cfg.selector]
    if cfg.multiCluster:
        parts.append(f'{cfg.clusterLabel}=~"$cluster"')
    parts += ['job=~"$job"', 'instance=~"$instance"']
    return ", ".join(parts)


def recorded_matchers(cfg: Config, per_certificate: bool = False) -> str:
    """A recorded series (a count, or per certificate): the selector's labels it keeps and the
    cluster variable; job and instance are the reporters', aggregated away."""
    selector = q.recorded_selector(cfg, per_certificate)
    parts = [selector] if selector else []
    if cfg.multiCluster:
        parts.append(f'{cfg.clusterLabel}=~"$cluster"')
    return ", ".join(parts)


def target_series(cfg: Config, metric: str, extra: str = "") -> str:
    """A target's series (an exporter metric, `up`) on the dashboard's selection."""
    return q.series(metric, matchers(cfg), extra)


def rec(cfg: Config, record: str, extra: str = "", per_certificate: bool = False) -> str:
    """A recorded series on the dashboard's selection."""
    return q.series(record, recorded_matchers(cfg, per_certificate), extra)


def certificates(cfg: Config, record: str = truth.NOT_AFTER, extra: str = "") -> str:
    """Each certificate once (mixin.truth: deduplicated, through missed scrapes and restarts)."""
    return rec(cfg, record, extra, per_certificate=True)


def counted(cfg: Config) -> str:
    """How the dashboards count a certificate several exporters report, for descriptions."""
    if cfg.deduplicates:
        return "a certificate several exporters report counts once"
    return "deduplicateReporters is off: each exporter's report counts"


def increase(cfg: Config, metric: str, labels: tuple[str, ...], extra: str = "") -> str:
    """A counter's increase per interval, per target, by `labels`.

    A series the exporter creates on first use at a value above 0 shows its value at its
    first interval (no sample during the hour before it). `max` over the target merges the
    same target scraped by two jobs; targets are never added up (replicas count the same
    errors).
    """
    m = target_series(cfg, metric, extra)
    born = f"({m} unless last_over_time({m}[1h] offset $__rate_interval))"
    return f"max {q.by_scope(cfg, 'instance', *labels)} (increase({m}[$__rate_interval]) or {born})"


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
    "node": "Node",
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


def locality_columns(cfg: Config) -> tuple[str, ...]:
    """The locality labels a node-local file keeps (mixin.promql.certificate): which node."""
    return tuple(label for label in cfg.localityLabels if cfg.deduplicates and label in cfg.reporterLabels)


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
