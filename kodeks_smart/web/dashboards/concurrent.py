"""Building the independent parts of one dashboard page at the same time.

A page such as «Для менеджеров» is a dozen reads that do not depend on each other (per-user peaks,
refusals, activity, OperUp…), and most of their time is spent in the database: in SQLite's C code, which
runs without Python's global interpreter lock, or in a PostgreSQL backend process. Run one after another,
a page's time is the sum of its parts; `build_concurrently` runs them on the page's own thread and on
helper threads, each helper reading through a session (and connection) of its own, so that a page takes
about the time of its longest parts instead.

* Work sharing, not a thread per part: the parts wait in one queue in the order given (longest first is
  best); the page's thread and the helpers take the next one until none is left. A helper that starts
  after the queue ran empty (all helpers busy with other pages) opens no connection and does nothing,
  so a busy server never makes a page wait for a helper: the page's own thread does the rest.
* The helpers are one process-wide pool of ``SMART_DASHBOARD_THREADS`` − 1 threads: at most that many
  extra database connections, whatever the number of pages being built.
* A helper's session reads the same cabinet through the same scope (`View.on_session`); its transaction
  is its own, so with ingest writing at the same time a part may see a report that arrived a moment after
  the page's first read (as the panels of a Grafana dashboard, each queried on its own, do).
* Sequential — the same results, in the same order — with ``SMART_DASHBOARD_THREADS=1``, for an in-memory
  SQLite database (one connection shared by all sessions), and inside a helper (no nesting).
* An exception of a part is raised to the caller once every started part has finished (the first one
  in the parts' order when several fail); the parts not yet started are then skipped.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kodeks_smart.web.dashboards.framework import View

#: A part of a page: gets the view to read through (the page's own or a helper's) and returns anything.
Part = Callable[["View"], Any]

_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()
_HELPER = threading.local()


def _pool(helpers: int) -> ThreadPoolExecutor:
    """The process-wide pool of ``helpers`` threads, the configured `helpers_for` whatever a page's number
    of parts (one pool per configured size: tests use several)."""
    with _POOLS_LOCK:
        pool = _POOLS.get(helpers)
        if pool is None:
            pool = _POOLS[helpers] = ThreadPoolExecutor(helpers, thread_name_prefix="smart-dashboard")
        return pool


def helpers_for(view: View) -> int:
    """How many helper threads a page of ``view`` may use (0: build its parts one after another)."""
    services = view.page.services
    if getattr(_HELPER, "active", False) or not services.db.concurrent_reads:
        return 0
    return max(0, services.settings.dashboard_threads - 1)


def build_concurrently(view: View, parts: Sequence[Part]) -> list[Any]:
    """The results of ``parts``, each called with a view to read through, in the order of ``parts``."""
    size = helpers_for(view)
    helpers = min(size, len(parts) - 1)
    if helpers <= 0:
        return [part(view) for part in parts]
    queue = deque(enumerate(parts))
    results: list[Any] = [None] * len(parts)
    failures: list[tuple[int, BaseException]] = []

    def drain(through: View) -> None:
        while not failures:
            try:
                index, part = queue.popleft()  # atomic: each part is taken by one thread only
            except IndexError:
                return
            try:
                results[index] = part(through)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the page's thread below
                failures.append((index, exc))

    def helper() -> None:
        if not queue or failures:
            return  # nothing left: no connection opened
        _HELPER.active = True
        try:
            with view.page.services.db.session() as session:
                drain(view.on_session(session))
        finally:
            _HELPER.active = False

    pool = _pool(size)
    started: list[Future[None]] = [pool.submit(helper) for _ in range(helpers)]
    drain(view)
    for future in started:
        if not future.cancel():  # a helper that has not started is not waited for
            future.result()  # re-raises what opening or closing its session raised
    if failures:
        raise min(failures, key=lambda f: f[0])[1]
    return results
