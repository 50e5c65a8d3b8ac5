"""Ingest operations shared by the HTTP API, the CLI and (later) the web cabinet's upload form and log.

Writes that acknowledge an upload use `durable_write`: on SQLite it commits with ``synchronous=FULL`` so
that the row survives a power loss, not only a process crash, before the agent gets its 200.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kodeks_smart.ingest import queue
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.ingest.errors import IngestError, too_large
from kodeks_smart.ingest.names import UploadName, parse_upload_name
from kodeks_smart.ingest.spool import Spooled, SpoolTooLarge, spool_bytes, spool_path
from kodeks_smart.lib.secrets import token_matches
from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import Upload
from kodeks_smart.store.models import Client, Dealer
from kodeks_smart.store.scope import Tenant
from kodeks_smart.store.types import utcnow

# Compared against when the dealer does not exist, so that both cases cost the same.
_NO_DEALER_HASH = hashlib.sha256(b"no such dealer").hexdigest()


@dataclass(frozen=True, slots=True)
class DealerIdentity:
    id: int
    code: str


@dataclass(frozen=True, slots=True)
class Accepted:
    upload_id: int
    #: ``queued``, ``quarantined`` (client name unknown) or, for a repeat, the first upload's status.
    status: str
    duplicate: bool
    filename: str


@contextmanager
def durable_write(db: Database) -> Iterator[Session]:
    """A write transaction whose commit is on disk when the block ends (fsync of the WAL on SQLite)."""
    if not db.is_sqlite:
        with db.write() as session:
            yield session
        return
    with db.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        # The safety level cannot change inside a transaction: set it before BEGIN, restore after.
        raw.execute("PRAGMA synchronous=FULL")
        try:
            bound = conn.execution_options(smart_write=True)
            with Session(bind=bound, expire_on_commit=False) as session, session.begin():
                yield session
        finally:
            raw.execute("PRAGMA synchronous=NORMAL")


def authenticate_dealer(db: Database, code: str | None, token: str | None) -> DealerIdentity | None:
    """The dealer whose code and upload token match, compared in constant time; None otherwise."""
    with db.session() as s:
        dealer = (
            s.scalars(select(Dealer).where(Dealer.code == (code or "").strip())).first() if code else None
        )
        stored = dealer.token_hash if dealer is not None else _NO_DEALER_HASH
        matches = token_matches(token or "", stored)
        if dealer is None or not token or not matches:
            return None
        return DealerIdentity(dealer.id, dealer.code)


def resolve_client(session: Session, dealer_id: int, client_name: str) -> Client | None:
    """The dealer's client with this short name: exact match, else the only case-insensitive match.

    The manual does not say whether names are case-sensitive; Windows users type ``Client`` for
    ``client``, so a unique case-insensitive match is accepted rather than quarantining the file.
    """
    exact = session.scalars(
        select(Client).where(Client.dealer_id == dealer_id, Client.short_name == client_name)
    ).first()
    if exact is not None:
        return exact
    folded = session.scalars(
        select(Client).where(
            Client.dealer_id == dealer_id, func.lower(Client.short_name) == client_name.lower()
        )
    ).all()
    return folded[0] if len(folded) == 1 else None


def record_upload(
    db: Database,
    dealer: DealerIdentity,
    name: UploadName,
    spooled: Spooled,
    *,
    source: str = "agent",
    remote_addr: str | None = None,
) -> Accepted:
    """Record a spooled file: a new upload row plus its queue row, or a repeat of a recorded one.

    One transaction, committed durably; the caller answers the agent only after it returns.
    """
    for _attempt in range(3):
        try:
            with durable_write(db) as s:
                return _record(s, dealer, name, spooled, source, remote_addr)
        except IntegrityError:
            # The same file arrived twice at once (PostgreSQL): the other transaction won, so this one
            # is a repeat; run again to take that branch.
            continue
    raise RuntimeError("upload could not be recorded")  # pragma: no cover


def _record(
    s: Session, dealer: DealerIdentity, name: UploadName, spooled: Spooled, source: str, remote: str | None
) -> Accepted:
    now = utcnow()
    existing = s.scalars(
        select(Upload).where(
            Upload.dealer_id == dealer.id, Upload.filename == name.filename, Upload.sha256 == spooled.sha256
        )
    ).first()
    if existing is not None:
        existing.received_count += 1
        existing.last_received_at = now
        if existing.raw_path is None:  # retention removed the file; it is back now
            existing.raw_path = spooled.rel_path
        return Accepted(existing.id, existing.status, True, name.filename)
    client = resolve_client(s, dealer.id, name.client_name)
    upload = Upload(
        dealer_id=dealer.id,
        cabinet_id=client.cabinet_id if client else None,
        client_id=client.id if client else None,
        filename=name.filename,
        client_name=name.client_name,
        kind=name.kind,
        fmt=name.fmt,
        size=spooled.size,
        sha256=spooled.sha256,
        raw_path=spooled.rel_path,
        source=source,
        remote_addr=remote,
        received_at=now,
        last_received_at=now,
        received_count=1,
        status="queued" if client else "quarantined",
        warnings=[],
        stats={},
        processed_count=0,
    )
    s.add(upload)
    s.flush()
    if client is not None:
        queue.enqueue(s, upload.id, dealer.id, "upload")
        queue.notify_queued(s)
    return Accepted(upload.id, upload.status, False, name.filename)


def find_landed(db: Database, dealer_id: int, filename: str) -> Upload | None:
    """The dealer's latest upload under this exact name, if any (``HEAD /files/NAME``)."""
    with db.session() as s:
        return s.scalars(
            select(Upload)
            .where(Upload.dealer_id == dealer_id, Upload.filename == filename)
            .order_by(Upload.id.desc())
            .limit(1)
        ).first()


