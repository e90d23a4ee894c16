"""Globs and the directory walk, with the rules of upstream's pkg/fileglob.

Patterns: `*` and `?` match within one path segment (never across `/`), `[abc]`, `[a-z]` and
`[!a-z]` are classes, `**` (a whole segment) matches zero or more segments; braces and
backslashes are refused. Names starting with a dot are matched like any other. The walk starts
at each pattern's static prefix, lists one directory at a time (sorted), descends only where a
pattern can still match, never descends into a symlink to a directory unless
`followSymlinkDirs`, and guards real directories against loops (bind mounts) by inode.

A symlink is resolved hop by hop when `pathMappings` are set: an absolute target is rewritten
through the longest matching `from`, and every hop must stay under some `to` (else
`out_of_scope_symlink`). A target that is missing or loops is `broken_symlink`. Without
mappings the kernel resolves the link.

The walk never raises: an unreadable directory, an entry that cannot be examined or a name
that cannot be a label value becomes a `WalkError` for that path only.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

from x509_mixin.catalogue.metrics import Reason

MAX_HOPS = 40  # like the kernel's limit on a chain of symbolic links


class PatternError(ValueError):
    """A glob upstream refuses; the message says why."""


_DOUBLESTAR = "**"


@dataclass(frozen=True)
class Pattern:
    raw: str
    prefix: str  # the static directory the walk starts from
    segments: tuple[str | re.Pattern[str], ...]  # a literal name, a compiled glob, or "**"
    literal: bool  # no wildcard at all: the pattern names one path

    @cached_property
    def _group(self) -> _Group:
        return _Group([self])

    def match(self, path: str) -> bool:
        """Whether a whole path matches (used for excludePaths)."""
        rest = _under(path.rstrip("/") or "/", self.prefix)
        if rest is None:
            return False
        group = self._group
        states = group.start
        for part in rest.split("/") if rest else ():
            states = group.step(group.tests(states), part)
            if not states:
                return False
        return group.roles(states)[0]


def _under(path: str, prefix: str) -> str | None:
    """The part of path below prefix ("" for prefix itself), or None when path is not under it."""
    if path == prefix:
        return ""
    base = prefix.rstrip("/") + "/"
    return path[len(base) :] if path.startswith(base) else None


def _has_magic(s: str) -> bool:
    return any(c in s for c in "*?[")


def _class(seg: str, i: int) -> tuple[str, int]:
    """The regex of the class starting at seg[i] == "[", and the index after it."""
    j = i + 1
    negate = j < len(seg) and seg[j] == "!"
    if negate:
        j += 1
    items: list[str] = []
    while j < len(seg) and seg[j] != "]":
        lo = hi = seg[j]
        if j + 2 < len(seg) and seg[j + 1] == "-" and seg[j + 2] != "]":
            hi = seg[j + 2]
            if hi < lo:
                raise PatternError(f"inverted range {lo}-{hi}")
            j += 3
        else:
            j += 1
        items.append(re.escape(lo) if lo == hi else f"{re.escape(lo)}-{re.escape(hi)}")
    if j >= len(seg):
        raise PatternError("unterminated character class")
    if not items:
        raise PatternError("empty character class")
    return "[" + ("^" if negate else "") + "".join(items) + "]", j + 1


def _segment(seg: str) -> str | re.Pattern[str]:
    if seg == _DOUBLESTAR or not _has_magic(seg):
        return seg
    if _DOUBLESTAR in seg:
        raise PatternError("** must be a whole path segment")
    out, i = [], 0
    while i < len(seg):
        c = seg[i]
        if c == "*":
            out.append(".*")
            i += 1
        elif c == "?":
            out.append(".")
            i += 1
        elif c == "[":
            cls, i = _class(seg, i)
            out.append(cls)
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out), re.S)


def compile_pattern(text: str) -> Pattern:
    """Raises PatternError (message without the pattern) for what upstream's fileglob.Compile refuses."""
    if not text:
        raise PatternError("empty pattern")
    if any(c in text for c in "{}\\"):
        raise PatternError("braces and backslash escapes are not supported")
    parts = text.strip("/").split("/")
    if parts == [""]:
        raise PatternError("empty pattern")
    static = 0
    while static < len(parts) and parts[static] != _DOUBLESTAR and not _has_magic(parts[static]):
        static += 1
    literal = static == len(parts)
    if literal:  # the walk lists the parent and looks for the last name, as upstream does
        static -= 1
    prefix = "/" + "/".join(parts[:static]) if text.startswith("/") else "/".join(parts[:static]) or "."
    segments = []
    for seg in parts[static:]:
        try:
            segments.append(_segment(seg))
        except PatternError as e:
            raise PatternError(f"segment {seg!r}: {e}") from None
    return Pattern(text, prefix, tuple(segments), literal)


