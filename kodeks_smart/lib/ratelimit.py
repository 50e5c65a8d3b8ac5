"""Token buckets: one for a single stream, a keyed set for many (per address, per chat)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBucket:
    """``capacity`` tokens, refilled continuously at ``refill_per_second``."""

    def __init__(
        self, capacity: float, refill_per_second: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity = capacity
        self.rate = refill_per_second
        self._clock = clock
        self._tokens = capacity
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def allowed(self, cost: float = 1.0, *, consume: bool = True) -> bool:
        """True if ``cost`` tokens are available (and, with ``consume``, take them)."""
        self._refill()
        if self._tokens < cost:
            return False
        if consume:
            self._tokens -= cost
        return True

    def wait_time(self, cost: float = 1.0) -> float:
        """Seconds until ``cost`` tokens are available."""
        self._refill()
        missing = cost - self._tokens
        return 0.0 if missing <= 0 else missing / self.rate


class KeyedRateLimiter:
    """A token bucket per key, keeping at most ``max_keys`` buckets (least recently used dropped)."""

    def __init__(
        self,
        capacity: float,
        refill_per_second: float,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self.rate = refill_per_second
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def bucket(self, key: str) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(self.capacity, self.rate, self._clock)
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket

    def allowed(self, key: str, cost: float = 1.0, *, consume: bool = True) -> bool:
        return self.bucket(key).allowed(cost, consume=consume)
