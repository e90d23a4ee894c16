"""The per-certificate truth: recorded once per evaluation, read by the alerts and dashboards.

Each record holds one series per certificate (or CRL, or bundle with `x509_cert_error`),
deduplicated across reporters and carried through missed scrapes, exporter restarts and
replacements (mixin.promql). They are evaluated in the alerts' own rule group, before the
alerts, so an alert always reads the truth of the same evaluation, and loading the alert
file alone is enough.
"""

from __future__ import annotations

from x509_mixin.mixin import promql as q
from x509_mixin.mixin.config import Config

NOT_AFTER = "certificate:x509_cert_not_after:max"
NOT_BEFORE = "certificate:x509_cert_not_before:max"
EXPIRES_IN = "certificate:x509_cert_expires_in_seconds:max"
VALID_SINCE = "certificate:x509_cert_valid_since_seconds:max"
CRL_NEXT_UPDATE = "crl:x509_crl_next_update:max"
BUNDLE_ERROR = "bundle:x509_cert_error:max"


def _metric(record: str) -> str:
    return record.split(":")[1]


def records(cfg: Config) -> tuple[str, ...]:
    """The truths this configuration's exporter gates allow."""
    names = [NOT_AFTER, CRL_NEXT_UPDATE]
    if cfg.gate("exposeNotBefore"):
        names.append(NOT_BEFORE)
    elif cfg.gate("exposeRelative"):
        names += [EXPIRES_IN, VALID_SINCE]
    if cfg.gate("exposePerCertError"):
        names.append(BUNDLE_ERROR)
    return tuple(names)


def truth_rules(cfg: Config) -> list[dict]:
    """The per-target state, then one record per truth."""
    return q.state_rules(cfg) + [{"record": name, "expr": q.certificate(cfg, _metric(name))} for name in records(cfg)]


def lifetime(cfg: Config) -> tuple[str, str, str] | None:
    """(time left, time elapsed, whole lifetime) of each certificate, when the gates tell them."""
    if cfg.gate("exposeNotBefore"):
        return f"({NOT_AFTER} - time())", f"(time() - {NOT_BEFORE})", f"({NOT_AFTER} - {NOT_BEFORE})"
    if cfg.gate("exposeRelative"):
        return EXPIRES_IN, VALID_SINCE, f"({EXPIRES_IN} + {VALID_SINCE})"
    return None
