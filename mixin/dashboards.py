"""The dashboards a configuration generates, and which one explains each alert."""

from __future__ import annotations

from x509_mixin.mixin import dashboard_common as c
from x509_mixin.mixin import dashboard_health, dashboard_inventory, dashboard_overview
from x509_mixin.mixin.config import Config

BUILDERS = {
    "overview": dashboard_overview.dashboard,
    "inventory": dashboard_inventory.dashboard,
    "exporter": dashboard_health.dashboard,
}

# Certificate and CRL alerts open the inventory (find the certificate, see its history);
# every other alert is about an exporter or a source.
INVENTORY_ALERTS = frozenset(
    {
        "CertificateError",
        "CertificateRenewal",
        "CertificateExpiration",
        "CertificateNotYetValid",
        "CertificateRenewalOverdue",
        "CRLNeedsRefresh",
        "CRLStale",
    }
)


def dashboards(cfg: Config) -> dict[str, dict]:
    """File name (without directory) -> dashboard JSON model."""
    return {f"{c.uid(cfg, key)}.json": build(cfg) for key, build in BUILDERS.items()}


def dashboard_key(alert_base: str) -> str:
    return "inventory" if alert_base in INVENTORY_ALERTS else "exporter"


def dashboard_url(cfg: Config, alert_base: str) -> str | None:
    """The `dashboard_url` annotation of an alert, or None without a configured Grafana URL."""
    if not cfg.grafanaUrl:
        return None
    return f"{cfg.grafanaUrl}/d/{c.uid(cfg, dashboard_key(alert_base))}"
