"""Cutting already-stored event records out of a sysinfo report's bytes, before libxml2 sees them.

Every hourly report repeats up to a month of events (searches, usage hours, logins, refusals) that the
reports before it already stored: about nine tenths of a typical 2.8 MB report. Skipping those records in
the walk (`sysinfo._Walker`) still leaves libxml2 building every one of their elements, which was most of the
CPU of a steady report. This module removes them from the bytes instead, at C speed (``bytes.find`` and
two compiled regular-expression scans per block), so libxml2 parses only what is new.

What is cut, per event block with skip windows (`Block.time_field`, an attribute of canonical time
``YYYY-MM-DD HH:MM:SS``, the record a direct child of its container):

1. the container's start tag is found (its tag must occur exactly once in the document, and not be empty);
2. a binary search over byte offsets (``O(log n)`` probes, each reading the time of the next record start)
   finds the first record whose time is past the end of the skip window that holds the first record —
   this assumes the log is in time order, which step 3 verifies rather than trusts;
3. the candidate range, from the end of the container's start tag to that record (or to the first other
   markup in the container), is accepted only if
   * every ``<`` in it opens a record whose **first** attribute is the time in canonical form, or closes a
     record: no other element, comment, CDATA or processing instruction, and
   * the smallest and the largest of those times both lie in that one skip window
   (one scan finds the first markup that is neither a record start nor a record end, or an end right
   after an end; a second collects the time of every record start in the range, and one that is not in
   canonical form leaves the block uncut),
   so every record removed is one the walker would itself have skipped as already stored; records out of
   order, another attribute order or any other markup leave the block uncut (only slower, never wrong).

Documents that are not in an ASCII-compatible encoding, or that have a CDATA section before a range to cut (a
CDATA section could hold text that looks like a container; a CDATA section inside a range is markup that step
3 refuses, so only the bytes outside the ranges are searched for one), are not cut at all. Records that nest
(a record element inside a record) leave their block uncut as well: the walk counts the inner ones as unknown
elements. The caller parses the cut document and falls back to the whole one when the result is not what a cut
can give: a syntax error (a range that was not at the container's depth, e.g. nested same-name records) or a
container not seen at its mapped path. What is lost by cutting: a syntax error *inside* the removed records (a
broken attribute, an undefined entity) is not noticed, because those bytes are never parsed; the records were
stored by an earlier report, so nothing they hold is lost.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

from kodeks_smart.parsers.content import bom_encoding
from kodeks_smart.parsers.safexml import declared_encoding
from kodeks_smart.parsers.sysinfo_mapping import BLOCKS, Block

__all__ = ["Cut", "CutPlan", "cut_known", "cut_plans"]

#: Encodings in which the bytes ``<``, ``"``, digits and ASCII letters always stand for themselves.
_ASCII_SAFE = frozenset(
    {
        "utf-8",
        "utf8",
        "us-ascii",
        "ascii",
        "windows-1251",
        "cp1251",
        "koi8-r",
        "koi8-u",
        "cp866",
        "iso-8859-1",
        "iso-8859-5",
        "latin-1",
        "latin1",
        "windows-1252",
        "cp1252",
    }
)
_TIME = rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
_TIME_LEN = 19


@dataclasses.dataclass(frozen=True, slots=True)
class CutPlan:
    """How to find one event block's records in the bytes, compiled from the mapping."""

    block: str
    container_path: str
    container_open: bytes  # b"<searches"
    container_close: bytes  # b"</searches>"
    record_open: bytes  # b'<search time="'
    record_close: bytes  # b"</search>"
    #: Every record start: its canonical time and the closing quote (``b'2026-11-25 14:00:00"'``), or
    #: ``b""`` where the time is not in canonical form.
    times: re.Pattern[bytes]
    #: Any "<" that is neither a record start (``record_open``) nor a record end — or a record end right
    #: after another record end (records nested in records): one scan for both. Whether the record starts
    #: have canonical times is `times`' part (checking it here too made this scan twice as slow).
    foreign: re.Pattern[bytes]
    #: A record end right after an empty record: a record nested in a record.
    nested: re.Pattern[bytes]


@dataclasses.dataclass(frozen=True, slots=True)
class Cut:
    """The document with already-stored records removed."""

    data: bytes
    #: Block name -> records removed.
    removed: dict[str, int]
    #: Mapped container paths that must be seen when the cut document is parsed.
    containers: tuple[str, ...]


def _plan(block: Block) -> CutPlan | None:
    if not block.time_field or not block.container:
        return None
    field = next(f for f in block.fields if f.name == block.time_field)
    if field.type != "time" or not field.path.startswith("@") or "/" in field.path:
        return None
    container, _, record = block.element.rpartition("/")
    if container != block.container or not record:
        return None
    ctag = container.rsplit("/", 1)[-1].encode()
    rtag = record.encode()
    attr = field.path[1:].encode()
    start = b"<" + rtag + b" " + attr + b'="'
    end = b"</" + rtag + b">"
    return CutPlan(
        block=block.name,
        container_path=container,
        container_open=b"<" + ctag,
        container_close=b"</" + ctag + b">",
        record_open=start,
        record_close=end,
        nested=re.compile(b"/>[^<]*" + re.escape(end)),
        times=re.compile(re.escape(start) + b"(" + _TIME + b'"|)'),
        foreign=re.compile(
            b"<(?:(?!"
            + re.escape(start[1:])
            + b"|"
            + re.escape(end[1:])
            + b")|"
            + re.escape(end[1:])
            + b"[^<]*"
            + re.escape(end)
            + b")"
        ),
    )


