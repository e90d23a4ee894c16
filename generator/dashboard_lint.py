"""Dashboard checks after the rules of Grafana's dashboard-linter, plus the mixin's own.

dashboard-linter: a datasource variable, used by every panel and target; job and instance
variables; `$__rate_interval` in rates; job and instance matchers in every target; units,
titles and descriptions; uids. Ours: no overlapping panels, the configured selector in every
selector, only metrics the configured exporter emits (or our recording rules), and counters
only through rate/increase.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import promql_parser as p

from x509_mixin.catalogue.metrics import BY_NAME, metric_enabled
from x509_mixin.catalogue.promql import op, selector_matchers
from x509_mixin.mixin import promql as q
from x509_mixin.mixin.config import Config
from x509_mixin.mixin.grafana import DATASOURCE
from x509_mixin.mixin.policies import threshold_rules
from x509_mixin.mixin.rules import KUBE_P99, PARSE_P99, recording_groups
from x509_mixin.mixin.truth import records

# Recorded per-target series (diagnostics): they keep job and instance.
TARGET_RECORDS = frozenset({PARSE_P99, KUBE_P99})

# Prometheus' own series about a scrape target.
PROMETHEUS_METRICS = frozenset({"up", "scrape_duration_seconds"})
RATE_FUNCTIONS = frozenset({"rate", "irate", "increase"})
_SENTINEL = "1337s"  # stands for $__rate_interval while parsing
_SENTINEL_RANGE = timedelta(seconds=1337)
MAX_UID = 40


def nodes(node, in_rate: bool = False) -> Iterator[tuple[object, bool]]:
    """Every node of a PromQL AST, depth first, with whether a counter there is read safely:
    inside rate()/increase(), or in a birth check `c unless last_over_time(c[...])` (a counter
    created at a value above 0 shows that value once)."""
    yield node, in_rate
    if isinstance(node, p.Call) and node.func.name in RATE_FUNCTIONS:
        in_rate = True
    if isinstance(node, p.BinaryExpr) and str(node.op).strip() == "unless":
        in_rate = True
    children = []
    if isinstance(node, p.BinaryExpr):
        children = [node.lhs, node.rhs]
    elif isinstance(node, p.AggregateExpr):
        children = [node.expr] + ([node.param] if node.param is not None else [])
    elif isinstance(node, p.Call):
        children = list(node.args)
    elif isinstance(node, p.ParenExpr | p.UnaryExpr | p.SubqueryExpr):
        children = [node.expr]
    elif isinstance(node, p.MatrixSelector):
        children = [node.vector_selector]
    for child in children:
        yield from nodes(child, in_rate)


def parse(expr: str):
    """A dashboard query as Prometheus gets it, `$__rate_interval` standing for its value."""
    return p.parse(expr.replace("$__rate_interval", _SENTINEL))


def _matchers(matchers: list[p.Matcher]) -> set[tuple[str, str, str]]:
    return {(m.name, op(m), m.value) for m in matchers}


def recorded_names(cfg: Config) -> set[str]:
    """Our recorded series: the dashboards' counts, the per-certificate truth and thresholds."""
    thresholds = {r["record"] for r in threshold_rules(cfg)}
    return {r["record"] for g in recording_groups(cfg) for r in g["rules"]} | set(records(cfg)) | thresholds


def metric_problem(cfg: Config, name: str, recorded: set[str]) -> str | None:
    """Why a panel must not query this metric, or None."""
    if name in recorded or name in PROMETHEUS_METRICS:
        return None
    base = name
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[: -len(suffix)] in BY_NAME:
            base = name[: -len(suffix)]
    if base not in BY_NAME:
        return f"{name} is neither an exporter metric nor one of our recording rules"
    if not metric_enabled(name, dict(cfg.exporter)):
        return f"{name} is not emitted with the configured exporter settings ({BY_NAME[base].gate} is off)"
    return None


