"""`x509-mixin migrate rules` on the v3 chart's PrometheusRule and on a team's rule file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from migrate_helpers import fixture_text, replace_once

from x509_mixin.generator import promtool
from x509_mixin.migrate import cli

PR = "v3-prometheusrule.yaml"
TEAM = "team-rules.yaml"

PR_EXPECTED = replace_once(
    fixture_text(PR), "expr: delta(x509_read_errors[15m]) > 0", "expr: increase(x509_source_errors_total[15m]) > 0"
)
PR_REPORT = [
    "v3-prometheusrule.yaml:19: delta(x509_read_errors[15m]) > 0 -> increase(x509_source_errors_total[15m]) > 0 "
    "(x509_read_errors was removed in v4; increase() over the x509_source_errors_total counter gives the change "
    "the v3 gauge showed)",
    "v3-prometheusrule.yaml:27: warning: CertificateError: x509_cert_error needs metrics.exposePerCertError: true "
    "(chart: exposePerCertificateErrorMetrics: true): v4 does not emit it by default",
]

TEAM_EXPECTED = replace_once(
    replace_once(
        replace_once(
            fixture_text(TEAM),
            "          sum by (namespace, pod) (\n"
            '            x509_read_errors{job="x509-certificate-exporter"}\n'
            "          ) > 0\n",
            "          sum by (namespace, pod) (increase(x509_source_errors_total"
            '{job="x509-certificate-exporter"}[15m])) > 0\n',
        ),
        'expr: "max_over_time(x509_read_errors[1h]) > 3"',
        'expr: "max_over_time(sum without (source_kind, source_name, reason) '
        '(increase(x509_source_errors_total[15m]))[1h:]) > 3"',
    ),
    """expr: 'rate(x509_read_errors{job=~"x509.*"}[1h])'""",
    """expr: 'rate(x509_source_errors_total{job=~"x509.*"}[1h])'""",
)


def test_chart_prometheusrule_exact_output_and_report(workdir, migrate):
    run = migrate("rules", PR)
    assert run.code == 0
    assert run.out == PR_EXPECTED
    assert run.err == PR_REPORT


def test_team_file_keeps_comments_quoting_and_other_teams_rules(workdir, migrate):
    run = migrate("rules", TEAM)
    assert run.code == 0
    # Only the three x509_read_errors expressions change: each in its own quoting style
    # (literal block, double and single quotes); comments, flow mappings and node rules stay.
    assert run.out == TEAM_EXPECTED
    assert run.err == [
        'team-rules.yaml:26: sum by (namespace, pod) ( x509_read_errors{job="x509-certificate-exporter"} ) > 0 -> '
        'sum by (namespace, pod) (increase(x509_source_errors_total{job="x509-certificate-exporter"}[15m])) > 0 '
        "(x509_read_errors was removed in v4; increase(x509_source_errors_total[15m]) counts the errors of the "
        "last 15m, per source and reason)",
        "team-rules.yaml:36: max_over_time(x509_read_errors[1h]) > 3 -> max_over_time(sum without (source_kind, "
        "source_name, reason) (increase(x509_source_errors_total[15m]))[1h:]) > 3 (x509_read_errors was removed in "
        "v4; a range over it becomes a subquery over increase(x509_source_errors_total[15m]), the counter form of "
        "the v3 gauge's value; v4 has one series per source and reason where v3 had one per exporter: sum without "
        "(source_kind, source_name, reason) gives v3's series back where the query counts, ranks, compares or joins "
        "them)",
        'team-rules.yaml:41: rate(x509_read_errors{job=~"x509.*"}[1h]) -> '
        'rate(x509_source_errors_total{job=~"x509.*"}[1h]) (x509_read_errors was removed in v4; rate() over the '
        "x509_source_errors_total counter gives the change the v3 gauge showed)",
        "team-rules.yaml:36: warning: CertificateReadErrorsGrowing: max_over_time(x509_read_errors[1h]) > 3: 3 was "
        "a threshold on v3's gauge (failed reads at the latest scrape); the v4 form counts errors of "
        "x509_source_errors_total (over 15m, or per second for rate()): check the threshold",
        "team-rules.yaml:43: warning: CertificateNotYetValid: x509_cert_not_before needs metrics.exposeNotBefore: "
        "true (chart: exposeNotBeforeMetric: true): v4 does not emit it by default",
        "team-rules.yaml:48: warning: CertificateExpired: x509_cert_expired needs metrics.exposeExpired (chart: "
        "exposeExpiredMetric) to stay on: v4 emits it by default, setting it to false removes the series",
    ]


def test_window_option(workdir, migrate):
    run = migrate("rules", "--window", "1h", TEAM)
    assert 'increase(x509_source_errors_total{job="x509-certificate-exporter"}[1h])' in run.out
    assert migrate("rules", "--window", "soon", TEAM).code == 2


def test_migrated_rules_pass_promtool_check(workdir, migrate):
    Path("team-v4.yaml").write_text(migrate("rules", TEAM).out)
    Path("pr-v4.yaml").write_text(migrate("rules", PR).out)
    spec = promtool.extract_spec(Path("pr-v4.yaml"), Path("pr-v4-spec.yaml"))
    result = promtool.check_rules([Path("team-v4.yaml"), spec])
    assert result.ok, result.output


def test_migrated_read_errors_alert_fires_on_v4_series_when_v3_did(workdir, migrate):
    """Same alert, same time: the v3 rule on the v3 gauge, the migrated rule on the v4 counter."""
    promtool.extract_spec(Path(PR), Path("v3.yaml"))
    Path("pr-v4.yaml").write_text(migrate("rules", PR).out)
    promtool.extract_spec(Path("pr-v4.yaml"), Path("v4.yaml"))
    result = promtool.test_rules([Path("read-errors-v3.promtool.yaml"), Path("read-errors-v4.promtool.yaml")])
    assert result.ok, result.output
    assert result.output.count("SUCCESS") == 2


def test_second_run_changes_nothing(workdir, migrate):
    for name in (PR, TEAM):
        assert migrate("rules", "-i", name).code == 0
        migrated = Path(name).read_bytes()
        again = migrate("rules", "--check", name)
        assert again.code == 0
        assert not [line for line in again.err if "->" in line]  # warnings only, no change
        assert migrate("rules", name).out.encode() == migrated


def test_check_exits_1_when_a_change_is_due_and_writes_nothing(workdir, migrate):
    before = Path(PR).read_bytes()
    run = migrate("rules", "--check", PR, TEAM)
    assert run.code == 1
    assert run.out == ""
    assert Path(PR).read_bytes() == before
    assert run.err[0] == PR_REPORT[0]


def test_in_place_rewrites_every_file(workdir, migrate):
    os.chmod(PR, 0o600)
    run = migrate("rules", "-i", PR, TEAM)
    assert run.code == 0 and run.out == ""
    assert Path(PR).read_text() == PR_EXPECTED
    assert Path(TEAM).read_text() == TEAM_EXPECTED
    assert os.stat(PR).st_mode & 0o777 == 0o600
    assert sorted(p.name for p in workdir.iterdir() if p.name.startswith(".")) == []  # no temporary file left


def test_several_files_need_in_place_or_check(workdir, migrate):
    run = migrate("rules", PR, TEAM)
    assert run.code == 2
    assert run.err == ["x509-mixin migrate rules: several files need -i or --check (stdout takes one)"]


def test_stdout_keeps_crlf_line_ends(workdir, migrate):
    Path("crlf.yaml").write_bytes(
        b"groups:\r\n- name: a\r\n  rules:\r\n  - alert: A\r\n    expr: x509_read_errors > 0\r\n"
    )
    run = migrate("rules", "-i", "crlf.yaml")
    assert run.code == 0
    assert Path("crlf.yaml").read_bytes() == (
        b"groups:\r\n- name: a\r\n  rules:\r\n  - alert: A\r\n    expr: increase(x509_source_errors_total[15m]) > 0\r\n"
    )


BAD = {
    "invalid-yaml.yaml": ("groups:\n- name: a\n  rules: [\n", "invalid-yaml.yaml:4: error: invalid YAML: "),
    "not-rules.yaml": ("scrape_configs:\n- job_name: x\n", "not-rules.yaml:1: error: unknown file shape: "),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_exits_2_and_writes_nothing(workdir, migrate, name):
    text, prefix = BAD[name]
    Path(name).write_text(text)
    before = Path(PR).read_bytes()
    run = migrate("rules", "-i", PR, name)  # the good file comes first: it must not be written either
    assert run.code == 2
    assert len(run.err) == 1 and run.err[0].startswith(prefix), run.err
    assert Path(PR).read_bytes() == before
    assert Path(name).read_text() == text


def test_other_kubernetes_objects_are_left_alone(workdir, migrate):
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: x509_read_errors}\n---\n" + fixture_text(
        PR
    ).removeprefix("---\n")
    Path("bundle.yaml").write_text(text)
    run = migrate("rules", "bundle.yaml")
    assert run.code == 0
    assert run.out.startswith("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: x509_read_errors}\n")
    assert "bundle.yaml:1: warning: ConfigMap is not a PrometheusRule: left as it is" in run.err


def test_block_folded_and_flow_styles(workdir, migrate):
    Path("styles.yaml").write_text(
        "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: >\n      x509_read_errors\n      > 0\n"
        "  - alert: B\n    expr: |-\n      x509_read_errors > 0\n"
        "  - {record: r, expr: sum(x509_read_errors)}\n"
    )
    run = migrate("rules", "styles.yaml")
    assert run.code == 0
    assert run.out == (
        "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: >\n      increase(x509_source_errors_total[15m]) > 0\n"
        "  - alert: B\n    expr: |-\n      increase(x509_source_errors_total[15m]) > 0\n"
        '  - {record: r, expr: "sum(increase(x509_source_errors_total[15m]))"}\n'
    )


def test_value_in_annotations_of_a_rewritten_rule_is_reported(workdir, migrate):
    Path("value.yaml").write_text(
        "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: x509_read_errors > 0\n"
        "    annotations:\n      description: '{{ $value }} read errors'\n"
    )
    run = migrate("rules", "value.yaml")
    assert run.err[-1] == (
        "value.yaml:5: warning: A: its annotations use $value, which is now the v4 form's value "
        "(errors over the window): check the wording"
    )


# Helm output for a team's chart: a header, another team's rules using Prometheus 2's
# holt_winters and functions the parser may not know, YAML anchors shared by two alerts, a
# query in an annotation, an expression only a human can fix, and the trailing `---`.
HELM_OUTPUT = """\
---
# Source: platform-alerts/templates/rules.yaml
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: platform-alerts
spec:
  groups:
    - name: capacity
      rules:
        - record: node:load1:forecast
          expr: holt_winters(node_load1[1h], 0.3, 0.3)
        - record: node:load1:smoothed
          expr: double_exponential_smoothing(node_load1[1h], 0.3, 0.3)
        - record: job:up:limited
          expr: limitk(5, up) or sort_by_label(up, "job")
        - record: job:up:anchored
          expr: rate(node_cpu_seconds_total[5m] anchored)
    - name: certificates
      rules:
        - alert: CertificateReadErrors
          expr: &readerr sum by (instance) (x509_read_errors) > 0
          for: 10m
          annotations:
            summary: The exporter cannot read some certificates.
            description: >-
              {{ with query "sum(x509_read_errors)" }}{{ . | first | value }}{{ end }} errors in all.
        - alert: CertificateReadErrorsPaged
          expr: *readerr
          for: 1h
          labels:
            severity: critical
        - alert: CertificateReadErrorsByHand
          expr: x509_read_errors > on(instance) group_left x509_budget{
---
"""


def test_helm_output_with_anchors_and_functions_the_parser_does_not_know(workdir, migrate):
    Path("helm.yaml").write_text(HELM_OUTPUT)
    run = migrate("rules", "helm.yaml")
    assert run.code == 0
    assert run.out == HELM_OUTPUT.replace(
        "expr: &readerr sum by (instance) (x509_read_errors) > 0",
        "expr: &readerr sum by (instance) (increase(x509_source_errors_total[15m])) > 0",
    ).replace(
        '{{ with query "sum(x509_read_errors)" }}', '{{ with query "sum(increase(x509_source_errors_total[15m]))" }}'
    )
    selector = (
        "x509_read_errors was removed in v4; increase(x509_source_errors_total[15m]) counts the errors of the last "
        "15m, per source and reason"
    )
    assert run.err == [
        "helm.yaml:22: sum by (instance) (x509_read_errors) > 0 -> sum by (instance) "
        f"(increase(x509_source_errors_total[15m])) > 0 ({selector})",
        'helm.yaml:26: {{ with query "sum(x509_read_errors)" }}{{ . | first | value }}{{ end }} errors in all. -> '
        '{{ with query "sum(increase(x509_source_errors_total[15m]))" }}{{ . | first | value }}{{ end }} errors in '
        f"all. ({selector})",
        "helm.yaml:18: warning: job:up:anchored: invalid PromQL: invalid promql query; left as it is: "
        "rate(node_cpu_seconds_total[5m] anchored)",
        "helm.yaml:34: warning: CertificateReadErrorsByHand: invalid PromQL: unexpected end of input inside braces; "
        "it names "
        "x509_read_errors, which v4 removed: migrate it by hand: x509_read_errors > on(instance) group_left "
        "x509_budget{",
    ]
    # the alias is left as it is: it reads the rewritten anchor
    Path("helm.yaml").write_text(run.out)
    again = migrate("rules", "--check", "helm.yaml")
    assert again.code == 1  # the expression only a human can migrate is still due
    assert [line for line in again.err if "->" in line] == []


def test_an_alias_read_by_an_alert_and_a_recording_rule_keeps_the_recorded_values(workdir, migrate):
    text = (
        "groups:\n- name: a\n  rules:\n  - alert: Errors\n    expr: &e max by (job) (x509_read_errors) > 0\n"
        "  - record: job:x509_errors:max\n    expr: *e\n"
    )
    Path("alias.yaml").write_text(text)
    run = migrate("rules", "alias.yaml")
    assert run.out == text.replace(
        "&e max by (job) (x509_read_errors) > 0",
        "&e max by (job) (sum without (source_kind, source_name, reason) (increase(x509_source_errors_total[15m]))) > 0",
    )
    assert len([line for line in run.err if "->" in line]) == 1


def test_trailing_document_separators_and_empty_documents(workdir, migrate):
    text = "---\ngroups:\n- name: a\n  rules:\n  - alert: A\n    expr: x509_read_errors > 0\n---\n---\n# end\n"
    Path("docs.yaml").write_text(text)
    run = migrate("rules", "docs.yaml")
    assert run.code == 0
    assert run.out == text.replace("x509_read_errors > 0", "increase(x509_source_errors_total[15m]) > 0")


def test_a_query_in_an_annotation_that_cannot_be_read_is_due(workdir, migrate):
    text = (
        "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up == 0\n    annotations:\n"
        "      description: '{{ query (printf \"x509_read_errors{instance=%q}\" $labels.instance) | first | value }}'\n"
    )
    Path("annotation.yaml").write_text(text)
    run = migrate("rules", "--check", "annotation.yaml")
    assert run.code == 1
    assert run.err == [
        'annotation.yaml:7: warning: A: annotations.description: {{ query (printf "x509_read_errors{instance=%q}" '
        "$labels.instance) | first | value }} names x509_read_errors in a way the migration cannot read (not a "
        "quoted query): migrate it by hand"
    ]


@pytest.mark.parametrize(
    "window,message",
    [
        ("15", "not a PromQL duration: '15' (a number and a unit: ms, s, m, h, d, w or y, e.g. 15m)"),
        ("15 m", "not a PromQL duration: '15 m' (a number and a unit: ms, s, m, h, d, w or y, e.g. 15m)"),
        ("1.5h", "not a PromQL duration: '1.5h' (a number and a unit: ms, s, m, h, d, w or y, e.g. 15m)"),
        ("m15", "not a PromQL duration: 'm15' (a number and a unit: ms, s, m, h, d, w or y, e.g. 15m)"),
        ("0s", "not a positive duration: '0s'"),
        ("", "not a PromQL duration: '' (a number and a unit: ms, s, m, h, d, w or y, e.g. 15m)"),
    ],
)
def test_bad_window_is_refused(workdir, migrate, window, message):
    run = migrate("rules", "--window", window, TEAM)
    assert run.code == 2
    assert run.err[-1] == f"x509-mixin migrate rules: error: argument --window: {message}"
    assert run.out == ""


def test_window_with_units_is_valid_promql(workdir, migrate):
    run = migrate("rules", "--window", "1h30m", PR)
    assert "increase(x509_source_errors_total[1h30m]) > 0" not in run.out  # delta keeps its own range
    Path("w.yaml").write_text("groups:\n- name: a\n  rules:\n  - record: r\n    expr: sum(x509_read_errors)\n")
    out = migrate("rules", "--window", "1h30m", "w.yaml").out
    assert "sum(increase(x509_source_errors_total[1h30m]))" in out
    Path("w.yaml").write_text(out)
    assert promtool.check_rules([Path("w.yaml")]).ok


def test_in_place_edits_a_symlinks_target_and_keeps_owner_group_and_mode(workdir, migrate):
    real = workdir / "shared" / "team-rules.yaml"
    real.parent.mkdir()
    os.replace(TEAM, real)
    os.symlink(real, TEAM)
    os.chmod(real, 0o640)
    owner = (4321, 8765) if os.geteuid() == 0 else (os.geteuid(), os.getegid())
    os.chown(real, *owner)  # as root: another user's file
    run = migrate("rules", "-i", TEAM)
    assert run.code == 0
    assert Path(TEAM).is_symlink() and os.readlink(TEAM) == str(real)
    assert real.read_text() == TEAM_EXPECTED
    st = os.stat(real)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (*owner, 0o640)
    assert sorted(p.name for p in real.parent.iterdir()) == ["team-rules.yaml"]  # no temporary file left


def test_in_place_as_another_user_refuses_a_file_it_cannot_give_back():
    """As a user who may write the file but not give it back to its owner: nothing written."""
    if os.geteuid() != 0:
        pytest.skip("needs root to act as two other users")
    shared = Path(tempfile.mkdtemp(prefix="x509-migrate-"))  # pytest's own directories are private to root
    try:
        os.chmod(shared, 0o777)
        path = shared / "rules.yaml"
        path.write_text(fixture_text(PR))
        os.chmod(path, 0o666)
        os.chown(path, 4321, 4321)
        # imports first, as root (the virtualenv may be private), then become user 5555
        script = (
            "import locale, os, sys; from x509_mixin.migrate.cli import main; os.setgroups([]); os.setgid(5555); "
            "os.setuid(5555); sys.exit(main(['rules', '-i', sys.argv[1]]))"
        )
        done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip() == (
            f"{path}:0: error: owned by 4321:4321, which a rewrite by this user cannot keep: run it as that user"
        )
        assert path.read_text() == fixture_text(PR)
        assert sorted(p.name for p in shared.iterdir()) == ["rules.yaml"]
    finally:
        shutil.rmtree(shared)


@pytest.mark.parametrize(
    "argv,message",
    [
        (
            ["rules", "-i", "--check", TEAM],
            "x509-mixin migrate rules: error: argument --check: not allowed with argument -i/--in-place",
        ),
        (["values", "a.yaml", "b.yaml"], "x509-mixin migrate: error: unrecognized arguments: b.yaml"),
        (["rules", "--window"], "x509-mixin migrate rules: error: argument --window: expected one argument"),
        (["rules"], "x509-mixin migrate rules: error: the following arguments are required: FILE"),
    ],
)
def test_bad_options_exit_2(workdir, migrate, argv, message):
    run = migrate(*argv)
    assert run.code == 2
    assert run.err[-1] == message


def test_a_bug_is_exit_2_with_nothing_written_never_1(workdir, migrate, monkeypatch):
    """`--check` users read 1 as "a change is due": an unexpected failure must not say that."""

    def broken(text, path, report, window):
        raise KeyError("boom")

    monkeypatch.setitem(cli.FILE_COMMANDS, "rules", broken)
    before = Path(PR).read_bytes()
    run = migrate("rules", "--check", PR)
    assert run.code == 2
    assert run.err == ["x509-mixin migrate: internal error (KeyError: 'boom'); nothing written"]
    assert Path(PR).read_bytes() == before
