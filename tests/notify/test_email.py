"""E-mail channel against a real SMTP server (aiosmtpd) on loopback: content, security modes, errors."""

from __future__ import annotations

import asyncio
import gc
from email.message import EmailMessage

import pytest

from kodeks_smart.notify.base import DeliveryError, Message
from kodeks_smart.notify.email import EmailChannel, MailTarget, RelayConfig, build_digest, make_message_id
from tests.live import free_port
from tests.notify.conftest import alert
from tests.notify.servers import SelfSigned, SmtpServer

# aiosmtpd itself sets the deprecated Session.login_data after every successful AUTH.
auth_warning = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated:DeprecationWarning")


def relay_to(
    server: SmtpServer, security: str = "plain", login: tuple[str, str] | None = None
) -> RelayConfig:
    return RelayConfig(
        id=None,
        host="127.0.0.1",
        port=server.port,
        security=security,
        username=login[0] if login else None,
        password=login[1] if login else None,
        sender="СМАРТ <alert@smart.example.ru>",
    )


def send(channel: EmailChannel, message: Message, relay: RelayConfig, to: str = "support@example.ru") -> None:
    target = MailTarget(to, relay, make_message_id("k" * 40, relay.sender))
    asyncio.run(channel.send(message, target))


def parts(msg: EmailMessage) -> dict[str, str]:
    found = {}
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            assert isinstance(part, EmailMessage)
            found[part.get_content_type()] = part.get_content()
    return found


def test_an_alert_mail_has_the_tagged_subject_and_plain_and_html_parts_with_russian_intact(
    smtp: SmtpServer,
) -> None:
    send(EmailChannel(), alert(), relay_to(smtp))
    [received] = smtp.received
    assert received.rcpt_tos == ["support@example.ru"]
    assert received.mail_from == "alert@smart.example.ru"
    msg = received.message
    assert msg["Subject"] == "[SMART][critical][KodeksIcmp][0599ROGAIKOPITA][alpha_client] Нет ответа на ping"
    assert msg.get_content_type() == "multipart/alternative"
    body = parts(msg)
    assert "Сервер ПК ТЭ клиента ООО «Альфа» не отвечает на ping с 09:00." in body["text/plain"]
    assert "Развёрнутое описание аварии: https://smart.example.ru/docs/KodeksIcmp" in body["text/plain"]
    assert "<p>Сервер ПК ТЭ клиента ООО «Альфа» не отвечает на ping с 09:00.</p>" in body["text/html"]
    assert 'href="https://smart.example.ru/docs/KodeksIcmp"' in body["text/html"]
    assert msg["Message-ID"] == "<" + "k" * 40 + "@smart.example.ru>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert (msg["X-SMART-Rule"], msg["X-SMART-Dealer"], msg["X-SMART-Client"]) == (
        "KodeksIcmp",
        "0599ROGAIKOPITA",
        "alpha_client",
    )


def test_a_mail_without_html_or_links_is_plain_text_only(smtp: SmtpServer) -> None:
    send(EmailChannel(), alert(html="", links=()), relay_to(smtp))
    msg = smtp.messages[0]
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content().startswith("Сервер ПК ТЭ")


def test_line_breaks_in_a_subject_cannot_add_headers(smtp: SmtpServer) -> None:
    evil = alert(subject="ping\r\nBcc: victim@example.ru", client="alpha]\n[x")
    send(EmailChannel(), evil, relay_to(smtp))
    msg = smtp.messages[0]
    assert msg["Bcc"] is None
    assert (
        msg["Subject"]
        == "[SMART][critical][KodeksIcmp][0599ROGAIKOPITA][alpha_x] ping Bcc: victim@example.ru"
    )
    assert smtp.received[0].rcpt_tos == ["support@example.ru"]


def test_a_count_alert_about_no_single_client_has_no_client_tag(smtp: SmtpServer) -> None:
    send(
        EmailChannel(),
        alert("KodeksIcmpCount", client=None, subject="[FIRING:31] Массовый сбой"),
        relay_to(smtp),
    )
    assert (
        smtp.messages[0]["Subject"]
        == "[SMART][critical][KodeksIcmpCount][0599ROGAIKOPITA] [FIRING:31] Массовый сбой"
    )


@auth_warning
def test_starttls_with_a_login_delivers(certificate: SelfSigned) -> None:
    server = SmtpServer(
        security="starttls", tls=certificate, login=("alert@smart.example.ru", "пароль-1")
    ).start()
    try:
        channel = EmailChannel(tls_context=certificate.client_context())
        send(channel, alert(), relay_to(server, "starttls", ("alert@smart.example.ru", "пароль-1")))
        assert len(server.received) == 1
    finally:
        server.stop()


def test_a_wrong_smtp_password_is_retryable_and_names_the_login(certificate: SelfSigned) -> None:
    server = SmtpServer(
        security="starttls", tls=certificate, login=("alert@smart.example.ru", "right")
    ).start()
    try:
        channel = EmailChannel(tls_context=certificate.client_context())
        with pytest.raises(DeliveryError) as caught:
            send(channel, alert(), relay_to(server, "starttls", ("alert@smart.example.ru", "wrong")))
        assert not caught.value.permanent
        assert "alert@smart.example.ru" in caught.value.message and "wrong" not in caught.value.message
        assert server.received == []
    finally:
        server.stop()


