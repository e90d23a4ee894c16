"""Bytes -> certificates and CRLs, for the PEM, DER and PKCS#12 formats.

A parse never raises: it returns a `ParseResult` whose `items` are the good certificates
and CRLs and whose `errors` are reason codes of the catalogue (bundle level when nothing
good came out, item level for a bad block beside good ones). Passphrases are never put in
an error detail.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import warnings
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

# Old CA certificates (negative serials...) are still certificates worth reporting.
warnings.filterwarnings("ignore", category=Warning, module=r"cryptography\..*")
try:
    from cryptography.utils import CryptographyDeprecationWarning

    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)
except ImportError:  # pragma: no cover
    pass

_OID = {
    "C": NameOID.COUNTRY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "L": NameOID.LOCALITY_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "CN": NameOID.COMMON_NAME,
}


@dataclass(slots=True)
class CertInfo:
    serial: str
    issuer: dict[str, str]
    subject: dict[str, str]
    not_before: float
    not_after: float
    der_digest: bytes  # sha256 of the DER, for the discriminator


@dataclass(slots=True)
class CrlInfo:
    number: str  # "" when the cRLNumber extension is absent
    issuer: dict[str, str]
    this_update: float
    next_update: float


@dataclass
class ParseResult:
    certs: list[CertInfo] = field(default_factory=list)
    crls: list[CrlInfo] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # reason codes
    detail: str = ""  # a human sentence for logs and the status page, never a secret

    @property
    def fatal(self) -> bool:
        return not self.certs and not self.crls and bool(self.errors)


_DOTTED = {oid.dotted_string: key for key, oid in _OID.items()}


def _name(n: x509.Name) -> dict[str, str]:
    """One pass over the RDNs; Go keeps the first value of each list field and the last CommonName."""
    out: dict[str, str] = {}
    for attr in n:
        key = _DOTTED.get(attr.oid.dotted_string)
        if key is None or (key in out and key != "CN"):
            continue
        v = attr.value
        out[key] = v if isinstance(v, str) else v.decode("utf-8", "replace")
    return out


def cert_info(c: x509.Certificate, der: bytes | None = None) -> CertInfo:
    from cryptography.hazmat.primitives.serialization import Encoding

    raw = der if der is not None else c.public_bytes(Encoding.DER)
    try:
        issuer, subject = _tbs_names(c.tbs_certificate_bytes)
    except (ValueError, IndexError, UnicodeDecodeError):
        issuer, subject = _name(c.issuer), _name(c.subject)
    return CertInfo(
        serial=str(c.serial_number),
        issuer=issuer,
        subject=subject,
        not_before=c.not_valid_before_utc.timestamp(),
        not_after=c.not_valid_after_utc.timestamp(),
        der_digest=hashlib.sha256(raw).digest(),
    )


# A small DER walk over the TBSCertificate for the six DN attributes: the same values as
# cryptography's Name objects, several times faster (Name builds a Python object per RDN).
_DN_OIDS = {
    b"\x55\x04\x06": "C",
    b"\x55\x04\x08": "ST",
    b"\x55\x04\x07": "L",
    b"\x55\x04\x0a": "O",
    b"\x55\x04\x0b": "OU",
    b"\x55\x04\x03": "CN",
}
_STRING_CODECS = {
    0x0C: "utf-8",
    0x13: "latin-1",
    0x16: "latin-1",
    0x14: "latin-1",
    0x1E: "utf-16-be",
    0x1C: "utf-32-be",
    0x12: "latin-1",
    0x1A: "latin-1",
}


def _tlv(d: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the element at pos."""
    tag = d[pos]
    first = d[pos + 1]
    if first < 0x80:
        return tag, pos + 2, pos + 2 + first
    n = first & 0x7F
    if not 0 < n <= 4:
        raise ValueError("bad length")
    length = int.from_bytes(d[pos + 2 : pos + 2 + n], "big")
    start = pos + 2 + n
    if start + length > len(d):
        raise ValueError("truncated")
    return tag, start, start + length


def _dn(d: bytes, start: int, end: int) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = start
    while pos < end:  # SET OF
        _, s_start, s_end = _tlv(d, pos)
        q = s_start
        while q < s_end:  # AttributeTypeAndValue
            _, a_start, a_end = _tlv(d, q)
            t, o_start, o_end = _tlv(d, a_start)
            key = _DN_OIDS.get(d[o_start:o_end])
            if key is not None and (key == "CN" or key not in out):
                vt, v_start, v_end = _tlv(d, o_end)
                codec = _STRING_CODECS.get(vt)
                if codec is None:
                    raise ValueError("unexpected string type")
                out[key] = d[v_start:v_end].decode(codec)
            q = a_end
        pos = s_end
    return out


def _tbs_names(tbs: bytes) -> tuple[dict[str, str], dict[str, str]]:
    _, pos, end = _tlv(tbs, 0)  # TBSCertificate SEQUENCE
    tag, _, nxt = _tlv(tbs, pos)
    if tag == 0xA0:  # [0] version
        pos = nxt
    pos = _tlv(tbs, pos)[2]  # serialNumber
    pos = _tlv(tbs, pos)[2]  # signature AlgorithmIdentifier
    _, i_start, i_end = _tlv(tbs, pos)  # issuer
    pos = _tlv(tbs, i_end)[2]  # validity
    _, s_start, s_end = _tlv(tbs, pos)  # subject
    return _dn(tbs, i_start, i_end), _dn(tbs, s_start, s_end)


