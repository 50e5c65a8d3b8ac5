"""The import report as Russian text: what was read, the diff, every problem, the outcome."""

from __future__ import annotations

from kodeks_smart.onboarding.formats import KIND_TITLES
from kodeks_smart.onboarding.service import ImportReport
from kodeks_smart.onboarding.values import plural

SECTIONS = (
    ("add", "Добавить", "+"),
    ("change", "Изменить", "~"),
    ("remove", "Удалить (--prune)", "-"),
)


def render(report: ImportReport) -> str:
    lines = [f"Импорт списков дистрибьютора {report.dealer}"]
    for table in report.tables:
        where = table.table.source + (f", лист «{table.table.sheet}»" if table.table.sheet else "")
        kinds = ", ".join(KIND_TITLES[k] for k in table.kinds) or "вид не определён"
        skipped = f", пропущено строк-заполнителей: {len(table.table.skipped)}" if table.table.skipped else ""
        lines.append(
            f"  {where}: {table.form} ({table.table.describe_format()}) — {kinds}; записей: "
            f"{table.records}{skipped}"
        )
    counts = report.counts()
    lines.append("")
    lines.append("План:")
    for action, title, mark in SECTIONS:
        items = [c for c in report.changes if c.action == action]
        if not items:
            continue
        lines.append(f"  {title} ({len(items)}):")
        lines.extend(f"    {mark} {c.describe()}" for c in items)
    lines.append(f"  Без изменений: {counts['unchanged']}")
    if report.prunable:
        lines.append(
            f"  Не упомянуто в списках: {report.prunable} "
            f"{plural(report.prunable, 'объект', 'объекта', 'объектов')} — удаляются только с --prune"
        )
    errors = [p for p in report.problems if p.severity == "error"]
    warnings = [p for p in report.problems if p.severity == "warning"]
    if errors:
        lines.append("")
        lines.append(f"Ошибки ({len(errors)}):")
        lines.extend(f"  ✗ {p.describe()}" for p in errors)
    if warnings:
        lines.append("")
        lines.append(f"Предупреждения и рекомендации ({len(warnings)}):")
        lines.extend(f"  ! {p.describe()}" for p in warnings)
    lines.append("")
    lines.append(outcome(report))
    return "\n".join(lines)


def outcome(report: ImportReport) -> str:
    counts = report.counts()
    if report.errors:
        n = len(report.errors)
        return (
            f"Импорт отклонён: {n} {plural(n, 'ошибка', 'ошибки', 'ошибок')}. "
            "Ничего не изменено — исправьте файлы и повторите."
        )
    if report.options.dry_run:
        return "Пробный запуск (--dry-run): ничего не изменено. Чтобы применить, повторите без --dry-run."
    if report.applied:
        return (
            f"Готово: добавлено {counts['add']}, изменено {counts['change']}, удалено {counts['remove']}, "
            f"без изменений {counts['unchanged']}."
        )
    return "Ничего не изменено."