# ---- matching, one segment at a time: a state is how many segments are matched ----------


def _closure(segs: Sequence[str | re.Pattern[str]], states: set[int]) -> set[int]:
    out = set(states)
    for k in sorted(states):
        while k < len(segs) and segs[k] == _DOUBLESTAR:  # ** may match no segment at all
            k += 1
            out.add(k)
    return out


def _matches(seg: str | re.Pattern[str], name: str) -> bool:
    if isinstance(seg, str):
        return seg == _DOUBLESTAR or seg == name
    return seg.fullmatch(name) is not None


_NOTHING: frozenset[tuple[int, int]] = frozenset()


class _Group:
    """The patterns sharing one static prefix, matched together one name at a time.

    A state (i, k) says pattern i has its first k segments matched; `closures` lists, for each,
    the states it stands for once `**` may match nothing.
    """

    def __init__(self, pats: list[Pattern]):
        self.sizes = [len(p.segments) for p in pats]
        self.segments = [p.segments for p in pats]
        self.closures = [
            [frozenset((i, c) for c in _closure(p.segments, {k})) for k in range(len(p.segments) + 1)]
            for i, p in enumerate(pats)
        ]
        self.start = frozenset().union(*(c[0] for c in self.closures))
        self._roles: dict[frozenset[tuple[int, int]], tuple[bool, bool]] = {}

    def roles(self, states: frozenset[tuple[int, int]]) -> tuple[bool, bool]:
        """(a pattern matches here, a pattern may match below): few distinct state sets, so cached."""
        roles = self._roles.get(states)
        if roles is None:
            roles = self._roles[states] = (
                any(k == self.sizes[i] for i, k in states),
                any(k < self.sizes[i] for i, k in states),
            )
        return roles

    def tests(self, states: frozenset[tuple[int, int]]) -> list[tuple[str | re.Pattern[str], frozenset]]:
        """For the names in a directory reached with `states`: (segment, states if it matches)."""
        out = []
        for i, k in states:
            if k < self.sizes[i]:
                seg = self.segments[i][k]
                out.append((seg, self.closures[i][k] if seg == _DOUBLESTAR else self.closures[i][k + 1]))
        return out

    @staticmethod
    def step(tests: list[tuple[str | re.Pattern[str], frozenset]], name: str) -> frozenset[tuple[int, int]]:
        if len(tests) == 1:  # the usual case: one pattern, one state
            seg, then = tests[0]
            return then if _matches(seg, name) else _NOTHING
        nxt: frozenset[tuple[int, int]] = _NOTHING
        for seg, then in tests:
            if _matches(seg, name):
                nxt = nxt | then
        return nxt


# ---- the walk ---------------------------------------------------------------------------


@dataclass(slots=True)
class Entry:
    """A file to read: `path` is what labels show, `read_path` the file behind it (a link's target)."""

    path: str
    read_path: str
    sig: tuple  # change signature: (mtime_ns, size, inode) of the path, and of the target for a link
    size: int


@dataclass(slots=True)
class WalkError:
    path: str
    reason: str
    detail: str


def os_error_reason(e: OSError, otherwise: str) -> str:
    """Upstream's reason for what it cannot read or list (classifyReadError): not_found,
    permission_denied, else `otherwise` (read_failed for a file, walk_error for a directory)."""
    if isinstance(e, FileNotFoundError):
        return Reason.NOT_FOUND
    if isinstance(e, PermissionError):
        return Reason.PERMISSION_DENIED
    return otherwise


