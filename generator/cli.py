"""The `x509-mixin` command line."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import version
from pathlib import Path

import yaml

from x509_mixin.generator.amtool import AmtoolMissing
from x509_mixin.generator.promtool import PromtoolMissing
from x509_mixin.mixin.config import LINT_CHECKS, Config, ConfigError, load


class InputError(Exception):
    """Bad input: reported as one line per problem, exit status 2."""


def load_config(path: str | None) -> Config:
    if path is None:
        return load()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"config file {path}: cannot read it ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(f"config file {path}: invalid YAML{at}: {getattr(exc, 'problem', exc)}") from None
    try:
        return load({} if data is None else data)
    except ConfigError as exc:
        raise InputError("\n".join(f"{path}: {line}" for line in exc.problems)) from None


def cmd_build(args) -> int:
    from x509_mixin.generator.build import write

    cfg = load_config(args.config)
    for path in write(cfg, Path(args.out)):
        print(f"wrote {path}")
    return 0


def cmd_lint(args) -> int:
    from x509_mixin.generator.lint import lint

    cfg = load_config(args.config)
    problems = lint(cfg)
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        return 1
    if cfg.lint.disabled:
        ran = len(LINT_CHECKS) - len(cfg.lint.disabled)
        print(f"lint: ok ({ran} of {len(LINT_CHECKS)} checks; disabled: {', '.join(sorted(cfg.lint.disabled))})")
    else:
        print(
            "lint: ok (promtool check rules --lint=all --lint-fatal, mixin rule checks, dashboard checks, "
            "amtool check-config)"
        )
    return 0


def cmd_test(args) -> int:
    from x509_mixin.generator import routes_tests
    from x509_mixin.generator.unittests import run_suites

    cfg = load_config(args.config) if args.config else None
    report = run_suites(cfg)
    routes_ok, routes_lines = routes_tests.report(cfg)
    for line in report.lines + routes_lines:
        print(line)
    return 0 if report.ok and routes_ok else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="x509-mixin", description="Certificate-expiry monitoring mixin.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('x509-mixin')}")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="write rules/ (with alertmanager.yaml) and dashboards/ under --out")
    build.add_argument("--config", help="mixin configuration (YAML); built-in defaults when absent")
    build.add_argument("--out", default=".", help="output directory (default: .)")
    build.set_defaults(func=cmd_build)
    lint = sub.add_parser(
        "lint", help="promtool check rules, the mixin's rule checks, the dashboard checks, amtool check-config"
    )
    lint.add_argument("--config")
    lint.set_defaults(func=cmd_lint)
    test = sub.add_parser(
        "test", help="promtool unit tests on the generated rules, amtool routing tests on the Alertmanager file"
    )
    test.add_argument("--config")
    test.set_defaults(func=cmd_test)
    sub.add_parser("exporter", help="the reference exporter (x509-mixin exporter --help)", add_help=False)
    sub.add_parser("migrate", help="v3 -> v4 migration (x509-mixin migrate --help)", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "exporter":
        from x509_mixin.exporter.cli import main as exporter_main

        return exporter_main(argv[1:])
    if argv and argv[0] == "migrate":
        from x509_mixin.migrate.cli import main as migrate_main

        return migrate_main(argv[1:])
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except InputError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except (PromtoolMissing, AmtoolMissing) as exc:
        print(f"x509-mixin {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
