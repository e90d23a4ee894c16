"""Bytes -> certificates and CRLs for the PEM, DER and PKCS#12 formats, with upstream's reasons.

Upstream's model (pkg/cert): a parse yields good items plus errors; an error with index -1
concerns the whole bundle (it is "fatal": nothing could be read), one with an index >= 0 a
single bad block beside the others (it is what `x509_cert_error` reports). A parse never
raises: a parser that fails unexpectedly gives its format's malformed-input reason. The
reasons come from the catalogue; passphrases never appear in a detail.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from x509_mixin.catalogue.metrics import Reason
from x509_mixin.exporter import pem
from x509_mixin.exporter.certinfo import CertInfo, CrlInfo, cert_info, crl_info

BUNDLE = -1  # the index of an error that concerns the whole bundle


class ItemError(NamedTuple):
    reason: str
    position: int  # BUNDLE, or the position of the bad certificate or CRL block


@dataclass
class ParseResult:
    certs: list[CertInfo] = field(default_factory=list)
    crls: list[CrlInfo] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
    detail: str = ""  # a human sentence for logs and the status page, never a secret

    @property
    def fatal(self) -> bool:
        """Upstream's HasFatalError: a bundle-level error (then nothing was read)."""
        return any(e.position == BUNDLE for e in self.errors)

    @property
    def reasons(self) -> list[str]:
        return [e.reason for e in self.errors]


def failed(reason: str, detail: str) -> ParseResult:
    return ParseResult(errors=[ItemError(reason, BUNDLE)], detail=detail)


_CERT_BLOCKS = (b"CERTIFICATE", b"TRUSTED CERTIFICATE")
_CRL_BLOCK = b"X509 CRL"


def parse_pem(data: bytes) -> ParseResult:
    """pkg/cert/pem: certificate and CRL blocks are items, other blocks are ignored, nothing at all is fatal."""
    r = ParseResult()
    idx = crl_idx = 0
    for kind, der in pem.blocks(data):
        if kind in _CERT_BLOCKS:
            try:
                r.certs.append(cert_info(x509.load_der_x509_certificate(der), idx, der))
            except Exception:  # any failure on a block makes it a bad block, the others still count
                r.errors.append(ItemError(Reason.BAD_PEM, idx))
                r.detail = f"certificate block {idx + 1} is not a valid certificate"
            idx += 1
        elif kind == _CRL_BLOCK:
            try:
                r.crls.append(crl_info(x509.load_der_x509_crl(der), crl_idx, der))
            except Exception:
                r.errors.append(ItemError(Reason.BAD_CRL, crl_idx))
                r.detail = f"CRL block {crl_idx + 1} is not a valid CRL"
            crl_idx += 1
    if not r.certs and not r.crls and not r.errors:
        if not data.strip():
            why = "empty file"
        elif pem.has_markers(data):
            why = "no well-formed CERTIFICATE or X509 CRL block (other blocks, or truncated or bad base64 ones)"
        else:
            why = "no PEM block"
        return failed(Reason.NO_CERTIFICATE_FOUND, why)
    return r


def parse_der(data: bytes) -> ParseResult:
    """pkg/cert/der: one DER certificate, else one DER CRL; empty input finds nothing."""
    if not data:
        return failed(Reason.NO_CERTIFICATE_FOUND, "empty file")
    try:
        return ParseResult(certs=[cert_info(x509.load_der_x509_certificate(data), 0, data)])
    except ValueError:
        pass
    try:
        return ParseResult(crls=[crl_info(x509.load_der_x509_crl(data), 0, data)])
    except ValueError:
        return failed(Reason.BAD_DER, "not a DER certificate or CRL")


def _der_header(data: bytes, pos: int) -> tuple[int, int, int] | None:
    """(tag, header length, content length) of the DER element at pos, or None."""
    if pos + 2 > len(data):
        return None
    tag, first = data[pos], data[pos + 1]
    if first < 0x80:
        return tag, 2, first
    n = first & 0x7F
    if n == 0 or n > 4 or pos + 2 + n > len(data):
        return None
    return tag, 2 + n, int.from_bytes(data[pos + 2 : pos + 2 + n], "big")


