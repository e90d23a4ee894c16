"""Per-certificate policies (`certificateOverrides`) as PromQL and alert templates.

Each certificate's threshold is a chain over the entries, first match wins, the global setting
last:

    label_replace(0 * certificate:x509_cert_not_after:max{<entry 1>} + 20 * 86400, "team", ...)
  or ignoring (team) 0 * certificate:x509_cert_not_after:max{<entry 2>} + -Inf     (ignore)
  or ignoring (team) 0 * certificate:x509_cert_not_after:max + 28 * 86400          (global)

recorded once per evaluation (THRESHOLDS, after the truths in the alerts' group), so that each
alert stays one rule that compares with the record, matched on the certificate, taking the
entry's labels (`group_left`); an ignored certificate's threshold is -Inf, which no comparison
passes. Recording costs one series per certificate and threshold, and saves evaluating the chain
in every alert and dashboard count (benchmarks/rules.py). Without overrides nothing is
recorded and every function here returns the plain global form.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from x509_mixin.mixin import promql as q
from x509_mixin.mixin import truth
from x509_mixin.mixin.config import Config
from x509_mixin.mixin.overrides import Override

IGNORED = "-Inf"
# Each certificate's (CRL's) own threshold in seconds, recorded under certificateOverrides.
WARNING = "certificate:x509_cert_not_after:warning_threshold"
CRITICAL = "certificate:x509_cert_not_after:critical_threshold"
CRL_WARNING = "crl:x509_crl_next_update:warning_threshold"


def label_names(cfg: Config) -> tuple[str, ...]:
    """Every label an entry adds to its certificates' alerts."""
    return tuple(sorted({name for o in cfg.certificateOverrides for name in o.labels}))


def chain(
    cfg: Config,
    record: str,
    value: Callable[[Override | None], str],
    ignored: str | None = IGNORED,
    where: str = "",
) -> str:
    """Per series of `record` (those `where` selects): `value(entry)` of the first entry selecting
    it (`ignored` for an ignored one, unless None) with the entry's labels, or `value(None)` for
    the global settings (without entries, `value(None)` itself)."""
    if not cfg.certificateOverrides:
        return value(None)
    branches = []
    for o in cfg.certificateOverrides:
        got = ignored if o.ignore and ignored is not None else value(o)
        branch = f"0 * {q.series(record, where, o.selector)} + {got}"
        for name, text in sorted(o.labels.items()):
            branch = f'label_replace({branch}, {json.dumps(name)}, {json.dumps(text)}, "", "")'
        branches.append(branch)
    branches.append(f"0 * {q.series(record, where)} + {value(None)}")
    names = label_names(cfg)
    glue = f" or ignoring ({', '.join(names)}) " if names else " or "
    return "(" + glue.join(branches) + ")"


def join(cfg: Config, lhs: str, operator: str, rhs: str) -> str:
    """`lhs <operator> rhs` matched on the certificate, taking the entries' labels from `rhs`."""
    names = label_names(cfg)
    if not names:
        return f"{lhs} {operator} {rhs}"
    listed = ", ".join(names)
    return f"{lhs} {operator} ignoring ({listed}) group_left ({listed}) {rhs}"


def also(cfg: Config, lhs: str, rhs: str) -> str:
    """`lhs and rhs` where `lhs` may carry the entries' labels and `rhs` does not."""
    names = label_names(cfg)
    return f"{lhs} and ignoring ({', '.join(names)}) {rhs}" if names else f"{lhs} and {rhs}"


def kept(cfg: Config, record: str, where: str = "") -> str:
    """0 for each series of `record` that is not ignored, with its entry's labels: `x + kept`
    attaches them. The certificates and CRLs read their recorded threshold."""
    recorded = {truth.NOT_AFTER: WARNING, truth.CRL_NEXT_UPDATE: CRL_WARNING}.get(record)
    if recorded is not None:
        return f"0 * ({q.series(recorded, where)} > {IGNORED})"
    return f"({chain(cfg, record, lambda o: '0', where=where)} > {IGNORED})"


def policed(cfg: Config, record: str, expr: str, where: str = "") -> str:
    """`expr` (series of `record`) without ignored certificates and with their entries' labels."""
    if not cfg.certificateOverrides:
        return expr
    return join(cfg, f"({expr})", "+", kept(cfg, record, where))


def ignored(cfg: Config) -> str | None:
    """The certificates an entry ignores, or None when no entry ignores any."""
    if not any(o.ignore for o in cfg.certificateOverrides):
        return None
    return f"{WARNING} == {IGNORED}"


def _days_left(cfg: Config, threshold: str) -> str:
    """Each certificate's `threshold` (warningDaysLeft or criticalDaysLeft) in seconds, its
    entry's own; with the lifetime known, never more than the share of the lifetime the warning
    threshold leaves after renewalOverdueFraction, scaled alike: a 24-hour certificate is judged
    against its own lifetime, a one-year one against the days."""
    known = truth.lifetime(cfg)

    def value(o: Override | None) -> str:
        entry = o or cfg
        limit = q.days(getattr(entry, threshold))
        if known is None:
            return limit
        share = (1 - cfg.renewalOverdueFraction) * getattr(entry, threshold) / entry.warningDaysLeft
        return f"clamp_max({q.number(share)} * {known[2]}, {limit})"

    return chain(cfg, truth.NOT_AFTER, value)


def _crl_days_left(cfg: Config) -> str:
    return chain(cfg, truth.CRL_NEXT_UPDATE, lambda o: q.days((o or cfg).crlWarningDaysLeft))


def threshold_rules(cfg: Config) -> list[dict]:
    """The recorded thresholds (none without certificateOverrides)."""
    if not cfg.certificateOverrides:
        return []
    return [
        {"record": WARNING, "expr": _days_left(cfg, "warningDaysLeft")},
        {"record": CRITICAL, "expr": _days_left(cfg, "criticalDaysLeft")},
        {"record": CRL_WARNING, "expr": _crl_days_left(cfg)},
    ]


def days_left(cfg: Config, threshold: str) -> str:
    """Each certificate's warningDaysLeft or criticalDaysLeft in seconds, lifetime-capped."""
    if cfg.certificateOverrides:
        return WARNING if threshold == "warningDaysLeft" else CRITICAL
    return _days_left(cfg, threshold)


def crl_days_left(cfg: Config) -> str:
    """Each CRL's crlWarningDaysLeft in seconds."""
    return CRL_WARNING if cfg.certificateOverrides else _crl_days_left(cfg)


def _condition(o: Override) -> str:
    tests = []
    for label, operator, value in o.tests:
        got = f"$labels.{label}"
        if operator in ("=", "!="):
            tests.append(f"{'eq' if operator == '=' else 'ne'} {got} {json.dumps(value)}")
        else:
            test = f"match {json.dumps('^(?:' + value + ')$')} {got}"
            tests.append(test if operator == "=~" else f"not ({test})")
    return tests[0] if len(tests) == 1 else "and " + " ".join(f"({t})" for t in tests)


def described(cfg: Config, text: Callable[[Override | None], str]) -> str:
    """A Go-template fragment giving `text(entry)` for the entry that applies to the alert's
    certificate (the same first match as the rule; ignored entries never alert)."""
    entries = [o for o in cfg.certificateOverrides if not o.ignore]
    if not entries:
        return text(None)
    out = ""
    for i, o in enumerate(entries):
        out += ("{{ if " if i == 0 else "{{ else if ") + _condition(o) + " }}" + text(o)
    return out + "{{ else }}" + text(None) + "{{ end }}"
