"""The drop-folder forwarder: atomic files inside the operator's root, no way out of it through client names
or settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from kodeks_smart.asrp import configure
from kodeks_smart.asrp.forwarders import FolderForwarder, ForwardError, Report, folder_target
from kodeks_smart.store.admin import AdminError
from kodeks_smart.store.asrp_models import AsrpForward
from kodeks_smart.store.ingest_models import Upload
from tests.asrp.conftest import Harness


def folder_input(
    directory: str = "0599", pattern: str = "{dealer}_{client}_{upload_id}.zip"
) -> configure.ForwarderInput:
    return configure.ForwarderInput(kind="folder", directory=directory, filename_pattern=pattern)


def test_a_processed_report_is_written_into_the_drop_folder(h: Harness) -> None:
    h.configure(folder_input())
    raw = h.feed()
    h.forward()
    root = Path(h.services.settings.asrp_folder_root)
    with h.services.db.session() as s:
        upload_id = s.scalars(select(Upload.id)).one()
        row = s.scalars(select(AsrpForward)).one()
    target = root / "0599" / f"0599ROGAIKOPITA_alpha_client_{upload_id}.zip"
    assert target.read_bytes() == raw
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary file left
    assert row.state == "accepted" and row.answer == f"записан файл {target.name}"


def test_the_same_file_again_is_a_repeat_and_another_file_under_the_name_an_error(tmp_path: Path) -> None:
    forwarder = FolderForwarder(tmp_path, "", "{client}.zip")
    report = Report(b"one", "c.zip", {"client": "c"})
    assert forwarder.send(report).outcome == "accepted"
    assert forwarder.send(report).outcome == "duplicate"
    with pytest.raises(ForwardError) as caught:
        forwarder.send(Report(b"two", "c.zip", {"client": "c"}))
    assert caught.value.permanent
    assert (tmp_path / "c.zip").read_bytes() == b"one"


@pytest.mark.parametrize(
    "client", ["../../etc/passwd", "..", "/abs/path", "a\\..\\b", ".hidden", "имя клиента"]
)
def test_client_names_cannot_leave_the_folder(tmp_path: Path, client: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    target = folder_target(root, "dealer", "{client}.zip", {"client": client})
    assert target.parent == (root / "dealer").resolve()
    assert not target.name.startswith(".")
    FolderForwarder(root, "dealer", "{client}.zip").send(Report(b"x", "x.zip", {"client": client}))
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [target]


@pytest.mark.parametrize(
    ("directory", "pattern"),
    [
        ("../outside", "{client}.zip"),
        ("a/../../b", "{client}.zip"),
        ("", "../{client}.zip"),
        ("", "{client}/x"),
        ("", ".."),
    ],
)
def test_settings_that_would_leave_the_root_are_rejected(h: Harness, directory: str, pattern: str) -> None:
    with h.services.db.write() as s, pytest.raises(AdminError, match="каталог выгрузки"):
        configure.save(
            s,
            h.services.box,
            h.tenants.dealer_id,
            folder_input(directory, pattern),
            folder_root=h.services.settings.asrp_folder_root,
        )
