"""Run an ASGI app with uvicorn the way `smart serve` does (graceful SIGTERM included).

On SIGTERM or SIGINT uvicorn stops accepting connections, lets in-flight requests finish (up to
``shutdown_timeout``), then runs the app's lifespan shutdown, which stops the scheduler after its
running jobs finish.
"""

from __future__ import annotations

import gc
import logging
import signal
from types import FrameType

import uvicorn
from fastapi import FastAPI

from kodeks_smart.config import ConfigError, Settings
from kodeks_smart.runtime import Services
from kodeks_smart.store import admin, migrate

log = logging.getLogger(__name__)


def freeze_heap() -> None:
    """Move everything alive after start-up (modules, the ORM's mappers, compiled templates, settings) out
    of the garbage collector's reach. A dashboard request makes hundreds of thousands of objects, which
    triggers full collections; each walked the whole start-up heap too (0.1–0.15 s per request of the
    large dashboards). Frozen objects are still freed by reference counting."""
    gc.collect()
    gc.freeze()


def run(app: FastAPI, settings: Settings) -> None:
    freeze_heap()
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=max(1, int(settings.shutdown_timeout)),
        server_header=False,
    )
    # uvicorn re-raises the signal that stopped it once shutdown is complete, restoring the handler
    # that was installed before it started. A no-op handler there turns a completed graceful
    # shutdown into a normal exit (status 0) instead of death by SIGTERM.
    previous = {sig: signal.signal(sig, _graceful_exit) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        uvicorn.Server(config).run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _graceful_exit(signum: int, frame: FrameType | None) -> None:
    log.info("stopped by signal %s", signal.Signals(signum).name)


def prepare(settings: Settings) -> tuple[Services, admin.InitialAdmin | None]:
    """Open the store, bring the schema up to date (or insist it is) and create the first operator.

    Returns the services and, on the very first start only, the operator's login and password.
    """
    services = Services.open(settings)
    if settings.auto_migrate:
        migrate.upgrade(services.db)
    elif not migrate.is_current(services.db):
        services.close()
        raise ConfigError("схема базы данных устарела: выполните `smart db upgrade`")
    with services.db.write() as s:
        initial = admin.ensure_initial_admin(s, services.hashing, settings.data_path)
    return services, initial
