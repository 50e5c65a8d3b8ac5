"""Metrics files: .status uploads and /sysinfo/metrics, /sysmon/metrics bodies."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from kodeks_smart.parsers.errors import ParseError
from kodeks_smart.parsers.metrics import CatalogHealth, parse_metrics
from kodeks_smart.simulator.metrics import ServerFacts, sysmon_metrics

LEGACY = (
    b"# Sysinfo metrics\n"
    b"# Path /docs\n"
    b'kserver_main_page{service="kodweb",path="/docs"} 0\n'
    b'kserver_product_control{service="kodweb",path="/docs"} 0\n'
    b"# End\n"
)


def _facts(**changes: object) -> ServerFacts:
    now = time.time()
    values: dict[str, object] = dict(
        now=now,
        started_at=now - 3600,
        version="6.4.5.127",
        regnum="0599_123456",
        catalogs=("/docs", "/kodeks01"),
        running=True,
        maintenance=False,
        need_support=False,
        server_error=False,
        key_error=0,
        licman_up=True,
        licman_address="10.0.0.5:8888",
        seats=20,
        sessions=5,
        busy_seats=1,
        logins_total=40,
        refused_seats_total=2,
        refused_auth_total=1,
        requests_total=1000,
        operup_timestamp=now - 7200,
        licence_until=now + 1e7,
        seed=3,
    )
    values.update(changes)
    return ServerFacts(**values)  # type: ignore[arg-type]


def test_the_documented_example_gives_one_healthy_catalog_and_no_time() -> None:
    report = parse_metrics(LEGACY)
    assert report.sampled_at is None
    assert report.catalogs == [CatalogHealth("kodweb", "/docs", 0.0, None, 0.0)]
    assert {s.name for s in report.samples} == {"kserver_main_page", "kserver_product_control"}
    assert report.warnings == [] and report.bad_lines == 0


def test_the_date_line_of_the_smartstatus_script_sets_the_sample_time() -> None:
    report = parse_metrics(b"date: Thu, 16 Apr 2026 10:08:51 GMT\r\n" + LEGACY.replace(b"\n", b"\r\n"))
    assert report.sampled_at == datetime(2026, 4, 16, 10, 8, 51, tzinfo=UTC)
    assert len(report.catalogs) == 1


def test_other_leading_http_header_lines_are_skipped() -> None:
    body = b"HTTP/1.1 200 OK\ncontent-type: text/plain\nDate: Thu, 16 Apr 2026 10:08:51 GMT\n\n" + LEGACY
    report = parse_metrics(body)
    assert report.sampled_at == datetime(2026, 4, 16, 10, 8, 51, tzinfo=UTC)
    assert len(report.samples) == 2


def test_a_problem_catalog_keeps_its_status_label() -> None:
    report = parse_metrics(
        b'kserver_main_page{service="kodweb",path="/docs",status="no required volume DB"} 1\n'
        b'kserver_product_control{service="kodweb",path="/docs"} 1\n'
    )
    assert report.catalogs == [CatalogHealth("kodweb", "/docs", 1.0, "no required volume DB", 1.0)]


def test_every_sysmon_series_is_kept_as_is() -> None:
    body = sysmon_metrics(_facts(maintenance=True))
    report = parse_metrics(body)
    names = {s.name for s in report.samples}
    assert {"kserver_up", "kserver_licenses_used", "nodejs_eventloop_lag_seconds"} <= names
    refused = {
        dict(s.labels)["reason"]: s.value for s in report.samples if s.name == "kserver_login_refused_total"
    }
    assert refused == {"toomanyusers": 2.0, "auth": 1.0}
    assert {c.path for c in report.catalogs} == {"/docs", "/kodeks01"}
    assert all(c.main_page == 1.0 and c.main_page_status == "update DB" for c in report.catalogs)


def test_a_malformed_line_is_counted_and_the_rest_is_kept() -> None:
    report = parse_metrics(LEGACY + b"this is { not a metric\nkserver_sessions 4\n")
    assert report.bad_lines == 1
    assert any("пропущено строк" in w for w in report.warnings)
    assert {s.name for s in report.samples} == {
        "kserver_main_page",
        "kserver_product_control",
        "kserver_sessions",
    }


def test_a_file_with_no_parsable_line_is_an_error() -> None:
    with pytest.raises(ParseError) as err:
        parse_metrics(b"garbage {{{\nmore garbage }}}\n")
    assert err.value.code == "metrics-syntax"


def test_windows_1251_text_and_a_bom_are_accepted() -> None:
    body = '# Метрики сервера\nkserver_info{name="Сервер"} 1\n'
    cp = parse_metrics(body.encode("cp1251"))
    assert dict(cp.samples[0].labels)["name"] == "Сервер"
    assert any("Windows-1251" in w for w in cp.warnings)
    bom = parse_metrics(b"\xef\xbb\xbf" + body.encode("utf-8"))
    assert dict(bom.samples[0].labels)["name"] == "Сервер" and bom.warnings == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "empty"),
        (b"PK\x03\x04rest of a zip", "not-metrics"),
        (b'<?xml version="1.0"?><sysinfo/>', "not-metrics"),
        (b"<html><body>500 Internal Server Error</body></html>", "html"),
        (b"kserver_up 1\n\x00\x01\x02", "binary"),
    ],
)
def test_what_is_not_metrics_text_is_refused_with_a_reason(body: bytes, code: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_metrics(body)
    assert err.value.code == code
    assert err.value.message and err.value.message_en


def test_an_exposition_timestamp_is_kept_per_sample() -> None:
    report = parse_metrics(b"kserver_up 1 1776333000000\n")
    assert report.samples[0].timestamp == datetime.fromtimestamp(1776333000, UTC)