def cut_plans() -> dict[str, CutPlan]:
    """Plans of the event blocks the mapping allows to cut (all four of the format document)."""
    plans = {}
    for block in BLOCKS:
        plan = _plan(block)
        if plan is not None:
            plans[block.name] = plan
    return plans


_PLANS = cut_plans()


def _cuttable_encoding(data: bytes) -> bool:
    encoding, _ = bom_encoding(data)
    if encoding is not None and encoding != "utf-8":
        return False
    declared = declared_encoding(data)
    return declared is None or declared in _ASCII_SAFE


def _container(data: bytes, plan: CutPlan) -> int | None:
    """Offset just past the container's start tag, or None if it is not cleanly found. (The caller
    makes sure no CDATA section starts before it.)"""
    opened = data.find(plan.container_open)
    if opened < 0:
        return None
    after = opened + len(plan.container_open)
    if data[after : after + 1] not in (b" ", b">", b"\n", b"\t", b"\r"):
        return None  # a longer name (<searchesX): not worth looking further
    tag_end = data.find(b">", after)
    if tag_end < 0 or data[tag_end - 1 : tag_end] == b"/":
        return None  # no end, or an empty <searches/>
    tag = data[opened:tag_end]
    if tag.count(b'"') % 2 or b"'" in tag or b"<" in tag[1:]:
        return None  # a ">" inside a quoted attribute value: the start tag's end is not where it seems
    return tag_end + 1


def _window(moment: bytes, windows: Sequence[tuple[bytes, bytes]]) -> tuple[bytes, bytes] | None:
    for start, end in windows:
        if start <= moment <= end:
            return start, end
    return None


def _boundary(data: bytes, plan: CutPlan, lo: int, end: int, last: bytes) -> int:
    """Offset of the first record start in [lo, end) whose time is after ``last`` (``end`` if none),
    assuming time order; O(log n) probes."""
    opener = plan.record_open
    skip = len(opener)
    hi = end
    while lo < hi:
        mid = (lo + hi) // 2
        found = data.find(opener, mid, end)
        if found < 0 or data[found + skip : found + skip + _TIME_LEN] > last:
            hi = mid
        else:
            lo = mid + 1
    found = data.find(opener, lo, end)
    return end if found < 0 else found


def _cut_block(data: bytes, plan: CutPlan, windows: Sequence[tuple[bytes, bytes]]) -> tuple[int, int, int]:
    """(start, end, records) of the range of ``plan``'s block that may be removed; records 0 = none."""
    content = _container(data, plan)
    if content is None:
        return 0, 0, 0
    # The range can reach at most to the first markup that is not a record start or end: normally the
    # container's end tag. Anything else in between (a comment, another element) ends it there too.
    other = plan.foreign.search(data, content)
    if other is None:
        return 0, 0, 0
    close = other.start()
    if data.startswith(plan.record_close, close):
        return 0, 0, 0  # a record end right after another: records nest (leave the block to the walk)
    if not data.startswith(plan.container_close, close):
        close = data.rfind(plan.record_open, content, close)  # the record the odd markup is in is kept
        if close < 0:
            return 0, 0, 0
    first = data.find(plan.record_open, content, close)
    if first < 0:
        return 0, 0, 0
    moment = data[first + len(plan.record_open) : first + len(plan.record_open) + _TIME_LEN]
    window = _window(moment, windows)
    if window is None:
        return 0, 0, 0
    boundary = _boundary(data, plan, first, close, window[1])
    # Verify instead of trusting the order: every record in the range must have a canonical time (no
    # b"") and lie in the window (the times carry their closing quote; so do the bounds compared).
    times = plan.times.findall(data, content, boundary)
    if not times or b"" in times or min(times) < window[0] + b'"' or max(times) > window[1] + b'"':
        return 0, 0, 0
    # With only record tags in the range, records can nest only if some have an end tag; a nested
    # one ends its parent right after its own end (an element inside a record is an unknown element,
    # counted as such by the walker: leave such a block to it). An end right after an end stopped the
    # range above (`CutPlan.foreign`); an end right after an empty record is looked for here.
    if data.find(plan.record_close, content, boundary) >= 0 and plan.nested.search(data, content, boundary):
        return 0, 0, 0
    return content, boundary, len(times)


def cut_known(data: bytes, skip: Mapping[str, Sequence[tuple[bytes, bytes]]]) -> Cut | None:
    """Remove the records of ``skip``'s blocks whose times lie in its windows (canonical time strings,
    ``b"YYYY-MM-DD HH:MM:SS"``, closed), where that can be done safely. None: nothing was cut."""
    if not skip or not _cuttable_encoding(data):
        return None
    ranges: list[tuple[int, int]] = []
    removed: dict[str, int] = {}
    containers: list[str] = []
    for name, windows in skip.items():
        plan = _PLANS.get(name)
        if plan is None or not windows:
            continue
        start, end, records = _cut_block(data, plan, windows)
        if records:
            ranges.append((start, end))
            removed[name] = records
            containers.append(plan.container_path)
    if not ranges:
        return None
    ranges.sort()
    # A CDATA section before a cut could hold the container's tag as text: cutting there would change
    # the text of whatever holds that section. Only the bytes between the cuts need looking at: a range
    # holds record tags and nothing else (a CDATA start is other markup, which ends a range before it) —
    # a tenth of the document instead of all of it up to the last cut.
    pos = 0
    for start, end in ranges:
        if data.find(b"<![CDATA[", pos, start) >= 0:
            return None
        pos = max(pos, end)
    parts: list[bytes] = []
    pos = 0
    for start, end in ranges:
        if start < pos:
            return None  # overlapping containers: something is odd, cut nothing
        parts.append(data[pos:start])
        pos = end
    parts.append(data[pos:])
    return Cut(b"".join(parts), removed, tuple(containers))
