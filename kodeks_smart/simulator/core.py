"""The simulator: N installations and M online accesses in one asyncio process.

Two ways to run it:

* ``Simulator`` inside a running event loop (``await sim.start()`` … ``await sim.stop()``), used by
  ``smart simulate`` and by benchmarks;
* ``SimulatorThread`` for synchronous code and tests: the simulator runs on its own loop in a
  background thread and the methods block until the loop has applied them.

Ports: installation ``i`` listens on ``port_base + i``, online access ``j`` on ``port_base + N + j`` and
the licence manager of installation ``i`` on ``licman_port_base + i``. ``port_base = 0`` lets the OS pick
free ports (tests). With ``vhosts`` every installation and online access shares one port and the first
label of the ``Host`` header picks the object (``client00003.localhost:8000``).

The simulator is a test and demo tool: it keeps everything in memory and never touches SMART's store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from kodeks_smart.simulator import report
from kodeks_smart.simulator.control import ControlApi
from kodeks_smart.simulator.http import Listener, Request, Response, TcpListener, text_response
from kodeks_smart.simulator.licman import LicmanListener
from kodeks_smart.simulator.online import OnlineSite
from kodeks_smart.simulator.server import InstallationSite
from kodeks_smart.simulator.site import Clock
from kodeks_smart.simulator.state import (
    Credentials,
    InstallationState,
    Mode,
    OnlineState,
    SimulatorError,
    StateError,
    apply_installation_patch,
    apply_online_patch,
    copy_state,
    initial_billing,
    make_installation_config,
    make_online_config,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
Ref = int | str

# File descriptors kept free for accepted connections, the control API, logs and imports.
FD_HEADROOM = 512


@dataclass(slots=True)
class SimulatorConfig:
    """How many objects to simulate and where they listen."""

    installations: int = 3
    online: int = 0
    host: str = "127.0.0.1"
    port_base: int = 0  # 0: ports chosen by the OS
    control_port: int | None = 0  # None: no control API; 0: chosen by the OS
    vhosts: bool = False
    licman: bool | None = None  # None: on when the descriptor limit allows a port per installation
    licman_port_base: int | None = None  # default: right after the HTTP ports
    seed: int = 0
    distributor: str = "460"
    session_ttl: float = 86_400.0
    credentials: Credentials = field(default_factory=Credentials)
    clock: Clock = time.time
    today: date | None = None


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft RLIMIT_NOFILE towards the hard limit; return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(wanted, soft)
    if soft < wanted and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Simulator:
    """Simulated installations and online accesses, their listeners and the control API."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        c = self.config
        if c.installations < 0 or c.online < 0:
            raise SimulatorError("the numbers of installations and online accesses must not be negative")
        self.installations = [
            InstallationSite(
                make_installation_config(
                    i, seed=c.seed, distributor=c.distributor, today=c.today, credentials=c.credentials
                ),
                c.clock,
                c.session_ttl,
            )
            for i in range(c.installations)
        ]
        self.online = [
            OnlineSite(make_online_config(j, seed=c.seed), c.clock, c.session_ttl) for j in range(c.online)
        ]
        self._by_client = {site.config.client.lower(): site for site in self.installations}
        self._online_by_name = {site.config.name.lower(): site for site in self.online}
        self._listeners: list[Listener] = []  # port mode: installations first, then online accesses
        self._vhost: Listener | None = None
        self._control: Listener | None = None
        self._licman_enabled = False
        self._known_scenarios: frozenset[str] | None = None
        self._lock = asyncio.Lock()
        self.started = False

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind every port. Raises ``SimulatorError`` (and binds nothing) if a port is taken."""
        c = self.config
        n, m = len(self.installations), len(self.online)
        http_ports = 1 if c.vhosts else n + m
        soft = raise_fd_limit(http_ports + n + FD_HEADROOM)
        if c.licman is None:
            self._licman_enabled = http_ports + n + FD_HEADROOM <= soft
            if not self._licman_enabled and n:
                log.warning(
                    "licence manager ports disabled: %d installations need more than %d descriptors", n, soft
                )
        else:
            self._licman_enabled = c.licman
            if c.licman and http_ports + n + FD_HEADROOM > soft:
                raise SimulatorError(f"descriptor limit {soft} is too low for {http_ports + n} ports")
        if http_ports + FD_HEADROOM // 2 > soft:
            raise SimulatorError(f"descriptor limit {soft} is too low for {http_ports} ports")
        self._known_scenarios = report.known_scenarios()
        try:
            await self._bind_all()
        except OSError as exc:
            self._close_all()
            raise SimulatorError(f"cannot listen: {exc}") from exc
        self.started = True

    async def _bind_all(self) -> None:
        c = self.config
        n, m = len(self.installations), len(self.online)
        base = c.port_base

        def port(offset: int) -> int:
            return base + offset if base else 0

        if c.vhosts:
            self._vhost = Listener(c.host, port(0), self._route_vhost)
            await self._vhost.open()
            for site in [*self.installations, *self.online]:
                site.listener_port = self._vhost.port
        else:
            for offset, site in enumerate([*self.installations, *self.online]):
                listener = Listener(c.host, port(offset), site.handle)
                self._listeners.append(listener)
                await listener.open()
                site.listener_port = listener.port
        if self._licman_enabled:
            if c.licman_port_base is not None:
                licman_base = c.licman_port_base
            else:
                licman_base = base + (1 if c.vhosts else n + m) if base else 0
            for i, site in enumerate(self.installations):
                site.licman = LicmanListener(c.host, licman_base + i if licman_base else 0)
                await site.licman.open()
        if c.control_port is not None:
            self._control = Listener(c.host, c.control_port, ControlApi(self).handle)
            await self._control.open()

    def _all_listeners(self) -> list[Listener]:
        return [x for x in (*self._listeners, self._vhost, self._control) if x is not None]

    def _close_all(self) -> list[asyncio.Task[None]]:
        """Stop listening everywhere and reset open connections; returns the cancelled handler tasks."""
        tasks: list[asyncio.Task[None]] = []
        for listener in self._all_listeners():
            tasks.extend(listener.pending_tasks())
            listener.close()
        for site in self.installations:
            if site.licman is not None:
                site.licman.close()
        return tasks

    async def stop(self) -> None:
        """Close every port and connection; in-flight answers are cancelled."""
        tasks = self._close_all()
        # A connection accepted just before the close reaches connection_made a few loop turns later;
        # let it arrive, then reset it too, so no socket outlives the simulator.
        for _ in range(3):
            await asyncio.sleep(0)
        tasks.extend(self._close_all())
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        for _ in range(3):
            await asyncio.sleep(0)
        self.started = False

    # -- lookup ----------------------------------------------------------------------------------

    def installation(self, ref: Ref) -> InstallationSite:
        """Installation by index (int or digits) or by client name."""
        site = _lookup(ref, self.installations, self._by_client)
        if site is None:
            raise KeyError(f"no installation {ref!r}")
        return site

    def online_access(self, ref: Ref) -> OnlineSite:
        """Online access by index or by name (``online00000``)."""
        site = _lookup(ref, self.online, self._online_by_name)
        if site is None:
            raise KeyError(f"no online access {ref!r}")
        return site

    @property
    def control_url(self) -> str | None:
        return f"http://{self._url_host()}:{self._control.port}" if self._control is not None else None

    def _url_host(self) -> str:
        host = self.config.host
        if host in ("0.0.0.0", ""):  # noqa: S104 - only used to print a reachable address
            return "127.0.0.1"
        return f"[{host}]" if ":" in host else host

    def url(self, ref: Ref) -> str:
        site = self.installation(ref)
        return self._site_url(site.config.client, site.listener_port)

    def online_url(self, ref: Ref) -> str:
        site = self.online_access(ref)
        return self._site_url(site.config.name, site.listener_port)

    def _site_url(self, name: str, port: int) -> str:
        if self.config.vhosts:
            return f"http://{name}.localhost:{port}"
        return f"http://{self._url_host()}:{port}"

    def describe(self, ref: Ref) -> dict[str, Any]:
        site = self.installation(ref)
        return site.describe(self.url(ref))

    def describe_online(self, ref: Ref) -> dict[str, Any]:
        site = self.online_access(ref)
        return site.describe(self.online_url(ref))

    def summary(self) -> dict[str, Any]:
        return {
            "installations": len(self.installations),
            "online": len(self.online),
            "vhosts": self.config.vhosts,
            "licman": self._licman_enabled,
            "control_url": self.control_url,
            "first_port": self.installations[0].listener_port if self.installations else None,
        }

    # -- state switches --------------------------------------------------------------------------

    async def set_state(self, ref: Ref, **patch: Any) -> dict[str, Any]:
        """Apply a state patch to one installation and bring its ports in line; returns the new state."""
        site = self.installation(ref)
        async with self._lock:
            self._validate(site, patch)
            apply_installation_patch(site.state, site.config, patch, self._known_scenarios)
            await self._sync_ports(site)
        return self.describe(ref)["state"]  # type: ignore[no-any-return]

    def _validate(self, site: InstallationSite, patch: Mapping[str, Any]) -> None:
        """Raise ``StateError`` unless ``patch`` applies cleanly (including the generator's own checks)."""
        scratch = copy_state(site.state)
        apply_installation_patch(scratch, site.config, patch, self._known_scenarios)
        if "scenarios" in patch and scratch.scenarios:
            problem = report.check_scenarios(site.config, scratch.scenarios)
            if problem is not None:
                raise StateError(f"scenarios: {problem}")

    async def set_states(self, refs: Iterable[Ref] | None, **patch: Any) -> int:
        """Apply one patch to many installations (``None`` = all); returns how many changed."""
        sites = self.installations if refs is None else [self.installation(r) for r in refs]
        async with self._lock:
            for site in sites:  # validate against every installation first: all or nothing
                self._validate(site, patch)
            for site in sites:
                apply_installation_patch(site.state, site.config, patch, self._known_scenarios)
                await self._sync_ports(site)
        return len(sites)

    async def reset(self, ref: Ref) -> dict[str, Any]:
        """Back to normal: every switch off, sessions closed, ports open."""
        site = self.installation(ref)
        async with self._lock:
            site.state = InstallationState()
            site.clear_sessions()
            await self._sync_ports(site)
        return self.describe(ref)

    async def set_online_state(self, ref: Ref, **patch: Any) -> dict[str, Any]:
        site = self.online_access(ref)
        async with self._lock:
            site.roll_month()
            apply_online_patch(site.state, site.config, patch)
            await self._sync_online_port(site)
        return self.describe_online(ref)["state"]  # type: ignore[no-any-return]

    async def reset_online(self, ref: Ref) -> dict[str, Any]:
        site = self.online_access(ref)
        async with self._lock:
            site.state = OnlineState(billing=initial_billing(site.config), month=site.state.month)
            site.clear_sessions()
            await self._sync_online_port(site)
        return self.describe_online(ref)

    def clear_sessions(self, ref: Ref) -> int:
        """Log every user out of an installation; returns how many sessions were closed."""
        return self.installation(ref).clear_sessions()

    async def _sync_ports(self, site: InstallationSite) -> None:
        if not self.config.vhosts and self.started:
            await _switch(self._listeners[site.config.index], site.state.mode is not Mode.DOWN)
        if site.licman is not None and self.started:
            await _switch(site.licman, not site.state.licman_down)

    async def _sync_online_port(self, site: OnlineSite) -> None:
        if not self.config.vhosts and self.started:
            listener = self._listeners[len(self.installations) + site.config.index]
            await _switch(listener, site.state.mode is not Mode.DOWN)

    # -- virtual hosts ---------------------------------------------------------------------------

    async def _route_vhost(self, request: Request) -> Response:
        host = request.header("host").split(":", 1)[0].lower()
        label = host.split(".", 1)[0]
        site: InstallationSite | OnlineSite | None = self._by_client.get(label) or self._online_by_name.get(
            label
        )
        if site is None:
            return text_response(404, f"unknown virtual host {host!r}\n")
        return await site.handle(request)


async def _switch(listener: TcpListener, on: bool) -> None:
    """Open or close a port; a port taken meanwhile by another socket is reported, the state stays set."""
    if not on:
        listener.close()
        return
    try:
        await listener.open()
    except OSError as exc:
        raise SimulatorError(f"cannot listen on {listener.address} again: {exc}") from exc


def _lookup(ref: Ref, items: list[T], by_name: Mapping[str, T]) -> T | None:
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        index = int(ref)
        return items[index] if 0 <= index < len(items) else None
    return by_name.get(ref.lower())


class SimulatorThread:
    """Runs a ``Simulator`` on its own event loop in a daemon thread; for tests and sync scripts.

    Use as a context manager; every method blocks until the simulator's loop has done the work::

        with SimulatorThread(SimulatorConfig(installations=2)) as sim:
            sim.set_state(0, mode="maintenance")
            httpx.get(sim.url(0))
    """

    def __init__(self, config: SimulatorConfig | None = None, timeout: float = 30.0) -> None:
        self.simulator = Simulator(config)
        self.timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    def __enter__(self) -> SimulatorThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kodeks-simulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(self.timeout):
            raise SimulatorError("the simulator did not start in time")
        if self._error is not None:
            self._thread.join(self.timeout)
            raise self._error

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            asyncio.set_event_loop(None)
            loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            await self.simulator.start()
        except Exception as exc:  # noqa: BLE001 - re-raised in the thread that called start()
            self._error = exc
            return
        finally:
            self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.simulator.stop()

    def stop(self) -> None:
        if (
            self._loop is not None
            and self._stop is not None
            and self._thread is not None
            and self._thread.is_alive()
        ):
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(self.timeout)

    def run(self, work: Callable[[], Coroutine[Any, Any, T]] | Awaitable[T]) -> T:
        """Run a coroutine on the simulator's loop and wait for its result."""
        if self._loop is None:
            raise SimulatorError("the simulator is not running")
        coro = work() if callable(work) else work

        async def wrapper() -> T:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrapper(), self._loop).result(self.timeout)

    def call(self, fn: Callable[[], T]) -> T:
        """Run a plain function on the simulator's loop (state is only touched from that thread)."""

        async def wrapper() -> T:
            return fn()

        return self.run(wrapper)

    # Convenience wrappers mirroring the control API.

    def url(self, ref: Ref) -> str:
        return self.simulator.url(ref)

    def online_url(self, ref: Ref) -> str:
        return self.simulator.online_url(ref)

    @property
    def control_url(self) -> str | None:
        return self.simulator.control_url

    def set_state(self, ref: Ref, **patch: Any) -> dict[str, Any]:
        return self.run(self.simulator.set_state(ref, **patch))

    def set_states(self, refs: Iterable[Ref] | None, **patch: Any) -> int:
        return self.run(self.simulator.set_states(refs, **patch))

    def reset(self, ref: Ref) -> dict[str, Any]:
        return self.run(self.simulator.reset(ref))

    def set_online_state(self, ref: Ref, **patch: Any) -> dict[str, Any]:
        return self.run(self.simulator.set_online_state(ref, **patch))

    def reset_online(self, ref: Ref) -> dict[str, Any]:
        return self.run(self.simulator.reset_online(ref))

    def describe(self, ref: Ref) -> dict[str, Any]:
        return self.call(lambda: self.simulator.describe(ref))

    def describe_online(self, ref: Ref) -> dict[str, Any]:
        return self.call(lambda: self.simulator.describe_online(ref))

    def clear_sessions(self, ref: Ref) -> int:
        return self.call(lambda: self.simulator.clear_sessions(ref))


__all__ = ["Simulator", "SimulatorConfig", "SimulatorError", "SimulatorThread", "StateError"]
