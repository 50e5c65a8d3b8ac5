"""sysinfo reports: the ``.zip`` ``/sysinfo/si_save_request`` returns for ``type=zip``, or the plain ``.xml``.

`parse_sysinfo` is a pure function from bytes to a `SysinfoReport`. It walks the XML once, incrementally,
driven by the declarative table in `kodeks_smart.parsers.sysinfo_mapping`:

1. a ZIP is opened with the guards of `safezip` and its report member chosen (``sysinfo.xml``, else the
   largest ``.xml``);
2. the XML is read with the guards of `safexml` (no DTD, no entities, no network) — when the caller names
   skip windows, after `sysinfo_cut` has cut the already-stored event records out of the bytes (checked
   record by record; the whole document is parsed whenever that cannot be done safely);
3. at each element's end: if it is a record element of a block, its fields are converted and a record is
   appended; then the element is cleared and dropped from its parent, so memory stays flat however long
   the report is (child elements a record still needs are kept until that record ends);
4. elements the table does not know are skipped and counted;
5. afterwards every required block (and required value) that was absent yields a "data missing" `Gap`.

Raises ParseError for input that is hostile, broken, or not a sysinfo report at all.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from kodeks_smart.parsers import safexml, safezip, sysinfo_cut
from kodeks_smart.parsers.content import sniff
from kodeks_smart.parsers.errors import ParseError
from kodeks_smart.parsers.limits import Limits
from kodeks_smart.parsers.sysinfo_mapping import BLOCKS, ROOT, SECTION_FIELDS, ZIP_MEMBERS, Block, F
from kodeks_smart.parsers.sysinfo_records import Gap, Section, SysinfoReport

__all__ = ["SysinfoReport", "Windows", "parse_sysinfo", "parse_sysinfo_xml"]

MAX_UNKNOWN_PATHS = 50
#: Block name -> closed windows (local time) of records to skip.
Windows = Mapping[str, Sequence[tuple[datetime, datetime]]]
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M")
_RU_TIME_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M")
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2}):?(\d{2})?$")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::[0-5]\d)?$")


_ISO_SECONDS = "%Y-%m-%d %H:%M:%S"


class _Invalid(ValueError):
    pass


def _time(value: str) -> datetime:
    try:  # the documented form, "YYYY-MM-DD HH:MM:SS", and ISO: the fast path
        stamp = datetime.fromisoformat(value)
        if stamp.tzinfo is None:
            return stamp
    except ValueError:
        pass
    text = value.strip()
    if "." in text[:6]:
        formats: tuple[str, ...] = _RU_TIME_FORMATS
    else:
        text = text.split(".", 1)[0].split("+", 1)[0].rstrip("Z")  # drop fractions and an ISO zone
        formats = _TIME_FORMATS
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return datetime.combine(_date(text), datetime.min.time())


def _date(value: str) -> date:
    text = value.strip()[:10]
    try:
        if "." in text:
            return datetime.strptime(text, "%d.%m.%Y").date()
        return date.fromisoformat(text)
    except ValueError:
        raise _Invalid(value) from None


def _offset(value: str) -> int:
    match = _OFFSET.match(value.strip())
    if not match:
        raise _Invalid(value)
    sign, hours, minutes = match.groups()
    total = int(hours) * 60 + int(minutes or 0)
    if total > 14 * 60:
        raise _Invalid(value)
    return total if sign == "+" else -total


def _hhmm(value: str) -> str:
    match = _HHMM.match(value.strip())
    if not match:
        raise _Invalid(value)
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def _bool(value: str) -> bool:
    text = value.strip().lower()
    if text in ("1", "true", "yes", "да"):
        return True
    if text in ("0", "false", "no", "нет"):
        return False
    raise _Invalid(value)


def _int(value: str) -> int:
    if len(value) > 30:
        raise _Invalid(value)
    try:
        return int(value)
    except ValueError:
        return int(value.strip().replace("\u00a0", "").replace(" ", ""))


def _float(value: str) -> float:
    text = value.strip().replace(",", ".")
    if len(text) > 40:
        raise _Invalid(value)
    return float(text)


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "str": str,
    "sym": sys.intern,
    "int": _int,
    "float": _float,
    "bool": _bool,
    "time": _time,
    "date": _date,
    "offset": _offset,
    "hhmm": _hhmm,
}


def _local(tag: object) -> str:
    text = tag if isinstance(tag, str) else str(tag)
    return text.rsplit("}", 1)[-1]


def _child(element: Any, name: str) -> Any:
    for child in element:
        if isinstance(child.tag, str) and _local(child.tag) == name:
            return child
    return None


@dataclasses.dataclass(frozen=True, slots=True)
class _Field:
    """A mapping field compiled for speed: how to find the raw value and how to convert it."""

    name: str
    how: str  # attr | text | child | up
    arg: str  # attribute name (attr, child, up) or child name (child)
    child_part: str  # for child: "@attr" or "text()"
    levels: int  # for up: how many parents up
    convert: Callable[[str], Any]
    required: bool


def _compile(f: F) -> _Field:
    path = f.path
    convert = _CONVERTERS[f.type]
    if path.startswith("../"):
        levels = 0
        while path.startswith("../"):
            levels += 1
            path = path[3:]
        if not path.startswith("@"):
            raise ValueError(f"unsupported field path {f.path!r}")
        return _Field(f.name, "up", path[1:], "", levels, convert, f.required)
    if "/" in path:
        child, rest = path.split("/", 1)
        if not (rest == "text()" or rest.startswith("@")):
            raise ValueError(f"unsupported field path {f.path!r}")
        return _Field(f.name, "child", child, rest, 0, convert, f.required)
    if path == "text()":
        return _Field(f.name, "text", "", "", 0, convert, f.required)
    if path.startswith("@"):
        return _Field(f.name, "attr", path[1:], "", 0, convert, f.required)
    raise ValueError(f"unsupported field path {f.path!r}")


def _raw(element: Any, f: _Field) -> str | None:
    """The text a compiled field points at, or None when the attribute or element is absent."""
    if f.how == "attr":
        value = element.get(f.arg)
        return None if value is None else str(value)
    if f.how == "text":
        text = element.text
        return text.strip() if text is not None else None
    if f.how == "up":
        node = element
        for _ in range(f.levels):
            node = node.getparent()
            if node is None:
                return None
        value = node.get(f.arg)
        return None if value is None else str(value)
    node = _child(element, f.arg)
    if node is None:
        return None
    if f.child_part == "text()":
        text = node.text
        return text.strip() if text is not None else None
    value = node.get(f.child_part[1:])
    return None if value is None else str(value)


class _Plan:
    """The mapping compiled once per process: lookups by path and fast field accessors.

    Records are built positionally, so a block's fields must be listed in the order of its record
    class; that is checked here, once, when the first report is parsed.
    """

    def __init__(self) -> None:
        self.by_element: dict[str, Block] = {b.element: b for b in BLOCKS}
        self.containers: dict[str, list[Block]] = {}
        for block in BLOCKS:
            if block.container:
                self.containers.setdefault(block.container, []).append(block)
        # Every path the mapping knows: record elements, their ancestors, and child elements fields read.
        self.known: set[str] = set()
        self.kept: set[str] = set()  # child elements a record reads at its end: not dropped early
        for block in BLOCKS:
            parts = block.element.split("/")
            for i in range(1, len(parts) + 1):
                self.known.add("/".join(parts[:i]))
            if block.container:
                self.known.add(block.container)
            for f in block.fields:
                if "/" in f.path and not f.path.startswith("../"):
                    child = f"{block.element}/{f.path.split('/', 1)[0]}"
                    self.known.add(child)
                    self.kept.add(child)
            declared = [fld.name for fld in dataclasses.fields(block.record)]
            if declared != [f.name for f in block.fields] + ["extra"]:
                raise ValueError(f"mapping of block {block.name!r} does not follow {block.record.__name__}")
        self.compiled = {b.name: [_compile(f) for f in b.fields] for b in BLOCKS}
        self.steps = {name: tuple(_step(f) for f in fields) for name, fields in self.compiled.items()}
        self.section_fields = [_compile(f) for f in SECTION_FIELDS]
        self.section_attrs = frozenset(f.arg for f in self.section_fields if f.how == "attr")
        self.attr_names = {
            name: frozenset(f.arg for f in fields if f.how == "attr")
            for name, fields in self.compiled.items()
        }
        self.key_index = {
            b.name: next(i for i, f in enumerate(b.fields) if f.name == b.key) for b in BLOCKS if b.key
        }
        self.time_index = {
            b.name: next(i for i, f in enumerate(b.fields) if f.name == b.time_field)
            for b in BLOCKS
            if b.time_field
        }


# How a record's field finds its raw value (`_Step.kind`).
_ATTR, _CHILD_ATTR, _CHILD_TEXT, _OTHER = 0, 1, 2, 3
#: One field of `_Walker._record`: (kind, attribute or child name, the child's attribute, converter (None:
#: the text as it is), required, field name, the compiled field (for `_OTHER`)).
_Step = tuple[int, str, str, "Callable[[str], Any] | None", bool, str, _Field]


def _step(f: _Field) -> _Step:
    """A compiled field as a flat tuple for the record loop (no attribute lookups per field)."""
    convert = None if f.convert is str else f.convert  # lxml gives str already: str() would return it
    if f.how == "attr":
        return (_ATTR, f.arg, "", convert, f.required, f.name, f)
    if f.how == "child":
        if f.child_part == "text()":
            return (_CHILD_TEXT, f.arg, "", convert, f.required, f.name, f)
        return (_CHILD_ATTR, f.arg, f.child_part[1:], convert, f.required, f.name, f)
    return (_OTHER, f.arg, "", convert, f.required, f.name, f)


@functools.cache
def _plan() -> _Plan:
    return _Plan()


class _Walker:
    """Applies the mapping to the event stream of one document."""

    def __init__(self, report: SysinfoReport, limits: Limits, skip: Windows | None = None) -> None:
        self.report = report
        self.limits = limits
        self.skip = skip or {}
        plan = _plan()
        self.by_element = plan.by_element
        self.containers = plan.containers
        self.known = plan.known
        self.kept = plan.kept
        self.compiled = plan.compiled
        self.steps = plan.steps
        self.section_fields = plan.section_fields
        self.section_attrs = plan.section_attrs
        self.attr_names = plan.attr_names
        self.key_index = plan.key_index
        self.time_index = plan.time_index
        self.seen: set[str] = set()
        self.unknown_seen: set[str] = set()
        # Skipping by comparing the raw "YYYY-MM-DD HH:MM:SS" strings with the windows: no datetime is
        # built for the tens of thousands of event rows every hourly report repeats.
        self.fast_skip: dict[str, tuple[str, list[tuple[str, str]], str]] = {}
        for block in BLOCKS:
            windows = self.skip.get(block.name)
            if not windows or block.name not in self.time_index:
                continue
            field = self.compiled[block.name][self.time_index[block.name]]
            if field.how == "attr" and field.convert is _time:
                spans = [(a.strftime(_ISO_SECONDS), b.strftime(_ISO_SECONDS)) for a, b in windows]
                self.fast_skip[block.element] = (field.arg, spans, block.name)

    def run(self, events: Any) -> None:
        # One iteration per element end of a report with hundreds of thousands of elements: attribute
        # lookups are hoisted into locals on purpose. An element's path is its parent's path plus its
        # tag; parents' paths are cached by element (lxml hands out the same proxy while we hold it).
        paths: dict[Any, str] = {}
        known, seen, kept = self.known, self.seen, self.kept
        by_element, containers = self.by_element, self.containers
        report = self.report
        fast_skip = self.fast_skip
        counts = dict.fromkeys((name for _, _, name in fast_skip.values()), 0)
        for _event, element in events:
            tag = element.tag
            if not isinstance(tag, str) or tag[:1] == "{":
                tag = _local(tag)
            parent = element.getparent()
            if parent is None:
                path = tag
            else:
                parent_path = paths.get(parent)
                if parent_path is None:
                    parent_path = self._path_of(parent, paths)
                path = parent_path + "/" + tag
            hit = fast_skip.get(path) if fast_skip else None
            if hit is not None:
                raw = element.get(hit[0])
                if raw is not None and len(raw) == 19 and raw[10] == " ":
                    for start, end in hit[1]:
                        if start <= raw <= end:
                            counts[hit[2]] += 1
                            parent.remove(element)
                            break
                    else:
                        start = ""
                    if start:
                        continue
            if path in known:
                seen.add(path)
                block = by_element.get(path)
                if block is not None:
                    self._record(block, element)
                elif path in containers:
                    self._section(path, element)
                if path in kept:
                    continue  # its record reads it when the record element ends
            else:
                report.unknown_elements += 1
                if path not in self.unknown_seen and len(self.unknown_seen) < MAX_UNKNOWN_PATHS:
                    self.unknown_seen.add(path)
            # Done with it: free its content and unlink it, so the tree never holds more than the
            # records in progress.
            element.clear()
            if parent is not None:
                parent.remove(element)
                paths.pop(element, None)
        report.unknown_paths = sorted(self.unknown_seen)
        for element_path, (_, _, name) in fast_skip.items():
            if counts[name]:
                report.skipped[name] = counts[name]
                seen.add(element_path)  # the block was there, even if every record was skipped

    def _path_of(self, element: Any, paths: dict[Any, str]) -> str:
        """Path of an ancestor (cached); refuses nesting deeper than the limit."""
        chain = []
        node = element
        while node is not None and node not in paths:
            chain.append(node)
            if len(chain) > self.limits.xml_max_depth:
                raise ParseError(
                    "xml-depth",
                    f"XML вложен глубже {self.limits.xml_max_depth} уровней",
                    "the XML is nested too deeply",
                )
            node = node.getparent()
        path = paths[node] if node is not None else ""
        for item in reversed(chain):
            tag = item.tag if isinstance(item.tag, str) else str(item.tag)
            path = f"{path}/{_local(tag)}" if path else _local(tag)
            paths[item] = path
        return path

    def _convert(self, f: _Field, raw: str | None, missing: list[str]) -> Any:
        if raw is None or raw == "":
            if f.required:
                missing.append(f.name)
            return None
        try:
            return f.convert(raw)
        except (ValueError, OverflowError):
            self.report.bad_values += 1
            if f.required:
                missing.append(f.name)
            return None

    def _skipped(self, block: Block, element: Any, windows: Sequence[tuple[datetime, datetime]]) -> bool:
        """True if the record's time lies in a window the caller already has (event blocks only)."""
        f = self.compiled[block.name][self.time_index[block.name]]
        raw = _raw(element, f)
        if not raw:
            return False
        try:
            moment = f.convert(raw)
        except (ValueError, OverflowError):
            return False
        for start, end in windows:
            if start <= moment <= end:
                self.report.skipped[block.name] = self.report.skipped.get(block.name, 0) + 1
                return True
        return False

    def _record(self, block: Block, element: Any) -> None:
        # The hot loop of the parser (one pass per record, a few hundred per steady report, tens of
        # thousands in a first one): kept flat on purpose, the fields as tuples (`_step`).
        name = block.name
        if self.skip:
            windows = self.skip.get(name)
            if windows and name in self.time_index and self._skipped(block, element, windows):
                return
        get = element.get
        values: list[Any] = []
        append = values.append
        missing: list[str] | None = None
        found = 0
        kids: dict[str, Any] | None = None  # child elements by name, looked up once per record
        for kind, arg, sub, convert, required, field_name, field in self.steps[name]:
            if kind == _ATTR:
                raw = get(arg)
                if raw is not None:
                    found += 1
            elif kind == _OTHER:
                raw = _raw(element, field)
            else:
                if kids is None:
                    kids = {}
                    for child in element:
                        if isinstance(child.tag, str):
                            kids.setdefault(_local(child.tag), child)
                node = kids.get(arg)
                if node is None:
                    raw = None
                elif kind == _CHILD_ATTR:
                    raw = node.get(sub)
                else:
                    text = node.text
                    raw = text.strip() if text is not None else None
            if not raw:  # absent or empty
                if required:
                    if missing is None:
                        missing = []
                    missing.append(field_name)
                append(None)
            elif convert is None:
                append(raw)
            else:
                try:
                    append(convert(raw))
                except (ValueError, OverflowError):
                    self.report.bad_values += 1
                    if required:
                        if missing is None:
                            missing = []
                        missing.append(field_name)
                    append(None)
        extra = (
            {}
            if len(element.attrib) == found
            else {k: v for k, v in element.items() if k not in self.attr_names[name]}
        )
        if missing:
            item = values[self.key_index[name]] if block.key else None
            for gap in missing:
                self.report.missing.append(Gap(name, gap, None if item is None else str(item)))
        record = block.record(*values, extra)
        if block.many:
            getattr(self.report, name).append(record)
        elif getattr(self.report, name) is None:
            setattr(self.report, name, record)
        else:
            self.report.warnings.append(f"блок {name} повторяется, использован первый")

    def _section(self, path: str, element: Any) -> None:
        values = {f.name: self._convert(f, _raw(element, f), []) for f in self.section_fields}
        extra = {k: v for k, v in element.items() if k not in self.section_attrs}
        self.report.sections[_local(element.tag)] = Section(**values, extra=extra)

    def finish(self) -> None:
        if ROOT not in self.seen or len(self.seen) <= 1:
            raise ParseError(
                "not-sysinfo",
                f"XML не похож на отчёт sysinfo: нет ожидаемых разделов (ожидается корень <{ROOT}>)",
                "the XML is not a sysinfo report",
            )
        reported: set[str] = set()
        for block in BLOCKS:
            present = (block.container or block.element) in self.seen
            if not present and block.required and block.name not in reported:
                reported.add(block.name)
                self.report.missing.append(Gap(block.name))


