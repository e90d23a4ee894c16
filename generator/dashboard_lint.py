"""Dashboard checks after the rules of Grafana's dashboard-linter, plus the mixin's own.

dashboard-linter: a datasource variable, used by every panel and target; job and instance
variables; `$__rate_interval` in rates; job and instance matchers in every target; units,
titles and descriptions; uids. Ours: no overlapping panels, the configured selector in every
selector, only metrics the configured exporter emits (or our recording rules), and counters
only through rate/increase.
"""

from __future__ import annotations

from collections.abc import Iterator, Set
from dataclasses import dataclass
from datetime import timedelta

import promql_parser as p

from x509_mixin.catalogue.metrics import family, metric_enabled
from x509_mixin.catalogue.promql import op, selector_matchers
from x509_mixin.generator.checks import Check, apply
from x509_mixin.mixin.config import Config
from x509_mixin.mixin.grafana import DATASOURCE, GRID_WIDTH
from x509_mixin.mixin.policies import threshold_rules
from x509_mixin.mixin.promql import scope_labels
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


def recorded_names(cfg: Config) -> Set[str]:
    """Our recorded series: the dashboards' counts, the per-certificate truth and thresholds."""
    thresholds = {r["record"] for r in threshold_rules(cfg)}
    return {r["record"] for g in recording_groups(cfg) for r in g["rules"]} | set(records(cfg)) | thresholds


def per_target(name: str, recorded: Set[str]) -> bool:
    """Whether a series is a target's (it keeps job and instance): an exporter metric or a
    per-target record; the certificate records aggregate the reporters away."""
    return name not in recorded or name in TARGET_RECORDS


def metric_problem(cfg: Config, name: str, recorded: Set[str]) -> str | None:
    """Why a panel must not query this metric, or None."""
    if name in recorded or name in PROMETHEUS_METRICS:
        return None
    metric = family(name)
    if metric is None:
        return f"{name} is neither an exporter metric nor one of our recording rules"
    if not metric_enabled(name, dict(cfg.exporter)):
        return f"{name} is not emitted with the configured exporter settings ({metric.gate} is off)"
    return None


# ---- a dashboard ------------------------------------------------------------------------


@dataclass(frozen=True)
class Board:
    model: dict
    cfg: Config
    recorded: Set[str]

    @property
    def variables(self) -> dict[str, dict]:
        return {v["name"]: v for v in self.model.get("templating", {}).get("list", [])}

    def queries_targets(self) -> bool:
        """Whether any query reads a target's series (then job and instance variables apply)."""
        for panel in self.model.get("panels", []):
            for target in panel.get("targets", []):
                for name, _, _ in Query.of(target, self.cfg, self.recorded).selectors():
                    if per_target(name, self.recorded):
                        return True
        return False


def _template_datasource(b: Board) -> Iterator[str]:
    ds = b.variables.get("datasource")
    if not ds or ds["type"] != "datasource" or ds.get("query") != "prometheus":
        yield "template: a datasource variable of type datasource for prometheus is required"


def _template_variables(b: Board) -> Iterator[str]:
    wanted = (["job", "instance"] if b.queries_targets() else []) + (["cluster"] if b.cfg.multiCluster else [])
    for name in wanted:
        v = b.variables.get(name)
        if not v or v["type"] != "query":
            yield f"template: a {name} query variable is required"
        elif v.get("datasource") != DATASOURCE or not v.get("multi") or not v.get("includeAll"):
            yield f"template {name}: must use ${{datasource}} and allow All and several values"


def _uid(b: Board) -> Iterator[str]:
    uid = b.model.get("uid", "")
    if not uid or len(uid) > MAX_UID:
        yield f"uid must be set and at most {MAX_UID} characters"


def _grid_width(b: Board) -> Iterator[str]:
    for panel in b.model.get("panels", []):
        if panel["gridPos"]["x"] + panel["gridPos"]["w"] > GRID_WIDTH:
            yield f"panel {panel.get('title')} is wider than the {GRID_WIDTH} grid columns"


def _overlaps(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]
    )


def _panel_overlap(b: Board) -> Iterator[str]:
    grids = [(panel.get("title"), panel["gridPos"]) for panel in b.model.get("panels", [])]
    for i, (name_a, a) in enumerate(grids):
        for name_b, other in grids[i + 1 :]:
            if _overlaps(a, other):
                yield f"panels {name_a} and {name_b} overlap"


