"""Telegram channel against a local server speaking the Bot API: escaping, splitting, limits, errors."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque

import httpx
import pytest

from kodeks_smart.notify.base import DeliveryError, Message, RateLimited
from kodeks_smart.notify.telegram import (
    MAX_MESSAGE_LENGTH,
    ChatTarget,
    TelegramChannel,
    TelegramLimits,
    escape_html,
    link_html,
    split_html,
    telegram_text,
)
from tests.notify.conftest import ManualClock, alert
from tests.notify.servers import FakeBotApi, Reply, telegram_error, telegram_html_error

TOKEN = "123456:secret-bot-token"


def deliver(
    bot_api: FakeBotApi,
    message: Message,
    target: ChatTarget,
    *,
    limits: TelegramLimits | None = None,
    timeout: float = 10.0,
) -> None:
    async def go() -> None:
        async with httpx.AsyncClient() as http:
            # A manual clock by default: rate-limit waits take no real time unless a test wants them to.
            channel = TelegramChannel(
                http, limits or TelegramLimits(ManualClock()), api_url=bot_api.url, timeout=timeout
            )
            await channel.send(message, target)

    asyncio.run(go())


def long_alert(lines: int = 300) -> Message:
    rows = "\n".join(f"<b>клиент_{n:03}</b> — нет ответа на ping &lt;{n}&gt;" for n in range(lines))
    return alert("KodeksIcmpCount", client=None, telegram_html=f"<b>FIRING KodeksIcmpCount</b>\n{rows}")


# -- text -----------------------------------------------------------------------------------------


def test_plain_text_is_escaped_so_that_telegram_can_parse_it(bot_api: FakeBotApi) -> None:
    message = alert(text="Ошибка <Area> & код 2007 > 0", links=())
    deliver(bot_api, message, ChatTarget("555", TOKEN))
    [sent] = bot_api.delivered
    assert sent.text == "Ошибка &lt;Area&gt; &amp; код 2007 &gt; 0"
    assert sent.parse_mode == "HTML" and sent.token == TOKEN and sent.chat_id == "555"


def test_links_become_anchors_with_escaped_urls() -> None:
    assert link_html("Описание <аварии>", "https://x.ru/a?b=1&c=2") == (
        '<a href="https://x.ru/a?b=1&amp;c=2">Описание &lt;аварии&gt;</a>'
    )
    text = telegram_text(alert(text="Нет связи"))
    assert text.endswith('<a href="https://smart.example.ru/docs/KodeksIcmp">Развёрнутое описание аварии</a>')
    assert telegram_html_error(text) is None


def test_the_fake_server_refuses_unescaped_html_like_telegram(bot_api: FakeBotApi) -> None:
    with pytest.raises(DeliveryError) as caught:
        deliver(bot_api, alert(telegram_html="a < b"), ChatTarget("555", TOKEN))
    assert caught.value.permanent and "can't parse entities" in caught.value.message


def test_a_long_message_is_split_on_line_boundaries_into_valid_parts(bot_api: FakeBotApi) -> None:
    message = long_alert()
    original = telegram_text(message)
    assert len(original) > 2 * MAX_MESSAGE_LENGTH
    deliver(bot_api, message, ChatTarget("555", TOKEN))
    sent = [m.text for m in bot_api.delivered]
    assert len(sent) == 4
    assert all(len(part) <= MAX_MESSAGE_LENGTH for part in sent)
    assert all(part.endswith("&gt;") for part in sent)  # each part ends where a line ended
    assert "\n".join(sent) == original


def test_a_tag_open_at_a_cut_is_closed_and_reopened() -> None:
    text = "<pre>" + "\n".join(f"строка {n}" for n in range(50)) + "</pre>"
    parts = split_html(text, limit=100)
    assert len(parts) > 1
    for part in parts:
        assert part.startswith("<pre>") and part.endswith("</pre>")
        assert telegram_html_error(part) is None
        assert len(part) <= 100
    assert "".join(p.removeprefix("<pre>").removesuffix("</pre>") + "\n" for p in parts).strip() == (
        "\n".join(f"строка {n}" for n in range(50))
    )


def test_a_line_longer_than_the_limit_is_cut_on_spaces_and_never_inside_an_entity() -> None:
    text = " ".join(["&amp;&lt;слово&gt;"] * 200)
    parts = split_html(text, limit=120)
    assert all(len(p) <= 120 and telegram_html_error(p) is None for p in parts)
    assert " ".join(parts) == text


def test_a_word_longer_than_the_limit_is_cut_anywhere_outside_markup() -> None:
    text = "<i>" + "я" * 250 + "</i>"
    parts = split_html(text, limit=100)
    assert all(len(p) <= 100 and telegram_html_error(p) is None for p in parts)
    assert "".join(p.removeprefix("<i>").removesuffix("</i>") for p in parts) == "я" * 250


def test_a_short_message_is_not_split() -> None:
    assert split_html("<b>FIRING</b> KodeksIcmp") == ["<b>FIRING</b> KodeksIcmp"]


# -- rate limits ----------------------------------------------------------------------------------


def test_messages_to_one_chat_are_at_least_a_second_apart(bot_api: FakeBotApi) -> None:
    limits = TelegramLimits()  # the real clock: spacing is measured by the server
    for n in range(4):
        deliver(bot_api, alert(text=f"сообщение {n}"), ChatTarget("777", TOKEN), limits=limits)
    times = [m.at for m in bot_api.delivered]
    assert len(times) == 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.9, gaps  # one per second, measured at the server (allowing for scheduling jitter)


def test_a_group_gets_at_most_twenty_messages_in_any_minute() -> None:
    clock = ManualClock()
    limits = TelegramLimits(clock)
    sent_at: list[float] = []

    async def send_many() -> None:
        for _ in range(45):
            await limits.acquire("-100123", max_wait=3600)
            sent_at.append(clock.monotonic())

    asyncio.run(send_many())
    for start in sent_at:
        in_window = [t for t in sent_at if start <= t < start + 60]
        assert len(in_window) <= 20


def test_a_private_chat_is_not_held_to_the_group_limit() -> None:
    clock = ManualClock()
    limits = TelegramLimits(clock)

    async def send_many() -> float:
        begin = clock.monotonic()
        for _ in range(30):
            await limits.acquire("555", max_wait=3600)
        return clock.monotonic() - begin

    assert asyncio.run(send_many()) == pytest.approx(29.0)


def test_a_wait_longer_than_allowed_puts_the_message_back_instead_of_blocking() -> None:
    clock = ManualClock()
    limits = TelegramLimits(clock)
    limits.pause("555", 120)
    with pytest.raises(RateLimited) as caught:
        asyncio.run(limits.acquire("555", max_wait=30))
    assert caught.value.retry_after == pytest.approx(120)
    assert clock.monotonic() == 1000.0  # nothing was slept


def test_a_429_reply_pauses_the_chat_for_retry_after(bot_api: FakeBotApi) -> None:
    clock = ManualClock()
    limits = TelegramLimits(clock)
    bot_api.script.append(telegram_error(429, "Too Many Requests: retry after 7", retry_after=7))
    with pytest.raises(DeliveryError) as caught:
        deliver(bot_api, alert(), ChatTarget("555", TOKEN), limits=limits)
    assert not caught.value.permanent and caught.value.retry_after == 7
    assert limits.wait_time("555") == pytest.approx(7)
    assert limits.wait_time("556") == 0


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "permanent"),
    [
        (telegram_error(400, "Bad Request: chat not found"), True),
        (telegram_error(403, "Forbidden: bot was blocked by the user"), True),
        (telegram_error(403, "Forbidden: bot was kicked from the group chat"), True),
        (telegram_error(401, "Unauthorized"), True),
        (telegram_error(500, "Internal Server Error"), False),
        (telegram_error(502, "Bad Gateway"), False),
        (Reply(503, b"<html>gateway</html>"), False),
    ],
    ids=["chat-not-found", "blocked", "kicked", "bad-token", "500", "502", "503-not-json"],
)
def test_errors_are_sorted_into_permanent_and_retryable(
    bot_api: FakeBotApi, reply: Reply, permanent: bool
) -> None:
    bot_api.script.append(reply)
    with pytest.raises(DeliveryError) as caught:
        deliver(bot_api, alert(), ChatTarget("555", TOKEN))
    assert caught.value.permanent is permanent
    assert TOKEN not in caught.value.message


def test_a_timeout_is_retryable(bot_api: FakeBotApi) -> None:
    bot_api.script.append(Reply(200, {"ok": True}, delay=5))
    with pytest.raises(DeliveryError) as caught:
        deliver(bot_api, alert(), ChatTarget("555", TOKEN), timeout=0.3)
    assert not caught.value.permanent and "не ответил вовремя" in caught.value.message


def test_an_unreachable_api_is_retryable_and_the_token_is_not_shown() -> None:
    from tests.live import free_port

    async def go() -> None:
        async with httpx.AsyncClient() as http:
            channel = TelegramChannel(http, TelegramLimits(), api_url=f"http://127.0.0.1:{free_port()}")
            await channel.send(alert(), ChatTarget("555", TOKEN))

    with pytest.raises(DeliveryError) as caught:
        asyncio.run(go())
    assert not caught.value.permanent and TOKEN not in caught.value.message


def test_a_group_that_became_a_supergroup_is_followed_to_its_new_id(bot_api: FakeBotApi) -> None:
    bot_api.chat_script["-4001"] = deque(
        [
            telegram_error(
                400, "Bad Request: group chat was upgraded to a supergroup chat", migrate_to_chat_id=-100777
            )
        ]
    )
    target = ChatTarget("-4001", TOKEN)
    deliver(bot_api, alert(), target)
    assert [m.chat_id for m in bot_api.delivered] == ["-100777"]
    assert target.migrated_to == "-100777" and target.chat_id == "-100777"


def test_parts_already_delivered_are_not_sent_again(bot_api: FakeBotApi) -> None:
    message = long_alert()
    bot_api.script.extend([Reply(200, {"ok": True, "result": {}}), telegram_error(502, "Bad Gateway")])
    target = ChatTarget("555", TOKEN)
    with pytest.raises(DeliveryError):
        deliver(bot_api, message, target)
    assert target.parts_sent == 1
    deliver(bot_api, message, target)
    texts = [r.json["text"] for r in bot_api.requests if r.status == 200]
    assert len(texts) == 4 and len(set(texts)) == 4
    assert target.parts_sent == 4


def test_escape_html_leaves_quotes_alone() -> None:
    assert escape_html("\"a\" <b> & 'c'") == "\"a\" &lt;b&gt; &amp; 'c'"