def looks_like_pfx(data: bytes) -> bool:
    """A structurally plausible PFX: a SEQUENCE spanning the data, INTEGER version 3, then a SEQUENCE."""
    outer = _der_header(data, 0)
    if outer is None or outer[0] != 0x30 or outer[1] + outer[2] != len(data):
        return False
    pos = outer[1]
    version = _der_header(data, pos)
    if version is None or version[0] != 0x02 or version[2] != 1 or pos + version[1] >= len(data):
        return False
    if data[pos + version[1]] != 3:
        return False
    auth_safe = _der_header(data, pos + version[1] + 1)
    return auth_safe is not None and auth_safe[0] == 0x30


def parse_pkcs12(data: bytes, passphrases: Sequence[bytes | None]) -> ParseResult:
    """pkg/cert/pkcs12: every certificate of the keystore; a sound keystore no passphrase opens is bad_passphrase."""
    if not looks_like_pfx(data):
        return failed(Reason.BAD_PKCS12, "not a PKCS#12 keystore")
    for pw in passphrases:
        try:
            ks = pkcs12.load_pkcs12(data, pw)
        except ValueError:  # a wrong passphrase (the MAC does not verify) or corrupt content
            continue
        found = ([ks.cert] if ks.cert is not None else []) + list(ks.additional_certs)
        if not found:
            return failed(Reason.NO_CERTIFICATE_FOUND, "PKCS#12 keystore without a certificate")
        return ParseResult(certs=[cert_info(c.certificate, i) for i, c in enumerate(found)])
    return failed(Reason.BAD_PASSPHRASE, "PKCS#12 keystore could not be opened with the configured passphrase")


# Each format's parser, and the reason it gives when it breaks on its input.
_PARSERS: dict[str, tuple[Callable[[bytes, Sequence[bytes | None]], ParseResult], str]] = {
    "pem": (lambda data, _: parse_pem(data), Reason.BAD_PEM),
    "der": (lambda data, _: parse_der(data), Reason.BAD_DER),
    "pkcs12": (parse_pkcs12, Reason.BAD_PKCS12),
}


def parse(fmt: str, data: bytes, passphrases: Sequence[bytes | None] = (b"", None)) -> ParseResult:
    """One format's result; whatever a library raises on hostile input costs this bundle only."""
    fn, malformed = _PARSERS[fmt]
    try:
        return fn(data, passphrases)
    except Exception as e:  # hostile input must never take a poll down
        return failed(malformed, f"the {fmt} parser failed on this input ({type(e).__name__})")


def parse_formats(
    formats: Sequence[str], data: bytes, passphrases: Sequence[bytes | None]
) -> tuple[str, ParseResult, list[tuple[str, float]]]:
    """(format, result, parse timings): the first format without a fatal error, as upstream tries them.

    When every format fails, upstream reports nothing at all (the bundle is dropped silently);
    here the most telling failure is kept: a wrong passphrase first, then PEM's verdict on data
    holding PEM markers, then PKCS#12's on a PFX-shaped blob, then the first other format's.
    """
    tried: list[tuple[str, ParseResult]] = []
    timings: list[tuple[str, float]] = []
    for fmt in formats:
        t0 = time.perf_counter()
        r = parse(fmt, data, passphrases)
        timings.append((fmt, time.perf_counter() - t0))
        if not r.fatal:
            return fmt, r, timings
        tried.append((fmt, r))
    by_fmt = dict(tried)
    for fmt, r in tried:
        if Reason.BAD_PASSPHRASE in r.reasons:
            return fmt, r, timings
    if "pem" in by_fmt and pem.has_markers(data):
        return "pem", by_fmt["pem"], timings
    if "pkcs12" in by_fmt and looks_like_pfx(data):
        return "pkcs12", by_fmt["pkcs12"], timings
    fmt, r = next(((f, r) for f, r in tried if f != "pem"), tried[0])
    return fmt, r, timings
