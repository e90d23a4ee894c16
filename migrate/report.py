"""What a migration did and what it leaves to a human, printed on stderr.

Changes print as `file:line: before -> after (why)`, warnings as `file:line: warning: text`,
bad input as `file:line: error: text` (exit status 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field


class InputError(Exception):
    """Bad input: one clear line naming the file, the line and what is wrong."""

    def __init__(self, file: str, line: int, message: str, expression: str | None = None):
        self.file, self.line, self.message, self.expression = file, line, message, expression
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}: error: {self.message}"
        if self.expression is not None:
            text += f": {one_line(self.expression)}"
        return text


def one_line(text: str) -> str:
    """An expression on one report line (multi-line YAML blocks joined by spaces)."""
    return " ".join(part.strip() for part in text.strip().splitlines() if part.strip())


@dataclass(frozen=True)
class Entry:
    file: str
    line: int
    text: str


@dataclass
class Report:
    changes: list[Entry] = field(default_factory=list)
    warnings: list[Entry] = field(default_factory=list)
    # files where a change is due that the migration could not make (a warning says which)
    due: set[str] = field(default_factory=set)

    def change(self, file: str, line: int, before: str, after: str, why: str | list[str]) -> None:
        reasons = "; ".join(why) if isinstance(why, list) else why
        self.changes.append(Entry(file, line, f"{one_line(before)} -> {one_line(after)} ({reasons})"))

    def warn(self, file: str, line: int, text: str, due: bool = False) -> None:
        """A decision left to the user; with `due`, one without which the file is not migrated."""
        entry = Entry(file, line, f"warning: {text}")
        if entry not in self.warnings:
            self.warnings.append(entry)
        if due:
            self.due.add(file)

    def lines(self) -> list[str]:
        """Changes then warnings, each in file order and then line order (stable)."""
        files: list[str] = []
        for entry in self.changes + self.warnings:
            if entry.file not in files:
                files.append(entry.file)
        rank = {name: i for i, name in enumerate(files)}
        out = []
        for group in (self.changes, self.warnings):
            for e in sorted(group, key=lambda e: (rank[e.file], e.line)):
                out.append(f"{e.file}:{e.line}: {e.text}")
        return out
