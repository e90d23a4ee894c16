"""The dashboards a configuration generates, and which one explains each alert."""

from __future__ import annotations

import urllib.parse

from x509_mixin.mixin import dashboard_common as c
from x509_mixin.mixin import dashboard_health, dashboard_inventory, dashboard_overview
from x509_mixin.mixin.config import Config

BUILDERS = {
    "overview": dashboard_overview.dashboard,
    "inventory": dashboard_inventory.dashboard,
    "exporter": dashboard_health.dashboard,
}

# What an alert is about (mixin.alerts.Alert.kind) -> the dashboard that explains it, and the
# variables its link sets from the alert's labels: (variable, labels tried in order). A
# certificate's link pins it exactly (an empty label is a value: a Secret has no file path);
# a source's link narrows only on the labels the alert has.
LINKS: dict[str, tuple[str, tuple[tuple[str, tuple[str, ...]], ...], bool]] = {
    "certificate": (
        "inventory",
        (
            ("subject", ("subject_CN",)),
            ("issuer", ("issuer_CN",)),
            ("namespace", ("secret_namespace", "configmap_namespace")),
            ("path", ("filepath",)),
            ("serial", ("serial_number",)),
        ),
        True,
    ),
    "exporter": ("exporter", (("job", ("job",)), ("instance", ("instance",)), ("source", ("source_name",))), False),
}
TIME_RANGE = {"inventory": "now-7d", "exporter": "now-6h"}


def dashboards(cfg: Config) -> dict[str, dict]:
    """File name (without directory) -> dashboard JSON model."""
    return {f"{c.uid(cfg, key)}.json": build(cfg) for key, build in BUILDERS.items()}


def dashboard_key(kind: str) -> str:
    return LINKS[kind][0]


def _params(cfg: Config, kind: str) -> tuple[tuple[tuple[str, tuple[str, ...]], ...], bool]:
    _, params, exact = LINKS[kind]
    if cfg.multiCluster:
        params = (("cluster", (cfg.clusterLabel,)),) + params
    return params, exact


def dashboard_url(cfg: Config, kind: str) -> str | None:
    """The `dashboard_url` annotation (a Go template): the dashboard that explains the alert,
    filtered on the alert's certificate or source; None without a configured Grafana URL."""
    if not cfg.grafanaUrl:
        return None
    key = dashboard_key(kind)
    url = f"{cfg.grafanaUrl}/d/{c.uid(cfg, key)}?from={TIME_RANGE[key]}&to=now"
    params, exact = _params(cfg, kind)
    for var, labels in params:
        first, *others = labels
        if exact:
            value = "".join(f"{{{{ with $labels.{lb} }}}}{{{{ . | urlquery }}}}{{{{ else }}}}" for lb in labels[:-1])
            value += f"{{{{ $labels.{labels[-1]} | urlquery }}}}" + "{{ end }}" * len(others)
            url += f"&var-{var}={value}"
        else:
            url += f"{{{{ with $labels.{first} }}}}&var-{var}={{{{ . | urlquery }}}}{{{{ end }}}}"
    return url


def rendered_dashboard_url(cfg: Config, kind: str, labels: dict[str, str]) -> str | None:
    """`dashboard_url` as Prometheus renders it for an alert with these labels."""
    if not cfg.grafanaUrl:
        return None
    key = dashboard_key(kind)
    url = f"{cfg.grafanaUrl}/d/{c.uid(cfg, key)}?from={TIME_RANGE[key]}&to=now"
    params, exact = _params(cfg, kind)
    for var, names in params:
        value = next((labels[n] for n in names if labels.get(n)), labels.get(names[-1], ""))
        if exact or value:
            url += f"&var-{var}={urllib.parse.quote_plus(value)}"  # Go's url.QueryEscape
    return url
