"""Prometheus text exposition helpers: label escaping and Go-compatible number formatting."""

from __future__ import annotations

import math
from decimal import Decimal


def escape_label(value: str) -> str:
    """Escape a label value for the text format (backslash, double quote, newline)."""
    if "\\" in value or '"' in value or "\n" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def render_labels(names: tuple[str, ...] | list[str], values: tuple[str, ...] | list[str]) -> str:
    """`{a="x",b="y"}`, or "" without labels."""
    if not names:
        return ""
    return "{" + ",".join(f'{n}="{escape_label(v)}"' for n, v in zip(names, values, strict=False)) + "}"


def go_float(v: float) -> str:
    """Format like Go's strconv.FormatFloat(v, 'g', -1, 64), as client_golang writes samples."""
    if v != v:
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "0"
    if v == int(v) and abs(v) < 1e6:
        return str(int(v))
    sign, digits, exp = Decimal(repr(float(v))).as_tuple()
    ds = "".join(map(str, digits)).rstrip("0") or "0"
    # decimal point position relative to the first digit
    dp = len(digits) + int(exp)  # finite here: NaN and infinities returned above
    e = dp - 1
    neg = "-" if sign else ""
    if e < -4 or e >= 6:
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{neg}{mant}e{'-' if e < 0 else '+'}{abs(e):02d}"
    if dp <= 0:
        return f"{neg}0.{'0' * -dp}{ds}"
    if dp >= len(ds):
        return f"{neg}{ds}{'0' * (dp - len(ds))}"
    return f"{neg}{ds[:dp]}.{ds[dp:]}"


def family_header(name: str, mtype: str, help_text: str) -> str:
    return f"# HELP {name} {escape_help(help_text)}\n# TYPE {name} {mtype}\n"


class Histogram:
    """A tiny thread-unsafe histogram (callers hold a lock) rendered in the text format."""

    def __init__(self, buckets: tuple[float, ...]):
        self.bounds = tuple(buckets)
        self.counts = [0] * len(self.bounds)
        self.total = 0
        self.sum = 0.0

    def observe(self, v: float) -> None:
        for i, b in enumerate(self.bounds):
            if v <= b:
                self.counts[i] += 1
        self.total += 1
        self.sum += v

    def render(self, name: str, labels: str = "") -> str:
        """Series lines; `labels` is the inner label text (`a="x"`) or ""."""
        sep = labels + "," if labels else ""
        out = [f'{name}_bucket{{{sep}le="{go_float(b)}"}} {self.counts[i]}\n' for i, b in enumerate(self.bounds)]
        out.append(f'{name}_bucket{{{sep}le="+Inf"}} {self.total}\n')
        lbl = "{" + labels + "}" if labels else ""
        out.append(f"{name}_sum{lbl} {go_float(self.sum)}\n")
        out.append(f"{name}_count{lbl} {self.total}\n")
        return "".join(out)
