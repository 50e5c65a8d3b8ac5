"""One import, start to finish: read every file, validate every row, plan, then apply all or nothing.

The plan is built inside the same database transaction that applies it, so what the user is shown is
exactly what is written. Any error — in a file, a row, or in the result (isolation) — rolls the whole
transaction back; ``dry_run`` always does.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError

from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.onboarding.apply import apply_plan
from kodeks_smart.onboarding.parse import parse_tables
from kodeks_smart.onboarding.plan import Change, ImportOptions, build_plan, load_state
from kodeks_smart.onboarding.problems import Location, Problem, Problems
from kodeks_smart.onboarding.reading import ReadError, Table, read_source
from kodeks_smart.onboarding.records import ReadTable
from kodeks_smart.store.db import Database


@dataclass(frozen=True)
class Source:
    """An uploaded or local file: its name (for messages) and its bytes."""

    name: str
    data: bytes


@dataclass
class ImportReport:
    dealer: str
    options: ImportOptions
    tables: list[ReadTable] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    applied: bool = False
    #: objects --prune would remove (shown as a hint when --prune was not given).
    prunable: int = 0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> dict[str, int]:
        found = Counter(c.action for c in self.changes)
        return {action: found.get(action, 0) for action in ("add", "change", "unchanged", "remove")}

    def as_dict(self) -> dict[str, Any]:
        return {
            "dealer": self.dealer,
            "ok": self.ok,
            "applied": self.applied,
            "dry_run": self.options.dry_run,
            "prune": self.options.prune,
            "counts": self.counts(),
            "prunable": self.prunable,
            "tables": [t.as_dict() for t in self.tables],
            "changes": [c.as_dict() for c in self.changes if c.action != "unchanged"],
            "problems": [p.as_dict() for p in self.problems],
        }


class _Rollback(Exception):
    """Leaves the transaction without writing anything."""


def read_sources(sources: list[Source], problems: Problems) -> list[Table]:
    tables: list[Table] = []
    for source in sources:
        try:
            tables.extend(read_source(source.name, source.data))
        except ReadError as exc:
            problems.error(Location(source.name), str(exc), "unreadable")
    return tables


def run_import(db: Database, box: SecretBox, sources: list[Source], options: ImportOptions) -> ImportReport:
    """Import the lists into one dealer. Raises AdminError if the dealer does not exist."""
    problems = Problems()
    tables = read_sources(sources, problems)
    records = parse_tables(tables, options.kind, problems)
    report = ImportReport(options.dealer, options, records.tables)
    transaction = db.session() if options.dry_run else db.write()
    try:
        with transaction as session:
            state = load_state(session, options.dealer, lock=not options.dry_run)
            plan = build_plan(state, records, options, box, problems)
            report.changes = plan.changes
            report.prunable = plan.prunable if not options.prune else 0
            if options.dry_run or problems.has_errors:
                raise _Rollback
            try:
                apply_plan(session, box, plan)
            except IntegrityError:
                problems.error(
                    None,
                    "список изменился одновременно с импортом (конфликт записи в базе данных): "
                    "повторите импорт",
                    "conflict",
                )
                raise _Rollback from None
            report.applied = True
    except _Rollback:
        pass
    report.problems = problems.sorted()
    return report
