"""Metrics files: ``.status`` uploads and ``/sysinfo/metrics`` / ``/sysmon/metrics`` bodies.

The body is Prometheus text exposition (0.0.4), parsed with prometheus-client's parser. What SMART adds:

* an optional header block before the body, as the smartstatus script writes it with ``curl -i … | find
  "date:"``: a ``date: <RFC 1123 time>`` line sets the sample time (the PK's own clock, in UTC); other
  header-like lines (``HTTP/1.1 200 OK``, ``content-type: …``) are skipped;
* CRLF line endings, a UTF-8 BOM and Windows-1251 text are accepted;
* a malformed line does not lose the file: the body is parsed again line by line and the bad lines are
  counted in a warning;
* ``kserver_main_page`` and ``kserver_product_control`` (labels ``service``, ``path`` and, on a problem,
  ``status``) become `CatalogHealth` records, one per (service, path). Every series, these included, is
  also returned as a `MetricSample`, so sysmon's undocumented metrics are stored with no code change.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from prometheus_client.parser import text_string_to_metric_families

from kodeks_smart.parsers.content import decode_text, sniff
from kodeks_smart.parsers.errors import ParseError
from kodeks_smart.parsers.limits import Limits

MAIN_PAGE = "kserver_main_page"
PRODUCT_CONTROL = "kserver_product_control"

_HEADER_LINE = re.compile(
    r"^(?:HTTP/\d(?:\.\d)?\s+\d{3}.*|[A-Za-z][A-Za-z0-9-]*:\s.*|[A-Za-z][A-Za-z0-9-]*:)$"
)
_MAX_NAME = 200
_MAX_LABEL_VALUE = 500


@dataclass(frozen=True, slots=True)
class MetricSample:
    name: str
    labels: tuple[tuple[str, str], ...]  # sorted by label name
    value: float
    #: Per-sample timestamp from the exposition text, if the exporter wrote one.
    timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class CatalogHealth:
    """Health of one virtual catalog as the Kodeks server reports it (0 = OK, 1 = problem)."""

    service: str
    path: str
    main_page: float | None
    main_page_status: str | None
    product_control: float | None


@dataclass(slots=True)
class MetricsReport:
    #: Time from the ``date:`` header line (UTC), None for a legacy file without one.
    sampled_at: datetime | None
    samples: list[MetricSample] = field(default_factory=list)
    catalogs: list[CatalogHealth] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    bad_lines: int = 0


def parse_metrics(data: bytes, limits: Limits | None = None) -> MetricsReport:
    """Parse a metrics file. Raises ParseError when nothing usable is in it."""
    limits = limits or Limits()
    if len(data) > limits.max_document_bytes:
        raise ParseError("too-large", "Файл метрик слишком большой", "metrics file too large")
    kind = sniff(data)
    if kind != "text":
        raise ParseError(
            "not-metrics",
            "Файл .status содержит не метрики, а " + ("ZIP-архив" if kind == "zip" else "XML"),
            "a .status file must hold Prometheus text, not " + kind,
        )
    text, warning = decode_text(data)
    report = MetricsReport(sampled_at=None)
    if warning:
        report.warnings.append(warning)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    body_start = _read_header(lines, report)
    body = "\n".join(lines[body_start:]) + "\n"
    samples = _parse_body(body, report)
    if len(samples) > limits.metrics_max_samples:
        report.warnings.append(
            f"в файле {len(samples)} значений, сохранены первые {limits.metrics_max_samples}"
        )
        samples = samples[: limits.metrics_max_samples]
    report.samples = samples
    report.catalogs = _catalogs(samples)
    if not samples and report.bad_lines:
        raise ParseError(
            "metrics-syntax",
            f"Ни одна строка файла метрик не разобрана ({report.bad_lines} ошибочных строк)",
            "no line of the metrics file could be parsed",
        )
    return report


def _read_header(lines: list[str], report: MetricsReport) -> int:
    """Consume leading HTTP-header-like lines; returns the index of the first body line."""
    index = 0
    for index, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#") or not _HEADER_LINE.match(line):
            return index
        name, _, value = line.partition(":")
        if name.strip().lower() == "date" and value.strip():
            try:
                stamp = parsedate_to_datetime(value.strip())
            except (TypeError, ValueError, IndexError):
                report.warnings.append(f"строка date: не разобрана: {value.strip()[:80]!r}")
                continue
            report.sampled_at = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
    return len(lines)


def _parse_body(body: str, report: MetricsReport) -> list[MetricSample]:
    try:
        return _convert(text_string_to_metric_families(body), report)
    except (ValueError, KeyError, IndexError, TypeError):
        pass
    # One bad line makes the library give up on the whole text; keep every line that parses.
    samples: list[MetricSample] = []
    bad = 0
    for line in body.split("\n"):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            samples.extend(_convert(text_string_to_metric_families(stripped + "\n"), report))
        except (ValueError, KeyError, IndexError, TypeError):
            bad += 1
    report.bad_lines = bad
    if bad:
        report.warnings.append(f"пропущено строк с ошибками: {bad}")
    return samples


def _convert(families: object, report: MetricsReport) -> list[MetricSample]:
    out: list[MetricSample] = []
    for family in families:  # type: ignore[attr-defined]
        for sample in family.samples:
            name = str(sample.name)
            if len(name) > _MAX_NAME:
                report.warnings.append(f"слишком длинное имя метрики пропущено: {name[:40]}…")
                continue
            labels = tuple(sorted((str(k), str(v)[:_MAX_LABEL_VALUE]) for k, v in sample.labels.items()))
            value = float(sample.value)
            stamp = None
            if sample.timestamp is not None:
                seconds = float(sample.timestamp)
                if math.isfinite(seconds) and 0 < seconds < 32503680000:  # before year 3000
                    stamp = datetime.fromtimestamp(seconds, UTC)
            out.append(MetricSample(name, labels, value, stamp))
    return out


def _catalogs(samples: list[MetricSample]) -> list[CatalogHealth]:
    """Fold kserver_main_page / kserver_product_control into one record per (service, path)."""
    found: dict[tuple[str, str], dict[str, float | str | None]] = {}
    for sample in samples:
        if sample.name not in (MAIN_PAGE, PRODUCT_CONTROL):
            continue
        labels = dict(sample.labels)
        key = (labels.get("service", ""), labels.get("path", ""))
        entry = found.setdefault(key, {"main": None, "status": None, "control": None})
        if sample.name == MAIN_PAGE:
            entry["main"] = sample.value
            entry["status"] = labels.get("status") or None
        else:
            entry["control"] = sample.value
    result = []
    for (service, path), entry in found.items():
        main = entry["main"]
        control = entry["control"]
        status = entry["status"]
        result.append(
            CatalogHealth(
                service=service,
                path=path,
                main_page=main if isinstance(main, float) else None,
                main_page_status=status if isinstance(status, str) else None,
                product_control=control if isinstance(control, float) else None,
            )
        )
    return result
