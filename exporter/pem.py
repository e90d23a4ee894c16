"""PEM framing as Go's encoding/pem.Decode does it (what upstream parses with), in linear time.

Go's rules, kept here: a block starts with `-----BEGIN ` at the start of the data or of a line;
its type line must end with `-----`; `Key: value` header lines may follow; the body runs to
`\\n-----END <same type>-----` followed by nothing but blanks on that line; the body is standard
padded base64 once spaces, tabs and line breaks are removed. A block that breaks any rule is
skipped and the search goes on after its type line (or its headers); data that ends inside the
header lines stops the decoding. Go finds each END marker by scanning ahead, which is quadratic
on many unterminated BEGIN lines; here the END positions are listed once and looked up, and a
body is only decoded when it holds nothing but base64 characters, so each byte is looked at a
bounded number of times.
"""

from __future__ import annotations

import binascii
import bisect
import re
from collections.abc import Iterator

_BEGIN = b"-----BEGIN "
_NL_BEGIN = b"\n" + _BEGIN
_END = b"-----END "
_NL_END = b"\n" + _END
_DASHES = b"-----"
# Characters a body may hold: the base64 alphabet, padding, and what Go strips or ignores.
_NOT_BODY = re.compile(rb"[^A-Za-z0-9+/= \t\r\n]")
_NOT_B64 = re.compile(rb"[^A-Za-z0-9+/=]")


def _line(data: bytes, pos: int) -> tuple[int, int, int]:
    """Go's getLine: (start, end without trailing CR/blanks, start of the next line)."""
    nl = data.find(b"\n", pos)
    if nl < 0:
        end = nxt = len(data)
    else:
        nxt = nl + 1
        end = nl - 1 if nl > pos and data[nl - 1] == 0x0D else nl
    while end > pos and data[end - 1] in b" \t":
        end -= 1
    return pos, end, nxt


def _padded(clean: bytes) -> bytes | None:
    """Decode base64 made of the alphabet and "=" only: padding required, and only at the end."""
    eq = clean.find(b"=")
    if len(clean) % 4 or (eq >= 0 and clean[eq:] not in (b"=", b"==")):
        return None
    return binascii.a2b_base64(clean)


def decode_base64(text: bytes) -> bytes | None:
    """Go's base64.StdEncoding.DecodeString: padding required, CR and LF ignored; None when invalid."""
    clean = text.translate(None, b"\r\n")
    return None if _NOT_B64.search(clean) else _padded(clean)


def blocks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(type, decoded body) of every well-formed PEM block, in order."""
    ends: list[int] = []  # every "\n-----END " (it cannot overlap itself)
    i = data.find(_NL_END)
    while i >= 0:
        ends.append(i)
        i = data.find(_NL_END, i + len(_NL_END))
    end_line_ok: dict[int, bool] = {}
    p = 0
    size = len(data)
    while True:
        if data.startswith(_BEGIN, p):
            p += len(_BEGIN)
        else:
            k = data.find(_NL_BEGIN, p)
            if k < 0:
                return
            p = k + len(_NL_BEGIN)
        ts, te, p = _line(data, p)
        if te - ts < len(_DASHES) or data[te - len(_DASHES) : te] != _DASHES:
            continue
        kind = data[ts : te - len(_DASHES)]
        headers = False
        while True:
            if p >= size:
                return  # Go gives up on the whole input here
            ls, le, nxt = _line(data, p)
            if data.find(b":", ls, le) < 0:
                break
            headers = True
            p = nxt
        if not headers and data.startswith(_END, p):
            end_at, trailer = p, p + len(_END)
        else:
            j = bisect.bisect_left(ends, p)
            if j == len(ends):
                continue
            end_at = ends[j]
            trailer = end_at + len(_NL_END)
        # The body first: it is cheap to refuse, and a body holding another BEGIN line is refused
        # at that line, so the bodies that get further never overlap.
        if _NOT_BODY.search(data, p, end_at):
            continue
        tail = trailer + len(kind) + len(_DASHES)
        if tail > size or data[trailer : trailer + len(kind)] != kind or data[tail - len(_DASHES) : tail] != _DASHES:
            continue
        ok = end_line_ok.get(tail)
        if ok is None:
            ls, le, _ = _line(data, tail)
            ok = end_line_ok[tail] = le == ls
        if not ok:
            continue
        body = _padded(data[p:end_at].translate(None, b" \t\r\n"))  # its characters were checked above
        if body is None:
            continue
        p = _line(data, end_at + len(_NL_END) - 1)[2]
        yield kind, body


def has_markers(data: bytes) -> bool:
    return _BEGIN in data
