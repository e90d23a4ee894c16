"""File sources: list the configured globs, parse what changed, feed the registry.

One poll walks the globs (exporter/walk.py), skips a file whose change signature is unchanged
(`cache.filePoll.skipUnchanged`: `(mtime, size, inode)` of the path and, for a symlink, of
the file it leads to, plus the PKCS#12 passphrase), reads and parses the others, and removes
the bundles of paths that went away; what was under a directory that could not be listed is
kept. A walk or read error is counted on every poll, a parse error once per change of the file
(as upstream does). Every entry is handled on its own: whatever goes wrong with one costs
that bundle only.

A poll runs in the source's thread, checks the stop event between files, and records when it
started: one still running `bound` seconds later has stalled, and the registry, `/readyz` and
the status page say so while it lasts.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import stat
import threading
import time
from collections.abc import Callable

from x509_mixin.catalogue.metrics import Reason
from x509_mixin.exporter import parsers
from x509_mixin.exporter.config import Config, SourceConfig
from x509_mixin.exporter.memory import release_memory
from x509_mixin.exporter.registry import Place, Registry, error_kind
from x509_mixin.exporter.walk import Entry, Walker, WalkError, os_error_reason

log = logging.getLogger("x509_mixin.exporter")

MAX_FILE_BYTES = 4 * 1024 * 1024  # a larger file is refused with reason read_failed
STALL_GRACE = 60.0  # a poll still running one refresh interval plus this has stalled


class ReadFault(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _read(path: str) -> bytes:
    """At most MAX_FILE_BYTES + 1 bytes of a regular file; never blocks on a FIFO swapped in."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        chunks, size = [], 0
        ask = min(st.st_size, MAX_FILE_BYTES) + 1  # the whole file in one read, unless it grew
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, ask)
            chunks.append(chunk)
            size += len(chunk)
            if len(chunk) < ask:  # a short read of a regular file: its end
                break
            ask = 65536
        return b"".join(chunks)
    finally:
        os.close(fd)


