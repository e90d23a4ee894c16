"""Sources: walk file globs (kind `file`) or kubeconfig files (kind `kubeconfig`), parse, feed the registry.

One poll lists the configured globs, checks each path (symlinks, scope, permissions, size),
skips a path whose `(mtime, size, inode)` is unchanged (of the path itself and, for a
symlink, of the file it leads to, so an atomic swap of a link or of a parent `..data` link
is seen), parses the rest and removes the bundles of paths that went away.
"""

from __future__ import annotations

import base64
import binascii
import errno
import fnmatch
import glob
import logging
import os
import stat
import threading
import time
from collections.abc import Callable

import yaml

from x509_mixin.exporter import parsers
from x509_mixin.exporter.config import Config, SourceConfig
from x509_mixin.exporter.memory import release_memory
from x509_mixin.exporter.registry import Place, Registry

log = logging.getLogger("x509_mixin.exporter")

MAX_FILE_BYTES = 4 * 1024 * 1024  # a larger file is refused with reason read_failed


class _Skip(Exception):
    """The path is not a certificate candidate (e.g. a directory matched by a glob)."""


class _Fault(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _classify(e: OSError) -> str:
    if isinstance(e, FileNotFoundError):
        return "not_found"
    if isinstance(e, PermissionError):
        return "permission_denied"
    if e.errno == errno.ELOOP:
        return "broken_symlink"
    return "read_failed"


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(MAX_FILE_BYTES + 1)


class Source:
    config_kind = "file"
    error_kind = "file"

    def __init__(self, scfg: SourceConfig, cfg: Config, registry: Registry):
        self.cfg = scfg
        self.name = scfg.name
        self.registry = registry
        self.interval = cfg.interval(scfg)
        self.skip_unchanged = cfg.cache.skip_unchanged
        self._cache: dict[str, tuple] = {}
        self.read: Callable[[str], bytes] = _read  # replaceable in tests (fault injection)
        self.stats = registry.stats.get(self.name)

    # ---- the loop ----------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
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
        try:
            self.poll()
            ok = True
        except Exception:  # noqa: BLE001 - a source never takes the exporter down
            log.exception("source %s: poll failed", self.name)
            self.registry.mark_panic(f"source/{self.name}")
            ok = False
        self.registry.mark_up(self.config_kind, self.name, ok)
        if self.stats is not None:
            self.stats.polls += 1
            self.stats.last_poll_seconds = time.perf_counter() - t0
            self.stats.last_poll_at = time.time()

    # ---- listing ----------------------------------------------------------------------

    def _excluded(self, path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, ex) for ex in self.cfg.exclude_paths)

    def candidates(self):
        """(path, literal) for every path the globs name, each once."""
        seen: set[str] = set()
        for pattern in self.cfg.paths:
            literal = not glob.has_magic(pattern)
            found = [pattern] if literal else sorted(glob.glob(pattern, recursive=True))
            for p in found:
                if p in seen or self._excluded(p):
                    continue
                seen.add(p)
                yield p, literal

    def _fault(self, place: Place, fmt: str, reason: str, detail: str) -> None:
        log.warning("source %s: %s: %s (%s)", self.name, place.describe(), detail, reason)
        self.registry.upsert(place, fmt, parsers.ParseResult(errors=[reason], detail=detail))

    def _inspect(self, path: str, literal: bool) -> tuple[str, tuple]:
        """(path to read, change signature); raises _Skip or _Fault."""
        try:
            lst = os.lstat(path)
        except OSError as e:
            raise _Fault(
                _classify(e), "file not found" if isinstance(e, FileNotFoundError) else f"cannot stat: {e.strerror}"
            ) from None
        sig: tuple = (lst.st_mtime_ns, lst.st_size, lst.st_ino)
        mode = lst.st_mode
        read_path = path
        if stat.S_ISLNK(mode):
            if not self.cfg.follow_symlinks:
                raise _Skip()
            target = os.readlink(path)
            if os.path.isabs(target):
                target = self._translate(target)
            else:
                target = os.path.join(os.path.dirname(path), target)
            target = os.path.normpath(target)
            if self.cfg.path_mappings and not self._in_scope(target):
                raise _Fault("out_of_scope_symlink", "symlink target is outside every configured pathMappings scope")
            try:
                st = os.stat(target)
            except OSError as e:
                if e.errno == errno.ELOOP:
                    raise _Fault("broken_symlink", "symlink loop") from None
                if isinstance(e, FileNotFoundError):
                    raise _Fault("broken_symlink", "symlink target does not exist") from None
                raise _Fault(_classify(e), f"cannot stat symlink target: {e.strerror}") from None
            if stat.S_ISDIR(st.st_mode):
                raise _Skip()  # a symlink to a directory is never read as a file
            sig += (st.st_mtime_ns, st.st_size, st.st_ino)
            mode, size, read_path = st.st_mode, st.st_size, target
        else:
            size = lst.st_size
        if stat.S_ISDIR(mode):
            if literal:
                raise _Fault("read_failed", "is a directory, a file was expected")
            raise _Skip()
        if not stat.S_ISREG(mode):
            if literal:
                raise _Fault("read_failed", "not a regular file")
            raise _Skip()
        if size > MAX_FILE_BYTES:
            raise _Fault("read_failed", f"file larger than the {MAX_FILE_BYTES} bytes cap")
        return read_path, sig

    def _translate(self, target: str) -> str:
        best = None
        for m in self.cfg.path_mappings:
            frm = m.from_.rstrip("/")
            if frm and (target == frm or target.startswith(frm + "/")):
                if best is None or len(frm) > len(best.from_.rstrip("/")):
                    best = m
        if best is None:
            return target
        return best.to.rstrip("/") + target[len(best.from_.rstrip("/")) :]

    def _in_scope(self, p: str) -> bool:
        for m in self.cfg.path_mappings:
            to = m.to.rstrip("/")
            if to and (p == to or p.startswith(to + "/")):
                return True
        return False

    def _load(self, read_path: str) -> bytes:
        try:
            data = self.read(read_path)
        except OSError as e:
            if isinstance(e, IsADirectoryError):
                raise _Fault("read_failed", "is a directory, a file was expected") from None
            raise _Fault(
                _classify(e),
                "file vanished before it could be read"
                if isinstance(e, FileNotFoundError)
                else f"cannot read: {e.strerror}",
            ) from None
        if len(data) > MAX_FILE_BYTES:
            raise _Fault("read_failed", f"file larger than the {MAX_FILE_BYTES} bytes cap")
        return data

    # ---- one poll ------------------------------------------------------------------------

    def poll(self) -> None:
        live: set[tuple] = set()
        fmt0 = self.cfg.formats[0]
        todo: list[tuple[Place, str, tuple]] = []  # (place, path to read, signature)
        for path, literal in self.candidates():
            place = Place(self.error_kind, self.name, path)
            try:
                read_path, sig = self._inspect(path, literal)
            except _Skip:
                continue
            except _Fault as f:
                live.add(place.key)
                self._cache.pop(path, None)
                self._fault(place, fmt0, f.reason, f.detail)
                continue
            live.add(place.key)
            if self.skip_unchanged and self._cache.get(path) == sig:
                if self.stats is not None:
                    self.stats.skipped_unchanged += 1
                continue
            todo.append((place, read_path, sig))
        passphrases, note = self._passphrases() if "pkcs12" in self.cfg.formats else ([None], "")
        jobs = [(rp, self.cfg.formats, passphrases, note) for _, rp, _ in todo]
        if len(jobs) >= self.parallel_threshold and self.read is _read and (os.cpu_count() or 1) > 1:
            outcomes = self._parallel(jobs)
        else:
            outcomes = (read_and_parse(*job, reader=self.read) for job in jobs)
        for (place, _, sig), (kind, a, b, timings) in zip(todo, outcomes, strict=True):
            for fmt, seconds in timings:
                self.registry.observe_parse(fmt, seconds)
            if kind == "fault":
                self._cache.pop(place.path, None)
                self._fault(place, fmt0, a, b)
                continue
            if b.errors:
                log.warning("source %s: %s: %s (%s)", self.name, place.path, b.detail, ",".join(b.errors))
            self.registry.upsert(place, a, b)
            self._cache[place.path] = sig
            if self.stats is not None:
                self.stats.parsed += 1
        for key in self.registry.keys_of(self.name) - live:
            self.registry.delete(key)
            self._cache.pop(key[1], None)

    # Many files to parse at once (a first sync of a big tree): read and parse them in worker
    # processes (forked, so nothing is re-imported) while this thread feeds the registry.
    parallel_threshold = 2000

    def _parallel(self, jobs):
        import multiprocessing

        workers = min(os.cpu_count() or 1, 4)
        try:
            pool = multiprocessing.get_context("fork").Pool(workers)
        except (OSError, ValueError):
            yield from (read_and_parse(*job) for job in jobs)
            return
        try:
            yield from pool.imap(_job, jobs, chunksize=128)
        finally:
            pool.terminate()
            pool.join()

    def _passphrases(self) -> tuple[list[bytes | None], str]:
        p = self.cfg.pkcs12
        out: list[bytes | None] = []
        note = ""
        if p.passphrase is not None:
            out.append(p.passphrase.encode())
        elif p.passphrase_file is not None:
            try:
                with open(p.passphrase_file, "rb") as fh:
                    out.append(fh.read().rstrip(b"\r\n"))
            except OSError as e:
                note = f"cannot read pkcs12.passphraseFile {p.passphrase_file}: {e.strerror}"
        if p.try_empty_passphrase:
            out += [b"", None]
        if not out and not note:
            out = [None]
        return out, note


