"""The registry: every bundle's certificates with their exposition text rendered once.

Sources call `upsert`/`delete`; a scrape calls `render`. Per-certificate label text is
escaped when a bundle changes (never at scrape). The families whose values do not move
with time (`not_after`, `not_before`, CRL dates, `cert_error`) are cached as whole byte
blocks per generation; `expired`/`stale` blocks are cached until the next certificate or
CRL crosses its date (or the clock moves back past one); only the relative families
(`exposeRelative`) are formatted per scrape.

Collisions follow upstream (pkg/registry/collector.go): certificates, and CRLs, whose label
sets are equal within a source kind are told apart by a `discriminator`, or all but the one
expiring first are dropped (`never`). The same certificate seen at the same place by two
overlapping sources is one series, not a collision: upstream keys a bundle by its place alone.
"""

from __future__ import annotations

import hashlib
import heapq
import os
import platform
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from x509_mixin.catalogue import metrics as cat
from x509_mixin.exporter.certinfo import CertInfo, CrlInfo
from x509_mixin.exporter.config import MetricsConfig
from x509_mixin.exporter.exposition import Histogram, escape_label, family_header, go_float
from x509_mixin.exporter.parsers import BUNDLE, ParseResult

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
    except Exception:  # no package metadata (a source checkout)
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
        return self.key_of(self.source_name, self.path, self.embedded_kind, self.embedded_key)

    @staticmethod
    def key_of(
        source_name: str, path: str, embedded_kind: str = "", embedded_key: str = ""
    ) -> tuple[str, str, str, str]:
        """The registry key of a bundle (without building a Place: the unchanged-file path of a poll)."""
        return (source_name, path, embedded_kind, embedded_key)

    @property
    def ref(self) -> str:
        """Upstream's SourceRef.String(): the place without the source name (fingerprint input)."""
        ref = f"{self.source_kind}:{self.path}"
        return f"{ref}#{self.embedded_kind}/{self.embedded_key}" if self.embedded_kind else ref

    def describe(self) -> str:
        """For logs and the status page: a name that is not UTF-8 is shown with U+FFFD."""
        path = self.path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        if self.embedded_kind:
            return f"{path} ({self.embedded_kind} {self.embedded_key})"
        return path


def fingerprint(der: bytes, ref: str, index: int) -> bytes:
    """Upstream's discriminator input: SHA-256 over the DER, the place and the index in the bundle."""
    h = hashlib.sha256(der)
    h.update(b"\0" + ref.encode("utf-8", "surrogateescape") + b"\0" + index.to_bytes(4, "big"))
    return h.digest()


class _Item:
    """A certificate or CRL series: its label text (escaped once) and its dates."""

    __slots__ = ("base", "fp", "lbl", "kind", "first", "second", "number")

    def __init__(self, base: str, fp: bytes, kind: str, first: float, second: float, number: float = 0.0):
        self.base = base  # the full label text with an empty discriminator
        self.fp = fp
        self.lbl = base
        self.kind = kind
        self.first = first  # a certificate's not_after, a CRL's next_update: what expires
        self.second = second  # a certificate's not_before, a CRL's this_update
        self.number = number  # a CRL's number


@dataclass(slots=True)
class _Bundle:
    place: Place
    fmt: str
    certs: list[_Item]
    crls: list[_Item]
    errors: list[str]
    detail: str
    error_lbl: str  # label text of the x509_cert_error=1 series ("" without a bad block)
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
    poll_started: float | None = None  # time.monotonic() of the poll running now
    bound: float = float("inf")  # a poll running longer than this has stalled

    def running_for(self, now: float) -> float:
        return 0.0 if self.poll_started is None else now - self.poll_started

    def stuck(self, now: float) -> bool:
        return self.running_for(now) > self.bound


STATUS_ROWS = 200  # bundles listed on the status page, failing ones first


