"""Reading inputs, splicing edits into text, and atomic writes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from x509_mixin.migrate.report import InputError


def read_text(path: str) -> str:
    try:
        # newline="" keeps \r\n as it is, so untouched bytes stay untouched.
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except OSError as exc:
        raise InputError(path, 0, f"cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise InputError(path, 0, "not UTF-8 text") from None


def line_of(text: str, index: int) -> int:
    """1-based line number of a character offset."""
    return text.count("\n", 0, index) + 1


def splice(text: str, edits: list[tuple[int, int, str]]) -> str:
    """Replace text[start:end] for each edit; edits must not overlap. Everything else is kept
    byte for byte, which is how untouched lines stay exactly as they were."""
    out, pos = [], 0
    for start, end, new in sorted(edits, key=lambda e: (e[0], e[1])):
        if start < pos:
            raise ValueError(f"overlapping edits at offset {start}")
        out.append(text[pos:start])
        out.append(new)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def target_of(path: str) -> Path:
    """The file a path names: a symlink's target (edited in place, so the link stays a link)."""
    return Path(os.path.realpath(path))


def check_writable(path: str) -> None:
    """Refuse, before anything is written, a file whose owner or group the rewrite could not keep
    (a replaced file belongs to whoever writes it; only root can give it back)."""
    target = target_of(path)
    try:
        st = target.stat()
    except FileNotFoundError:
        return
    if os.geteuid() == 0:
        return
    if st.st_uid != os.geteuid() or st.st_gid not in (os.getegid(), *os.getgroups()):
        raise InputError(
            path, 0, f"owned by {st.st_uid}:{st.st_gid}, which a rewrite by this user cannot keep: run it as that user"
        )


def write_atomic(path: str, text: str) -> None:
    """Write a temporary file next to the target, then rename: never half-written. A symlink's
    target is the file written; its permission bits, owner and group are kept."""
    target = target_of(path)
    try:
        st = target.stat()
        mode, owner = st.st_mode & 0o7777, (st.st_uid, st.st_gid)
    except FileNotFoundError:
        mode, owner = 0o644, None
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        if owner is not None and owner != (os.geteuid(), os.getegid()):
            os.chown(tmp, *owner)
        os.chmod(tmp, mode)  # after chown, which clears setuid and setgid bits
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
