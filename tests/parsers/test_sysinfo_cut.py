"""The byte-level pre-filter (`sysinfo_cut`) against the walk it shortcuts.

The one property that matters: parsing with the pre-filter gives exactly the report parsing without it
gives — the same records, gaps, sections, counts and skip counts — for well-behaved reports (where it
cuts nearly everything already stored) and for shuffled, unsorted and hostile ones (where it must cut
less or nothing, never a record that is not already stored).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from kodeks_smart.parsers import sysinfo_cut
from kodeks_smart.parsers.errors import ParseError
from kodeks_smart.parsers.sysinfo import Windows, parse_sysinfo, parse_sysinfo_xml
from kodeks_smart.parsers.sysinfo_records import SysinfoReport
from kodeks_smart.simulator.sysinfo import SysinfoProfile, generate_xml, generate_zip

EVENT_BLOCKS = ("refusals", "logins", "usage", "searches")
CONTAINERS = {"refusals": "refusals", "logins": "logins", "usage": "usage", "searches": "searches"}
_STAMP = re.compile(rb'(?:time|start)="(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)"')


def _report(seed: int = 0, users: int = 12, days: int = 3) -> bytes:
    return generate_xml(
        SysinfoProfile(f"cut{seed}", users=users, days=days, seed=seed, scenarios=frozenset())
    )


def _times(data: bytes) -> list[datetime]:
    """The canonical event times of a report, sorted (broken ones left out; the late 2099 one too)."""
    out = []
    for raw in _STAMP.findall(data):
        try:
            moment = datetime.fromisoformat(raw.decode())
        except ValueError:
            continue
        if moment.year < 2099:
            out.append(moment)
    return sorted(out)


def _windows(data: bytes, rng: random.Random) -> Windows:
    """Windows as the consumer builds them: from before the first event to a point in the log (sometimes
    two windows with a hole, sometimes none for a block)."""
    times = _times(data)
    first, last = times[0] - timedelta(hours=1), times[-1]
    windows: dict[str, list[tuple[datetime, datetime]]] = {}
    for block in EVENT_BLOCKS:
        kind = rng.random()
        if kind < 0.1:
            continue
        end = first + (last - first) * rng.uniform(0.2, 1.1)
        if kind < 0.25:
            hole = first + (end - first) * rng.uniform(0.2, 0.8)
            windows[block] = [(first, hole), (hole + timedelta(hours=2), end)]
        else:
            windows[block] = [(first, end)]
    return windows


def _assert_same(data: bytes, skip: Windows) -> SysinfoReport:
    whole = _parse_or_error(lambda: parse_sysinfo_xml(data, skip=skip, prefilter=False))
    cut = _parse_or_error(lambda: parse_sysinfo_xml(data, skip=skip))
    assert cut == whole
    assert isinstance(cut, SysinfoReport)
    return cut


def _parse_or_error(parse: Callable[[], SysinfoReport]) -> SysinfoReport | tuple[str, str]:
    try:
        return parse()
    except ParseError as exc:
        return ("error", exc.code)


def _container_lines(data: bytes, block: str) -> tuple[list[bytes], int, int]:
    """The lines of the document, and the index range of one container's record lines (the generator
    writes one record per line)."""
    lines = data.split(b"\n")
    tag = CONTAINERS[block].encode()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith(b"<" + tag))
    end = next(i for i in range(start, len(lines)) if lines[i].lstrip().startswith(b"</" + tag + b">"))
    return lines, start + 1, end


# -- mutations of a well-behaved report: each keeps the document well-formed ------------------------------


def _shuffle(data: bytes, rng: random.Random, block: str) -> bytes:
    lines, a, b = _container_lines(data, block)
    body = lines[a:b]
    rng.shuffle(body)
    return b"\n".join(lines[:a] + body + lines[b:])


def _swap_one(data: bytes, rng: random.Random, block: str) -> bytes:
    """A single late record among old ones (the hardest case for probes to notice)."""
    lines, a, b = _container_lines(data, block)
    if b - a < 2:
        return data
    i, j = rng.randrange(a, b), b - 1 - rng.randrange(0, max(1, (b - a) // 10))
    lines[i], lines[j] = lines[j], lines[i]
    return b"\n".join(lines)


def _new_in_old(data: bytes, rng: random.Random, block: str) -> bytes:
    """A record of a time after every window, placed among already-stored records."""
    lines, a, b = _container_lines(data, block)
    if b == a:
        return data
    line = _STAMP.sub(lambda m: m.group(0).replace(m.group(1), b"2099-01-01 00:00:00"), lines[a], count=1)
    lines.insert(rng.randrange(a, b), line)
    return b"\n".join(lines)


def _odd_markup(data: bytes, rng: random.Random, block: str) -> bytes:
    lines, a, b = _container_lines(data, block)
    odd = rng.choice(
        [
            b"<!-- a comment among the records -->",
            b"<?pi something?>",
            b"<unknownThing a='1'/>",
            b"<![CDATA[ <" + CONTAINERS[block].encode() + b"> ]]>",
        ]
    )
    lines.insert(rng.randrange(a, b + 1), odd)
    return b"\n".join(lines)


def _attribute_order(data: bytes, rng: random.Random, block: str) -> bytes:
    """The time attribute no longer first on some record: the pre-filter does not recognise it."""
    lines, a, b = _container_lines(data, block)
    if b == a:
        return data
    i = rng.randrange(a, b)
    lines[i] = re.sub(rb'<(\w+) ((?:time|start)="[^"]*") ', rb'<\1 x="1" \2 ', lines[i], count=1)
    return b"\n".join(lines)


def _odd_time(data: bytes, rng: random.Random, block: str) -> bytes:
    """Times in other accepted forms (ISO T, Russian) or broken: the walk converts or counts them."""
    lines, a, b = _container_lines(data, block)
    if b == a:
        return data
    i = rng.randrange(a, b)
    form = rng.choice([b"%Y-%m-%dT%H:%M:%S", b"%d.%m.%Y %H:%M:%S", b"broken"])

    def rewrite(m: re.Match[bytes]) -> bytes:
        moment = datetime.fromisoformat(m.group(1).decode())
        text = b"2026-99-99 99:99:99" if form == b"broken" else moment.strftime(form.decode()).encode()
        return m.group(0).replace(m.group(1), text)

    lines[i] = _STAMP.sub(rewrite, lines[i], count=1)
    return b"\n".join(lines)


def _nested(data: bytes, rng: random.Random, block: str) -> bytes:
    """A record inside another record (an unknown element there, counted by the walk)."""
    lines, a, b = _container_lines(data, block)
    if b == a:
        return data
    i = rng.randrange(a, b)
    inner = lines[i].strip()
    if inner.endswith(b"/>"):
        tag = re.match(rb"\s*<(\w+)", lines[i])
        assert tag is not None
        lines[i] = lines[i][: lines[i].rfind(b"/>")] + b">" + inner + b"</" + tag.group(1) + b">"
    else:
        lines[i] = lines[i].replace(b">", b">" + inner, 1)
    return b"\n".join(lines)


def _second_container(data: bytes, rng: random.Random, block: str) -> bytes:
    """The container twice (the walk reads both)."""
    lines, a, b = _container_lines(data, block)
    copy = lines[a - 1 : b + 1]
    return b"\n".join(lines[: b + 1] + copy + lines[b + 1 :])


MUTATIONS = [
    _shuffle,
    _swap_one,
    _new_in_old,
    _odd_markup,
    _attribute_order,
    _odd_time,
    _nested,
    _second_container,
]


def test_a_steady_report_is_cut_to_a_fraction_and_parses_the_same() -> None:
    data = _report(users=20, days=5)
    times = _times(data)
    # What an hourly report repeats: everything but its last hour.
    skip = {block: [(times[0], times[-1] - timedelta(hours=1))] for block in EVENT_BLOCKS}
    as_bytes = {
        b: [(s.isoformat(" ").encode(), e.isoformat(" ").encode()) for s, e in w] for b, w in skip.items()
    }
    cut = sysinfo_cut.cut_known(data, as_bytes)
    assert cut is not None
    assert len(cut.data) < len(data) / 3
    assert set(cut.removed) == {"logins", "usage", "searches"} or set(cut.removed) == set(EVENT_BLOCKS)
    report = _assert_same(data, skip)
    assert report.skipped["searches"] > 100
    assert report.searches  # the last hour is there
    # The ZIP path takes the same route.
    zipped = generate_zip(SysinfoProfile("cut0", users=20, days=5, seed=0, scenarios=frozenset()))
    assert parse_sysinfo(zipped, skip=skip) == parse_sysinfo(zipped, skip=skip, prefilter=False)


@pytest.mark.parametrize("seed", range(40))
def test_shuffled_unsorted_and_hostile_reports_parse_the_same_with_and_without_the_prefilter(
    seed: int,
) -> None:
    rng = random.Random(seed)
    data = _report(seed=seed % 5)
    for _ in range(rng.randint(1, 3)):
        data = rng.choice(MUTATIONS)(data, rng, rng.choice(EVENT_BLOCKS))
    for _ in range(3):
        _assert_same(data, _windows(data, rng))


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.__name__.strip("_"))
def test_each_oddity_parses_the_same(mutation: Callable[[bytes, random.Random, str], bytes]) -> None:
    rng = random.Random(7)
    base = _report(seed=1)
    times = _times(base)
    skip = {block: [(times[0], times[-1] - timedelta(hours=2))] for block in EVENT_BLOCKS}
    for block in EVENT_BLOCKS:
        _assert_same(mutation(base, rng, block), skip)


def test_a_late_record_among_stored_ones_is_never_cut() -> None:
    data = _new_in_old(_report(seed=2), random.Random(3), "searches")
    times = _times(data)
    skip = {"searches": [(times[0], datetime(2098, 1, 1))]}
    report = _assert_same(data, skip)
    assert [s.time for s in report.searches] == [datetime(2099, 1, 1)]


def test_a_record_start_without_a_canonical_time_leaves_its_block_uncut() -> None:
    data = _report(seed=4)
    lines, a, b = _container_lines(data, "usage")
    middle = (a + b) // 2
    iso = _STAMP.sub(lambda m: m.group(0).replace(m.group(1)[10:11], b"T"), lines[middle], count=1)
    assert iso != lines[middle]
    lines[middle] = iso
    odd = b"\n".join(lines)
    times = _times(odd)
    skip = {block: [(times[0], times[-1] - timedelta(hours=1))] for block in EVENT_BLOCKS}
    as_bytes = {
        b: [(s.isoformat(" ").encode(), e.isoformat(" ").encode()) for s, e in w] for b, w in skip.items()
    }
    cut = sysinfo_cut.cut_known(odd, as_bytes)
    assert cut is not None and "searches" in cut.removed
    assert "usage" not in cut.removed  # the ISO "T" record lies inside the range: nothing of usage is cut
    report = _assert_same(odd, skip)
    assert report.skipped["usage"] > 0  # the walk skips them instead


def test_a_cdata_section_holding_a_container_stops_the_prefilter() -> None:
    data = _report(seed=3)
    times = _times(data)
    skip = {block: [(times[0], times[-1])] for block in EVENT_BLOCKS}
    record = b'<search time="' + times[0].isoformat(" ").encode() + b'"/>'
    fake = b'<![CDATA[<searches count="2">' + record + record + b"]]>"
    hostile = data.replace(b"<message>", b"<message>" + fake, 1)
    assert hostile != data
    # Cutting inside the section would change the protection message: nothing is cut.
    assert sysinfo_cut.cut_known(hostile, {"searches": [(b"0000", b"9999")]}) is None
    report = _assert_same(hostile, skip)
    assert report.protection is not None and report.protection.message is not None
    assert report.protection.message.startswith('<searches count="2">' + record.decode() * 2)


def test_a_cdata_section_between_two_cuts_stops_the_prefilter_and_one_after_the_last_does_not() -> None:
    """Only the bytes outside the cut ranges are searched for a CDATA start (a range holds record tags
    alone): one in the gap between the usage and the searches ranges must still stop every cut, one after
    the last range must not."""
    data = _report(seed=5)
    times = _times(data)
    skip = {block: [(times[0], times[-1])] for block in EVENT_BLOCKS}
    every = {block: [(b"0000", b"9999")] for block in EVENT_BLOCKS}
    plain = sysinfo_cut.cut_known(data, every)
    assert plain is not None and {"usage", "searches"} <= set(plain.removed)
    section = b"<note><![CDATA[ a < b ]]></note>"
    assert data.index(b"</usage>") < data.index(b"<searches")
    between = data.replace(b"<searches", section + b"<searches", 1)
    assert sysinfo_cut.cut_known(between, every) is None
    _assert_same(between, skip)
    after = data.replace(b"</searches>", b"</searches>" + section, 1)
    cut = sysinfo_cut.cut_known(after, every)
    assert cut is not None and cut.removed == plain.removed
    _assert_same(after, skip)


def test_encodings_that_are_not_ascii_compatible_are_not_cut() -> None:
    data = _report(seed=4)
    times = _times(data)
    skip = {block: [(times[0], times[-1])] for block in EVENT_BLOCKS}
    utf16 = data.decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    assert sysinfo_cut.cut_known(utf16, {"searches": [(b"0000", b"9999")]}) is None
    assert _assert_same(utf16, skip).skipped == _assert_same(data, skip).skipped


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d[: len(d) * 2 // 3],  # truncated
        lambda d: d.replace(b"</searches>", b"</searchez>"),  # malformed after the cut
        lambda d: d.replace(
            b'<?xml version="1.0" encoding="UTF-8"?>', b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>'
        ),
    ],
    ids=["truncated", "malformed", "dtd"],
)
def test_broken_and_hostile_documents_fail_the_same_way(damage: Callable[[bytes], bytes]) -> None:
    data = damage(_report(seed=0))
    times = _times(data)
    skip = {block: [(times[0], times[-1])] for block in EVENT_BLOCKS}
    whole = _parse_or_error(lambda: parse_sysinfo_xml(data, skip=skip, prefilter=False))
    cut = _parse_or_error(lambda: parse_sysinfo_xml(data, skip=skip))
    assert isinstance(whole, tuple)
    assert cut == whole