BOARD_CHECKS: tuple[Check[Board], ...] = (
    Check(
        "dashboards/template-datasource",
        "a `datasource` variable of type datasource for prometheus (dashboard-linter)",
        _template_datasource,
    ),
    Check(
        "dashboards/template-variables",
        "`job` and `instance` where a query reads a target's series (and `cluster` with `multiCluster`) query "
        "variables on `${datasource}`, multi-value with All (dashboard-linter)",
        _template_variables,
    ),
    Check("dashboards/uid", f"the uid is set and at most {MAX_UID} characters", _uid),
    Check("dashboards/grid-width", f"no panel is wider than the {GRID_WIDTH} grid columns", _grid_width),
    Check("dashboards/panel-overlap", "no two panels overlap", _panel_overlap),
)

# ---- a panel (rows excepted) ---------------------------------------------------------------


def _panel_title(panel: dict) -> Iterator[str]:
    if not panel.get("title"):
        yield "title is missing"


def _panel_description(panel: dict) -> Iterator[str]:
    if not panel.get("description"):
        yield "description is missing"


def _panel_units(panel: dict) -> Iterator[str]:
    if not panel.get("fieldConfig", {}).get("defaults", {}).get("unit"):
        yield "unit is missing"


def _panel_datasource(panel: dict) -> Iterator[str]:
    if panel.get("datasource") != DATASOURCE:
        yield "datasource must be ${datasource}"


def _panel_query(panel: dict) -> Iterator[str]:
    if not panel.get("targets"):
        yield "no query"


PANEL_CHECKS: tuple[Check[dict], ...] = (
    Check("dashboards/panel-title", "every panel has a title (dashboard-linter)", _panel_title),
    Check("dashboards/panel-description", "every panel has a description (dashboard-linter)", _panel_description),
    Check("dashboards/panel-units", "every panel has a unit (dashboard-linter)", _panel_units),
    Check("dashboards/panel-datasource", "every panel uses `${datasource}` (dashboard-linter)", _panel_datasource),
    Check("dashboards/panel-query", "every panel has a query", _panel_query),
)

# ---- a panel's query ---------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    target: dict
    cfg: Config
    recorded: Set[str]
    tree: object | None  # None when the query does not parse
    error: str = ""

    @classmethod
    def of(cls, target: dict, cfg: Config, recorded: Set[str]) -> Query:
        try:
            return cls(target, cfg, recorded, parse(target.get("expr", "")))
        except Exception as exc:  # the parser's errors are plain exceptions
            return cls(target, cfg, recorded, None, str(exc))

    def selectors(self) -> Iterator[tuple[str, set[tuple[str, str, str]], bool]]:
        """(metric name, matchers, inside rate()/increase()) of every vector selector."""
        if self.tree is None:
            return
        for node, in_rate in nodes(self.tree):
            if isinstance(node, p.VectorSelector):
                yield node.name or str(node), _matchers(node.matchers.matchers), in_rate


def _target_datasource(q: Query) -> Iterator[str]:
    if q.target.get("datasource") != DATASOURCE:
        yield "datasource must be ${datasource}"


def _query_parses(q: Query) -> Iterator[str]:
    if q.tree is None:
        yield f"the query does not parse: {q.error}"


def _selector(q: Query) -> Iterator[str]:
    cfg = q.cfg
    required = _matchers(selector_matchers(cfg.selector))
    # Recorded series keep only the selector's labels that are not aggregated away (a truth
    # keeps them all without deduplication).
    kept = _matchers([m for m in selector_matchers(cfg.selector) if m.name in scope_labels(cfg)])
    truths = set(records(cfg)) | {r["record"] for r in threshold_rules(cfg)}
    for name, have, _ in q.selectors():
        if per_target(name, q.recorded) or (name in truths and not cfg.deduplicates):
            wanted = required
        else:
            wanted = kept
        if not wanted <= have:
            yield f"{name} lacks the configured selector {{{cfg.selector}}}"


def _target_job(q: Query) -> Iterator[str]:
    for name, have, _ in q.selectors():
        # Recorded certificate series aggregate the reporters (job, instance) away.
        if ("job", "=~", "$job") not in have and per_target(name, q.recorded):
            yield f'{name} lacks job=~"$job"'


def _target_instance(q: Query) -> Iterator[str]:
    for name, have, _ in q.selectors():
        if ("instance", "=~", "$instance") not in have and per_target(name, q.recorded):
            yield f'{name} lacks instance=~"$instance"'


