"""Tables of the reports work: files attached to a notification (the monthly renewal reports by e-mail).

An attachment belongs to one notification (ON DELETE CASCADE: purging old notifications removes their
files) and carries the notification's tenant columns, so a cabinet reads only its own attachments.
The content is stored in the database rather than in SMART_DATA_DIR so that any worker of a
multi-process installation can send it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from kodeks_smart.store.models import Base, tenant_fk
from kodeks_smart.store.types import BigIntPK


class NotificationAttachment(Base):
    """One file sent with every e-mail of a notification (e.g. a renewal report PDF)."""

    __tablename__ = "notification_attachments"
    __table_args__ = (tenant_fk(),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    cabinet_id: Mapped[int] = mapped_column(BigInteger, index=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes] = mapped_column(LargeBinary)
