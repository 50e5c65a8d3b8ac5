"""Alerting: the rule catalogue, evaluation, lifecycle, muting, grouping and hand-off to the outbox."""
