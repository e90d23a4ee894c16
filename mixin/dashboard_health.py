"""Exporter and sources: is every exporter scraped, every source synced, and what fails."""

from __future__ import annotations

from x509_mixin.mixin import dashboard_common as c
from x509_mixin.mixin import grafana as g
from x509_mixin.mixin import promql as q
from x509_mixin.mixin import rules
from x509_mixin.mixin.config import Config, duration_seconds


def variables(cfg: Config) -> list:
    scope = c.matchers(cfg)
    return c.target_variables(cfg) + [
        g.query_variable(
            "source",
            "Source",
            f"label_values(x509_source_up{{{scope}}}, source_name)",
            "Sources of the exporter configuration (their `name`).",
        )
    ]


def _legend(cfg: Config, labels: tuple[str, ...]) -> str:
    return c.cluster_legend(cfg, " ".join("{{" + label + "}}" for label in labels))


def _counter_panel(
    cfg: Config, title: str, description: str, metric: str, labels: tuple[str, ...], extra: str = "", width: int = 12
) -> g.Panel:
    """A counter per exporter target and interval (c.increase): replicas are not added up."""
    return g.timeseries(
        title,
        description + " Per exporter and interval; a counter created at its first event shows it too.",
        "short",
        [g.Query(c.increase(cfg, metric, labels, extra), _legend(cfg, ("instance", *labels)))],
        width=width,
    )


def _scrape_duration(cfg: Config) -> g.Panel:
    timeout = duration_seconds(cfg.scrapeTimeout)
    by = q.by_scope(cfg, "le", "instance")
    buckets = f"sum {by} (rate({c.target_series(cfg, 'x509_scrape_duration_seconds_bucket')}[$__rate_interval]))"
    queries = [
        g.Query(f"histogram_quantile({p}, {buckets})", c.cluster_legend(cfg, f"p{int(p * 100)} {{{{instance}}}}"))
        for p in (0.5, 0.9, 0.99)
    ]
    scrape = c.target_series(cfg, "scrape_duration_seconds")
    queries.append(g.Query(scrape, c.cluster_legend(cfg, "scrape {{instance}}")))
    return g.timeseries(
        "Scrape duration",
        f"Quantiles of the exporter's /metrics handling time and Prometheus' whole scrape duration, against the "
        f"{cfg.scrapeTimeout} scrape timeout (red line; ExporterSlowScrapes fires above 80% of it).",
        "s",
        queries,
        thresholds=[("green", None), ("orange", 0.8 * timeout), ("red", timeout)],
        threshold_line=True,
    )


