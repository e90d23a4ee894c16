"""PromQL building blocks shared by alerts, recording rules and dashboards.

Pure functions from a Config to query strings; nothing here knows about alert names.
docs/faults.md explains, fault by fault, why each block is shaped as it is.

Vocabulary:
- a *target* is one scrape of the selector (`job`, `instance`, and the cluster label with
  multiCluster); its `up` says whether its last scrape succeeded;
- a *scope* is where targets can stand in for one another: the cluster with multiCluster,
  else everything the selector matches;
- a target is *good* when its last scrape succeeded and it reports every source it reported
  lately (an exporter restarted in place answers before its sources have synced, and its
  `x509_source_up` series are absent until they have);
- a target is *gone* when it has no current `up` sample: service discovery dropped it (a
  deleted pod), or Prometheus has not scraped it for over 5 minutes (a gap of its own).
"""

from __future__ import annotations

from x509_mixin.catalogue.promql import matcher_text, selector_matchers
from x509_mixin.mixin.config import Config, duration_seconds

# Subquery resolution of the blocks that look back evaluation by evaluation.
STEP = "1m"
# How long a counter series may go unseen and still not count as newly created: longer than
# a Prometheus restart or a scrape outage, short enough to keep the look-back cheap.
COUNTER_MEMORY = "1h"

# Recorded per-target state (rules.state_rules), read by the alerts in the same group.
GOOD = "target:x509_exporter_up:good"
HELD = "target:x509_exporter_up:held"
HELD_OR_REPLACED = "target:x509_exporter_up:held_or_replaced"
GONE = "target:x509_exporter_up:gone"


def days(value: float) -> str:
    """A number of days as PromQL seconds, kept readable: `28 * 86400`."""
    text = str(int(value)) if float(value).is_integer() else repr(float(value))
    return f"{text} * 86400"


def seconds(cfg_duration: str) -> str:
    """A config duration (e.g. `100d`) as a plain number of seconds for comparisons."""
    value = duration_seconds(cfg_duration)
    return str(int(value)) if float(value).is_integer() else repr(value)