def _target_cluster(q: Query) -> Iterator[str]:
    label = q.cfg.clusterLabel
    for name, have, _ in q.selectors():
        if q.cfg.multiCluster and (label, "=~", "$cluster") not in have:
            yield f'{name} lacks {label}=~"$cluster"'


def _emitted_metrics(q: Query) -> Iterator[str]:
    for name, _, _ in q.selectors():
        why = metric_problem(q.cfg, name, q.recorded)
        if why:
            yield why


def _counter_rate(q: Query) -> Iterator[str]:
    for name, _, in_rate in q.selectors():
        # A counter's raw value means nothing across restarts.
        if name.endswith("_total") and not in_rate:
            yield f"counter {name} must be read through rate() or increase()"


def _rate_interval(q: Query) -> Iterator[str]:
    if q.tree is None:
        return
    for node, _ in nodes(q.tree):
        if isinstance(node, p.Call) and node.func.name in RATE_FUNCTIONS:
            matrix = node.args[0]
            if isinstance(matrix, p.MatrixSelector) and matrix.range != _SENTINEL_RANGE:
                yield f"{node.func.name}() must use [$__rate_interval]"


QUERY_CHECKS: tuple[Check[Query], ...] = (
    Check("dashboards/target-datasource", "every query uses `${datasource}` (dashboard-linter)", _target_datasource),
    Check(
        "dashboards/query-parses",
        "every query parses as PromQL (`$__rate_interval` standing for a range)",
        _query_parses,
    ),
    Check("dashboards/selector", "every selector carries the configured selector", _selector),
    Check(
        "dashboards/target-job",
        'every selector of a target\'s series has `job=~"$job"` (dashboard-linter)',
        _target_job,
    ),
    Check(
        "dashboards/target-instance",
        'every selector of an exporter series has `instance=~"$instance"` (dashboard-linter)',
        _target_instance,
    ),
    Check(
        "dashboards/target-cluster",
        'with `multiCluster`, every selector matches the cluster label to `"$cluster"`',
        _target_cluster,
    ),
    Check(
        "dashboards/emitted-metrics",
        "only metrics the configured exporter emits, `up`, `scrape_duration_seconds` or our recording rules",
        _emitted_metrics,
    ),
    Check(
        "dashboards/counter-rate",
        "counters are read through `rate()` or `increase()`, or in a birth check `c unless last_over_time(c[...])`",
        _counter_rate,
    ),
    Check(
        "dashboards/rate-interval",
        "`rate()`, `irate()` and `increase()` use `[$__rate_interval]` (dashboard-linter)",
        _rate_interval,
    ),
)


def lint_dashboard(model: dict, cfg: Config, recorded: Set[str] | None = None) -> list[str]:
    """One line per problem, naming the check, the dashboard, the panel and the query."""
    recorded = recorded_names(cfg) if recorded is None else recorded
    off = cfg.lint.disabled
    where = f"dashboard {model.get('title') or '(untitled)'}"
    problems = apply(BOARD_CHECKS, Board(model, cfg, recorded), where, off)
    for panel in model.get("panels", []):
        if panel.get("type") == "row":
            continue
        at = f"{where}, panel {panel.get('title') or panel.get('id')}"
        problems += apply(PANEL_CHECKS, panel, at, off)
        for target in panel.get("targets", []):
            problems += apply(QUERY_CHECKS, Query.of(target, cfg, recorded), f"{at}, query {target.get('refId')}", off)
    return problems


def _unique_uid(models: dict[str, dict]) -> Iterator[str]:
    uids = [str(m.get("uid")) for m in models.values()]
    for uid in sorted({u for u in uids if uids.count(u) > 1}):
        yield f"uid {uid} is used more than once"


SET_CHECKS: tuple[Check[dict[str, dict]], ...] = (
    Check("dashboards/unique-uid", "no two dashboards share a uid", _unique_uid),
)
DASHBOARD_CHECKS = BOARD_CHECKS + PANEL_CHECKS + QUERY_CHECKS + SET_CHECKS


def lint_dashboards(models: dict[str, dict], cfg: Config) -> list[str]:
    recorded = recorded_names(cfg)
    problems = [line for model in models.values() for line in lint_dashboard(model, cfg, recorded)]
    return problems + apply(SET_CHECKS, models, "dashboards", cfg.lint.disabled)
