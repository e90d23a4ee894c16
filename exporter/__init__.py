"""The reference x509 certificate exporter: the v4 metric surface for files on disk.

config -> sources (file, kubeconfig; the walk follows upstream's globs) -> parsers (PEM framed
as Go does, DER, PKCS#12, CRL) -> registry (exposition text rendered once per change) -> HTTP
server (/metrics, /healthz, /readyz, /).
"""
