"""Package data: the promtool unit-test suites that `x509-mixin test` runs (one folder per configuration)."""
