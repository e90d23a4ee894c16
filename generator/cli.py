"""The `x509-mixin` command line."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "exporter":
        from x509_mixin.exporter.cli import main as exporter_main

        return exporter_main(argv[1:])
    print("usage: x509-mixin build|lint|test|migrate|exporter ...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
