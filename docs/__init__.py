"""Package data: the runbooks, shipped so that `x509-mixin lint` checks runbook anchors when installed."""
