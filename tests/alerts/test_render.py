"""Notification texts: subject tags, lists, escaping, links."""

from __future__ import annotations

from kodeks_smart.alerts.catalogue import RULES
from kodeks_smart.alerts.render import AlertLine, render


def test_the_subject_carries_stable_tags_and_the_firing_count() -> None:
    out = render(
        spec=RULES["KodeksIcmp"],
        kind="firing",
        dealer_code="0599ROGAIKOPITA",
        lines=[AlertLine("alpha", "Сервер ПК не отвечает на ping (alpha.ru:80)")],
        public_url="https://smart.example.ru/",
    )
    assert out.subject == (
        "[SMART][technical][KodeksIcmp][0599ROGAIKOPITA][alpha] [FIRING:1] "
        "Сервер ПК не отвечает на ping (alpha.ru:80)"
    )
    assert "https://smart.example.ru/docs/alerts/KodeksIcmp" in out.text
    assert "• alpha — Сервер ПК не отвечает на ping (alpha.ru:80)" in out.text


def test_a_group_of_several_clients_is_listed_and_counted() -> None:
    lines = [AlertLine(f"c{i}", f"Порт ПК не принимает соединения (h{i}:80)") for i in range(3)]
    out = render(
        spec=RULES["KodeksTcpStatus"], kind="resolved", dealer_code="D", lines=lines, public_url="http://s"
    )
    assert out.subject.startswith("[SMART][critical][KodeksTcpStatus][D][клиентов: 3] [RESOLVED:3] ")
    assert all(f"c{i}" in out.telegram_html for i in range(3))
    assert out.telegram_html.startswith("<b>RESOLVED KodeksTcpStatus</b>")


def test_user_text_is_escaped_in_html_and_telegram() -> None:
    lines = [AlertLine("x", 'Пустой поиск: «<script>alert(1)</script> & "ТУ"»')]
    out = render(
        spec=RULES["KodeksSearchIsEmpty"], kind="firing", dealer_code="D", lines=lines, public_url="http://s"
    )
    assert "<script>" not in out.html and "&lt;script&gt;" in out.html
    assert "<script>" not in out.telegram_html and "&amp;" in out.telegram_html
    assert "<script>alert(1)</script>" in out.text  # plain text stays as the user typed it


def test_a_huge_group_is_cut_with_a_remainder_line() -> None:
    lines = [AlertLine(f"c{i}", "s") for i in range(250)]
    out = render(spec=RULES["KodeksIcmp"], kind="firing", dealer_code="D", lines=lines, public_url="http://s")
    assert "… и ещё 50" in out.text and "[FIRING:250]" in out.subject