def _lint_expr(cfg: Config, expr: str, recorded: set[str]) -> list[str]:
    try:
        tree = parse(expr)
    except Exception as exc:  # the parser's errors are plain exceptions
        return [f"the query does not parse: {exc}"]
    problems = []
    required = _matchers(selector_matchers(cfg.selector))
    # Recorded series keep only the selector's labels that are not aggregated away.
    truths = set(records(cfg))
    required_count = _matchers([m for m in selector_matchers(cfg.selector) if m.name in q.scope_labels(cfg)])
    required_truth = required if not cfg.deduplicates else required_count
    job = ("job", "=~", "$job")
    instance = ("instance", "=~", "$instance")
    cluster = (cfg.clusterLabel, "=~", "$cluster")
    for node, in_rate in nodes(tree):
        if isinstance(node, p.VectorSelector):
            name = node.name or str(node)
            have = _matchers(node.matchers.matchers)
            per_target = name not in recorded or name in TARGET_RECORDS
            wanted = required if per_target else (required_truth if name in truths else required_count)
            if not wanted <= have:
                problems.append(f"{name} lacks the configured selector {{{cfg.selector}}}")
            # Recorded certificate series aggregate the reporters (job, instance) away.
            if per_target and job not in have:
                problems.append(f'{name} lacks job=~"$job"')
            if per_target and instance not in have:
                problems.append(f'{name} lacks instance=~"$instance"')
            if cfg.multiCluster and cluster not in have:
                problems.append(f'{name} lacks {cfg.clusterLabel}=~"$cluster"')
            why = metric_problem(cfg, name, recorded)
            if why:
                problems.append(why)
            # A counter's raw value means nothing across restarts.
            if name.endswith("_total") and not in_rate:
                problems.append(f"counter {name} must be read through rate() or increase()")
        elif isinstance(node, p.Call) and node.func.name in RATE_FUNCTIONS:
            matrix = node.args[0]
            if isinstance(matrix, p.MatrixSelector) and matrix.range != _SENTINEL_RANGE:
                problems.append(f"{node.func.name}() must use [$__rate_interval]")
    return problems


def _overlaps(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]
    )


def _safe_nodes(expr: str) -> Iterator[tuple[object, bool]]:
    try:
        yield from nodes(parse(expr))
    except Exception:  # reported by _lint_expr
        return


def _lint_variables(model: dict, cfg: Config, recorded: set[str]) -> list[str]:
    problems = []
    variables = {v["name"]: v for v in model.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds["type"] != "datasource" or ds.get("query") != "prometheus":
        problems.append("template: a datasource variable of type datasource for prometheus is required")
    per_target = any(
        isinstance(node, p.VectorSelector) and (node.name not in recorded or node.name in TARGET_RECORDS)
        for panel in model.get("panels", [])
        for target in panel.get("targets", [])
        for node, _ in _safe_nodes(target.get("expr", ""))
    )
    wanted = (["job", "instance"] if per_target else []) + (["cluster"] if cfg.multiCluster else [])
    for name in wanted:
        v = variables.get(name)
        if not v or v["type"] != "query":
            problems.append(f"template: a {name} query variable is required")
        elif v.get("datasource") != DATASOURCE or not v.get("multi") or not v.get("includeAll"):
            problems.append(f"template {name}: must use ${{datasource}} and allow All and several values")
    return problems


def lint_dashboard(model: dict, cfg: Config, recorded: set[str] | None = None) -> list[str]:
    """One line per problem, naming the dashboard and the panel."""
    recorded = recorded_names(cfg) if recorded is None else recorded
    title = model.get("title") or "(untitled)"
    problems = [f"dashboard {title}: {line}" for line in _lint_variables(model, cfg, recorded)]
    uid = model.get("uid", "")
    if not uid or len(uid) > MAX_UID:
        problems.append(f"dashboard {title}: uid must be set and at most {MAX_UID} characters")
    panels = model.get("panels", [])
    for panel in panels:
        where = f"dashboard {title}, panel {panel.get('title') or panel.get('id')}"
        if panel.get("type") == "row":
            continue
        if not panel.get("title"):
            problems.append(f"{where}: title is missing")
        if not panel.get("description"):
            problems.append(f"{where}: description is missing")
        if not panel.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            problems.append(f"{where}: unit is missing")
        if panel.get("datasource") != DATASOURCE:
            problems.append(f"{where}: datasource must be ${{datasource}}")
        if not panel.get("targets"):
            problems.append(f"{where}: no query")
        for target in panel.get("targets", []):
            if target.get("datasource") != DATASOURCE:
                problems.append(f"{where}, query {target.get('refId')}: datasource must be ${{datasource}}")
            for line in _lint_expr(cfg, target.get("expr", ""), recorded):
                problems.append(f"{where}, query {target.get('refId')}: {line}")
    grids = [(pn.get("title"), pn["gridPos"]) for pn in panels]
    for i, (name_a, a) in enumerate(grids):
        if a["x"] + a["w"] > 24:
            problems.append(f"dashboard {title}, panel {name_a}: wider than the 24 grid columns")
        for name_b, b in grids[i + 1 :]:
            if _overlaps(a, b):
                problems.append(f"dashboard {title}: panels {name_a} and {name_b} overlap")
    return problems


def lint_dashboards(models: dict[str, dict], cfg: Config) -> list[str]:
    recorded = recorded_names(cfg)
    problems = [line for model in models.values() for line in lint_dashboard(model, cfg, recorded)]
    uids = [str(m.get("uid")) for m in models.values()]
    for uid in sorted({u for u in uids if uids.count(u) > 1}):
        problems.append(f"dashboards: uid {uid} is used more than once")
    return problems
