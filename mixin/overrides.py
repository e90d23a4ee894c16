"""`certificateOverrides`: per-certificate policies chosen by label matchers.

An ordered list; the first entry whose `matchers` select a certificate (or CRL) decides its
thresholds, the labels its alerts carry, or that it raises no alert at all (`ignore`).
Certificates no entry selects keep the global settings. This module validates the entries;
mixin.policies turns them into PromQL and alert templates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from x509_mixin.catalogue.metrics import CERT_LABELS
from x509_mixin.catalogue.promql import is_label_name, matcher_text, op, parse_vector_selector

THRESHOLDS = ("warningDaysLeft", "criticalDaysLeft", "crlWarningDaysLeft")
KEYS = ("matchers", *THRESHOLDS, "labels", "ignore")
# Optional per-certificate labels the exporter adds (exposeLabels).
LABEL_PREFIXES = ("secret_label_", "configmap_label_", "cabundle_label_")
RESERVED_LABELS = ("severity", "alertname")

Fail = Callable[[str, Any, str], None]


@dataclass(frozen=True)
class CertificateLabels:
    """What the configuration does to a certificate's labels besides the exporter's own."""

    kept: frozenset[str]  # on its series too: the cluster, locality and selector labels
    aggregated: frozenset[str]  # the reporters' labels deduplication removes
    on_every_alert: frozenset[str]  # extraAlertLabels, which would replace an entry's


@dataclass(frozen=True)
class Override:
    index: int  # 1 for the first entry
    matchers: tuple[str, ...]  # each as PromQL text: issuer_O="Let's Encrypt"
    tests: tuple[tuple[str, str, str], ...]  # (label, operator, value) of each matcher
    warningDaysLeft: float
    criticalDaysLeft: float
    crlWarningDaysLeft: float
    labels: Mapping[str, str]
    ignore: bool

    @property
    def selector(self) -> str:
        return ", ".join(self.matchers)


def parse(value: Any, fail: Fail, defaults: Mapping[str, float], labels: CertificateLabels) -> tuple[Override, ...]:
    """The validated entries; every problem is reported through `fail(key, value, fix)`, one line
    each. `defaults` are the global thresholds an entry falls back to."""
    if not isinstance(value, list):
        fail("certificateOverrides", value, "expected a list of entries, each with matchers")
        return ()
    out = []
    for i, entry in enumerate(value):
        key = f"certificateOverrides[{i}]"
        if not isinstance(entry, Mapping):
            fail(key, entry, "expected a mapping with matchers and what to change")
            continue
        problems: list[str] = []
        bad = _counting(fail, problems)
        for name in entry:
            if name not in KEYS:
                bad(f"{key}.{name}", entry[name], "unknown key; known keys are: " + ", ".join(KEYS))
        parsed = _entry(i + 1, entry, key, bad, defaults, labels)
        if parsed is None or problems:
            continue
        if not parsed.ignore and not parsed.labels and all(getattr(parsed, n) == defaults[n] for n in THRESHOLDS):
            fail(
                key,
                dict(entry),
                "this entry changes nothing: set thresholds that differ from the global ones, labels, or ignore: true",
            )
            continue
        out.append(parsed)
    return tuple(out)


def _counting(fail: Fail, problems: list[str]) -> Fail:
    """`fail`, also noting each problem's key in `problems`."""

    def bad(key: str, value: Any, fix: str) -> None:
        problems.append(key)
        fail(key, value, fix)

    return bad


