"""asyncio helpers shared by the service's loops."""

from __future__ import annotations

import asyncio


def set_event_threadsafe(loop: asyncio.AbstractEventLoop | None, event: asyncio.Event | None) -> None:
    """Set ``event`` (owned by ``loop``) from any thread; nothing when the loop is gone."""
    if loop is None or event is None or loop.is_closed():
        return
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        event.set()
    else:
        loop.call_soon_threadsafe(event.set)
