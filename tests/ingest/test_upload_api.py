"""The agents' upload API: POST /upload and HEAD|GET /files/NAME, wire-compatible with the scripts."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.runtime import Services
from kodeks_smart.store.ingest_models import IngestTask, Upload
from tests.conftest import Tenants
from tests.ingest.conftest import DEALER, STATUS_BODY, Agent, status_body


def _uploads(ctx: IngestContext) -> list[Upload]:
    with ctx.db.session() as s:
        return list(s.scalars(select(Upload).order_by(Upload.id)))


def test_a_status_upload_gets_exactly_the_body_the_scripts_expect(agent: Agent, ctx: IngestContext) -> None:
    response = agent.upload("alpha_client.status", STATUS_BODY)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.content == b'{"ok":true,"path":"/files/alpha_client.status"}'
    [upload] = _uploads(ctx)
    assert (upload.client_name, upload.kind, upload.fmt, upload.status) == (
        "alpha_client",
        "metrics",
        "status",
        "queued",
    )
    assert upload.size == len(STATUS_BODY) and upload.cabinet_id is not None
    assert upload.raw_path is not None and (ctx.data_dir / upload.raw_path).read_bytes() == STATUS_BODY


def test_the_upload_and_its_queue_row_are_recorded_before_the_answer(
    agent: Agent, ctx: IngestContext
) -> None:
    agent.upload("beta_client.zip", b"PK\x03\x04 not really a zip")
    with ctx.db.session() as s:
        task = s.scalars(select(IngestTask)).one()
        upload = s.get(Upload, task.upload_id)
        assert upload is not None and upload.filename == "beta_client.zip" and task.state == "pending"


def test_head_and_get_say_whether_the_file_landed(agent: Agent) -> None:
    assert agent.head("alpha_client.xml").status_code == 404
    agent.upload("alpha_client.xml", b"<sysinfo/>")
    head = agent.head("alpha_client.xml")
    assert head.status_code == 200 and head.content == b""
    get = agent.get("alpha_client.xml")
    assert get.status_code == 200 and get.content == b"<sysinfo/>"
    missing = agent.get("nobody.xml")
    assert missing.status_code == 404 and missing.json()["error"] == "not-found"


def test_a_repeated_file_is_recorded_once(agent: Agent, ctx: IngestContext) -> None:
    first = agent.upload("alpha_client.status", STATUS_BODY)
    second = agent.upload("alpha_client.status", STATUS_BODY)
    assert first.content == second.content
    [upload] = _uploads(ctx)
    assert upload.received_count == 2 and upload.last_received_at >= upload.received_at
    agent.upload("alpha_client.status", status_body(sessions=8))
    assert len(_uploads(ctx)) == 2


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ({"token": "smt_wrong"}, {"dealer": DEALER}),
        ({}, {"dealer": DEALER}),
        ({"token": "__own__"}, {}),
        ({"token": "__own__"}, {"dealer": "NOSUCHDEALER"}),
    ],
    ids=["wrong-token", "no-token", "no-dealer", "unknown-dealer"],
)
def test_wrong_or_missing_credentials_are_refused(
    http: TestClient, tenants: Tenants, ctx: IngestContext, params: dict[str, str], headers: dict[str, str]
) -> None:
    query = {k: (tenants.token if v == "__own__" else v) for k, v in params.items()}
    response = http.post(
        "/upload",
        params=query,
        headers={"upload": "yes", **headers},
        files={"file": ("alpha_client.status", b"x 1")},
    )
    assert response.status_code == 401
    body = response.json()
    assert body["ok"] is False and body["error"] == "unauthorized"
    assert "токен" in body["message"] and "token" in body["message_en"]
    assert _uploads(ctx) == []


def test_a_dealers_token_never_authorises_another_dealer(http: TestClient, tenants: Tenants) -> None:
    other = Agent(http, "rogaikopita599", tenants.token)  # dealer B's header with dealer A's token
    assert other.upload("gamma_client.status", STATUS_BODY).status_code == 401
    assert other.head("gamma_client.status").status_code == 401


def test_one_dealer_cannot_see_another_dealers_files(agent: Agent, other_agent: Agent) -> None:
    assert other_agent.upload("shared_name.status", STATUS_BODY).status_code == 202  # quarantined for B
    assert agent.head("shared_name.status").status_code == 404
    assert agent.get("shared_name.status").status_code == 404
    assert other_agent.head("shared_name.status").status_code == 200


def test_repeated_failures_from_one_address_are_rate_limited(http: TestClient, tenants: Tenants) -> None:
    intruder = Agent(http, DEALER, "smt_guess")
    codes = [intruder.upload("alpha_client.status", b"x 1").status_code for _ in range(25)]
    assert codes[0] == 401 and codes[-1] == 429
    assert http.post("/upload").json()["error"] == "rate-limited"
    # The right token from the same address is held back too until the bucket refills.
    assert Agent(http, DEALER, tenants.token).upload("alpha_client.status", b"x 1").status_code == 429


def test_an_unknown_client_name_is_quarantined_not_lost(agent: Agent, ctx: IngestContext) -> None:
    response = agent.upload("alpha_clinet.status", STATUS_BODY)  # a typo in the agent's client name
    assert response.status_code == 202
    body = response.json()
    assert body["ok"] is True and body["quarantined"] is True and body["path"] == "/files/alpha_clinet.status"
    assert "карантин" in body["message"] and "quarantine" in body["message_en"]
    [upload] = _uploads(ctx)
    assert (upload.status, upload.cabinet_id, upload.client_id) == ("quarantined", None, None)
    with ctx.db.session() as s:
        assert s.scalars(select(IngestTask)).all() == []
    assert agent.head("alpha_clinet.status").status_code == 200


def test_a_client_name_differing_only_in_case_is_matched(agent: Agent, ctx: IngestContext) -> None:
    assert agent.upload("Alpha_Client.status", STATUS_BODY).status_code == 200
    [upload] = _uploads(ctx)
    assert upload.status == "queued" and upload.client_id is not None


@pytest.mark.parametrize(
    "filename",
    [
        "../alpha_client.status",
        "dir/alpha_client.status",
        "dir\\alpha_client.status",
        "..status",
        "a b.status",
        "alpha$client.status",
        "alpha:client.xml",
        "alpha|client.zip",
        "alpha\x01client.status",
    ],
)
def test_bad_file_names_are_refused(agent: Agent, ctx: IngestContext, filename: str) -> None:
    response = agent.upload(filename, STATUS_BODY)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "bad-filename"
    assert _uploads(ctx) == []


@pytest.mark.parametrize(
    "filename", ["alpha_client.exe", "alpha_client", "alpha_client.zip.bak", "alpha_client.txt"]
)
def test_unsupported_types_are_refused(agent: Agent, ctx: IngestContext, filename: str) -> None:
    response = agent.upload(filename, STATUS_BODY)
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported-type"
    assert _uploads(ctx) == []


def test_a_file_over_the_limit_is_refused_and_nothing_is_kept(
    services: Services, tenants: Tenants, ctx: IngestContext
) -> None:
    small = Services(
        settings=services.settings.with_overrides(max_upload_bytes=1024),
        db=services.db,
        box=services.box,
        hashing=services.hashing,
    )
    from kodeks_smart.app import create_app

    with TestClient(create_app(small, role="api")) as client:
        agent = Agent(client, DEALER, tenants.token)
        assert agent.upload("alpha_client.status", b"x" * 1024).status_code == 200
        too_big = agent.upload("alpha_client.status", b"y" * 1025)
        assert too_big.status_code == 413 and too_big.json()["error"] == "too-large"
    assert len(_uploads(ctx)) == 1
    assert list((ctx.data_dir / "raw" / ".tmp").iterdir()) == []


def test_the_upload_header_and_a_multipart_file_field_are_required(
    http: TestClient, tenants: Tenants
) -> None:
    auth = {"params": {"token": tenants.token}}
    no_header = http.post(
        "/upload", headers={"dealer": DEALER}, files={"file": ("alpha_client.status", b"x 1")}, **auth
    )  # type: ignore[arg-type]
    assert no_header.status_code == 400 and no_header.json()["error"] == "upload-header"
    raw = http.post("/upload", headers={"dealer": DEALER, "upload": "yes"}, content=b"x 1", **auth)  # type: ignore[arg-type]
    assert raw.status_code == 400 and raw.json()["error"] == "not-multipart"
    other_field = http.post(
        "/upload",
        headers={"dealer": DEALER, "upload": "yes"},
        files={"report": ("alpha_client.status", b"x 1")},
        **auth,  # type: ignore[arg-type]
    )
    assert other_field.status_code == 400 and other_field.json()["error"] == "no-file"
