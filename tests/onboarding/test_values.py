"""Single cell values: the agents' file-name rules, e-mails, addresses, ports, protocols, time zones."""

from __future__ import annotations

import pytest

from kodeks_smart.onboarding import values
from kodeks_smart.onboarding.problems import Invalid


@pytest.mark.parametrize("name", ["romashka", "599_private", "Client-01.main", "A", "x" * 64])
def test_client_names_the_agents_can_use_are_accepted(name: str) -> None:
    assert values.client_name(name) == name


@pytest.mark.parametrize(
    ("name", "code", "fragment"),
    [
        ("Ромашка", "client-cyrillic", "Romashka"),
        ("roma shka", "client-forbidden-char", "пробел"),
        ("roma#1", "client-forbidden-char", "решётка"),
        ("a:b", "client-forbidden-char", "двоеточие"),
        ("a/b", "client-forbidden-char", "слеш"),
        ("a|b", "client-forbidden-char", "вертикальная черта"),
        ("a(b)", "client-bad-char", "«(»"),
        ("_client", "client-bad-start", "начинаться"),
        ("client.", "client-trailing-dot", "точкой"),
        ("CON", "client-reserved", "Windows"),
        ("lpt1.log", "client-reserved", "Windows"),
        ("x" * 65, "client-too-long", "64"),
        ("", "client-empty", "не указано"),
    ],
)
def test_client_names_breaking_the_file_name_rules_are_explained(name: str, code: str, fragment: str) -> None:
    with pytest.raises(Invalid) as caught:
        values.client_name(name)

    assert caught.value.code == code
    assert fragment in caught.value.message


def test_a_short_name_is_suggested_for_a_russian_firm_name() -> None:
    assert values.suggest_short_name("ООО «Ромашка»") == "OOO_Romashka"
    assert values.suggest_short_name("АО Щит и меч") == "AO_Shchit_i_mech"
    assert values.suggest_short_name("«»") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ivanov@Example.RU", ["ivanov@example.ru"]),
        ("a@x.ru; b@x.ru", ["a@x.ru", "b@x.ru"]),
        ("a@x.ru, a@x.ru  b@x.ru", ["a@x.ru", "b@x.ru"]),
        ("info@почта.рф", ["info@почта.рф"]),
        ("", []),
    ],
)
def test_one_cell_may_hold_several_emails(text: str, expected: list[str]) -> None:
    assert values.emails(text) == expected


@pytest.mark.parametrize(
    "text", ["ivanov", "ivanov@", "@x.ru", "a@@x.ru", "a@x", "a..b@x.ru", "a@x.r", "a b@x.ru"]
)
def test_malformed_emails_are_refused(text: str) -> None:
    with pytest.raises(Invalid) as caught:
        values.email(text)
    assert caught.value.code == "bad-email"


@pytest.mark.parametrize(
    ("text", "protocol", "expected"),
    [
        ("170239.te-cloud.ru:80", None, "170239.te-cloud.ru:80"),
        ("170239.TE-CLOUD.ru", "https", "170239.te-cloud.ru:443"),
        ("https://kodeks.example.ru/", None, "kodeks.example.ru:443"),
        ("http://10.0.0.5:8080", None, "10.0.0.5:8080"),
        ("[::1]:80", None, "[::1]:80"),
    ],
)
def test_addresses_are_normalised_to_host_and_port(text: str, protocol: str | None, expected: str) -> None:
    assert str(values.address(text, protocol)) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("URL-01:port", "bad-port"),
        ("host.ru:70000", "bad-port"),
        ("host.ru:0", "bad-port"),
        ("https://host.ru/docs", "address-path"),
        ("host.ru/docs", "address-path"),
        ("ftp://host.ru", "bad-address"),
        ("bad_host-.ru:80", "bad-host"),
        ("300.1.1.1:80", "bad-host"),
    ],
)
def test_bad_addresses_and_ports_are_refused(text: str, code: str) -> None:
    with pytest.raises(Invalid) as caught:
        values.address(text)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("text", "code"),
    [("http/https", "protocol-choose"), ("http OR https", "protocol-choose"), ("ftp", "bad-protocol")],
)
def test_a_protocol_must_be_one_of_http_and_https(text: str, code: str) -> None:
    assert values.protocol(" HTTPS ") == "https"
    with pytest.raises(Invalid) as caught:
        values.protocol(text)
    assert caught.value.code == code


@pytest.mark.parametrize(("text", "minutes"), [("-1", 180), ("2", 360), ("0", 240), ("−3", 60)])
def test_the_original_time_zone_is_counted_from_saratov(text: str, minutes: int) -> None:
    assert values.tz_saratov(text) == minutes


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("+3", 180),
        ("3", 180),
        ("UTC+5", 300),
        ("+05:30", 330),
        ("GMT-2", -120),
        ("МСК", 180),
        ("МСК+4", 420),
        ("msk-1", 120),
    ],
)
def test_smart_templates_take_utc_or_moscow_offsets(text: str, minutes: int) -> None:
    assert values.tz_utc(text) == minutes


@pytest.mark.parametrize("text", ["Москва", "+15", "UTC+3 часа", "11"])
def test_unusable_time_zones_are_refused(text: str) -> None:
    with pytest.raises(Invalid):
        if text == "11":
            values.tz_saratov(text)
        else:
            values.tz_utc(text)


def test_alert_categories_are_read_from_russian_words() -> None:
    assert values.categories("Высокий приоритет, технические") == ["critical", "technical"]
    assert values.categories("активность пользователей / онлайн") == ["analytics", "online"]
    assert values.categories("все") == ["critical", "technical", "analytics", "online"]
    with pytest.raises(Invalid, match="неизвестная категория"):
        values.categories("срочно-пресрочно")


def test_ping_accepts_the_original_words_and_yes_no() -> None:
    assert [values.ping(t) for t in ("ping", "donotping", "да", "нет", "1", "FALSE")] == [
        True,
        False,
        True,
        False,
        True,
        False,
    ]
