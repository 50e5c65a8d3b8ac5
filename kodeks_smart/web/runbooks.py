"""Public runbook pages: ``/docs/alerts`` (index), ``/docs/alerts/NAME`` (HTML) and ``NAME.md`` (Markdown).

Every notification links here, so the pages need no login; they hold no tenant data. The name is checked
against a strict pattern and then looked up in the catalogue: nothing from the URL ever reaches a file path.
The original product's ``/docs/errors/NAME.md`` links are redirected here.
"""

from __future__ import annotations

import html

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from kodeks_smart.alerts import runbooks
from kodeks_smart.alerts.catalogue import RULES

router = APIRouter(tags=["docs"])

PREFIX = "/docs/alerts"
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "public, max-age=300",
}

_CSS = """
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #ffffff;
  --soft: #f6f8fa; --accent: #0b5cad; --crit: #b42318; --warn: #9a6700; --info: #1f6feb; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.55 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--fg); background: var(--bg); }
header { background: #12324f; color: #fff; padding: 10px 24px; }
header a { color: #fff; text-decoration: none; font-weight: 600; }
header span { color: #b8c7d6; margin-left: 8px; }
main { max-width: 980px; margin: 0 auto; padding: 20px 24px 48px; }
h1 { font-size: 1.6em; line-height: 1.25; margin: 0.4em 0 0.6em; }
h2 { font-size: 1.25em; margin: 1.6em 0 0.5em; padding-bottom: 0.2em; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.05em; margin: 1.2em 0 0.4em; }
a { color: var(--accent); }
table { border-collapse: collapse; width: 100%; margin: 0.6em 0 1em; font-size: 0.95em; }
th, td { border: 1px solid var(--line); padding: 6px 10px; text-align: left; vertical-align: top; }
th { background: var(--soft); }
code { font-family: Consolas, "Liberation Mono", Menlo, monospace; font-size: 0.9em; background: var(--soft);
  padding: 1px 4px; border-radius: 4px; }
blockquote { margin: 1em 0; padding: 8px 14px; border-left: 4px solid var(--accent); background: #eef5fc; }
.muted { color: var(--muted); font-size: 0.9em; }
.sev { display: inline-block; padding: 0 7px; border-radius: 10px; font-size: 0.85em; color: #fff; }
.sev-critical { background: var(--crit); } .sev-warning { background: var(--warn); }
.sev-info { background: var(--info); }
footer { max-width: 980px; margin: 0 auto; padding: 0 24px 32px; color: var(--muted); font-size: 0.85em; }
"""


def _document(title: str, body: str, *, status_code: int = 200) -> HTMLResponse:
    text = (
        "<!DOCTYPE html>\n"
        '<html lang="ru">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex">\n'
        f"<title>{html.escape(title)} — СМАРТ</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f'<header><a href="{PREFIX}">СМАРТ-мониторинг</a><span>описания алертов</span></header>\n'
        f"<main>\n{body}\n</main>\n"
        "<footer>Описание открывается по ссылке «Развёрнутое описание аварии» из каждого уведомления СМАРТ."
        "</footer>\n</body>\n</html>\n"
    )
    return HTMLResponse(text, status_code=status_code, headers=_HEADERS)


def _not_found(name: str | None) -> HTMLResponse:
    shown = (
        f"<p>Алерта <code>{html.escape(name)}</code> нет в каталоге СМАРТ.</p>"
        if name is not None
        else "<p>Такой страницы нет: имя алерта может содержать только латинские буквы и цифры.</p>"
    )
    body = (
        "<h1>Страница не найдена</h1>\n"
        f"{shown}\n"
        f'<p><a href="{PREFIX}">Все алерты СМАРТ</a> — полный список с описаниями.</p>'
    )
    return _document("Страница не найдена", body, status_code=404)


def _severity(code: str) -> str:
    label = runbooks.SEVERITY_RU.get(code, code)
    return f'<span class="sev sev-{html.escape(code)}">{html.escape(code)}</span> {html.escape(label)}'


