"""What the exporter keeps of a certificate or CRL: dates, serial, the six DN fields, its place in its bundle."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID

# Old CA certificates (negative serials...) are still certificates worth reporting.
warnings.filterwarnings("ignore", category=Warning, module=r"cryptography\..*")
warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)

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
    index: int  # position among the bundle's certificates (bad blocks included), as upstream counts
    der: bytes  # for the discriminator; the registry does not keep it


@dataclass(slots=True)
class CrlInfo:
    number: str  # "" when the cRLNumber extension is absent
    issuer: dict[str, str]
    this_update: float
    next_update: float
    index: int
    der: bytes


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


def cert_info(c: x509.Certificate, index: int, der: bytes | None = None) -> CertInfo:
    raw = der if der is not None else c.public_bytes(Encoding.DER)
    try:
        issuer, subject = _cert_names(raw)
    except (ValueError, IndexError, UnicodeDecodeError):
        issuer, subject = _name(c.issuer), _name(c.subject)
    return CertInfo(
        serial=str(c.serial_number),
        issuer=issuer,
        subject=subject,
        not_before=c.not_valid_before_utc.timestamp(),
        not_after=c.not_valid_after_utc.timestamp(),
        index=index,
        der=raw,
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


_DN_CACHE: dict[bytes, dict[str, str]] = {}  # issuers repeat: many certificates share a CA
_DN_CACHE_SIZE = 4096


def _dn(d: bytes, start: int, end: int) -> dict[str, str]:
    """The DN fields of the Name whose content is d[start:end] (shared dicts: never modify one)."""
    raw = d[start:end]
    cached = _DN_CACHE.get(raw)
    if cached is not None:
        return cached
    if len(_DN_CACHE) >= _DN_CACHE_SIZE:
        _DN_CACHE.clear()
    out = _DN_CACHE[raw] = _parse_dn(d, start, end)
    return out


def _parse_dn(d: bytes, start: int, end: int) -> dict[str, str]:
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


def _cert_names(der: bytes) -> tuple[dict[str, str], dict[str, str]]:
    """Issuer and subject fields read from the certificate's DER (no copy of the TBSCertificate)."""
    _, pos, _ = _tlv(der, 0)  # Certificate SEQUENCE
    _, pos, _ = _tlv(der, pos)  # TBSCertificate SEQUENCE
    tag, _, nxt = _tlv(der, pos)
    if tag == 0xA0:  # [0] version
        pos = nxt
    pos = _tlv(der, pos)[2]  # serialNumber
    pos = _tlv(der, pos)[2]  # signature AlgorithmIdentifier
    _, i_start, i_end = _tlv(der, pos)  # issuer
    pos = _tlv(der, i_end)[2]  # validity
    _, s_start, s_end = _tlv(der, pos)  # subject
    return _dn(der, i_start, i_end), _dn(der, s_start, s_end)


def crl_info(crl: x509.CertificateRevocationList, index: int, der: bytes) -> CrlInfo:
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
        index=index,
        der=der,
    )