def parse_sysinfo_xml(
    data: bytes, limits: Limits | None = None, skip: Windows | None = None, prefilter: bool = True
) -> SysinfoReport:
    """Parse the XML report. Raises ParseError. See `parse_sysinfo` for ``skip`` and ``prefilter``."""
    limits = limits or Limits()
    if len(data) > limits.max_document_bytes:
        raise ParseError("too-large", "XML-отчёт слишком большой", "the XML report is too large")
    cut = sysinfo_cut.cut_known(data, _byte_windows(skip)) if skip and prefilter else None
    if cut is not None:
        # The already-stored records are gone from the bytes; the rest must parse as it would have in
        # the whole document. Anything unexpected (a syntax error, e.g. a range that was not at the
        # container's depth; a container not at its mapped path) parses the whole document instead.
        try:
            report, seen = _parse(cut.data, limits, skip, encoding_of=data)
        except ParseError:
            pass
        else:
            if seen.issuperset(cut.containers):
                for name, count in cut.removed.items():
                    report.skipped[name] = report.skipped.get(name, 0) + count
                return report
    return _parse(data, limits, skip)[0]


def _byte_windows(skip: Windows) -> dict[str, list[tuple[bytes, bytes]]]:
    """Skip windows as canonical ``b"YYYY-MM-DD HH:MM:SS"`` strings, for `sysinfo_cut`."""
    return {
        name: [(a.strftime(_ISO_SECONDS).encode(), b.strftime(_ISO_SECONDS).encode()) for a, b in spans]
        for name, spans in skip.items()
    }