@router.get(PREFIX, response_class=HTMLResponse, include_in_schema=False)
@router.get(PREFIX + "/", response_class=HTMLResponse, include_in_schema=False)
def index() -> HTMLResponse:
    """Every alert, grouped by routing category."""
    e = html.escape
    parts = [
        "<h1>Алерты СМАРТ</h1>",
        f"<p>Полный каталог алертов СМАРТ-мониторинга: {len(RULES)} правил. Для каждого — что оно означает, "
        "возможные причины и что делать. Приоритет К1 — наивысший, К5 — наименьший. Алерты с окончанием "
        "<code>Count</code> — массовые: они приходят одним сообщением вместо множества однотипных.</p>",
    ]
    for group in runbooks.index():
        parts.append(f"<h2>{e(group.category.title)} <code>{e(group.category.code)}</code></h2>")
        parts.append(f'<p class="muted">Получатели: {e(group.category.recipients)}.</p>')
        parts.append(
            "<table><thead><tr><th>Алерт</th><th>Описание</th><th>Важность</th><th>Приоритет</th>"
            "<th>Задержка</th><th>Повтор</th></tr></thead><tbody>"
        )
        for entry in group.entries:
            rule = entry.rule
            parts.append(
                f'<tr><td><a href="{PREFIX}/{e(rule.name)}">{e(rule.name)}</a></td>'
                f"<td>{e(entry.title)}</td><td>{_severity(rule.severity)}</td>"
                f"<td>{e(rule.priority_label)}</td><td>{e(runbooks.format_duration(rule.for_seconds))}</td>"
                f"<td>{e(runbooks.format_duration(rule.repeat_seconds))}</td></tr>"
            )
        parts.append("</tbody></table>")
    parts.append("<h2>Другие имена</h2>")
    parts.append(
        "<p>В документации оригинального СМАРТ некоторые алерты названы иначе. Эти имена открывают "
        "описание соответствующего алерта; уведомления приходят только под основным именем.</p>"
    )
    parts.append("<table><thead><tr><th>Имя в документации</th><th>Алерт</th></tr></thead><tbody>")
    for alias, name in sorted(runbooks.aliases().items()):
        parts.append(
            f'<tr><td><a href="{PREFIX}/{e(alias)}">{e(alias)}</a></td>'
            f'<td><a href="{PREFIX}/{e(name)}">{e(name)}</a></td></tr>'
        )
    parts.append("</tbody></table>")
    return _document("Алерты СМАРТ", "\n".join(parts))


@router.get(PREFIX + "/{name:path}", include_in_schema=False)
def alert_page(name: str) -> Response:
    """The page of one alert; ``NAME.md`` is its Markdown source. Aliases show the canonical page."""
    raw = name.endswith(".md")
    stem = name.removesuffix(".md") if raw else name
    if not runbooks.NAME_PATTERN.match(stem):
        return _not_found(None)
    resolved = runbooks.resolve(stem)
    if resolved is None:
        return _not_found(stem)
    if resolved.kind == "variant":
        suffix = ".md" if raw else ""
        return RedirectResponse(f"{PREFIX}/{resolved.name}{suffix}", status_code=308, headers=_HEADERS)
    page = runbooks.page(stem)
    if page is None:  # a catalogue rule without a page file (the tests forbid it)
        return _not_found(stem)
    if raw:
        return PlainTextResponse(page.markdown, media_type="text/markdown; charset=utf-8", headers=_HEADERS)
    body = (
        f"{page.html}\n"
        f'<p class="muted"><a href="{PREFIX}">Все алерты</a> · '
        f'<a href="{PREFIX}/{html.escape(page.requested)}.md">Markdown-версия</a></p>'
    )
    return _document(f"{page.name}: {page.title}", body)


@router.get("/docs/errors/{name:path}", include_in_schema=False)
def original_link(name: str) -> Response:
    """The original product linked ``/docs/errors/NAME.md``: send such links to the page here."""
    stem = name.removesuffix(".md")
    if not runbooks.NAME_PATTERN.match(stem) or runbooks.resolve(stem) is None:
        return _not_found(stem if runbooks.NAME_PATTERN.match(stem) else None)
    return RedirectResponse(f"{PREFIX}/{stem}", status_code=301, headers=_HEADERS)
