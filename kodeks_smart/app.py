"""`create_app(services)`: the only place that wires the whole service together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from kodeks_smart import jobs
from kodeks_smart.cluster import Membership
from kodeks_smart.ingest import routes as ingest_routes
from kodeks_smart.ingest.consumer import wakeup_for
from kodeks_smart.ingest.listen import QueueListener
from kodeks_smart.ingest.telemetry import metrics_for
from kodeks_smart.notify import worker as notify_worker
from kodeks_smart.probes.runner import ProbeRunner
from kodeks_smart.runtime import Services
from kodeks_smart.scheduler import Scheduler
from kodeks_smart.web import admin_api, api, asrp_pages, cabinet, errors, notify_pages, selfservice, system
from kodeks_smart.web import dashboards as dashboard_pages
from kodeks_smart.web import reports_pages as report_pages
from kodeks_smart.web import runbooks as runbook_pages
from kodeks_smart.web.middleware import RequestContextMiddleware

log = logging.getLogger(__name__)

Role = Literal["all", "api", "worker"]


def build_scheduler(services: Services) -> Scheduler:
    scheduler = Scheduler(services.db, services.registry)
    for job in jobs.default_jobs(services):
        scheduler.add(job)
    return scheduler


def _membership(services: Services) -> Membership | None:
    """Dynamic sharding unless a static shard is configured (SMART_PROBE_SHARD / --shard)."""
    settings = services.settings
    if settings.probe_shard.strip():
        return None
    return Membership(services.db, settings.worker_name, ttl=settings.worker_ttl)


def create_app(services: Services, role: Role = "all") -> FastAPI:
    """Build the ASGI app. The scheduler runs inside it for roles ``all`` and ``worker``."""
    run_scheduler = role in ("all", "worker") and services.settings.scheduler
    scheduler = build_scheduler(services) if run_scheduler else None
    probe_runner = (
        ProbeRunner(services, membership=_membership(services))
        if run_scheduler and services.settings.probes
        else None
    )

    # Other processes' uploads wake this one's queue consumer at once (PostgreSQL; SQLite is one process).
    listener = (
        QueueListener(
            services.db, wakeup_for(services.db), metrics_for(services.registry, services.db).listening
        )
        if scheduler is not None and not services.db.is_sqlite
        else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if listener is not None:
            await listener.start()
        if scheduler is not None:
            await scheduler.start()
        if probe_runner is not None:
            await probe_runner.start()
        try:
            yield
        finally:
            if probe_runner is not None:
                await probe_runner.stop(grace=services.settings.shutdown_timeout)
            if scheduler is not None:
                # The delivery loop would otherwise wait out its run before the scheduler can stop.
                notify_worker.stop(services)
                await scheduler.stop(grace=services.settings.shutdown_timeout)
            if listener is not None:
                await listener.stop()
            await asyncio.to_thread(services.db.engine.dispose)

    app = FastAPI(title="SMART", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.services = services
    app.state.scheduler = scheduler
    app.state.queue_listener = listener
    app.state.role = role
    app.add_middleware(RequestContextMiddleware, registry=services.registry)
    errors.install(app)
    app.include_router(system.router)
    app.include_router(ingest_routes.router)
    app.include_router(api.router)
    app.include_router(admin_api.router)
    app.include_router(cabinet.router)
    app.include_router(dashboard_pages.router)
    app.include_router(selfservice.router)
    app.include_router(asrp_pages.router)
    app.include_router(notify_pages.router)
    app.include_router(runbook_pages.router)
    app.include_router(report_pages.router)
    app.mount("/static", StaticFiles(packages=[("kodeks_smart.web", "static")]), name="static")
    return app
