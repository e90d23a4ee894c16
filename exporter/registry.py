"""The registry: every bundle's certificates with their exposition text rendered once.

Sources call `upsert`/`delete`; a scrape calls `render`. Per-certificate label text is
escaped when a bundle changes (never at scrape). The families whose values do not move
with time (`not_after`, `not_before`, CRL dates, `cert_error`) are cached as whole byte
blocks per generation; `expired`/`stale` blocks are cached until the next certificate or
CRL crosses its date; only the relative families (`exposeRelative`) are formatted per scrape.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from x509_mixin.catalogue import metrics as cat
from x509_mixin.exporter.config import MetricsConfig
from x509_mixin.exporter.exposition import Histogram, escape_label, family_header, go_float
from x509_mixin.exporter.parsers import CertInfo, CrlInfo, ParseResult

_GO_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "i686": "386",
    "i386": "386",
    "riscv64": "riscv64",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
}


def build_info_labels() -> dict[str, str]:
    try:
        from importlib.metadata import version

        ver = version("x509-mixin")
    except Exception:  # noqa: BLE001
        ver = "unknown"
    built = os.environ.get("X509_MIXIN_BUILT", "unknown")
    commit = os.environ.get("X509_MIXIN_GIT_COMMIT", "unknown")
    return {
        "version": ver,
        "built": built,
        "git_commit": commit,
        "go_runtime": f"{platform.python_implementation().lower()}{platform.python_version()}",
        "go_os": sys.platform if sys.platform != "darwin" else "darwin",
        "go_arch": _GO_ARCH.get(platform.machine().lower(), platform.machine().lower()),
    }


@dataclass(frozen=True, slots=True)
class Place:
    """Where a bundle lives: one file, or one entry of a kubeconfig."""

    source_kind: str  # file | kubeconfig (the kind of errors and bundles)
    source_name: str
    path: str
    embedded_kind: str = ""
    embedded_key: str = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.source_name, self.path, self.embedded_kind, self.embedded_key)

    def describe(self) -> str:
        if self.embedded_kind:
            return f"{self.path} ({self.embedded_kind} {self.embedded_key})"
        return self.path


class _Cert:
    __slots__ = ("base", "disc", "lbl", "not_after", "not_before", "kind", "visible")

    def __init__(self, base: str, disc: str, info: CertInfo, kind: str):
        self.base = base  # the full label text with an empty discriminator: escaped once, here
        self.disc = disc
        self.lbl = base
        self.not_after = info.not_after
        self.not_before = info.not_before
        self.kind = kind
        self.visible = True


class _Crl:
    __slots__ = ("lbl", "this_update", "next_update", "number")

    def __init__(self, lbl: str, info: CrlInfo):
        self.lbl = lbl
        self.this_update = info.this_update
        self.next_update = info.next_update
        self.number = float(int(info.number)) if info.number else 0.0


@dataclass(slots=True)
class _Bundle:
    place: Place
    fmt: str
    certs: list[_Cert]
    crls: list[_Crl]
    errors: list[str]
    detail: str
    error_lbl: str  # label text of the x509_cert_error=1 series ("" when no error)
    updated: float = field(default_factory=time.time)


@dataclass
class SourceStats:
    kind: str
    name: str
    synced: bool = False
    polls: int = 0
    skipped_unchanged: int = 0
    parsed: int = 0
    last_poll_seconds: float = 0.0
    last_poll_at: float = 0.0


class Registry:
    def __init__(
        self, mcfg: MetricsConfig, sources: Sequence[tuple[str, str, tuple[str, ...]]] = (), enable_stats: bool = True
    ):
        """`sources`: (config kind, name, formats) of every configured source."""
        self.m = mcfg
        self.enable_stats = enable_stats
        self._lock = threading.RLock()
        self._bundles: dict[tuple, _Bundle] = {}
        self._gen = 0
        self._built_gen = -1
        self._disc_on = mcfg.collision_discriminator != "never"
        self.label_names = tuple(
            n
            for n in cat.CERT_LABELS
            if not (n.startswith("issuer_") and n[7:] not in mcfg.expose_issuer_fields)
            and not (n.startswith("subject_") and n[8:] not in mcfg.expose_subject_fields)
        ) + ((cat.DISCRIMINATOR_LABEL,) if self._disc_on else ())
        self._dn_iss = mcfg.expose_issuer_fields
        self._dn_sub = mcfg.expose_subject_fields
        # self metrics
        self._up: dict[tuple[str, str], int] = {}
        self._bundle_counts: dict[tuple[str, str], int] = {}
        self._errors: dict[tuple[str, str, str], int] = {}
        self._pkcs12: dict[str, int] | None = None
        self._collision: dict[str, int] = {}
        self._dropped: dict[str, int] = {}
        self._collision_extra: Counter = Counter()
        self._panics: dict[str, int] = {}
        self._scrape_hist = Histogram(cat.SCRAPE_DURATION_BUCKETS)
        self._parse_hist: dict[str, Histogram] = {}
        self._build = build_info_labels()
        self.stats: dict[str, SourceStats] = {}
        self.last_scrape_seconds = 0.0
        self.scrapes = 0
        self._static: dict[str, bytes] = {}
        self._threshold: dict[str, tuple[bytes, float, int]] = {}
        for kind, name, formats in sources:
            err_kind = "file" if kind == "file" else "kubeconfig"
            self.stats[name] = SourceStats(kind=kind, name=name)
            for reason in _STATIC_REASONS[err_kind]:
                self._errors[(err_kind, name, reason)] = 0
            self._collision.setdefault(err_kind, 0)
            self._dropped.setdefault(err_kind, 0)
            if "pkcs12" in formats:
                self._pkcs12 = self._pkcs12 or {}
                self._pkcs12[name] = 0

    # ---- writers (sources) ----------------------------------------------------------

    def upsert(self, place: Place, fmt: str, result: ParseResult) -> None:
        loc = self._location_core(place)
        certs: list[_Cert] = []
        for i, info in enumerate(result.certs):
            base = self._finish(loc + self._cert_core(info), "")
            disc = ""
            if self._disc_on:
                h = hashlib.sha256(info.der_digest + b"\0" + "\0".join(place.key).encode() + b"\0" + str(i).encode())
                disc = h.hexdigest()[: self.m.collision_discriminator_length]
            certs.append(_Cert(base, disc, info, place.source_kind))
        crls = [_Crl(self._crl_lbl(loc, c), c) for c in result.crls]
        error_lbl = ""
        if result.errors:
            error_lbl = self._finish(loc + self._empty_cert_core(), "")
        b = _Bundle(place, fmt, certs, crls, list(result.errors), result.detail if result.errors else "", error_lbl)
        with self._lock:
            is_new = place.key not in self._bundles
            self._bundles[place.key] = b
            for reason in result.errors:
                k = (place.source_kind, place.source_name, reason)
                self._errors[k] = self._errors.get(k, 0) + 1
                if reason == "bad_passphrase" and fmt == "pkcs12" and self._pkcs12 is not None:
                    self._pkcs12[place.source_name] = self._pkcs12.get(place.source_name, 0) + 1
            self._gen += 1
            ck = (place.source_kind, place.source_name)
            self._bundle_counts[ck] = self._bundle_counts.get(ck, 0) + (1 if is_new else 0)

    def delete(self, key: tuple) -> None:
        with self._lock:
            b = self._bundles.pop(key, None)
            if b is not None:
                self._gen += 1
                ck = (b.place.source_kind, b.place.source_name)
                self._bundle_counts[ck] = self._bundle_counts.get(ck, 1) - 1

    def keys_of(self, source_name: str) -> set[tuple]:
        with self._lock:
            return {k for k in self._bundles if k[0] == source_name}

    def mark_up(self, config_kind: str, name: str, up: bool) -> None:
        with self._lock:
            self._up[(config_kind, name)] = 1 if up else 0
            if name in self.stats:
                self.stats[name].synced = True

    def mark_panic(self, component: str) -> None:
        with self._lock:
            self._panics[component] = self._panics.get(component, 0) + 1

    def observe_parse(self, fmt: str, seconds: float) -> None:
        if not self.m.expose_diagnostics:
            return
        with self._lock:
            h = self._parse_hist.get(fmt)
            if h is None:
                h = self._parse_hist[fmt] = Histogram(cat.PARSE_DURATION_BUCKETS)
            h.observe(seconds)

    # ---- label text (rendered once per change) --------------------------------------

    def _location_core(self, p: Place) -> str:
        path = _trim_path(p.path, self.m.trim_path_components)
        return (
            f'filename="{escape_label(os.path.basename(p.path))}",filepath="{escape_label(path)}",'
            f'embedded_kind="{escape_label(p.embedded_kind)}",embedded_key="{escape_label(p.embedded_key)}",'
            'secret_namespace="",secret_name="",secret_key="",configmap_namespace="",configmap_name="",'
            'configmap_key="",cabundle_resource_kind="",cabundle_resource_name="",cabundle_entry="",'
        )

    def _dn(self, prefix: str, fields: tuple[str, ...], values: dict[str, str]) -> str:
        out = ""
        for f in fields:
            v = values.get(f)
            out += f',{prefix}_{f}="{escape_label(v) if v else ""}"'
        return out

    def _cert_core(self, info: CertInfo) -> str:
        return (
            f'serial_number="{info.serial}",crl_number=""'
            + self._dn("issuer", self._dn_iss, info.issuer)
            + self._dn("subject", self._dn_sub, info.subject)
        )

    def _empty_cert_core(self) -> str:
        return (
            'serial_number="",crl_number=""'
            + "".join(f',issuer_{f}=""' for f in self._dn_iss)
            + "".join(f',subject_{f}=""' for f in self._dn_sub)
        )

    def _crl_lbl(self, loc: str, c: CrlInfo) -> str:
        core = (
            loc
            + f'serial_number="",crl_number="{escape_label(c.number)}"'
            + self._dn("issuer", self._dn_iss, c.issuer)
            + "".join(f',subject_{f}=""' for f in self._dn_sub)
        )
        return self._finish(core, "")

    def _finish(self, core: str, disc: str) -> str:
        if self._disc_on:
            return "{" + core + f',discriminator="{disc}"' + "}"
        return "{" + core + "}"

    def _with_disc(self, base: str, disc: str) -> str:
        assert base.endswith(',discriminator=""}')
        return base[:-2] + disc + '"}'

    # ---- rebuild on change -----------------------------------------------------------

    def _rebuild(self) -> None:
        groups: dict[tuple[str, str], list[_Cert]] = defaultdict(list)
        for b in self._bundles.values():
            for c in b.certs:
                groups[(c.kind, c.base)].append(c)
        extra: Counter = Counter()
        mode = self.m.collision_discriminator
        visible: list[_Cert] = []
        for (kind, _), members in groups.items():
            collided = len(members) > 1
            if collided:
                extra[kind] += len(members) - 1
            if collided and mode == "never":
                best = min(members, key=lambda c: c.not_after)
                for c in members:
                    c.visible = c is best
                    c.lbl = c.base
                visible.append(best)
                continue
            use = mode == "always" or (collided and mode == "auto")
            for c in members:
                c.visible = True
                c.lbl = self._with_disc(c.base, c.disc) if use else c.base
                visible.append(c)
        visible.sort(key=lambda c: c.lbl)
        self._visible = visible
        self._collision_extra = extra
        crls = sorted((c for b in self._bundles.values() for c in b.crls), key=lambda c: c.lbl)
        self._crls = crls
        errs = sorted(b.error_lbl for b in self._bundles.values() if b.error_lbl)
        static: dict[str, bytes] = {}
        if visible:
            static["x509_cert_not_after"] = "".join(
                f"x509_cert_not_after{c.lbl} {go_float(c.not_after)}\n" for c in visible
            ).encode()
            if self.m.expose_not_before:
                static["x509_cert_not_before"] = "".join(
                    f"x509_cert_not_before{c.lbl} {go_float(c.not_before)}\n" for c in visible
                ).encode()
        if self.m.expose_per_cert_error and (visible or errs):
            lines = [f"x509_cert_error{c.lbl} 0\n" for c in visible] + [f"x509_cert_error{e} 1\n" for e in errs]
            lines.sort()
            static["x509_cert_error"] = "".join(lines).encode()
        if crls:
            static["x509_crl_next_update"] = "".join(
                f"x509_crl_next_update{c.lbl} {go_float(c.next_update)}\n" for c in crls
            ).encode()
            static["x509_crl_this_update"] = "".join(
                f"x509_crl_this_update{c.lbl} {go_float(c.this_update)}\n" for c in crls
            ).encode()
            static["x509_crl_number"] = "".join(f"x509_crl_number{c.lbl} {go_float(c.number)}\n" for c in crls).encode()
        self._static = static
        self._threshold = {}
        self._built_gen = self._gen

    def _threshold_block(self, name: str, items: list, attr: str, now: float) -> bytes:
        cached = self._threshold.get(name)
        if cached is not None and now < cached[1]:
            return cached[0]
        nxt = float("inf")
        out = []
        for c in items:
            t = getattr(c, attr)
            if now > t:
                out.append(f"{name}{c.lbl} 1\n")
            else:
                out.append(f"{name}{c.lbl} 0\n")
                nxt = min(nxt, t)
        block = "".join(out).encode()
        # valid while now <= nxt (a value flips once now > nxt)
        self._threshold[name] = (block, nxt if nxt != float("inf") else float("inf"), self._gen)
        return block

    # ---- scrape -------------------------------------------------------------------------

    def render(self) -> list[bytes]:
        """The /metrics body as chunks (families sorted by name, as client_golang does)."""
        t0 = time.perf_counter()
        with self._lock:
            if self._built_gen != self._gen:
                self._rebuild()
            now = time.time()
            fams: dict[str, list[bytes]] = {}
            for name, block in self._static.items():
                fams[name] = [block]
            if self._visible and self.m.expose_expired:
                fams["x509_cert_expired"] = [
                    self._threshold_block("x509_cert_expired", self._visible, "not_after", now)
                ]
            if self._crls and self.m.expose_expired:
                fams["x509_crl_stale"] = [self._threshold_block("x509_crl_stale", self._crls, "next_update", now)]
            if self.m.expose_relative:
                if self._visible:
                    fams["x509_cert_expires_in_seconds"] = _value_block(
                        "x509_cert_expires_in_seconds", self._visible, lambda c: c.not_after - now
                    )
                    fams["x509_cert_valid_since_seconds"] = _value_block(
                        "x509_cert_valid_since_seconds", self._visible, lambda c: now - c.not_before
                    )
                if self._crls:
                    fams["x509_crl_stale_in_seconds"] = _value_block(
                        "x509_crl_stale_in_seconds", self._crls, lambda c: c.next_update - now
                    )
                    fams["x509_crl_fresh_since_seconds"] = _value_block(
                        "x509_crl_fresh_since_seconds", self._crls, lambda c: now - c.this_update
                    )
            # collisions tick once per scrape while they last
            for kind, n in self._collision_extra.items():
                self._collision[kind] = self._collision.get(kind, 0) + n
                if self.m.collision_discriminator == "never":
                    self._dropped[kind] = self._dropped.get(kind, 0) + n
            self._self_metrics(fams)
            elapsed = time.perf_counter() - t0
            self._scrape_hist.observe(elapsed)
            fams["x509_scrape_duration_seconds"] = [self._scrape_hist.render("x509_scrape_duration_seconds").encode()]
            self.last_scrape_seconds = elapsed
            self.scrapes += 1
        out: list[bytes] = []
        for name in sorted(fams):
            meta = cat.BY_NAME[name]
            out.append(family_header(name, meta.type, meta.help).encode())
            out.extend(fams[name])
        return out

    def _self_metrics(self, fams: dict[str, list[bytes]]) -> None:
        def lines(name: str, rows: dict, labels: tuple[str, ...]) -> None:
            if not rows:
                return
            txt = []
            for key in sorted(rows):
                key_t = key if isinstance(key, tuple) else (key,)
                lbl = ",".join(f'{n}="{escape_label(v)}"' for n, v in zip(labels, key_t, strict=False))
                txt.append(f"{name}{{{lbl}}} {go_float(rows[key])}\n")
            fams[name] = ["".join(txt).encode()]

        lines("x509_source_up", self._up, cat.SOURCE_LABELS)
        lines("x509_source_bundles", self._bundle_counts, cat.SOURCE_LABELS)
        lines("x509_source_errors_total", self._errors, cat.SOURCE_LABELS + ("reason",))
        if self._pkcs12 is not None:
            lines("x509_pkcs12_passphrase_failures_total", self._pkcs12, ("source_name",))
        lines("x509_cert_collision_total", self._collision, ("source_kind",))
        lines("x509_cert_collision_dropped_total", self._dropped, ("source_kind",))
        lines("x509_panic_total", self._panics, ("component",))
        bl = ",".join(f'{n}="{escape_label(self._build[n])}"' for n in cat.BY_NAME["x509_exporter_build_info"].labels)
        fams["x509_exporter_build_info"] = [f"x509_exporter_build_info{{{bl}}} 1\n".encode()]
        if self.m.expose_diagnostics and self._parse_hist:
            fams["x509_parse_duration_seconds"] = [
                "".join(
                    self._parse_hist[f].render("x509_parse_duration_seconds", f'format="{f}"')
                    for f in sorted(self._parse_hist)
                ).encode()
            ]

    # ---- status page data ---------------------------------------------------------------

    def snapshot(self) -> dict:
        with self._lock:
            if self._built_gen != self._gen:
                self._rebuild()
            bundles = [
                {
                    "source": b.place.source_name,
                    "kind": b.place.source_kind,
                    "place": b.place.describe(),
                    "format": b.fmt,
                    "certificates": len(b.certs),
                    "crls": len(b.crls),
                    "errors": list(b.errors),
                    "detail": b.detail,
                    "updated": b.updated,
                }
                for b in sorted(self._bundles.values(), key=lambda b: b.place.key)
            ]
            by_format = Counter(b.fmt for b in self._bundles.values())
            return {
                "sources": [
                    vars(s).copy()
                    | {
                        "up": self._up.get((s.kind, s.name)),
                        "bundles": self._bundle_counts.get(("file" if s.kind == "file" else "kubeconfig", s.name), 0),
                    }
                    for s in self.stats.values()
                ],
                "bundles": bundles,
                "errors": {k: v for k, v in sorted(self._errors.items()) if v},
                "cache": {
                    "bundles": len(self._bundles),
                    "certificates": sum(len(b.certs) for b in self._bundles.values()),
                    "visible_series": len(self._visible),
                    "crls": len(self._crls),
                    "by_format": dict(by_format),
                    "last_scrape_seconds": self.last_scrape_seconds,
                    "scrapes": self.scrapes,
                    "generation": self._gen,
                    "collisions": dict(self._collision_extra),
                },
                "panics": dict(self._panics),
            }


_FILE_REASONS = (
    "bad_pem",
    "bad_crl",
    "bad_der",
    "bad_pkcs12",
    "bad_passphrase",
    "no_certificate_found",
    "read_failed",
    "permission_denied",
    "not_found",
    "broken_symlink",
    "out_of_scope_symlink",
    "walk_error",
)
_KUBECONFIG_REASONS = (
    "bad_pem",
    "no_certificate_found",
    "read_failed",
    "permission_denied",
    "not_found",
    "decode_failed",
)
_STATIC_REASONS = {"file": _FILE_REASONS, "kubeconfig": _KUBECONFIG_REASONS}
assert all(r in cat.BUNDLE_REASONS for r in _FILE_REASONS + _KUBECONFIG_REASONS)


def _trim_path(p: str, n: int) -> str:
    if n <= 0:
        return p
    absolute = p.startswith("/")
    parts = p.lstrip("/").split("/")
    if n >= len(parts):
        return ""
    res = "/".join(parts[n:])
    return "/" + res if absolute else res


def _value_block(name: str, items, value) -> list[bytes]:
    """One family's sample lines: the label text is pre-rendered, only the value is computed."""
    return ["".join(f"{name}{c.lbl} {go_float(value(c))}\n" for c in items).encode()]