def crl_info(crl: x509.CertificateRevocationList) -> CrlInfo:
    try:
        number = str(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
    except x509.ExtensionNotFound:
        number = ""
    nu = crl.next_update_utc
    return CrlInfo(
        number=number,
        issuer=_name(crl.issuer),
        this_update=crl.last_update_utc.timestamp(),
        next_update=nu.timestamp() if nu is not None else 0.0,
    )


_PEM_RE = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)
_CERT_TYPES = (b"CERTIFICATE", b"TRUSTED CERTIFICATE", b"X509 CERTIFICATE")
_CRL_TYPES = (b"X509 CRL",)


def looks_like_pem(data: bytes) -> bool:
    return b"-----BEGIN " in data


def parse_pem(data: bytes) -> ParseResult:
    r = ParseResult()
    if not data.strip():
        r.errors.append("no_certificate_found")
        r.detail = "empty file"
        return r
    blocks = _PEM_RE.findall(data)
    if not blocks:
        r.errors.append("bad_pem")
        r.detail = "no PEM block (truncated or not PEM)" if looks_like_pem(data) else "not PEM data"
        return r
    seen_cert_block = False
    for kind, body in blocks:
        if kind in _CERT_TYPES or kind in _CRL_TYPES:
            seen_cert_block = True
            try:
                der = binascii.a2b_base64(body)  # skips the line breaks; garbage fails below as bad DER
            except (binascii.Error, ValueError):
                r.errors.append("bad_crl" if kind in _CRL_TYPES else "bad_pem")
                r.detail = f"bad base64 in a {kind.decode()} block"
                continue
            if kind in _CRL_TYPES:
                try:
                    r.crls.append(crl_info(x509.load_der_x509_crl(der)))
                except Exception:  # noqa: BLE001 - any parse failure is a bad block
                    r.errors.append("bad_crl")
                    r.detail = "invalid X509 CRL block"
            else:
                try:
                    r.certs.append(cert_info(x509.load_der_x509_certificate(der), der))
                except Exception:  # noqa: BLE001
                    r.errors.append("bad_pem")
                    r.detail = "invalid CERTIFICATE block"
    # A BEGIN CERTIFICATE marker without its END marker: a truncated file.
    ends = data.count(b"-----END ")
    begins = data.count(b"-----BEGIN ")
    if begins > ends:
        r.errors.append("bad_pem")
        r.detail = "truncated PEM block (BEGIN without END)"
    if not seen_cert_block and not r.errors:
        r.errors.append("no_certificate_found")
        r.detail = "PEM data without a certificate or CRL (e.g. only a key or a CSR)"
    return r


def parse_der(data: bytes) -> ParseResult:
    r = ParseResult()
    if not data:
        r.errors.append("no_certificate_found")
        r.detail = "empty file"
        return r
    try:
        r.certs.append(cert_info(x509.load_der_x509_certificate(data), data))
        return r
    except Exception:  # noqa: BLE001
        pass
    try:
        r.crls.append(crl_info(x509.load_der_x509_crl(data)))
        return r
    except Exception:  # noqa: BLE001
        pass
    r.errors.append("bad_der")
    r.detail = "not a DER certificate or CRL"
    return r


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
    """A structurally plausible PFX: SEQUENCE spanning the data, INTEGER version 3, SEQUENCE."""
    h = _der_header(data, 0)
    if h is None or h[0] != 0x30 or h[1] + h[2] != len(data):
        return False
    v = _der_header(data, h[1])
    if v is None or v[0] != 0x02 or v[2] != 1 or data[h[1] + v[1]] != 3:
        return False
    nxt = _der_header(data, h[1] + v[1] + v[2])
    return nxt is not None and nxt[0] == 0x30


def parse_pkcs12(data: bytes, passphrases: list[bytes | None]) -> ParseResult:
    """Tries each candidate passphrase; `bad_passphrase` when the structure is sound but none opens it."""
    r = ParseResult()
    if not data:
        r.errors.append("no_certificate_found")
        r.detail = "empty file"
        return r
    if not looks_like_pfx(data):
        r.errors.append("bad_pkcs12")
        r.detail = "not a PKCS#12 keystore"
        return r
    for pw in passphrases or [None]:
        try:
            ks = pkcs12.load_pkcs12(data, pw)
        except Exception:  # noqa: BLE001 - wrong passphrase or corrupt content
            continue
        certs = ([ks.cert] if ks.cert is not None else []) + list(ks.additional_certs)
        for c in certs:
            r.certs.append(cert_info(c.certificate))
        if not r.certs:
            r.errors.append("no_certificate_found")
            r.detail = "PKCS#12 keystore without a certificate"
        return r
    r.errors.append("bad_passphrase")
    r.detail = "PKCS#12 keystore could not be opened with the configured passphrase"
    return r