# aiosmtpd leaves the server side of a failed TLS handshake for the garbage collector; collect it here,
# inside this test, instead of letting its ResourceWarning surface in whichever test runs next.
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_server_whose_certificate_is_not_trusted_is_not_sent_to(certificate: SelfSigned) -> None:
    server = SmtpServer(security="starttls", tls=certificate).start()
    try:
        with pytest.raises(DeliveryError) as caught:
            send(EmailChannel(), alert(), relay_to(server, "starttls"))
        assert not caught.value.permanent
        assert server.received == []
    finally:
        server.stop()
        gc.collect()


@auth_warning
def test_implicit_tls_with_a_login_delivers(certificate: SelfSigned) -> None:
    server = SmtpServer(security="ssl", tls=certificate, login=("u@example.ru", "p")).start()
    try:
        send(
            EmailChannel(tls_context=certificate.client_context()),
            alert(),
            relay_to(server, "ssl", ("u@example.ru", "p")),
        )
        assert len(server.received) == 1
    finally:
        server.stop()


def test_a_refused_recipient_is_a_permanent_error(smtp: SmtpServer) -> None:
    smtp.handler.refuse["nobody@example.ru"] = "550 5.1.1 No such user"
    with pytest.raises(DeliveryError) as caught:
        send(EmailChannel(), alert(), relay_to(smtp), to="nobody@example.ru")
    assert caught.value.permanent
    assert "550" in caught.value.message and "nobody@example.ru" in caught.value.message


def test_a_temporary_refusal_is_retryable(smtp: SmtpServer) -> None:
    smtp.handler.refuse["busy@example.ru"] = "451 4.7.1 Try again later"
    with pytest.raises(DeliveryError) as caught:
        send(EmailChannel(), alert(), relay_to(smtp), to="busy@example.ru")
    assert not caught.value.permanent


def test_a_server_that_is_down_is_retryable() -> None:
    nobody = RelayConfig(None, "127.0.0.1", free_port(), "plain", None, None, "alert@smart.example.ru")
    with pytest.raises(DeliveryError) as caught:
        send(EmailChannel(timeout=5), alert(), nobody)
    assert not caught.value.permanent
    assert "нет связи с почтовым сервером" in caught.value.message


def test_a_relay_with_an_unknown_security_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="security"):
        RelayConfig(None, "127.0.0.1", 25, "tls13", None, None, "a@b")


def test_a_relay_never_shows_its_password() -> None:
    relay = RelayConfig(None, "smtp.yandex.ru", 465, "ssl", "u", "секрет", "a@b")
    assert "секрет" not in repr(relay)


def test_a_digest_carries_every_message_with_its_tags() -> None:
    digest = build_digest(
        [alert(), alert("KodeksTcpStatus", subject="Порт закрыт")], dealer_code="0599ROGAIKOPITA"
    )
    assert digest.subject == "Сводка оповещений: 2"
    assert digest.tags == "[SMART][critical][digest][0599ROGAIKOPITA]"
    assert "1. [SMART][critical][KodeksIcmp][0599ROGAIKOPITA][alpha_client] Нет ответа на ping" in digest.text
    assert "2. [SMART][critical][KodeksTcpStatus][0599ROGAIKOPITA][alpha_client] Порт закрыт" in digest.text
    assert len(digest.links) == 2


def test_a_subject_the_alert_engine_already_tagged_is_not_tagged_twice_and_its_html_document_is_kept(
    smtp: SmtpServer,
) -> None:
    subject = "[SMART][critical][KodeksIcmp][0599ROGAIKOPITA][клиентов: 2] [FIRING:2] Нет ответа на ping"
    document = '<!doctype html><html lang="ru"><body><h2>Авария: KodeksIcmp</h2></body></html>'
    send(EmailChannel(), alert(subject=subject, html=document), relay_to(smtp))
    msg = smtp.messages[0]
    assert msg["Subject"] == subject
    assert parts(msg)["text/html"].strip() == document


def test_a_long_russian_subject_arrives_word_for_word(smtp: SmtpServer) -> None:
    words = " ".join(f"слово{n}" for n in range(30))
    send(EmailChannel(), alert(subject=words), relay_to(smtp))
    assert smtp.messages[0]["Subject"].endswith("[alpha_client] " + words)


def test_a_digest_of_whole_html_documents_nests_only_their_bodies() -> None:
    document = "<!doctype html><html><body><h2>Авария</h2></body></html>"
    digest = build_digest([alert(html=document), alert(html=document)], dealer_code="0599ROGAIKOPITA")
    assert digest.html.count("<h2>Авария</h2>") == 2 and "<html" not in digest.html


def test_a_link_already_in_the_text_is_not_repeated_under_it() -> None:
    from kodeks_smart.notify.base import Link, Message
    from kodeks_smart.notify.email import plain_body

    url = "http://smart.local/docs/alerts/KodeksIcmp"
    message = Message(
        category="technical",
        rule="KodeksIcmp",
        dealer_code="D",
        client="c",
        subject="s",
        text=f"Развёрнутое описание аварии: {url}",
        links=(Link("KodeksIcmp", url), Link("Кабинет", "http://smart.local/c/1")),
    )
    body = plain_body(message)
    assert body.count(url) == 1 and "Кабинет: http://smart.local/c/1" in body
