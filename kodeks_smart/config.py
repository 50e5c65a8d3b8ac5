"""Settings: every option declared once, typed, with its default and help text.

Sources, later ones winning: built-in defaults, an optional TOML file (``smart.toml`` in the
working directory, or the file named by ``SMART_CONFIG``), environment variables ``SMART_*``.
Secret options may also be read from a file named by ``SMART_<NAME>_FILE``.
Relative paths are resolved against the working directory at load time.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names the setting."""


def _opt(default: Any, help: str, *, secret: bool = False) -> Any:
    return field(default=default, metadata={"help": help, "secret": secret})


@dataclass(frozen=True)
class Settings:
    """The effective configuration of one SMART process."""

    database_url: str = _opt(
        "sqlite:///var/smart.db",
        "SQLAlchemy URL of the store: sqlite:///PATH (embedded default) or postgresql://USER@HOST/DB.",
        secret=True,
    )
    data_dir: str = _opt("var", "Directory for uploaded raw files, the SQLite file and generated secrets.")
    host: str = _opt("127.0.0.1", "Address the HTTP server listens on.")
    port: int = _opt(8080, "TCP port the HTTP server listens on.")
    secret_key_file: str = _opt(
        "var/secret.key",
        "File with the key that encrypts stored secrets; generated with mode 0600 on first start.",
    )
    public_url: str = _opt(
        "",
        "URL under which agents and browsers reach this server (used in agent kits and links); "
        "default http://HOST:PORT.",
    )
    auto_migrate: bool = _opt(True, "Apply pending database migrations when `smart serve` starts.")
    scheduler: bool = _opt(True, "Run the in-process scheduler in `smart serve --role all|worker`.")
    log_format: str = _opt("auto", "Log format: auto (JSON when stderr is not a terminal), json or text.")
    log_level: str = _opt("INFO", "Log level: DEBUG, INFO, WARNING or ERROR.")
    shutdown_timeout: float = _opt(
        30.0, "Seconds `smart serve` waits for in-flight requests and jobs on SIGTERM."
    )
    max_upload_bytes: int = _opt(64 * 1024 * 1024, "Largest accepted agent upload, in bytes.")
    alert_interval: float = _opt(30.0, "Seconds between two evaluations of the alert rules.")
    alert_full_interval: float = _opt(
        300.0, "Seconds between two full evaluations of the sysinfo alert rules (others are incremental)."
    )
    raw_retention_days: int = _opt(
        396, "Days uploaded raw files are kept for `smart reprocess` (default 13 months)."
    )
    retention_days: int = _opt(
        396, "Days samples, rollups, parsed facts and the upload log are kept (default 13 months)."
    )
    zip_max_uncompressed_bytes: int = _opt(
        256 * 1024 * 1024, "Largest total size an uploaded sysinfo ZIP may expand to, in bytes."
    )
    zip_max_ratio: float = _opt(
        200.0, "Highest compression ratio accepted for a ZIP member larger than 4 MiB (zip-bomb guard)."
    )
    zip_max_entries: int = _opt(64, "Most files an uploaded sysinfo ZIP may contain.")
    notify_retry_max_delay: float = _opt(
        3600.0, "Longest pause between two delivery attempts of a notification, in seconds."
    )
    notify_give_up_hours: float = _opt(
        48.0, "Hours after which a notification that still cannot be delivered is marked failed."
    )
    notify_digest_interval: float = _opt(
        3600.0, "Seconds between digests to one recipient once an SMTP relay's daily limit is nearly used up."
    )
    notify_telegram_api_url: str = _opt("https://api.telegram.org", "Base URL of the Telegram Bot API.")
    notify_smtp_ca_file: str = _opt(
        "", "PEM file of CA certificates trusted for SMTP TLS instead of the system ones (empty: system)."
    )
    notify_keep_days: int = _opt(90, "Days delivered and failed notifications are kept in the outbox.")
    probes: bool = _opt(
        True, "Probe internet-reachable installations and online accesses (`smart serve --role all|worker`)."
    )
    probe_interval: float = _opt(
        60.0, "Seconds between two probe cycles of an installation (per installation: probe_interval)."
    )
    probe_timeout: float = _opt(
        10.0, "Timeout of one network step of a probe (connect, one request), seconds."
    )
    probe_concurrency: int = _opt(500, "Most probe cycles running at once in one process.")
    probe_host_concurrency: int = _opt(50, "Most probe cycles running at once against one host.")
    probe_shard: str = _opt(
        "", "i/N: this worker probes the objects whose id modulo N is i (empty: dynamic sharding)."
    )
    probe_tls_verify: bool = _opt(
        False, "Verify TLS certificates of probed installations (agents use curl -k)."
    )
    probe_online_interval: float = _opt(3600.0, "Seconds between two checks of an online access.")
    probe_pull: bool = _opt(True, "Pull sysinfo and sysmon metrics from probed installations into ingest.")
    probe_sysinfo_interval: float = _opt(3600.0, "Seconds between two sysinfo pulls of an installation.")
    probe_sysmon_interval: float = _opt(
        900.0, "Seconds between two /sysmon/metrics pulls of an installation."
    )
    probe_pull_window_minutes: int = _opt(
        60, "Minutes after an installation's backup and restart times during which nothing is pulled."
    )
    probe_latency_window: float = _opt(
        900.0, "Seconds over which probe latencies are aggregated into one row."
    )
    reports_delivery: bool = _opt(
        True, "Send each manager his clients' renewal reports (PDF) by e-mail once a month."
    )
    reports_delivery_day: int = _opt(1, "Day of the month (Moscow time) the monthly renewal reports go out.")
    reports_months: int = _opt(12, "Months covered by the monthly renewal report (the last whole months).")
    worker_name: str = _opt(
        "", "Stable name of this worker in dynamic sharding (empty: the host name); unique per worker."
    )
    worker_heartbeat: float = _opt(10.0, "Seconds between two heartbeats of a worker (dynamic sharding).")
    worker_ttl: float = _opt(
        30.0, "Seconds without a heartbeat after which a worker counts as dead and its targets move."
    )
    db_pool_size: int = _opt(10, "PostgreSQL: connections kept open per process.")
    db_max_overflow: int = _opt(20, "PostgreSQL: connections opened beyond the pool under load, per process.")
    db_dashboard_parallel_workers: int = _opt(
        0,
        "PostgreSQL: parallel workers one statement of a cabinet dashboard may use"
        " (max_parallel_workers_per_gather for the page's transaction; 0: none).",
    )
    dashboard_threads: int = _opt(
        2,
        "Threads that build the independent parts of one cabinet dashboard at the same time, each reading"
        " through a database connection of its own (1: one part after another).",
    )
    asrp_interval: float = _opt(30.0, "Seconds between two runs of the ASRP forwarding job.")
    asrp_retry_max_delay: float = _opt(
        3600.0, "Longest wait, in seconds, between two tries of forwarding a sysinfo report to ASRP."
    )
    asrp_give_up_hours: float = _opt(
        72.0, "Hours after the first failed try when forwarding a report to ASRP is given up."
    )
    asrp_allow_private: bool = _opt(
        False, "Allow ASRP forwarder URLs that resolve to loopback or private addresses."
    )
    asrp_folder_root: str = _opt(
        "", "Directory under which dealers' ASRP drop folders live; empty: the folder forwarder is off."
    )

    ENV_PREFIX: ClassVar[str] = "SMART_"

    # -- derived values -------------------------------------------------------------------

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def secret_key_path(self) -> Path:
        return Path(self.secret_key_file)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def effective_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    # -- loading --------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        env: Mapping[str, str] | None = None,
        toml_path: Path | None = None,
        **overrides: Any,
    ) -> Settings:
        """Build settings from defaults, the TOML file, the environment and explicit overrides.

        Raises ConfigError naming the setting when a value has the wrong type or is unknown.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        if toml_path is None:
            named = env.get("SMART_CONFIG")
            toml_path = Path(named) if named else Path("smart.toml")
            if named and not toml_path.exists():
                raise ConfigError(f"SMART_CONFIG: file {toml_path} does not exist")
        if toml_path.exists():
            try:
                data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{toml_path}: {exc}") from exc
            known = {f.name for f in fields(cls)}
            for key, value in data.items():
                if key not in known:
                    raise ConfigError(f"{toml_path}: unknown setting {key!r}")
                values[key] = value
        for f in fields(cls):
            name = cls.ENV_PREFIX + f.name.upper()
            if name in env:
                values[f.name] = env[name]
            elif f.metadata.get("secret") and name + "_FILE" in env:
                values[f.name] = Path(env[name + "_FILE"]).read_text(encoding="utf-8").strip()
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_values(values)

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Settings:
        converted: dict[str, Any] = {}
        by_name = {f.name: f for f in fields(cls)}
        for key, value in values.items():
            f = by_name.get(key)
            if f is None:
                raise ConfigError(f"unknown setting {key!r}")
            converted[key] = _convert(key, f.type, value)
        settings = cls(**converted)
        settings.validate()
        return settings

    def with_overrides(self, **overrides: Any) -> Settings:
        new = replace(self, **{k: v for k, v in overrides.items() if v is not None})
        new.validate()
        return new

    def validate(self) -> None:
        if not (self.database_url.startswith("sqlite") or self.database_url.startswith("postgresql")):
            raise ConfigError("SMART_DATABASE_URL: only sqlite:/// and postgresql:// URLs are supported")
        if not 0 < self.port < 65536:
            raise ConfigError(f"SMART_PORT: {self.port} is not a TCP port")
        if self.log_format not in ("auto", "json", "text"):
            raise ConfigError("SMART_LOG_FORMAT: expected auto, json or text")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError("SMART_LOG_LEVEL: expected DEBUG, INFO, WARNING or ERROR")
        if self.max_upload_bytes <= 0:
            raise ConfigError("SMART_MAX_UPLOAD_BYTES: must be positive")
        for name in ("raw_retention_days", "retention_days", "zip_max_uncompressed_bytes", "zip_max_entries"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"SMART_{name.upper()}: must be positive")
        if self.zip_max_ratio < 1:
            raise ConfigError("SMART_ZIP_MAX_RATIO: must be at least 1")
        if not 1 <= self.reports_delivery_day <= 28:
            raise ConfigError("SMART_REPORTS_DELIVERY_DAY: expected a day from 1 to 28")
        if not 1 <= self.reports_months <= 36:
            raise ConfigError("SMART_REPORTS_MONTHS: expected 1 to 36 months")
        for name in (
            "probe_interval",
            "probe_timeout",
            "probe_concurrency",
            "probe_host_concurrency",
            "probe_online_interval",
            "probe_sysinfo_interval",
            "probe_sysmon_interval",
            "probe_latency_window",
            "worker_heartbeat",
            "db_pool_size",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"SMART_{name.upper()}: must be positive")
        if self.worker_ttl <= 2 * self.worker_heartbeat:
            raise ConfigError("SMART_WORKER_TTL: must be more than twice SMART_WORKER_HEARTBEAT")
        if self.db_max_overflow < 0:
            raise ConfigError("SMART_DB_MAX_OVERFLOW: must not be negative")
        if not 0 <= self.db_dashboard_parallel_workers <= 64:
            raise ConfigError("SMART_DB_DASHBOARD_PARALLEL_WORKERS: expected 0 to 64")
        if not 1 <= self.dashboard_threads <= 16:
            raise ConfigError("SMART_DASHBOARD_THREADS: expected 1 to 16")
        if self.asrp_interval <= 0:
            raise ConfigError("SMART_ASRP_INTERVAL: must be positive")
        if self.probe_pull_window_minutes < 0:
            raise ConfigError("SMART_PROBE_PULL_WINDOW_MINUTES: must not be negative")
        if self.probe_shard.strip():
            index, _, count = self.probe_shard.partition("/")
            if not (index.strip().isdigit() and count.strip().isdigit() and int(index) < int(count)):
                raise ConfigError(f"SMART_PROBE_SHARD: expected i/N, 0 <= i < N, got {self.probe_shard!r}")

    def describe(self) -> list[tuple[str, str, str]]:
        """(environment name, value with secrets masked, help) for every setting."""
        rows = []
        for f in fields(self):
            value = getattr(self, f.name)
            shown = str(value)
            if f.metadata.get("secret"):
                shown = mask_url(shown) if "://" in shown else "***"
            rows.append((self.ENV_PREFIX + f.name.upper(), shown, f.metadata["help"]))
        return rows


def _convert(key: str, type_name: Any, value: Any) -> Any:
    name = f"SMART_{key.upper()}"
    if type_name in ("bool", bool):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name}: expected true or false, got {value!r}")
    if type_name in ("int", int):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: expected a whole number, got {value!r}") from None
    if type_name in ("float", float):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: expected a number, got {value!r}") from None
    return str(value)


def mask_url(url: str) -> str:
    """Hide the password of a URL: postgresql://u:secret@h/db -> postgresql://u:***@h/db."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