def _parse(
    data: bytes, limits: Limits, skip: Windows | None, encoding_of: bytes | None = None
) -> tuple[SysinfoReport, set[str]]:
    """The report and the mapped paths met in the document (``encoding_of``: see `safexml.open_events`)."""
    report = SysinfoReport()
    walker = _Walker(report, limits, skip)
    events = safexml.open_events(data, report.warnings, encoding_of)
    with safexml.translate_errors():
        walker.run(events)
    walker.finish()
    return report, walker.seen


def _pick_member(data: bytes, limits: Limits) -> str:
    listing = safezip.list_members(data, limits)
    xml = [m for m in listing.members if m.name.lower().endswith(".xml")]
    for wanted in ZIP_MEMBERS:
        for member in xml:
            if member.name.rsplit("/", 1)[-1].lower() == wanted:
                return member.name
    if xml:
        return max(xml, key=lambda m: m.size).name
    if listing.nested:
        raise ParseError(
            "zip-nested",
            f"В архиве только вложенные архивы ({', '.join(listing.nested[:3])}) — они не распаковываются",
            "the archive holds only nested archives, which are not opened",
        )
    raise ParseError("zip-no-report", "В архиве нет XML-отчёта sysinfo", "no sysinfo XML in the archive")


def parse_sysinfo(
    data: bytes, limits: Limits | None = None, skip: Windows | None = None, prefilter: bool = True
) -> SysinfoReport:
    """Parse a sysinfo upload, ZIP or XML by content. Raises ParseError.

    ``skip`` maps event blocks (those with a `Block.time_field`: refusals, logins, usage, searches) to
    closed windows of the report's local time whose records the caller has already stored; those records
    are not built, only counted in `SysinfoReport.skipped`. Every hourly report repeats days of events, so
    this is most of the work saved on a steady stream. With ``prefilter`` (the default) they are cut out
    of the bytes before parsing where `sysinfo_cut` can do that safely, otherwise skipped during the walk;
    the result is the same (the tests compare the two).
    """
    limits = limits or Limits()
    kind = sniff(data)
    if kind == "text":
        raise ParseError(
            "not-sysinfo",
            "Файл не является отчётом sysinfo (ожидается ZIP-архив или XML)",
            "not a sysinfo report (expected a ZIP archive or XML)",
        )
    if kind == "xml":
        return parse_sysinfo_xml(data, limits, skip, prefilter)
    member = _pick_member(data, limits)
    content = safezip.read_member(data, member, limits)
    report = parse_sysinfo_xml(content, limits, skip, prefilter)
    report.member = member
    return report