def panels(cfg: Config) -> list:
    source = 'source_name=~"$source"'
    src = ("source_kind", "source_name")
    out: list = [
        g.row("Targets and sources"),
        g.timeseries(
            "Exporter targets up",
            "1 when Prometheus scrapes the exporter target, 0 when it cannot.",
            "none",
            [g.Query(c.target_series(cfg, "up"), c.cluster_legend(cfg, "{{instance}}"))],
            min=0,
            max=1,
        ),
        g.timeseries(
            "Sources up",
            "x509_source_up: 1 once the source synced, 0 after a fatal error (no series until the first sync).",
            "none",
            [
                g.Query(
                    f"max {q.by_scope(cfg, 'instance', *src)} ({c.target_series(cfg, 'x509_source_up', source)})",
                    _legend(cfg, ("instance",) + src),
                )
            ],
            min=0,
            max=1,
        ),
        g.timeseries(
            "Bundles per source",
            "Bundles (files, Secrets, ConfigMaps... each with one or more certificates) each exporter's source "
            "holds; 0 after a source lost all its bundles. Per exporter: replicas holding the same bundles are "
            "not added up.",
            "none",
            [
                g.Query(
                    f"max {q.by_scope(cfg, 'instance', *src)} ({c.target_series(cfg, 'x509_source_bundles', source)})",
                    _legend(cfg, ("instance", *src)),
                )
            ],
        ),
        _counter_panel(
            cfg,
            "Source errors by reason",
            "Errors met by each source, by reason (x509_source_errors_total).",
            "x509_source_errors_total",
            ("source_name", "reason"),
            source,
        ),
        _scrape_duration(cfg),
        g.table(
            "Exporter versions",
            "Exporter builds running, with how many targets run each.",
            "none",
            [
                g.Query(
                    f"count {q.by_scope(cfg, 'version', 'git_commit', 'go_runtime')} "
                    f"({c.target_series(cfg, 'x509_exporter_build_info')})",
                    instant=True,
                )
            ],
            width=12,
            height=8,
            overrides=[g.override("Value", displayName="Targets")],
        ),
        g.row("Failures"),
        _counter_panel(
            cfg,
            "Panics",
            "Panics the exporter recovered from, by component (x509_panic_total; no series before a first panic).",
            "x509_panic_total",
            ("component",),
        ),
        g.timeseries(
            "Passphrase failures",
            "PKCS#12 and JKS keystores that failed to open with the configured passphrase, per exporter, source and "
            "interval; a counter created at its first failure shows it too.",
            "short",
            [
                g.Query(
                    c.increase(cfg, f"x509_{kind.lower()}_passphrase_failures_total", ("source_name",)),
                    _legend(cfg, ("instance", "source_name")) + f" ({kind})",
                )
                for kind in ("PKCS12", "JKS")
            ],
        ),
        _counter_panel(
            cfg,
            "Kubernetes watch resyncs",
            "Restarts of the Kubernetes watches; each relists every object.",
            "x509_kube_watch_resyncs_total",
            ("source_name", "resource"),
        ),
        _counter_panel(
            cfg,
            "Kubernetes transport errors",
            "Kubernetes API errors by resource and reason.",
            "x509_kube_transport_errors_total",
            ("resource", "reason"),
        ),
        _counter_panel(
            cfg,
            "Label collisions dropped",
            "Certificates dropped because their labels collide (only with collisionDiscriminator: never): they "
            "are invisible to every alert.",
            "x509_cert_collision_dropped_total",
            ("source_kind",),
            width=24,
        ),
    ]
    if cfg.gate("exposeDiagnostics"):
        out += diagnostics(cfg)
    return out


def diagnostics(cfg: Config) -> list:
    return [
        g.row("Diagnostics"),
        g.timeseries(
            "Parse duration p99",
            f"99th percentile of the time spent parsing a bundle, by format (recording rule {rules.PARSE_P99}).",
            "s",
            [
                g.Query(
                    f"max {q.by_scope(cfg, 'instance', 'format')} ({c.target_series(cfg, rules.PARSE_P99)})",
                    _legend(cfg, ("instance", "format")),
                )
            ],
        ),
        g.timeseries(
            "Kubernetes request p99",
            "99th percentile of the Kubernetes API request latency, by verb and "
            f"resource (recording rule {rules.KUBE_P99}).",
            "s",
            [
                g.Query(
                    f"max {q.by_scope(cfg, 'verb', 'resource')} ({c.target_series(cfg, rules.KUBE_P99)})",
                    _legend(cfg, ("verb", "resource")),
                )
            ],
        ),
        g.timeseries(
            "Informer queue depth",
            "Events waiting in each Kubernetes source's queue.",
            "none",
            [
                g.Query(
                    f"max {q.by_scope(cfg, 'source_name', 'resource')} "
                    f"({c.target_series(cfg, 'x509_informer_queue_depth')})",
                    _legend(cfg, ("source_name", "resource")),
                )
            ],
        ),
        g.table(
            "Informer scope",
            "Whether each Kubernetes source watches the whole cluster or namespaces.",
            "none",
            [
                g.Query(
                    f"max {q.by_scope(cfg, 'source_name', 'scope')} "
                    f"({c.target_series(cfg, 'x509_kube_informer_scope')})",
                    instant=True,
                )
            ],
            width=12,
            height=8,
        ),
    ]


def dashboard(cfg: Config) -> dict:
    return g.dashboard_json(
        c.dashboard(
            cfg,
            "exporter",
            "Health of the x509 certificate exporters and their sources: scrapes, syncs, "
            "errors, panics, Kubernetes watches, versions.",
        ),
        panels(cfg),
        variables(cfg),
    )