def utf8_name(path: str) -> bool:
    """Whether the name can be a label value (a non-UTF-8 byte in a name comes back as a lone surrogate)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _sig(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _name(de: os.DirEntry) -> str:
    return de.name


class Walker:
    """One source's listing. `walk()` yields entries and errors; `unreadable` lists the directories
    that exist but could not be listed by the last walk (what was under them may still be there)."""

    def __init__(
        self,
        includes: Sequence[str],
        excludes: Sequence[str] = (),
        follow_symlinks: bool = True,
        follow_symlink_dirs: bool = False,
        path_mappings: Sequence[tuple[str, str]] = (),
        stop: threading.Event | None = None,
    ):
        self.includes = [compile_pattern(p) for p in includes]
        self.excludes = [compile_pattern(p) for p in excludes]
        self.follow_symlinks = follow_symlinks
        self.follow_symlink_dirs = follow_symlink_dirs
        self.mappings = [(f.rstrip("/"), t.rstrip("/")) for f, t in path_mappings]
        self.stop = stop or threading.Event()
        self.unreadable: list[str] = []
        self.listdir = os.scandir  # replaceable in tests (fault injection)

    def _excluded(self, path: str) -> bool:
        return any(p.match(path) for p in self.excludes)

    def walk(self) -> Iterator[Entry | WalkError]:
        self.unreadable = []
        seen: set[str] = set()
        by_prefix: dict[str, list[Pattern]] = {}
        for p in self.includes:
            if p.literal:
                continue
            by_prefix.setdefault(p.prefix, []).append(p)
        for p in self.includes:
            if p.literal and p.raw not in seen:
                seen.add(p.raw)
                if not self._excluded(p.raw):
                    yield from self._literal(p.raw.rstrip("/") or "/")
        for prefix in sorted(by_prefix):
            group = _Group(by_prefix[prefix])
            inodes: set[tuple[int, int]] = set()
            try:
                st = os.stat(prefix)
                inodes.add((st.st_dev, st.st_ino))
            except OSError:
                pass  # reported by the listing below
            found: list[Entry | WalkError] = []
            self._descend(prefix, group, group.start, inodes, found)
            for item in found:
                if item.path not in seen:
                    seen.add(item.path)
                    yield item

    # A literal path names one file: missing, a directory or a special file is an error
    # (upstream silently finds nothing there; see docs/exporter.md).
    def _literal(self, path: str) -> Iterator[Entry | WalkError]:
        try:
            lst = os.lstat(path)
        except OSError as e:
            if isinstance(e, FileNotFoundError):
                yield WalkError(path, Reason.NOT_FOUND, "file not found")
            else:
                yield WalkError(path, os_error_reason(e, Reason.WALK_ERROR), f"cannot stat: {e.strerror}")
            return
        if stat.S_ISLNK(lst.st_mode):
            resolved = self.resolve(path)
            if isinstance(resolved, WalkError):
                yield resolved
                return
            target, tst = resolved
            if stat.S_ISDIR(tst.st_mode):
                yield WalkError(path, Reason.READ_FAILED, "a symlink to a directory, a file was expected")
            elif self.follow_symlinks:
                if stat.S_ISREG(tst.st_mode):
                    yield Entry(path, target, _sig(lst) + _sig(tst), tst.st_size)
                else:
                    yield WalkError(path, Reason.READ_FAILED, "a symlink to something that is not a regular file")
        elif stat.S_ISDIR(lst.st_mode):
            yield WalkError(path, Reason.READ_FAILED, "is a directory, a file was expected")
        elif not stat.S_ISREG(lst.st_mode):
            yield WalkError(path, Reason.READ_FAILED, "not a regular file")
        else:
            yield Entry(path, path, _sig(lst), lst.st_size)

    def _descend(
        self,
        directory: str,
        group: _Group,
        states: frozenset[tuple[int, int]],
        inodes: set[tuple[int, int]],
        out: list[Entry | WalkError],
    ) -> None:
        """Append what `directory` holds for the patterns (a list, not nested generators: it is the hot path)."""
        try:
            with self.listdir(directory) as it:
                entries = sorted(it, key=_name)
        except OSError as e:
            if not isinstance(e, FileNotFoundError | NotADirectoryError):
                self.unreadable.append(directory)  # what is under it may well still be there
            out.append(
                WalkError(directory, os_error_reason(e, Reason.WALK_ERROR), f"cannot list the directory: {e.strerror}")
            )
            return
        base = directory.rstrip("/")
        tests = group.tests(states)
        for de in entries:
            if self.stop.is_set():
                return
            nxt = group.step(tests, de.name)
            if not nxt:
                continue
            path = f"{base}/{de.name}"
            if self.excludes and self._excluded(path):
                continue
            leaf, descend = group.roles(nxt)
            try:
                lst = de.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # gone since the listing
            except OSError as e:
                out.append(WalkError(path, Reason.WALK_ERROR, f"cannot stat: {e.strerror}"))
                continue
            mode = lst.st_mode
            if stat.S_ISREG(mode):
                if not leaf:
                    continue
                if path.isascii() or utf8_name(path):
                    out.append(Entry(path, path, (lst.st_mtime_ns, lst.st_size, lst.st_ino), lst.st_size))
                else:
                    out.append(
                        WalkError(path, Reason.WALK_ERROR, "the name is not valid UTF-8, so it cannot be a label value")
                    )
            elif stat.S_ISDIR(mode):
                if descend and (lst.st_dev, lst.st_ino) not in inodes:
                    inodes.add((lst.st_dev, lst.st_ino))
                    self._descend(path, group, nxt, inodes, out)
            elif stat.S_ISLNK(mode):
                self._symlink(path, lst, leaf, descend, group, nxt, inodes, out)

    def _symlink(
        self,
        path: str,
        lst: os.stat_result,
        leaf: bool,
        descend: bool,
        group: _Group,
        states: frozenset[tuple[int, int]],
        inodes: set[tuple[int, int]],
        out: list[Entry | WalkError],
    ) -> None:
        dir_candidate = descend and self.follow_symlink_dirs
        if not leaf and not dir_candidate:
            return
        resolved = self.resolve(path)
        if isinstance(resolved, WalkError):
            if leaf:
                out.append(resolved)
            return
        target, tst = resolved
        if stat.S_ISDIR(tst.st_mode):  # never read as a file; descended only with followSymlinkDirs
            if dir_candidate and (tst.st_dev, tst.st_ino) not in inodes:
                inodes.add((tst.st_dev, tst.st_ino))
                self._descend(path, group, states, inodes, out)
            return
        if leaf and self.follow_symlinks and stat.S_ISREG(tst.st_mode):
            if utf8_name(path):
                out.append(Entry(path, target, _sig(lst) + _sig(tst), tst.st_size))
            else:
                out.append(
                    WalkError(path, Reason.WALK_ERROR, "the name is not valid UTF-8, so it cannot be a label value")
                )

    # ---- symlinks ------------------------------------------------------------------------

    def _translate(self, target: str) -> str:
        best = max(
            ((f, t) for f, t in self.mappings if f and (target == f or target.startswith(f + "/"))),
            key=lambda m: len(m[0]),
            default=None,
        )
        return target if best is None else best[1] + target[len(best[0]) :]

    def _scope_root(self, path: str) -> str | None:
        """The longest pathMappings[].to that holds path, or None when it is out of scope."""
        roots = [t for _, t in self.mappings if t and (path == t or path.startswith(t + "/"))]
        return max(roots, key=len) if roots else None

    def resolve(self, link: str) -> tuple[str, os.stat_result] | WalkError:
        """(final path, its stat) of a symlink, or the WalkError for the link."""
        if not self.mappings:
            try:
                return link, os.stat(link)
            except OSError as e:
                why = "symlink loop" if e.errno == errno.ELOOP else f"symlink target unreachable: {e.strerror}"
                return WalkError(link, Reason.BROKEN_SYMLINK, why)
        # Resolve one component at a time below a trusted directory: first the walked one, then
        # the scope root each hop lands in (a mount point may itself be a symlink).
        current, pending = os.path.dirname(link), [os.path.basename(link)]
        hops = 0
        while pending:
            name = pending.pop(0)
            if name in ("", "."):
                continue
            nxt = os.path.join(current, name)
            try:
                st = os.lstat(nxt)
                if not stat.S_ISLNK(st.st_mode):
                    current = nxt
                    continue
                hops += 1
                if hops > MAX_HOPS:
                    raise OSError(errno.ELOOP, "too many levels of symbolic links")
                target = os.readlink(nxt)
            except OSError as e:
                return WalkError(link, Reason.BROKEN_SYMLINK, f"symlink target unreachable: {e.strerror}")
            target = os.path.normpath(
                self._translate(target) if os.path.isabs(target) else os.path.join(current, target)
            )
            root = self._scope_root(target)
            if root is None:
                return WalkError(
                    link, Reason.OUT_OF_SCOPE_SYMLINK, "a symlink on the way leaves every pathMappings[].to scope"
                )
            current, pending = root, target[len(root) :].split("/") + pending
        try:
            return current, os.stat(current)
        except OSError as e:
            return WalkError(link, Reason.BROKEN_SYMLINK, f"symlink target unreachable: {e.strerror}")