class Source:
    config_kind = "file"

    def __init__(self, scfg: SourceConfig, cfg: Config, registry: Registry):
        self.cfg = scfg
        self.name = scfg.name
        self.kind = error_kind(self.config_kind)
        self.registry = registry
        self.interval = cfg.interval(scfg)
        self.skip_unchanged = cfg.cache.skip_unchanged
        self.stop = threading.Event()
        self.walker = Walker(
            scfg.paths,
            scfg.exclude_paths,
            scfg.follow_symlinks,
            scfg.follow_symlink_dirs,
            [(m.from_, m.to) for m in scfg.path_mappings],
            self.stop,
        )
        self._cache: dict[str, tuple] = {}  # path -> change signature of its last parse
        self.read: Callable[[str], bytes] = _read  # replaceable in tests (fault injection)
        self.stats = registry.stats.get(self.name)
        if self.stats is not None:
            self.stats.bound = self.interval + STALL_GRACE

    # ---- the loop ----------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        self.stop = self.walker.stop = stop
        first = True
        while not stop.is_set():
            self.poll_once()
            if first:
                release_memory()  # give the first sync's parse garbage back to the OS
                first = False
            if stop.wait(self.interval):
                return

    def poll_once(self) -> None:
        t0 = time.perf_counter()
        if self.stats is not None:
            self.stats.poll_started = time.monotonic()
        try:
            self.poll()
            ok = True
        except Exception:  # a source never takes the exporter down
            log.exception("source %s: poll failed", self.name)
            self.registry.mark_panic(f"source/{self.name}")
            ok = False
        finally:
            if self.stats is not None:
                self.stats.poll_started = None
        if self.stop.is_set():
            return  # an interrupted poll says nothing about the source
        self.registry.mark_up(self.config_kind, self.name, ok)
        if self.stats is not None:
            self.stats.polls += 1
            self.stats.last_poll_seconds = time.perf_counter() - t0
            self.stats.last_poll_at = time.time()

    # ---- one poll ------------------------------------------------------------------------

    def fault(self, place: Place, reason: str, detail: str, fmt: str = "pem") -> None:
        log.warning("source %s: %s: %s (%s)", self.name, place.describe(), detail, reason)
        self.registry.upsert(place, fmt, parsers.failed(reason, detail))

    def poll(self) -> None:
        live: set[tuple] = set()
        creds = Passphrases(self.cfg) if "pkcs12" in self.cfg.formats else None
        token = creds.token if creds else ()
        skipped = 0
        for item in self.walker.walk():
            if self.stop.is_set():
                return  # shutting down: keep everything as it is
            live.add(Place.key_of(self.name, item.path))
            sig = item.sig + token if isinstance(item, Entry) else None
            unchanged = sig is not None and self._cache.get(item.path) == sig
            if self.skip_unchanged and unchanged:
                skipped += 1
                continue
            place = Place(self.kind, self.name, item.path)
            self._cache.pop(item.path, None)
            try:
                # Without skipUnchanged an unchanged file is parsed again, but its parse errors
                # were counted: counting them on every poll would page on one old broken file.
                self._handle(place, item, creds, sig, count=not unchanged)
            except Exception as e:  # one bad entry costs its own bundle, never the poll
                log.exception("source %s: %s: unexpected error", self.name, place.describe())
                self.registry.mark_panic(f"source/{self.name}")
                self.fault(place, Reason.READ_FAILED, f"internal error while reading ({type(e).__name__})")
        if self.stats is not None:
            self.stats.skipped_unchanged += skipped
        self.drop_missing(live)

    def drop_missing(self, live: set[tuple]) -> None:
        """Remove the bundles not seen, except those under a directory that could not be listed."""
        blind = [d.rstrip("/") + "/" for d in self.walker.unreadable]
        for key in self.registry.keys_of(self.name) - live:
            if any(key[1].startswith(d) for d in blind):
                continue
            self.registry.delete(key)
            self._cache.pop(key[1], None)

    def _handle(
        self, place: Place, item: Entry | WalkError, creds: Passphrases | None, sig: tuple | None, count: bool = True
    ) -> None:
        """Read and parse one entry (or record its walk error); its cache entry is already gone.
        `count`: whether its parse errors count (not when the file is unchanged since it was parsed)."""
        if isinstance(item, WalkError):
            self.fault(place, item.reason, item.detail)
            return
        try:
            data = self.load(item.read_path, item.size)
        except ReadFault as f:
            self.fault(place, f.reason, f.detail)
            return
        fmt, result, timings = parsers.parse_formats(self.cfg.formats, data, creds.candidates if creds else ())
        for tried, seconds in timings:
            self.registry.observe_parse(tried, seconds)
        if fmt == "pkcs12" and creds is not None and creds.note and result.fatal:
            result.detail = creds.note
        if result.errors:
            log.warning("source %s: %s: %s (%s)", self.name, place.describe(), result.detail, ",".join(result.reasons))
        self.registry.upsert(place, fmt, result, count=count)
        if sig is not None:
            self._cache[item.path] = sig
        if self.stats is not None:
            self.stats.parsed += 1

    def load(self, path: str, size: int = 0) -> bytes:
        if size > MAX_FILE_BYTES:
            raise ReadFault(Reason.READ_FAILED, f"file larger than the {MAX_FILE_BYTES} bytes cap")
        try:
            data = self.read(path)
        except OSError as e:
            raise ReadFault(
                os_error_reason(e, Reason.READ_FAILED),
                "file vanished before it could be read"
                if isinstance(e, FileNotFoundError)
                else f"cannot read: {e.strerror}",
            ) from None
        if len(data) > MAX_FILE_BYTES:
            raise ReadFault(Reason.READ_FAILED, f"file larger than the {MAX_FILE_BYTES} bytes cap")
        return data


class Passphrases:
    """The PKCS#12 passphrases to try, as upstream builds them, read afresh on every poll.

    The configured passphrase (or the passphraseFile's content without its line break), then
    the empty one when `tryEmptyPassphrase` (on by default once a `pkcs12` block is given).
    `token` changes whenever they do, so fixing a passphraseFile re-reads the keystores.
    """

    def __init__(self, scfg: SourceConfig):
        p = scfg.pkcs12
        self.note = ""
        configured: bytes | None = None
        if p.passphrase is not None:
            configured = p.passphrase.encode()
        elif p.passphrase_file is not None:
            try:
                with open(p.passphrase_file, "rb") as fh:
                    configured = fh.read(65536).rstrip(b"\r\n")  # bounded: a device never hangs a poll
            except OSError as e:
                self.note = f"cannot read pkcs12.passphraseFile {p.passphrase_file}: {e.strerror}"
        tries: list[bytes | None] = []
        if configured:
            tries.append(configured)
        if not configured and not self.note or p.try_empty_passphrase:
            tries += [b"", None]  # OpenSSL tells an empty passphrase from none
        self.candidates = tries
        digest = hashlib.sha256(b"\0".join(t or b"" for t in tries) + self.note.encode()).digest()
        self.token: tuple = (digest,)
