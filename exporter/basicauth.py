"""`basic_auth_users`: HTTP Basic credentials checked against bcrypt hashes, as exporter-toolkit does.

- An unknown user costs one bcrypt comparison too, against a dummy hash of the configured cost,
  so the answer time does not tell which user names exist.
- Outcomes are cached (bounded) per (user, hash, password): bcrypt is slow by design and a
  scrape repeats the same credentials. Comparisons run one at a time, to bound the CPU spent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import threading

import bcrypt

# $2a$/$2b$/$2y$, a cost of 04 to 31, then 22 characters of salt and 31 of hash.
BCRYPT_RE = re.compile(rb"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
_CACHE_SIZE = 100  # as exporter-toolkit


def is_bcrypt_hash(value: bytes) -> bool:
    return BCRYPT_RE.fullmatch(value) is not None


def _cost(hashed: bytes) -> int:
    return int(hashed[4:6])


class BasicAuth:
    def __init__(self, users: dict[str, bytes]):
        self.users = users
        cost = max((_cost(h) for h in users.values()), default=10)
        # Well formed, so bcrypt does its full work; no password maps to an all-zero hash in practice,
        # and an unknown user is refused whatever the comparison says.
        self._dummy = b"$2b$%02d$" % cost + b"." * 53
        self._cache: dict[bytes, bool] = {}
        self._cache_lock = threading.Lock()
        self._bcrypt_lock = threading.Lock()

    def check(self, authorization: str | None) -> bool:
        """True when no users are configured or the Basic credentials match a user's hash."""
        if not self.users:
            return True
        creds = _basic_credentials(authorization)
        if creds is None:
            return False
        user, password = creds
        hashed = self.users.get(user)
        candidate = hashed if hashed is not None else self._dummy
        key = hashlib.sha256(b"\0".join((user.encode("utf-8", "surrogateescape"), candidate, password))).digest()
        with self._cache_lock:
            ok = self._cache.get(key)
        if ok is None:
            with self._bcrypt_lock:
                try:
                    ok = bcrypt.checkpw(password, candidate)
                except ValueError:  # e.g. a password longer than bcrypt's 72 bytes (Go refuses it too)
                    ok = False
            with self._cache_lock:
                if len(self._cache) >= _CACHE_SIZE:
                    del self._cache[next(iter(self._cache))]
                self._cache[key] = ok
        return ok and hashed is not None


def _basic_credentials(authorization: str | None) -> tuple[str, bytes] | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = raw.partition(b":")
    if not sep:
        return None
    return user.decode("utf-8", "surrogateescape"), password