def _job(job):
    return read_and_parse(*job)


def read_and_parse(
    read_path: str, formats: tuple[str, ...], passphrases: list, note: str, reader: Callable[[str], bytes] = _read
):
    """("fault", reason, detail, timings) or ("ok", format, ParseResult, timings); never raises."""
    try:
        data = reader(read_path)
    except OSError as e:
        if isinstance(e, IsADirectoryError):
            return "fault", "read_failed", "is a directory, a file was expected", []
        return (
            "fault",
            _classify(e),
            "file vanished before it could be read"
            if isinstance(e, FileNotFoundError)
            else f"cannot read: {e.strerror}",
            [],
        )
    if len(data) > MAX_FILE_BYTES:
        return "fault", "read_failed", f"file larger than the {MAX_FILE_BYTES} bytes cap", []
    timings: list[tuple[str, float]] = []
    tried: list[tuple[str, parsers.ParseResult]] = []
    for fmt in formats:
        t0 = time.perf_counter()
        if fmt == "pem":
            r = parsers.parse_pem(data)
        elif fmt == "der":
            r = parsers.parse_der(data)
        else:
            r = parsers.parse_pkcs12(data, passphrases)
            if note and r.errors:
                r.detail = note
        timings.append((fmt, time.perf_counter() - t0))
        if not r.fatal:
            return "ok", fmt, r, timings
        tried.append((fmt, r))
    chosen = tried[0]
    if len(tried) > 1 and not (parsers.looks_like_pem(data) and tried[0][0] == "pem"):
        chosen = next((t for t in tried if t[0] != "pem"), tried[0])
    return "ok", chosen[0], chosen[1], timings


