"""Runbook pages (/docs/alerts/NAME) and the Kodeks error-code catalogue behind the DB-error pages.

The page checks read the catalogue, the dependency matrix and the error codes and compare them with what the
Markdown says, so a rule added or changed without its page fails here.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from importlib.resources import files

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kodeks_smart.alerts import error_codes, runbooks
from kodeks_smart.alerts.catalogue import ALIASES, COUNT_FOR, RULES
from kodeks_smart.alerts.error_codes import ErrorCode, catalogue, db_error_rule, extract_codes
from kodeks_smart.alerts.mute import DEPENDENCIES
from kodeks_smart.app import create_app
from kodeks_smart.runtime import Services
from kodeks_smart.web import runbooks as runbook_pages

ALL_RULES = sorted(RULES)
DB_ERROR_RULES = sorted(n for n in RULES if n.startswith("KodeksDBerrors"))
_UNIT = {"с": 1, "мин": 60, "ч": 3600}
_LINK = re.compile(r"\]\(([A-Za-z0-9]+)\)")


def _seconds(text: str) -> int:
    """Duration written at the start of a facts cell: ``0 — …``, ``3 мин — …``, ``каждые 4 ч, …``."""
    match = re.match(r"^(?:каждые\s+)?(\d+)(?:\s*(с|мин|ч))?(?=[\s,;—]|$)", text)
    assert match, f"no duration at the start of {text!r}"
    number, unit = int(match.group(1)), match.group(2)
    if unit is None:
        assert number == 0, f"a non-zero duration needs a unit: {text!r}"
        return 0
    return number * _UNIT[unit]


def _code(cell: str) -> str:
    match = re.match(r"^`([a-z]+)`", cell)
    assert match, f"the cell must start with a `code`: {cell!r}"
    return match.group(1)


def _related_line(markdown: str, label: str) -> str | None:
    for line in runbooks.sections(markdown)["Связанные алерты"].splitlines():
        if line.startswith(f"- **{label}:**"):
            return line
    return None


def _linked(line: str | None) -> set[str]:
    return set(_LINK.findall(line or ""))


# -- pages against the catalogue ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_RULES)
def test_every_rule_has_a_page_with_the_required_sections_in_order(name: str) -> None:
    markdown = runbooks.page_markdown(name)
    first = markdown.splitlines()[0]
    assert first.startswith(f"# {name} — "), first
    assert runbooks.page_title(markdown)
    headings = [line[3:].strip() for line in markdown.splitlines() if line.startswith("## ")]
    positions = [headings.index(section) for section in runbooks.REQUIRED_SECTIONS if section in headings]
    missing = [s for s in runbooks.REQUIRED_SECTIONS if s not in headings]
    assert not missing, f"{name}: missing sections {missing}"
    assert positions == sorted(positions), f"{name}: sections out of order: {headings}"
    for section, body in runbooks.sections(markdown).items():
        assert body.strip(), f"{name}: section «{section}» is empty"
    assert "<!--" not in markdown, "an error-codes marker was left unexpanded"


@pytest.mark.parametrize("name", ALL_RULES)
def test_the_facts_table_agrees_with_the_catalogue(name: str) -> None:
    spec = RULES[name]
    facts = runbooks.facts(runbooks.page_markdown(name))
    assert _code(facts["Важность"]) == spec.severity
    assert facts["Приоритет"] == spec.priority_label
    assert _code(facts["Категория маршрутизации"]) == spec.category
    assert facts["Кто получает"]
    assert _code(facts["Источник данных"]) == spec.source
    assert facts["Условие и порог"]
    assert _seconds(facts["Задержка `for`"]) == spec.for_seconds
    assert _seconds(facts["Повтор"]) == spec.repeat_seconds
    if spec.count_of is not None:
        assert _linked(facts["Объединяет"]) == {spec.count_of}
        threshold = re.match(r"^более (\d+) ", facts["Порог Count"])
        assert threshold is not None and int(threshold.group(1)) == spec.count_threshold
        assert str(spec.count_threshold) in facts["Условие и порог"]
    else:
        assert "Порог Count" not in facts


@pytest.mark.parametrize("name", ALL_RULES)
def test_related_alerts_follow_the_dependency_matrix_and_count_aggregation(name: str) -> None:
    markdown = runbooks.page_markdown(name)
    suppresses = set(DEPENDENCIES.get(name, frozenset()))
    suppressed_by = {source for source, targets in DEPENDENCIES.items() if name in targets}
    assert _linked(_related_line(markdown, "Подавляет")) == suppresses
    assert _linked(_related_line(markdown, "Подавляется")) == suppressed_by
    spec = RULES[name]
    if spec.count_of is not None:
        assert _linked(_related_line(markdown, "Объединяет")) == {spec.count_of}
    if name in COUNT_FOR:
        assert _linked(_related_line(markdown, "Массовый вариант")) == {COUNT_FOR[name].name}
    else:
        assert _related_line(markdown, "Массовый вариант") is None
    for target in _LINK.findall(markdown):
        assert target in RULES, f"{name} links to unknown alert {target}"


def test_no_page_without_a_rule() -> None:
    folder = files("kodeks_smart.alerts").joinpath("runbooks")
    pages = {entry.name.removesuffix(".md") for entry in folder.iterdir() if entry.name.endswith(".md")}
    assert pages == set(RULES)


def test_vague_points_are_decided_consistently_with_the_catalogue() -> None:
    def decision(name: str) -> str:
        return runbooks.sections(runbooks.page_markdown(name))["Решение SMART"]

    assert "последний день месяца" in decision("OnlineUserActivityIsLow30")
    assert "феврал" in decision("OnlineUserActivityIsLow30")
    assert "3 суток" in decision("KodeksDBOperUpToOld") and "3 дней" in RULES["KodeksDBOperUpToOld"].summary
    assert "2 суток" in decision("SmartXMLfileIsToOld") and "2 дней" in RULES["SmartXMLfileIsToOld"].summary
    assert "5 минут" in decision("KodeksLimitsUsers")
    for count in COUNT_FOR.values():
        assert f"более {count.count_threshold} объектов" in decision(count.name)
    for alias, canonical in ALIASES.items():
        assert alias in decision(canonical), f"{canonical} does not explain its old name {alias}"
    for name, spec in RULES.items():
        recipients = runbooks.facts(runbooks.page_markdown(name))["Кто получает"]
        assert recipients.lower() == runbooks.CATEGORIES[spec.category].recipients.lower()
        if spec.category != "critical":  # Telegram by default only for the category «высокий приоритет»
            assert "Telegram — только если" in recipients or "Telegram по умолчанию не" in recipients


# -- error codes on the DB pages ----------------------------------------------------------------------------


def _codes_section(name: str) -> str:
    return runbooks.sections(runbooks.page_markdown(name))["Коды ошибок Кодекс"]


def _table_codes(section: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"^\| ([^|]+?) \|", section, re.MULTILINE)} - {"Код", "---"}


@pytest.mark.parametrize("name", DB_ERROR_RULES)
def test_db_error_pages_list_the_kodeks_codes(name: str) -> None:
    listed = _table_codes(_codes_section(name))
    assert listed, f"{name} lists no error codes"
    labels = {row.label for row in catalogue()}
    assert listed <= labels
    base = RULES[name].count_of or name
    if base == "KodeksDBerrorsCode2007":
        assert "2007 (4103)" in listed
    elif base == "KodeksDBerrorsCodeXXX":
        assert listed == labels - {"2007 (4103)", "—"}
    else:
        assert "—" in listed
        assert "Том базы данных уже подключен" in _codes_section(name)


def test_code_tables_are_generated_from_the_catalogue() -> None:
    section = _codes_section("KodeksDBerrorsCode2007")
    row = catalogue().get("product_connection_protection", 2007)
    assert row.user_message_ru in section
    assert "Ошибки защиты при подключении информационных продуктов" in section
    ditto = catalogue().get("db_volume", 601)
    assert ditto.description_ru in _codes_section("KodeksDBerrorsCodeXXX")
    assert "-*-" not in _codes_section("KodeksDBerrorsCodeXXX")
    assert r"\*.reg" in section  # Markdown specials in the data are escaped


def test_error_code_selectors() -> None:
    rows = runbooks.select_error_codes("*, !product_connection_protection/2007, !db_volume/-")
    assert len(rows) == len(catalogue()) - 2
    assert [r.label for r in runbooks.select_error_codes("product_connection_protection/4103")] == [
        "2007 (4103)"
    ]
    assert [r.code for r in runbooks.select_error_codes("db_volume/-")] == [None]
    for bad in ("nosuchsection", "db_volume/9999", "!db_volume", ""):
        with pytest.raises(ValueError):
            runbooks.select_error_codes(bad)


def test_markdown_is_rendered_with_raw_html_escaped() -> None:
    out = runbooks.render_markdown(
        '<script>alert(1)</script>\n\n[x](javascript:alert(1)) <img src=x onerror="y">'
    )
    assert "<script" not in out and "&lt;script&gt;" in out
    assert "<img" not in out
    assert 'href="javascript' not in out
    for name in ALL_RULES:
        page = runbooks.page(name)
        assert page is not None
        assert "<script" not in page.html and "<table>" in page.html


# -- names, aliases ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("alias", sorted(runbooks.aliases()))
def test_every_alias_opens_the_canonical_page_with_a_note(alias: str) -> None:
    canonical = runbooks.aliases()[alias]
    assert canonical in RULES
    resolved = runbooks.resolve(alias)
    assert resolved is not None and resolved.kind == "alias" and resolved.name == canonical
    page = runbooks.page(alias)
    assert page is not None and page.name == canonical and page.requested == alias
    assert page.markdown.startswith(f"> «{alias}»")
    assert page.markdown.endswith(runbooks.page_markdown(canonical))


def test_name_resolution() -> None:
    assert runbooks.resolve("KodeksIcmp") == runbooks.Resolved("KodeksIcmp", "KodeksIcmp", "rule")
    variant = runbooks.resolve("KodeksDBerrorsNOCodeCount")  # spelling of the original's link
    assert variant == runbooks.Resolved("KodeksDBerrorsNOCodeCount", "KodeksDBerrorsNoCodeCount", "variant")
    assert runbooks.resolve("kodeksdberrorscode1") == runbooks.Resolved(
        "kodeksdberrorscode1", "KodeksDBerrorsNoCode", "variant"
    )
    for bad in ("NoSuchAlert", "", "../KodeksIcmp", "KodeksIcmp.md", "Kodeks Icmp", "Kodeks/Icmp", "x" * 81):
        assert runbooks.resolve(bad) is None
    assert runbooks.page("NoSuchAlert") is None


def test_format_duration() -> None:
    assert [runbooks.format_duration(s) for s in (0, 45, 120, 7200, 86400)] == [
        "0",
        "45 с",
        "2 мин",
        "2 ч",
        "24 ч",
    ]


# -- HTTP ---------------------------------------------------------------------------------------------------


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(runbook_pages.router)
    with TestClient(app, follow_redirects=False) as c:
        yield c


def test_the_index_lists_every_rule_by_category(client: TestClient) -> None:
    response = client.get("/docs/alerts")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    text = response.text
    assert '<html lang="ru">' in text and "Алерты СМАРТ" in text
    for name in RULES:
        assert f'href="/docs/alerts/{name}"' in text
    for alias in runbooks.aliases():
        assert f'href="/docs/alerts/{alias}"' in text
    for category in runbooks.CATEGORIES.values():
        assert category.title in text
    assert "http://" not in text.replace('"http://www.w3.org', "") and "https://" not in text  # no CDN
    assert client.get("/docs/alerts/").status_code == 200


def test_a_page_is_served_as_html_and_as_markdown(client: TestClient) -> None:
    response = client.get("/docs/alerts/KodeksDBerrorsCode2007")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    text = response.text
    assert "<h1>KodeksDBerrorsCode2007 — " in text
    assert "<h2>Что делать</h2>" in text and "2007 (4103)" in text
    assert 'href="/docs/alerts/KodeksDBerrorsCode2007.md"' in text
    raw = client.get("/docs/alerts/KodeksDBerrorsCode2007.md")
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "text/markdown; charset=utf-8"
    assert raw.text == runbooks.page_markdown("KodeksDBerrorsCode2007")


def test_an_alias_shows_the_canonical_page_with_a_note(client: TestClient) -> None:
    response = client.get("/docs/alerts/KodeksDBerrorsCode1")
    assert response.status_code == 200
    assert "<h1>KodeksDBerrorsNoCode — " in response.text
    assert "«KodeksDBerrorsCode1» — другое имя алерта" in response.text
    raw = client.get("/docs/alerts/OnlineBillingSearch500.md")
    assert raw.status_code == 200 and "# OnlineBillingSearchLeft50 — " in raw.text


def test_other_spellings_redirect_to_the_canonical_address(client: TestClient) -> None:
    response = client.get("/docs/alerts/KodeksDBerrorsNOCodeCount.md")
    assert response.status_code == 308
    assert response.headers["location"] == "/docs/alerts/KodeksDBerrorsNoCodeCount.md"
    response = client.get("/docs/alerts/kodeksicmp")
    assert response.status_code == 308 and response.headers["location"] == "/docs/alerts/KodeksIcmp"
    old = client.get("/docs/errors/KodeksIcmp.md")
    assert old.status_code == 301 and old.headers["location"] == "/docs/alerts/KodeksIcmp"
    assert client.get("/docs/errors/NoSuchAlert.md").status_code == 404


def test_an_unknown_alert_gets_a_russian_404_page(client: TestClient) -> None:
    response = client.get("/docs/alerts/NoSuchAlert")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Страница не найдена" in response.text
    assert "<code>NoSuchAlert</code>" in response.text
    assert 'href="/docs/alerts"' in response.text
    assert client.get("/docs/alerts/NoSuchAlert.md").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/docs/alerts/..%2F..%2Fpyproject.toml",
        "/docs/alerts/..%2Fcatalogue.py",
        "/docs/alerts/..%2F..%2Falerts%2Fruntime",
        "/docs/alerts/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/docs/alerts/..%5C..%5Capp.py",
        "/docs/alerts/KodeksIcmp%00.md",
        "/docs/alerts/KodeksIcmp%2F..%2F..%2Fcatalogue",
        "/docs/alerts/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/docs/alerts/runbooks%2FKodeksIcmp",
        "/docs/errors/..%2F..%2Fpyproject.toml",
    ],
)
def test_path_traversal_and_odd_names_are_refused(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code in (404, 422)
    assert "<script>" not in response.text
    assert "[project]" not in response.text and "root:" not in response.text
    assert "RULES" not in response.text


def test_the_pages_are_public_in_the_full_app(services: Services) -> None:
    with TestClient(create_app(services), follow_redirects=False) as c:
        index = c.get("/docs/alerts", headers={"accept": "text/html"})
        assert index.status_code == 200 and "KodeksIcmp" in index.text
        page = c.get("/docs/alerts/KodeksIcmp")
        assert page.status_code == 200 and "<h1>KodeksIcmp — " in page.text
        missing = c.get("/docs/alerts/NoSuchAlert", headers={"accept": "text/html"})
        assert missing.status_code == 404 and "Страница не найдена" in missing.text


# -- the error-code catalogue -------------------------------------------------------------------------------


def test_every_csv_row_loads() -> None:
    text = files("kodeks_smart.alerts").joinpath("data", "kodeks-error-codes.csv").read_text("utf-8")
    data_rows = list(csv.reader(io.StringIO(text)))[1:]
    rows = list(catalogue())
    assert len(rows) == len(data_rows) == 39
    per_section = {s: len(catalogue().section(s)) for s in error_codes.SECTIONS}
    assert per_section == {
        "regfile_protection": 10,
        "product_connection_protection": 6,
        "db_volume": 10,
        "operup_update": 7,
        "os_file_access": 6,
    }
    for row, cells in zip(rows, data_rows, strict=True):
        assert isinstance(row, ErrorCode)
        assert row.section == cells[0] and row.user_message_ru == cells[3] and row.description_en == cells[4]
        assert row.description_ru and row.description_ru != error_codes.DITTO
        assert row.label == (cells[1] if cells[1] != "-" else "—")


def test_ditto_descriptions_are_resolved() -> None:
    codes = catalogue()
    assert codes.get("db_volume", 601).description_ru == codes.get("db_volume", 600).description_ru
    network = codes.get("os_file_access", 53).description_ru
    assert codes.get("os_file_access", 64).description_ru == network
    assert codes.get("os_file_access", 67).description_ru == network


def test_alternate_codes_resolve_both_ways() -> None:
    codes = catalogue()
    row = codes.get("product_connection_protection", 2007)
    assert row.codes == (2007, 4103)
    assert codes.get("product_connection_protection", 4103) is row
    assert codes.find(4103) == [row] and codes.find(2007) == [row]
    assert codes.get("product_connection_protection", 4109).code == 2010
    assert codes.get("regfile_protection", 4107).code == 50
    assert {r.section for r in codes.find(4101)} == {"product_connection_protection", "operup_update"}
    assert {r.section for r in codes.find(5)} == {"regfile_protection", "os_file_access"}
    assert codes.get("regfile_protection", 5) != codes.get("os_file_access", 5)
    assert codes.find(1234) == []
    with pytest.raises(KeyError):
        codes.get("db_volume", 2007)
    assert codes.section("db_volume")[-1].code is None


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("Ошибка защиты 2007", [2007]),
        ("Ошибка защиты (2007) -Нет прав на использование данной копии БД", [2007]),
        ("(4103)", [4103]),
        ("Лицензия 333113102 - Ошибка защиты 4103 (Не найден продукт)", [4103]),
        ("ошибка 615", [615]),
        ("Том базы данных уже подключен", []),
        ("Invalid protect string", []),
        ("Не могу открыть файл D:\\TE\\Base\\kodeks6.dbs (ошибка 53) - Не найден сетевой путь", [53]),
        ("Внутренняя ошибка (600)", [600]),
        ("Ошибка в структуре базы данных kodeks6 (601)", [601]),
        ("Ошибка в структуре базы данных kodeks6 (0)", [669]),
        ("Ошибка 696 (Area: 12, Atr: 7)", [696]),
        ("SenseLock ключ - Ошибка защиты 4111 Not connected", [4111]),
        ("Ошибка защиты 5.0 665 open", [665]),
        ("SenseLock ключ - Ошибка защиты (1) - Нет доступа к драйверу", [665]),
        (
            "Ошибка защиты 4117 License manager says key num.123 (4567) blacklisted "
            "(license manager configured at 10.0.0.5:8888)",
            [4117],
        ),
        ("Ошибка защиты (2020) - Лицензия … (4101)", [2020, 4101]),
        ("ОШИБКА ЗАЩИТЫ (2008) -Количество пользователей превысило максимальное", [2008]),
        ("Версия 6.4.5.121, отчёт за (2024) год, 41 том", []),
        ("ошибка 12345", []),
        ("Error 2007 (4103)", [2007, 4103]),
        ("", []),
    ],
)
def test_extract_codes(text: str, codes: list[int]) -> None:
    assert extract_codes(text) == codes


def test_db_error_rule_picks_the_alert() -> None:
    assert (
        db_error_rule("Ошибка защиты (2007) -Нет прав на использование данной копии БД")
        == "KodeksDBerrorsCode2007"
    )
    assert db_error_rule("Settings: Ошибка защиты 4103 (Не найден продукт)") == "KodeksDBerrorsCode2007"
    assert db_error_rule("Версия базы данных не поддерживается (613)") == "KodeksDBerrorsCodeXXX"
    assert db_error_rule("Том базы данных уже подключен") == "KodeksDBerrorsNoCode"
    for rule in (error_codes.RULE_2007, error_codes.RULE_CODED, error_codes.RULE_NO_CODE):
        assert rule in RULES


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\n", "header"),
        ("section,code,description_ru,user_message_ru,description_en\nnope,1,a,b,c\n", "section"),
        ("section,code,description_ru,user_message_ru,description_en\ndb_volume,6x,a,b,c\n", "code cell"),
        ("section,code,description_ru,user_message_ru,description_en\ndb_volume,600,-*-,b,c\n", "ditto"),
        ("section,code,description_ru,user_message_ru,description_en\ndb_volume,600,a,b\n", "columns"),
        (
            "section,code,description_ru,user_message_ru,description_en\n"
            "db_volume,600,a,b,c\ndb_volume,601 (600),a,b,c\n",
            "twice",
        ),
    ],
)
def test_a_broken_csv_is_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        error_codes.parse(text)
