"""Notification texts: e-mail subject and bodies (plain and HTML) and the Telegram message.

Subjects carry stable bracketed tags for mail-server sorting, then the Alertmanager-style state and
count the original product's users already filter on:
``[SMART][critical][KodeksIcmp][0599ROGAIKOPITA][alpha] [FIRING:1] Сервер ПК не отвечает на ping``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from kodeks_smart.alerts.catalogue import RuleSpec

SEVERITY_RU = {"critical": "критическая", "warning": "предупреждение", "info": "информация"}
MAX_LISTED = 200


@dataclass(frozen=True)
class AlertLine:
    client: str
    summary: str
    detail: Sequence[str] = ()


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    telegram_html: str


def runbook_url(public_url: str, rule: str) -> str:
    return f"{public_url.rstrip('/')}/docs/alerts/{rule}"


def _title(spec: RuleSpec, lines: Sequence[AlertLine]) -> str:
    if spec.is_count or len(lines) != 1:
        first = spec.summary.split(":")[0].split("(")[0].strip()
        return first.replace("{count}", str(len(lines)))
    return lines[0].summary


def render(
    *,
    spec: RuleSpec,
    kind: str,
    dealer_code: str,
    lines: Sequence[AlertLine],
    public_url: str,
    cabinet_name: str = "",
    repeat: bool = False,
) -> Rendered:
    """Texts for one grouped notification (``kind`` is firing or resolved)."""
    state = "FIRING" if kind == "firing" else "RESOLVED"
    clients = sorted({line.client for line in lines if line.client})
    client_tag = clients[0] if len(clients) == 1 else f"клиентов: {len(clients)}"
    subject = (
        f"[SMART][{spec.category}][{spec.name}][{dealer_code}][{client_tag}] "
        f"[{state}:{len(lines)}]{' (повтор)' if repeat else ''} {_title(spec, lines)}"
    )
    url = runbook_url(public_url, spec.name)
    shown = list(lines[:MAX_LISTED])
    more = len(lines) - len(shown)
    heading = "Авария" if kind == "firing" else "Авария устранена"
    meta = f"Важность: {SEVERITY_RU.get(spec.severity, spec.severity)}, приоритет {spec.priority_label}"
    if cabinet_name:
        meta += f", кабинет «{cabinet_name}»"

    text_lines = [f"{heading}: {spec.name} ({state})", meta, "", "Список:"]
    for line in shown:
        text_lines.append(f"  • {line.client} — {line.summary}" if line.client else f"  • {line.summary}")
        text_lines.extend(f"      {d}" for d in line.detail)
    if more:
        text_lines.append(f"  … и ещё {more}")
    text_lines += ["", f"Развёрнутое описание аварии: {url}", "", "— СМАРТ-мониторинг"]

    e = html.escape
    items = "".join(
        f"<li><b>{e(line.client)}</b> — {e(line.summary)}"
        + ("".join(f"<br><small>{e(d)}</small>" for d in line.detail))
        + "</li>"
        if line.client
        else f"<li>{e(line.summary)}</li>"
        for line in shown
    )
    if more:
        items += f"<li>… и ещё {more}</li>"
    colour = (
        "#c62828"
        if kind == "firing" and spec.severity == "critical"
        else ("#ef6c00" if kind == "firing" else "#2e7d32")
    )
    html_body = (
        '<!doctype html><html lang="ru"><body style="font-family:Arial,sans-serif">'
        f'<h2 style="color:{colour};margin:0 0 8px">{e(heading)}: {e(spec.name)} ({state})</h2>'
        f"<p>{e(meta)}</p><ul>{items}</ul>"
        f'<p>Развёрнутое описание аварии: <a href="{e(url)}">{e(spec.name)}</a></p>'
        '<p style="color:#777">— СМАРТ-мониторинг</p></body></html>'
    )

    tg = [f"<b>{state} {e(spec.name)}</b>{' (повтор)' if repeat else ''}", e(meta)]
    for line in shown:
        tg.append(f"- {e(line.client)}: {e(line.summary)}" if line.client else f"- {e(line.summary)}")
    if more:
        tg.append(f"… и ещё {more}")
    tg += ["----------------", f'Развёрнутое описание аварии: <a href="{e(url)}">{e(spec.name)}</a>']
    return Rendered(subject, "\n".join(text_lines) + "\n", html_body, "\n".join(tg))
