"""`smart reprocess`: queue kept uploads again so that a parser change rebuilds their derived data.

Processing an upload replaces everything it wrote before (its facts are deleted and rewritten, its
samples upserted and their rollups recomputed), so reprocessing is safe to repeat and to run while the
server ingests. Series a new parser no longer produces are left in place (they stop growing).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from kodeks_smart.ingest import queue
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.store.ingest_models import IngestTask, Upload
from kodeks_smart.store.models import Dealer

BATCH = 1000


def enqueue_reprocess(
    ctx: IngestContext,
    *,
    dealer_code: str | None = None,
    since: datetime | None = None,
    client_name: str | None = None,
) -> int:
    """Queue every processed or failed upload that still has its raw file; returns how many were queued.

    Uploads are queued oldest first, so that where two reports overlap the newer one is written last.
    """
    dealer_id: int | None = None
    if dealer_code is not None:
        with ctx.db.session() as s:
            dealer_id = s.scalar(select(Dealer.id).where(Dealer.code == dealer_code))
        if dealer_id is None:
            raise LookupError(dealer_code)
    queued = 0
    last_id = 0
    while True:
        with ctx.db.write() as s:
            stmt = (
                select(Upload)
                .where(
                    Upload.id > last_id,
                    Upload.status.in_(("done", "failed")),
                    Upload.raw_path.is_not(None),
                    Upload.client_id.is_not(None),
                    ~select(IngestTask.id).where(IngestTask.upload_id == Upload.id).exists(),
                )
                .order_by(Upload.id)
                .limit(BATCH)
            )
            if dealer_id is not None:
                stmt = stmt.where(Upload.dealer_id == dealer_id)
            if since is not None:
                stmt = stmt.where(Upload.received_at >= since)
            if client_name is not None:
                stmt = stmt.where(Upload.client_name == client_name)
            uploads = list(s.scalars(stmt))
            batch_queued = 0
            for upload in uploads:
                if queue.enqueue(s, upload.id, upload.dealer_id, "reprocess"):
                    upload.status = "queued"
                    batch_queued += 1
            if batch_queued:
                queue.notify_queued(s)
            queued += batch_queued
        if len(uploads) < BATCH:
            return queued
        last_id = uploads[-1].id
