"""How fast this machine runs Python right now: a fixed workload, timed in CPU seconds.

The benchmarks report CPU time per report or per page, which other load on the machine distorts less
than wall time — but not the speed of the core itself: the same tree measured 1.7–2.5× apart on
different days of the shared 2-core machine. Each benchmark prints this reference first, so that
figures of different days can be compared in proportion to it (a run whose reference is twice as long
ran on a core about half as fast).

The workload mixes what the services spend their time on — a Python loop over tuples, dict and string
work, a regular expression over text, zlib and JSON — and is the same in every version of this file:
change it and the figures printed before stop being comparable.
"""

from __future__ import annotations

import json
import re
import time
import zlib

_WORDS = re.compile(rb'<u login="([^"]+)" at="(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)"')


def _workload() -> int:
    rows = [(f"user{i % 997}", i, i * 7 % 13) for i in range(60_000)]
    totals: dict[str, int] = {}
    for login, n, k in rows:
        totals[login] = totals.get(login, 0) + n * k
    text = b"".join(
        b'<u login="%s" at="2026-11-%02d %02d:%02d:00"/>' % (login.encode(), 1 + n % 28, n % 24, n % 60)
        for login, n, _ in rows[:20_000]
    )
    found = len(_WORDS.findall(text))
    packed = zlib.compress(text, 6)
    data = json.dumps(sorted(totals.items())[:2_000])
    return found + len(zlib.decompress(packed)) + len(json.loads(data))


def reference_ms(repeat: int = 5) -> float:
    """The CPU milliseconds of the fixed workload: the best of ``repeat`` runs (the least disturbed)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        _workload()
        best = min(best, time.process_time() - t0)
    return round(1000 * best, 1)


def describe() -> str:
    """One line for a benchmark's output."""
    return (
        f"machine reference: {reference_ms()} ms CPU for the fixed workload of bench/machine.py"
        " (compare figures of different runs in proportion to it)"
    )


if __name__ == "__main__":
    print(describe())