def _entry(
    index: int,
    entry: Mapping[str, Any],
    key: str,
    fail: Fail,
    defaults: Mapping[str, float],
    certificate: CertificateLabels,
) -> Override | None:
    known = frozenset(CERT_LABELS) | {"discriminator"} | certificate.kept
    tests = _matchers(entry.get("matchers"), f"{key}.matchers", fail, known, certificate.aggregated)
    days = dict(defaults)
    for name in THRESHOLDS:
        if name in entry:
            v = entry[name]
            if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
                fail(f"{key}.{name}", v, "expected a number of days greater than 0")
            else:
                days[name] = v
    if days["warningDaysLeft"] <= days["criticalDaysLeft"]:
        fail(
            f"{key}.warningDaysLeft",
            days["warningDaysLeft"],
            f"must be greater than criticalDaysLeft ({days['criticalDaysLeft']}) for this entry, counting the global "
            "value where the entry sets none",
        )
    labels = entry.get("labels", {})
    if not isinstance(labels, Mapping):
        fail(f"{key}.labels", labels, "expected a mapping of label names to strings, e.g. {team: payments}")
        labels = {}
    for name, v in labels.items():
        if not is_label_name(name) or name.startswith("__"):
            fail(f"{key}.labels", name, "expected a Prometheus label name such as team")
        elif name in RESERVED_LABELS:
            fail(f"{key}.labels.{name}", v, "set severities with the `severities` key instead")
        elif name == "reason":
            fail(f"{key}.labels.{name}", v, "the error alerts' label (errorsByReason); choose another name")
        elif name in known or name.startswith(LABEL_PREFIXES):
            fail(f"{key}.labels.{name}", v, "a certificate already carries this label; choose another name")
        elif name in certificate.on_every_alert:
            fail(
                f"{key}.labels.{name}",
                v,
                "extraAlertLabels sets this label on every alert, replacing the entry's value; remove it from one",
            )
        elif name in certificate.aggregated:
            fail(f"{key}.labels.{name}", v, "a reporter label (reporterLabels); choose another name")
        elif not isinstance(v, str):
            fail(f"{key}.labels.{name}", v, "expected a string")
    ignore = entry.get("ignore", False)
    if not isinstance(ignore, bool):
        fail(f"{key}.ignore", ignore, "expected true or false")
        ignore = False
    if ignore and (labels or any(n in entry for n in THRESHOLDS)):
        fail(
            f"{key}.ignore",
            ignore,
            "an ignored certificate raises no alert: its thresholds and labels would change nothing; remove them",
        )
    if tests is None:
        return None
    return Override(
        index=index,
        matchers=tuple(text for text, _ in tests),
        tests=tuple(test for _, test in tests),
        warningDaysLeft=days["warningDaysLeft"],
        criticalDaysLeft=days["criticalDaysLeft"],
        crlWarningDaysLeft=days["crlWarningDaysLeft"],
        labels=MappingProxyType(dict(labels)),
        ignore=ignore,
    )


def _matchers(
    text: Any, key: str, fail: Fail, known: frozenset[str], reporters: frozenset[str]
) -> list[tuple[str, tuple[str, str, str]]] | None:
    """Each matcher as (PromQL text, (label, operator, value)), or None when refused."""
    if not isinstance(text, str) or not text.strip():
        fail(key, text, 'expected PromQL label matchers, e.g. issuer_O="Let\'s Encrypt"')
        return None
    try:
        sel = parse_vector_selector(f"up{{{text}}}")
    except ValueError as exc:
        fail(key, text, f'not PromQL label matchers ({exc}); example: secret_namespace=~"payments|billing"')
        return None
    if sel.name != "up" or sel.offset is not None or sel.at is not None or not sel.matchers.matchers:
        fail(key, text, 'expected label matchers only, without braces, e.g. subject_CN!=""')
        return None
    for m in sel.matchers.matchers:
        if m.name in reporters:
            fail(
                key,
                text,
                f"{m.name} names the exporter that reports a certificate, and deduplicateReporters aggregates it "
                "away: match the certificate's own labels (subject_CN, issuer_O, secret_namespace, filepath...)",
            )
            return None
        if m.name not in known and not m.name.startswith(LABEL_PREFIXES):
            fail(
                key,
                text,
                f"no certificate series carries the label {m.name}; use the exporter's certificate labels "
                "(subject_CN, issuer_O, secret_namespace, filepath...) or secret_label_*/configmap_label_*",
            )
            return None
    return [(matcher_text(m), (m.name, op(m), m.value)) for m in sel.matchers.matchers]
