"""Notification delivery: channels (e-mail, Telegram, webhook), routing, the outbox and its worker.

The alert engine builds a `base.Message`, calls `outbox.enqueue` (which routes it with `routing.route`
unless targets are given) inside its own transaction, and after the commit calls `worker.wake`. The
delivery worker, a scheduler job, sends the outbox rows through the channels and records every attempt.
"""
