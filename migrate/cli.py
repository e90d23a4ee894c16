"""`x509-mixin migrate rules|dashboard|values|flags`: v3 -> v4 migration.

Output goes to stdout (one input), or back into each file with `-i`; `--check` writes
nothing and exits 1 when a change is due (including one only a human can make). The report
goes to stderr. Exit status 2 on bad input, with nothing written: every file is migrated in
memory before any is written.
"""

from __future__ import annotations

import argparse
import sys

from x509_mixin.migrate import dashboard, flags, rules, values
from x509_mixin.migrate.fileio import check_writable, read_text, write_atomic
from x509_mixin.migrate.promql import DEFAULT_WINDOW, check_window
from x509_mixin.migrate.report import InputError, Report

FILE_COMMANDS = {"rules": rules.migrate, "dashboard": dashboard.migrate, "values": values.migrate}


def _window(text: str) -> str:
    try:
        return check_window(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="x509-mixin migrate", description="Migrate x509-certificate-exporter v3 artifacts to v4."
    )
    sub = parser.add_subparsers(dest="what", required=True, metavar="rules|dashboard|values|flags")
    helps = {
        "rules": "Prometheus rule files and PrometheusRule objects",
        "dashboard": "Grafana dashboard JSON files",
        "values": "the Helm chart's values.yaml",
    }
    for name, text in helps.items():
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("files", nargs="+" if name != "values" else 1, metavar="FILE")
        mode = cmd.add_mutually_exclusive_group()
        mode.add_argument("-i", "--in-place", action="store_true", help="rewrite each FILE in place")
        mode.add_argument("--check", action="store_true", help="write nothing; exit 1 when a change is due")
        cmd.add_argument(
            "--window",
            type=_window,
            default=DEFAULT_WINDOW,
            help=f"range of increase() replacing x509_read_errors (default {DEFAULT_WINDOW})",
        )
    cmd = sub.add_parser("flags", help="a v3 command line, printed as the v4 YAML configuration")
    cmd.add_argument("--check", action="store_true", help="print nothing; exit 1 when the command line needs a change")
    cmd.add_argument("args", nargs=argparse.REMAINDER, metavar="-- ARGS", help="the v3 command line")
    return parser


def _emit(report: Report) -> None:
    for line in report.lines():
        print(line, file=sys.stderr)


def _files(args) -> int:
    if len(args.files) > 1 and not (args.in_place or args.check):
        print(f"x509-mixin migrate {args.what}: several files need -i or --check (stdout takes one)", file=sys.stderr)
        return 2
    report = Report()
    results = []
    for path in args.files:
        text = read_text(path)
        results.append((path, text, FILE_COMMANDS[args.what](text, path, report, args.window)))
    changed = [(path, new) for path, text, new in results if new != text]
    if args.in_place:
        for path, _new in changed:
            check_writable(path)
        for path, new in changed:
            try:
                write_atomic(path, new)
            except OSError as exc:
                print(f"{path}: error: cannot write it ({exc.strerror})", file=sys.stderr)
                return 2
    elif not args.check:
        sys.stdout.write(results[0][2])
    _emit(report)
    return 1 if args.check and (changed or report.due) else 0


def _flags(args) -> int:
    argv = args.args[1:] if args.args[:1] == ["--"] else args.args
    report = Report()
    text, due = flags.migrate(argv, report)
    if not args.check:
        sys.stdout.write(text)
    _emit(report)
    return 1 if args.check and due else 0


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # usage errors (2) and --help (0) as a status, for callers
        return int(exc.code or 0)
    try:
        return _flags(args) if args.what == "flags" else _files(args)
    except InputError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except Exception as exc:  # a bug must not read as `--check`'s "change due" (1), nor write anything
        print(f"x509-mixin migrate: internal error ({type(exc).__name__}: {exc}); nothing written", file=sys.stderr)
        return 2