def duration(seconds: int) -> str:
    """Seconds as a PromQL duration: 240 -> 4m, 3599 -> 59m59s."""
    parts = [(seconds // 3600, "h"), (seconds % 3600 // 60, "m"), (seconds % 60, "s")]
    return "".join(f"{n}{unit}" for n, unit in parts if n) or "0s"


def number(value: float) -> str:
    """A float as short PromQL text: 0.2, 0.1, 3."""
    return f"{value:.6g}"


def series(name: str, *matchers: str) -> str:
    """A vector selector: `name{<matchers>}`, empty matcher texts left out."""
    body = ", ".join(m for m in matchers if m)
    return f"{name}{{{body}}}" if body else name


def sel(cfg: Config, metric: str, offset: str = "", extra: str = "") -> str:
    """The metric restricted to the configured exporter targets (and `extra` matchers)."""
    return series(metric, cfg.selector, extra) + (f" offset {offset}" if offset else "")


def recorded_selector(cfg: Config, per_certificate: bool = False) -> str:
    """The selector's matchers that a recorded series keeps, as text ("" when none): a count
    keeps the scope labels only; a per-certificate truth also keeps the reporters' labels
    when deduplication is off."""
    every = per_certificate and not cfg.deduplicates
    kept = [m for m in selector_matchers(cfg.selector) if every or m.name in scope_labels(cfg)]
    return ", ".join(matcher_text(m) for m in kept)


def scope_labels(cfg: Config) -> tuple[str, ...]:
    """The cluster label with multiCluster, and the selector's own labels that say where a
    target belongs rather than which one it is (`env` in `job="certs", env=~"prod|staging"`)."""
    names = [m.name for m in selector_matchers(cfg.selector)]
    placed = [n for n in names if n not in cfg.reporterLabels and n not in ("job", "instance")]
    return tuple(dict.fromkeys(([cfg.clusterLabel] if cfg.multiCluster else []) + placed))


def target_labels(cfg: Config) -> tuple[str, ...]:
    """The labels that identify one scrape target (and its cluster)."""
    return (*scope_labels(cfg), "job", "instance")


def on(labels: tuple[str, ...]) -> str:
    return f"on ({', '.join(labels)})"


def group_by(labels: tuple[str, ...], expr: str) -> str:
    return f"group by ({', '.join(labels)}) ({expr})" if labels else f"group ({expr})"


def by_scope(cfg: Config, *labels: str) -> str:
    """A `by (...)` clause of the scope labels and `labels` ("" when there is none): an
    aggregation never merges two clusters."""
    names = scope_labels(cfg) + labels
    return f"by ({', '.join(names)})" if names else ""


# ---- per-target state (recorded) ----------------------------------------------------------


def _lost_source(cfg: Config) -> str:
    """Targets missing a source they reported within missedScrapeTolerance (still syncing)."""
    s = sel(cfg, "x509_source_up")
    return group_by(target_labels(cfg), f"last_over_time({s}[{cfg.missedScrapeTolerance}]) unless {s}")


def _gone(cfg: Config) -> str:
    up = sel(cfg, "up")
    seen = group_by(target_labels(cfg), f"last_over_time({up}[{cfg.missedScrapeTolerance}])")
    return f"({seen} unless {up})"


def _blind_scopes(cfg: Config) -> str:
    """Scopes where no target has a current `up` sample: Prometheus itself has a gap."""
    up, scope = sel(cfg, "up"), scope_labels(cfg)
    return f"({group_by(scope, f'last_over_time({up}[{cfg.missedScrapeTolerance}])')} unless {on(scope)} {up})"


def _unsettled_scopes(cfg: Config) -> str:
    """Scopes where a target may be replacing one that is gone: a target restarted in place
    is syncing, or a target that appeared lately in an established scope has no
    `x509_source_up` yet; or Prometheus cannot see the scope."""
    up, source_up, tol = sel(cfg, "up"), sel(cfg, "x509_source_up"), cfg.missedScrapeTolerance
    target, scope = on(target_labels(cfg)), on(scope_labels(cfg))
    syncing = f"{up} == 1 unless {target} {GOOD}"
    new = (
        f"(({up} == 1 unless {target} {source_up}) unless {target} {sel(cfg, 'up', tol)})"
        f" and {scope} {sel(cfg, 'up', tol)}"
    )
    return f"({group_by(scope_labels(cfg), f'({syncing}) or {new}')} or {_blind_scopes(cfg)})"


def _good(cfg: Config) -> str:
    up = sel(cfg, "up")
    return f"{up} == 1 unless {on(target_labels(cfg))} {_lost_source(cfg)}"


def state_rules(cfg: Config) -> list[dict]:
    """Recording rules of the per-target state the stand-ins below read."""
    up, target, scope = sel(cfg, "up"), on(target_labels(cfg)), on(scope_labels(cfg))
    rules = [
        {"record": GOOD, "expr": group_by(target_labels(cfg), _good(cfg))},
        {
            "record": HELD,
            "expr": f"({group_by(target_labels(cfg), up)} or ({_gone(cfg)} and {scope} {_blind_scopes(cfg)}))"
            f" unless {target} {GOOD}",
        },
    ]
    rules.append({"record": GONE, "expr": f"{_gone(cfg)} unless {scope} {_blind_scopes(cfg)}"})
    if cfg.deduplicates:
        replaced = f"{_gone(cfg)} and {scope} {_unsettled_scopes(cfg)}"
        rules.append({"record": HELD_OR_REPLACED, "expr": f"{HELD} or ({replaced})"})
    return rules


def unless_gone(cfg: Config, expr: str) -> str:
    """`expr` without the targets that are gone while Prometheus sees their scope: a deleted
    pod's alerts end with it."""
    return f"({expr}) unless {on(target_labels(cfg))} {GONE}"


# ---- gauges that survive missed scrapes, restarts and replacements -------------------------


def _stand_in(cfg: Config, m: str, held: str) -> str:
    """The series the `held` targets had at their last good scrape, with their values then.

    Only series present at that very scrape: a certificate renewed or deleted before a failed
    scrape does not come back.
    """
    tol, target, up = cfg.missedScrapeTolerance, on(target_labels(cfg)), sel(cfg, "up")
    # Both sampled at the same steps, so "seen at the last good scrape" compares like with like.
    last_seen = f"max_over_time(timestamp({m})[{tol}:{STEP}])"
    labels = ", ".join(target_labels(cfg))
    last_good = f"max by ({labels}) (max_over_time((timestamp({up}) and {_good(cfg)})[{tol}:{STEP}]))"
    return f"(last_over_time({m}[{tol}]) and ({last_seen} >= {target} group_left {last_good}) and {target} {held})"


def gauge(cfg: Config, metric: str) -> str:
    """A per-target gauge (a source's state) that survives missed scrapes and restarts.

    While a target is failing or syncing, its series of the last good scrape stand in for
    missedScrapeTolerance; a target that is gone (a deleted pod) is not kept alive.
    """
    m = sel(cfg, metric)
    return f"({m} or {_stand_in(cfg, m, HELD)})"


def reported(cfg: Config, metric: str) -> str:
    """A per-certificate gauge as each exporter reports it, surviving missed scrapes.

    Like `gauge`, and with deduplication also through the replacement of a target: the series
    of a target that is gone stand in while a target of its scope is syncing, so a rolled-out
    exporter does not reset its certificates' alerts.
    """
    m = sel(cfg, metric)
    return f"({m} or {_stand_in(cfg, m, HELD_OR_REPLACED if cfg.deduplicates else HELD)})"


def certificate(cfg: Config, metric: str) -> str:
    """One series per certificate however many exporters report it (replicas, a CA file on
    every node): the reporters' labels are aggregated away, the cluster label stays.

    A file that a single node reports keeps the locality labels (`node`): three nodes' own
    copies of /etc/kubernetes/pki/apiserver.crt stay three alerts naming their node, while
    the same CA file on every node stays one. Nodes are counted over missedScrapeTolerance,
    so a failing or replaced exporter does not change the alert's labels.
    """
    if not cfg.deduplicates:
        return reported(cfg, metric)
    reporters = ", ".join(cfg.reporterLabels)
    deduplicated = f"max without ({reporters}) ({reported(cfg, metric)})"
    local = tuple(label for label in cfg.localityLabels if label in cfg.reporterLabels)
    if not local:
        return deduplicated
    tol = cfg.missedScrapeTolerance
    others = ", ".join(label for label in cfg.reporterLabels if label not in local)
    in_file = 'filepath!=""'
    per_node = f"max without ({others}) (last_over_time({sel(cfg, metric, extra=in_file)}[{tol}]))"
    ignoring = f"ignoring ({', '.join(local)})"
    # Where each certificate is: its node when one node reports it, else nowhere in particular.
    where = (
        f"({per_node} and {ignoring} count without ({', '.join(local)}) ({per_node}) == 1)"
        f" or {ignoring} max without ({reporters}) (last_over_time({sel(cfg, metric)}[{tol}]))"
    )
    return f"{deduplicated} + {ignoring} group_right () (0 * ({where}))"


def increase(cfg: Config, counter: str, window: str) -> str:
    """How much a counter grew during `window`, exactly.

    Summed STEP by STEP from the counter's value as
    it stood (a target that is failing or out of sight keeps its last value, so a failed
    scrape, a Prometheus restart or a scrape outage shorter than COUNTER_MEMORY adds nothing):
    growth counts, a drop is a reset whose new value counts from 0, and a series born inside
    the window counts from 0 too (series created on first use at a value above 0). No
    extrapolation: "more than 5 errors" means 6.
    """
    seconds = int(duration_seconds(window))

    def value(offset: str = "") -> str:
        at = f" offset {offset}" if offset else ""
        kept = f"last_over_time({sel(cfg, counter)}[{COUNTER_MEMORY}]{at})"
        return (
            f"({sel(cfg, counter, offset)} or ({kept} unless {on(target_labels(cfg))} {sel(cfg, 'up', offset)} == 1))"
        )

    now = value()
    # `- 0` drops the metric name, or steps with and without it would be two series. The
    # range stops 1s short of `window` so that it holds window/STEP steps on Prometheus 2
    # (closed range) and 3 (left-open range) alike.
    return f"sum_over_time((({now} - {value(STEP)}) >= 0 or {now} - 0)[{duration(seconds - 1)}:{STEP}])"
