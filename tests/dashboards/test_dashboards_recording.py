"""The promtool suite of the dashboards' recording rules (tests/promtool/dashboards) passes,
adapted to other configurations too, and catches a wrong rule."""

from __future__ import annotations

import pytest

from x509_mixin.generator import unittests as ut
from x509_mixin.mixin.config import load
from x509_mixin.mixin.dashboard_rules import RECORDS, kept_labels

SUITE = next(s for s in ut.suites() if s.name == "dashboards")


@pytest.mark.parametrize("variant", [None, *ut.VARIANTS])
def test_suite_passes(variant, tmp_path):
    cfg = ut.effective_config(SUITE, load(ut.VARIANTS[variant]) if variant else None)
    result = ut.run_suite(SUITE, cfg, tmp_path)
    assert result.ok, result.output


def test_suite_tests_every_record():
    text = SUITE.files[0].read_text()
    assert all(f"expr: {record}\n" in text for record in RECORDS)


@pytest.mark.parametrize(
    "overrides",
    [
        {"criticalDaysLeft": 4},  # the 5-day certificate leaves `critical`
        {"warningDaysLeft": 19},  # the 20-day certificate leaves `warning`
        {"deduplicateReporters": False},  # the file reported twice counts twice
    ],
    ids=lambda o: next(iter(o)),
)
def test_suite_catches_a_wrong_rule(overrides, tmp_path):
    result = ut.run_suite(SUITE, load({}), tmp_path, rules_cfg=load(overrides))
    assert not result.ok and "FAILED" in result.output


def test_recorded_counts_keep_the_cluster_and_the_selectors_own_labels_not_job():
    # One certificate scraped under two job names is one certificate: job is a reporter label.
    assert kept_labels(load()) == ()
    assert kept_labels(load({"multiCluster": True, "clusterLabel": "k8s", "selector": 'env="prod", job="x"'})) == (
        "k8s",
        "env",
    )