def error_kind(config_kind: str) -> str:
    """The source_kind of a source's bundles and errors (x509_source_up carries the config kind)."""
    return "file" if config_kind == "file" else "kubeconfig"


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
        self.clock: Callable[[], float] = time.time  # wall clock of expired/stale and relative values
        self.last_scrape_seconds = 0.0
        self.scrapes = 0
        self._visible: list[_Item] = []
        self._crls: list[_Item] = []
        self._static: dict[str, bytes] = {}
        self._threshold: dict[str, tuple[bytes, float, float]] = {}
        # Upstream's pre-init (registry.PreInitBundleSource): every bundle reason at 0 for each
        # source, the collision pair per source kind, and the passphrase counter for every
        # source as soon as one source reads PKCS#12.
        pkcs12_in_use = any("pkcs12" in formats for _, _, formats in sources)
        for kind, name, _ in sources:
            ek = error_kind(kind)
            self.stats[name] = SourceStats(kind=kind, name=name)
            for reason in cat.BUNDLE_REASONS:
                self._errors[(ek, name, reason)] = 0
            self._collision.setdefault(ek, 0)
            self._dropped.setdefault(ek, 0)
            if pkcs12_in_use:
                self._pkcs12 = self._pkcs12 or {}
                self._pkcs12[name] = 0

    # ---- writers (sources) ----------------------------------------------------------

    def upsert(self, place: Place, fmt: str, result: ParseResult, count: bool = True) -> None:
        """Store the bundle's series; `count` its errors in x509_source_errors_total."""
        loc = self._location_core(place)
        ref = place.ref
        certs = [
            _Item(
                self._finish(loc + self._cert_core(c)),
                fingerprint(c.der, ref, c.index),
                place.source_kind,
                c.not_after,
                c.not_before,
            )
            for c in result.certs
        ]
        crls = [
            _Item(
                self._finish(loc + self._crl_core(c)),
                fingerprint(c.der, ref, c.index),
                place.source_kind,
                c.next_update,
                c.this_update,
                float(int(c.number)) if c.number else 0.0,
            )
            for c in result.crls
        ]
        # Upstream reports a bad block beside the others (index >= 0) in x509_cert_error, not a
        # bundle that could not be read at all (that one only counts in x509_source_errors_total).
        bad_item = any(e.position != BUNDLE for e in result.errors)
        error_lbl = self._finish(loc + self._empty_cert_core()) if bad_item else ""
        reasons = result.reasons
        b = _Bundle(place, fmt, certs, crls, reasons, result.detail if reasons else "", error_lbl)
        with self._lock:
            is_new = place.key not in self._bundles
            self._bundles[place.key] = b
            if count:
                self._count(b)
            self._gen += 1
            ck = (place.source_kind, place.source_name)
            self._bundle_counts[ck] = self._bundle_counts.get(ck, 0) + (1 if is_new else 0)

    def recount(self, keys: set[tuple]) -> None:
        """Count the errors of unchanged bundles again (a source that re-reads them on every poll)."""
        with self._lock:
            for key in keys:
                b = self._bundles.get(key)
                if b is not None:
                    self._count(b)

    def _count(self, b: _Bundle) -> None:
        for reason in b.errors:
            k = (b.place.source_kind, b.place.source_name, reason)
            self._errors[k] = self._errors.get(k, 0) + 1
            # routed by the bundle's format, as upstream does
            if reason == cat.Reason.BAD_PASSPHRASE and b.fmt == "pkcs12" and self._pkcs12 is not None:
                self._pkcs12[b.place.source_name] = self._pkcs12.get(b.place.source_name, 0) + 1

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

    def _crl_core(self, c: CrlInfo) -> str:
        return (
            f'serial_number="",crl_number="{escape_label(c.number)}"'
            + self._dn("issuer", self._dn_iss, c.issuer)
            + "".join(f',subject_{f}=""' for f in self._dn_sub)
        )

    def _finish(self, core: str) -> str:
        return "{" + core + (',discriminator=""}' if self._disc_on else "}")

    def _with_disc(self, item: _Item) -> str:
        return item.base[:-2] + item.fp.hex()[: self.m.collision_discriminator_length] + '"}'

    # ---- rebuild on change -----------------------------------------------------------

    def _resolve(self, items: list[_Item], always: bool, extra: Counter) -> list[_Item]:
        """The series to show: equal label sets within a source kind collide (upstream's policy)."""
        groups: dict[tuple[str, str], dict[bytes, _Item]] = defaultdict(dict)
        for it in items:
            groups[(it.kind, it.base)].setdefault(it.fp, it)  # one place seen by two sources: one series
        mode = self.m.collision_discriminator
        shown: list[_Item] = []
        for (kind, _), by_fp in groups.items():
            members = list(by_fp.values())
            if len(members) > 1:
                extra[kind] += len(members) - 1
                if mode == "never":
                    best = min(members, key=lambda c: c.first)  # the one that expires first
                    best.lbl = best.base
                    shown.append(best)
                    continue
            use = always or len(members) > 1
            for it in members:
                it.lbl = self._with_disc(it) if use else it.base
                shown.append(it)
        shown.sort(key=lambda c: c.lbl)
        return shown

    def _rebuild(self) -> None:
        extra: Counter = Counter()
        always = self.m.collision_discriminator == "always"
        visible = self._resolve([c for b in self._bundles.values() for c in b.certs], always, extra)
        # upstream leaves a CRL's discriminator empty unless CRLs collide
        crls = self._resolve([c for b in self._bundles.values() for c in b.crls], False, extra)
        self._visible, self._crls, self._collision_extra = visible, crls, extra
        errs = sorted({b.error_lbl for b in self._bundles.values() if b.error_lbl})
        static: dict[str, bytes] = {}
        if visible:
            static["x509_cert_not_after"] = _lines("x509_cert_not_after", visible, lambda c: c.first)
            if self.m.expose_not_before:
                static["x509_cert_not_before"] = _lines("x509_cert_not_before", visible, lambda c: c.second)
        if self.m.expose_per_cert_error and (visible or errs):
            lines = [f"x509_cert_error{c.lbl} 0\n" for c in visible] + [f"x509_cert_error{e} 1\n" for e in errs]
            lines.sort()
            static["x509_cert_error"] = "".join(lines).encode()
        if crls:
            static["x509_crl_next_update"] = _lines("x509_crl_next_update", crls, lambda c: c.first)
            static["x509_crl_this_update"] = _lines("x509_crl_this_update", crls, lambda c: c.second)
            static["x509_crl_number"] = _lines("x509_crl_number", crls, lambda c: c.number)
        self._static = static
        self._threshold = {}
        self._built_gen = self._gen

    def _threshold_block(self, name: str, items: list[_Item], now: float) -> bytes:
        """1 for the items whose date is past, 0 for the others; cached while no date is crossed either way."""
        cached = self._threshold.get(name)
        if cached is not None and cached[1] < now <= cached[2]:
            return cached[0]
        past, ahead = float("-inf"), float("inf")
        out = []
        for c in items:
            if now > c.first:
                out.append(f"{name}{c.lbl} 1\n")
                past = max(past, c.first)
            else:
                out.append(f"{name}{c.lbl} 0\n")
                ahead = min(ahead, c.first)
        block = "".join(out).encode()
        self._threshold[name] = (block, past, ahead)
        return block

    # ---- scrape -------------------------------------------------------------------------

    def render(self) -> list[bytes]:
        """The /metrics body as chunks (families sorted by name, as client_golang does)."""
        t0 = time.perf_counter()
        with self._lock:
            if self._built_gen != self._gen:
                self._rebuild()
            now = self.clock()
            fams: dict[str, list[bytes]] = {name: [block] for name, block in self._static.items()}
            if self._visible and self.m.expose_expired:
                fams["x509_cert_expired"] = [self._threshold_block("x509_cert_expired", self._visible, now)]
            if self._crls and self.m.expose_expired:
                fams["x509_crl_stale"] = [self._threshold_block("x509_crl_stale", self._crls, now)]
            if self.m.expose_relative:
                if self._visible:
                    fams["x509_cert_expires_in_seconds"] = [
                        _lines("x509_cert_expires_in_seconds", self._visible, lambda c: c.first - now)
                    ]
                    fams["x509_cert_valid_since_seconds"] = [
                        _lines("x509_cert_valid_since_seconds", self._visible, lambda c: now - c.second)
                    ]
                if self._crls:
                    fams["x509_crl_stale_in_seconds"] = [
                        _lines("x509_crl_stale_in_seconds", self._crls, lambda c: c.first - now)
                    ]
                    fams["x509_crl_fresh_since_seconds"] = [
                        _lines("x509_crl_fresh_since_seconds", self._crls, lambda c: now - c.second)
                    ]
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

    def up_values(self) -> dict[tuple[str, str], int]:
        """x509_source_up: absent until the first poll ends, 0 after a failed poll or while one has stalled."""
        now = time.monotonic()
        up = dict(self._up)
        for s in self.stats.values():
            if s.stuck(now):
                up[(s.kind, s.name)] = 0
        return up

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

        lines("x509_source_up", self.up_values(), cat.SOURCE_LABELS)
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
        """What the status page shows: per-source summaries and at most STATUS_ROWS bundles, failing first."""
        with self._lock:
            if self._built_gen != self._gen:
                self._rebuild()
            now = time.monotonic()
            up = self.up_values()
            per_source: dict[str, Counter] = defaultdict(Counter)
            failing: list[_Bundle] = []
            fine: list[_Bundle] = []
            for b in self._bundles.values():
                c = per_source[b.place.source_name]
                c["bundles"] += 1
                c["certificates"] += len(b.certs)
                c["crls"] += len(b.crls)
                if b.errors:
                    c["failing"] += 1
                    failing.append(b)
                else:
                    fine.append(b)
            shown = heapq.nsmallest(STATUS_ROWS, failing, key=lambda b: b.place.key)
            shown += heapq.nsmallest(STATUS_ROWS - len(shown), fine, key=lambda b: b.place.key)
            sources = []
            for s in self.stats.values():
                c = per_source.get(s.name, Counter())
                sources.append(
                    vars(s).copy()
                    | {
                        "up": up.get((s.kind, s.name)),
                        "stuck": s.stuck(now),
                        "running_for": s.running_for(now),
                        "bundles": c["bundles"],
                        "certificates": c["certificates"],
                        "crls": c["crls"],
                        "failing": c["failing"],
                    }
                )
            return {
                "sources": sources,
                "bundles": [
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
                    for b in shown
                ],
                "bundles_total": len(self._bundles),
                "failing_total": len(failing),
                "errors": {k: v for k, v in sorted(self._errors.items()) if v},
                "cache": {
                    "bundles": len(self._bundles),
                    "certificates": sum(c["certificates"] for c in per_source.values()),
                    "visible_series": len(self._visible),
                    "crls": len(self._crls),
                    "by_format": dict(Counter(b.fmt for b in self._bundles.values())),
                    "last_scrape_seconds": self.last_scrape_seconds,
                    "scrapes": self.scrapes,
                    "generation": self._gen,
                    "collisions": dict(self._collision_extra),
                },
                "panics": dict(self._panics),
            }


def _trim_path(p: str, n: int) -> str:
    if n <= 0:
        return p
    absolute = p.startswith("/")
    parts = p.lstrip("/").split("/")
    if n >= len(parts):
        return ""
    res = "/".join(parts[n:])
    return "/" + res if absolute else res


def _lines(name: str, items: list[_Item], value: Callable[[_Item], float]) -> bytes:
    """One family's sample lines: the label text is pre-rendered, only the value is formatted."""
    return "".join(f"{name}{c.lbl} {go_float(value(c))}\n" for c in items).encode()
