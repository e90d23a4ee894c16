"""PromQL building blocks shared by alerts, recording rules and dashboards.

Pure functions from a Config to query strings; nothing here knows about alert names.
"""

from __future__ import annotations

from x509_mixin.mixin.config import Config, duration_seconds


def days(value: float) -> str:
    """A number of days as PromQL seconds, kept readable: `28 * 86400`."""
    text = str(int(value)) if float(value).is_integer() else repr(float(value))
    return f"{text} * 86400"


def seconds(cfg_duration: str) -> str:
    """A config duration (e.g. `100d`) as a plain number of seconds for comparisons."""
    value = duration_seconds(cfg_duration)
    return str(int(value)) if float(value).is_integer() else repr(value)


def sel(cfg: Config, metric: str) -> str:
    """The metric restricted to the configured exporter targets."""
    return f"{metric}{{{cfg.selector}}}"


def target_labels(cfg: Config) -> str:
    """The labels that identify one scrape target (and its cluster)."""
    return ", ".join(((cfg.clusterLabel,) if cfg.multiCluster else ()) + ("job", "instance"))


def gauge(cfg: Config, metric: str) -> str:
    """A gauge that survives missed scrapes.

    While the target's last scrape succeeded, the fresh samples are used, so a certificate
    that was replaced or deleted disappears at once. When the scrape failed (`up == 0`, or no
    `up` sample at all), the last sample within missedScrapeTolerance stands in: a range
    selection ignores staleness markers, so one failed scrape neither empties the vector nor
    resets a pending alert's `for` clock.
    """
    s = sel(cfg, metric)
    up = sel(cfg, "up")
    return f"({s} or (last_over_time({s}[{cfg.missedScrapeTolerance}]) unless on ({target_labels(cfg)}) {up} == 1))"


def per_certificate(cfg: Config, expr: str) -> str:
    """One series per certificate however many exporters report it (replicas, a CA file on
    many nodes): the reporter's target labels are aggregated away. `without` keeps the
    cluster label, so clusters stay apart."""
    if not cfg.deduplicates:
        return expr
    return f"max without ({', '.join(cfg.reporterLabels)}) ({expr})"


def cert_gauge(cfg: Config, metric: str) -> str:
    return per_certificate(cfg, gauge(cfg, metric))


def increase(cfg: Config, counter: str, window: str) -> str:
    """Increase of a counter over `window` that also counts a series born inside the window.

    `increase` needs two samples, so a series created lazily at a value above 0 would show no
    increase at all. When the series has no sample `window` ago, its current value is the
    increase since it was created (counters start at 0). Series pre-created at 0 take the
    first branch once they are older than the window and give the same answer.
    """
    s = sel(cfg, counter)
    return f"(increase({s}[{window}]) and {s} offset {window}) or {s}"


def by_cluster(cfg: Config, labels: tuple[str, ...] = ()) -> str:
    """A `by (...)` clause that keeps the cluster label when multiCluster is on."""
    names = ((cfg.clusterLabel,) if cfg.multiCluster else ()) + labels
    return f"by ({', '.join(names)}) " if names else ""