def ingest_file(
    ctx: IngestContext,
    dealer_code: str,
    client_name: str,
    *,
    path: Path | None = None,
    data: bytes | None = None,
    fmt: str | None = None,
    source: str = "manual",
) -> Accepted:
    """Accept a report handed over by a person (``smart upload``, the cabinet's upload form).

    The format comes from ``fmt`` or the file's extension (``.zip``, ``.xml``, ``.status``); the file
    is stored as ``CLIENT.<ext>`` exactly as if the agent had sent it. Raises IngestError.
    """
    if (path is None) == (data is None):
        raise ValueError("give exactly one of path and data")
    ext = (fmt or (path.suffix.lstrip(".") if path is not None else "")).lower()
    name = parse_upload_name(f"{client_name}.{ext}")
    with ctx.db.session() as s:
        dealer = s.scalars(select(Dealer).where(Dealer.code == dealer_code)).first()
        if dealer is None:
            raise IngestError(404, "no-dealer", f"Дистрибьютор {dealer_code!r} не найден", "unknown dealer")
        identity = DealerIdentity(dealer.id, dealer.code)
    try:
        if path is not None:
            spooled = spool_path(ctx.data_dir, identity.code, name.fmt, path, ctx.max_upload_bytes)
        else:
            assert data is not None
            spooled = spool_bytes(ctx.data_dir, identity.code, name.fmt, data, ctx.max_upload_bytes)
    except SpoolTooLarge:
        raise too_large(ctx.max_upload_bytes) from None
    return record_upload(ctx.db, identity, name, spooled, source=source)


def release_quarantine(db: Database, dealer_id: int | None = None) -> list[int]:
    """Queue quarantined uploads whose client has been registered since; returns their ids.

    The upload takes the client's cabinet, so from now on it is visible in that cabinet.
    """
    released: list[int] = []
    with db.write() as s:
        stmt = select(Upload).where(Upload.status == "quarantined").order_by(Upload.id)
        if dealer_id is not None:
            stmt = stmt.where(Upload.dealer_id == dealer_id)
        cache: dict[tuple[int, str], Client | None] = {}
        for upload in s.scalars(stmt):
            key = (upload.dealer_id, upload.client_name)
            if key not in cache:
                cache[key] = resolve_client(s, *key)
            client = cache[key]
            if client is None:
                continue
            upload.client_id = client.id
            upload.cabinet_id = client.cabinet_id
            upload.status = "queued"
            queue.enqueue(s, upload.id, upload.dealer_id, "quarantine")
            released.append(upload.id)
        if released:
            queue.notify_queued(s)
    return released


# -- reading (the cabinet's upload log) ------------------------------------------------------------


def list_uploads(
    tenant: Tenant,
    *,
    status: str | None = None,
    client_id: int | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> list[Upload]:
    """The upload log visible in a scope, newest first. Quarantined files appear to dealer admins only."""
    stmt = tenant.select(Upload)
    if status is not None:
        stmt = stmt.where(Upload.status == status)
    if client_id is not None:
        stmt = stmt.where(Upload.client_id == client_id)
    if since is not None:
        stmt = stmt.where(Upload.received_at >= since)
    return list(tenant.session.scalars(stmt.order_by(Upload.id.desc()).limit(limit)))


def list_quarantine(tenant: Tenant) -> list[Upload]:
    """Files whose client name is not registered (for the dealer admin's quarantine page)."""
    return list_uploads(tenant, status="quarantined")


def raw_file_path(ctx: IngestContext, upload: Upload) -> Path | None:
    """Where the raw bytes of an upload are, if still kept."""
    if upload.raw_path is None:
        return None
    path = ctx.data_dir / upload.raw_path
    return path if path.is_file() else None