class KubeconfigSource(Source):
    config_kind = "kubeconfig"
    error_kind = "kubeconfig"

    def poll(self) -> None:
        live: set[tuple] = set()
        for path, literal in self.candidates():
            file_place = Place(self.error_kind, self.name, path)
            try:
                read_path, sig = self._inspect(path, literal)
            except _Skip:
                continue
            except _Fault as f:
                live.add(file_place.key)
                self._cache.pop(path, None)
                self._fault(file_place, "pem", f.reason, f.detail)
                continue
            cached = self._cache.get(path)
            if (
                self.skip_unchanged
                and cached is not None
                and cached[0] == sig
                and all(self._sig(p) == s for p, s in cached[2].items())
            ):
                live |= cached[1]
                if self.stats is not None:
                    self.stats.skipped_unchanged += 1
                continue
            try:
                data = self._load(read_path)
                doc = yaml.safe_load(data)
                if not isinstance(doc, dict):
                    raise _Fault("decode_failed", "not a kubeconfig YAML document")
            except yaml.YAMLError:
                live.add(file_place.key)
                self._cache.pop(path, None)
                self._fault(file_place, "pem", "decode_failed", "not valid YAML")
                continue
            except _Fault as f:
                live.add(file_place.key)
                self._cache.pop(path, None)
                self._fault(file_place, "pem", f.reason, f.detail)
                continue
            keys: set[tuple] = set()
            refs: dict[str, tuple | None] = {}
            for section, kind, data_key, path_key in (
                ("clusters", "cluster", "certificate-authority-data", "certificate-authority"),
                ("users", "user", "client-certificate-data", "client-certificate"),
            ):
                for entry in doc.get(section) or []:
                    if not isinstance(entry, dict):
                        continue
                    body = entry.get(kind) or {}
                    if not isinstance(body, dict):
                        continue
                    place = Place(self.error_kind, self.name, path, kind, str(entry.get("name", "")))
                    b64, ref = body.get(data_key), body.get(path_key)
                    if b64:
                        try:
                            pem = base64.b64decode(str(b64), validate=True)
                        except (binascii.Error, ValueError):
                            self._fault(place, "pem", "decode_failed", f"{data_key} is not valid base64")
                            keys.add(place.key)
                            continue
                    elif ref:
                        ref_path = ref if os.path.isabs(ref) else os.path.join(os.path.dirname(path), ref)
                        refs[ref_path] = self._sig(ref_path)
                        try:
                            pem = self._load(ref_path)
                        except _Fault as f:
                            self._fault(place, "pem", f.reason, f"{path_key} {ref_path}: {f.detail}")
                            keys.add(place.key)
                            continue
                    else:
                        continue
                    t0 = time.perf_counter()
                    r = parsers.parse_pem(pem)
                    self.registry.observe_parse("pem", time.perf_counter() - t0)
                    if r.errors:
                        log.warning("source %s: %s: %s (%s)", self.name, place.describe(), r.detail, ",".join(r.errors))
                    self.registry.upsert(place, "pem", r)
                    keys.add(place.key)
            if not keys:
                r = parsers.ParseResult(errors=["no_certificate_found"], detail="kubeconfig without certificates")
                self.registry.upsert(file_place, "pem", r)
                keys.add(file_place.key)
            live |= keys
            self._cache[path] = (sig, keys, refs)
            if self.stats is not None:
                self.stats.parsed += 1
        for key in self.registry.keys_of(self.name) - live:
            self.registry.delete(key)
        for path in [p for p in self._cache if not any(k[1] == p for k in live)]:
            self._cache.pop(path, None)

    @staticmethod
    def _sig(path: str) -> tuple | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)


def make_source(scfg: SourceConfig, cfg: Config, registry: Registry) -> Source:
    return (KubeconfigSource if scfg.kind == "kubeconfig" else Source)(scfg, cfg, registry)
