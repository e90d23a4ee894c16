"""Lint checks as small named rules with stable ids, as pint and dashboard-linter have them.

Each check looks at one kind of subject (an alerting rule, a dashboard, a panel, a query...)
and yields what is wrong with it; every reported line starts with the check's id, so
`lint.disabled` in the mixin configuration can turn that check off by the same id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence, Set
from dataclasses import dataclass
from typing import Generic, TypeVar

S = TypeVar("S")


@dataclass(frozen=True)
class Check(Generic[S]):
    id: str  # stable: users disable checks by it
    what: str  # what the check requires, one line (docs/configuration.md lists every check)
    run: Callable[[S], Iterable[str]]


def apply(checks: Sequence[Check[S]], subject: S, where: str, disabled: Set[str]) -> list[str]:
    """One line per problem: `<id>: <where>: <what is wrong>`."""
    return [f"{c.id}: {where}: {text}" for c in checks if c.id not in disabled for text in c.run(subject)]
