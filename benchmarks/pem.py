"""PEM parsing on hostile input: many `BEGIN X509 CRL` lines that no `END X509 CRL` closes, then one certificate.

For each size, the median time of `parsers.parse_pem` (which must still find the certificate at
the end) and, for the smaller sizes, of the regex the exporter used before (kept here as the
reference: from every BEGIN it looks for the matching END up to the end of the data, so its time
grows with the square of the size). Linear parsing keeps the time per KiB flat: the run fails
when the time per KiB at 4 MiB is more than 3 times the one at 256 KiB.
"""

from __future__ import annotations

import binascii
import re
import statistics
import sys
import time
from collections.abc import Callable

from x509_mixin.exporter.parsers import parse_pem

_OLD = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)
_LINE = b"-----BEGIN X509 CRL-----\n"


def old_parse(data: bytes) -> int:
    return len([binascii.a2b_base64(body) for _, body in _OLD.findall(data)])


def hostile(kib: int, cert_pem: bytes) -> bytes:
    return _LINE * (kib * 1024 // len(_LINE)) + cert_pem


def median_seconds(fn: Callable[[bytes], object], data: bytes, reps: int) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn(data)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def run(cert_pem: bytes) -> int:
    print("\n== PEM parsing: BEGIN lines without their END, then one certificate")
    per_kib: dict[int, float] = {}
    for kib in (64, 128, 256, 516, 1024, 2048, 4096):
        data = hostile(kib, cert_pem)
        assert len(parse_pem(data).certs) == 1
        new = median_seconds(parse_pem, data, 5)
        per_kib[kib] = new / kib
        line = f"{kib:5d} KiB   parse_pem {new * 1000:8.1f} ms ({new / kib * 1e6:5.1f} us/KiB)"
        if kib <= 128:
            old = median_seconds(old_parse, data, 1)
            line += f"   previous regex {old * 1000:9.1f} ms ({old / kib * 1e6:7.1f} us/KiB)"
        print(line, flush=True)
    linear = per_kib[4096] < 3 * per_kib[256]
    print(f"target: time per KiB flat from 256 KiB to 4 MiB: {'ok' if linear else 'MISSED'}")
    return 0 if linear else 1


if __name__ == "__main__":
    from benchmarks.__main__ import make_pems

    sys.exit(run(make_pems(1)[0]))
