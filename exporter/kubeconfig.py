"""Kubeconfig sources: the certificates of `clusters[].cluster` and `users[].user`, as upstream reads them.

pkg/source/kubeconfig: each cluster's `certificate-authority-data` (or the file named by
`certificate-authority`) and each user's `client-certificate-data` (or `client-certificate`)
is one PEM bundle, labelled `embedded_kind` = cluster|user and `embedded_key` = the entry's
name. A kubeconfig that cannot be read is `read_failed` (whatever the cause), one that is not
the expected YAML shape `decode_failed`, bad base64 `decode_failed` for that entry, a
referenced file that cannot be read `read_failed` for that entry (relative paths are taken
from the kubeconfig's directory). A kubeconfig without certificates yields nothing.

Upstream reads every kubeconfig again on each poll, so its errors count on every poll; here
an unchanged kubeconfig (and unchanged referenced files) is not parsed again, but its errors
are counted again.
"""

from __future__ import annotations

import logging
import os

import yaml

from x509_mixin.catalogue.metrics import Reason
from x509_mixin.exporter import parsers
from x509_mixin.exporter.pem import decode_base64
from x509_mixin.exporter.registry import Place
from x509_mixin.exporter.sources import ReadFault, Source
from x509_mixin.exporter.walk import WalkError

log = logging.getLogger("x509_mixin.exporter")

_NULL = "tag:yaml.org,2002:null"
_SECTIONS = (
    ("clusters", "cluster", "certificate-authority-data", "certificate-authority"),
    ("users", "user", "client-certificate-data", "client-certificate"),
)


class ShapeError(ValueError):
    """The document is not what Go's yaml.v3 would decode into upstream's kubeconfig struct."""


def _mapping(node: yaml.Node | None, where: str) -> dict[str, yaml.Node]:
    if node is None or node.tag == _NULL:
        return {}
    if not isinstance(node, yaml.MappingNode):
        raise ShapeError(f"{where}: expected a mapping")
    out: dict[str, yaml.Node] = {}
    for k, v in node.value:
        key = _text(k, where)
        if key in out:
            raise ShapeError(f"{where}: key {key!r} is defined twice")  # yaml.v3 refuses it too
        out[key] = v
    return out


def _sequence(node: yaml.Node | None, where: str) -> list[yaml.Node]:
    if node is None or node.tag == _NULL:
        return []
    if not isinstance(node, yaml.SequenceNode):
        raise ShapeError(f"{where}: expected a list")
    return list(node.value)


def _text(node: yaml.Node | None, where: str) -> str:
    """A scalar's text as written (yaml.v3 decodes any scalar into a string field that way)."""
    if node is None or node.tag == _NULL:
        return ""
    if not isinstance(node, yaml.ScalarNode):
        raise ShapeError(f"{where}: expected a string")
    return str(node.value)


def entries(data: bytes) -> list[tuple[str, str, str, str]]:
    """(embedded kind, name, base64 data, referenced path) of every cluster and user; raises
    yaml.YAMLError or ShapeError. Only the first YAML document counts, as for yaml.v3."""
    root = next(iter(yaml.compose_all(data, Loader=yaml.SafeLoader)), None)
    doc = _mapping(root, "kubeconfig")
    out = []
    for section, kind, data_key, path_key in _SECTIONS:
        for i, entry in enumerate(_sequence(doc.get(section), section)):
            where = f"{section}[{i}]"
            fields = _mapping(entry, where)
            body = _mapping(fields.get(kind), f"{where}.{kind}")
            name = _text(fields.get("name"), f"{where}.name")
            b64 = _text(body.get(data_key), f"{where}.{kind}.{data_key}")
            ref = _text(body.get(path_key), f"{where}.{kind}.{path_key}")
            out.append((kind, name, b64, ref))
    return out


class KubeconfigSource(Source):
    config_kind = "kubeconfig"

    def poll(self) -> None:
        live: set[tuple] = set()
        for item in self.walker.walk():
            if self.stop.is_set():
                return
            file_place = Place(self.kind, self.name, item.path)
            if isinstance(item, WalkError):
                live.add(file_place.key)
                self._cache.pop(item.path, None)
                self.fault(file_place, Reason.READ_FAILED, item.detail)
                continue
            cached = self._cache.get(item.path)
            if (
                self.skip_unchanged
                and cached is not None
                and cached[0] == item.sig
                and all(_sig(p) == s for p, s in cached[2].items())
            ):
                live |= cached[1]
                self.registry.recount(cached[1])
                if self.stats is not None:
                    self.stats.skipped_unchanged += 1
                continue
            self._cache.pop(item.path, None)
            try:
                keys, refs = self._read_kubeconfig(item.path, item.read_path, item.size, file_place)
            except Exception as e:  # one bad kubeconfig costs its own bundle, never the poll
                log.exception("source %s: %s: unexpected error", self.name, file_place.describe())
                self.registry.mark_panic(f"source/{self.name}")
                self.fault(file_place, Reason.READ_FAILED, f"internal error while reading ({type(e).__name__})")
                keys, refs = {file_place.key}, {}
            live |= keys
            self._cache[item.path] = (item.sig, keys, refs)
            if self.stats is not None:
                self.stats.parsed += 1
        self.drop_missing(live)

    def _read_kubeconfig(
        self, path: str, read_path: str, size: int, file_place: Place
    ) -> tuple[set[tuple], dict[str, tuple | None]]:
        """(bundle keys, referenced files with their signatures) of one kubeconfig."""
        try:
            found = entries(self.load(read_path, size))
        except ReadFault as f:
            self.fault(file_place, Reason.READ_FAILED, f.detail)
            return {file_place.key}, {}
        except (yaml.YAMLError, ShapeError, RecursionError) as e:
            why = str(e) if isinstance(e, ShapeError) else "not valid YAML (or nested too deeply)"
            self.fault(file_place, Reason.DECODE_FAILED, why)
            return {file_place.key}, {}
        keys: set[tuple] = set()
        refs: dict[str, tuple | None] = {}
        for kind, name, b64, ref in found:
            place = Place(self.kind, self.name, path, kind, name)
            if b64:
                pem = decode_base64(b64.encode())
                if pem is None:
                    self.fault(place, Reason.DECODE_FAILED, f"the {kind}'s certificate data is not valid base64")
                    keys.add(place.key)
                    continue
            elif ref:
                ref_path = ref if os.path.isabs(ref) else os.path.join(os.path.dirname(path), ref)
                refs[ref_path] = _sig(ref_path)
                try:
                    pem = self.load(ref_path)
                except ReadFault as f:
                    self.fault(place, Reason.READ_FAILED, f"{ref_path}: {f.detail}")
                    keys.add(place.key)
                    continue
            else:
                continue
            fmt, r, timings = parsers.parse_formats(("pem",), pem, ())
            for tried, seconds in timings:
                self.registry.observe_parse(tried, seconds)
            if r.errors:
                log.warning("source %s: %s: %s (%s)", self.name, place.describe(), r.detail, ",".join(r.reasons))
            self.registry.upsert(place, fmt, r)
            keys.add(place.key)
        return keys, refs


def _sig(path: str) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)
