"""Sign-in attempt counters in Redis (``TODOSTACK_REDIS_URL``): one script call per step.

Each counter is a hash (``count``, ``start``, ``locked``, in milliseconds) that expires by
itself a day after its window or lock would have ended, so nothing needs pruning. Scripts run
atomically in Redis, so concurrent attempts from any worker or pod never lose a count. Times
come from the service's clock, as with the database store.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from todostack.context import Unavailable
from todostack.usecases.ports import Attempt

T = TypeVar("T")

__all__ = ["RedisAttempts"]

_PREFIX = "todostack:signin:"
_KEEP_MS = 24 * 3600 * 1000

_ATTEMPT = """
local now, window, keep = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local locked = tonumber(redis.call('HGET', KEYS[1], 'locked') or '0')
if locked > now then return {0, locked} end
local start = tonumber(redis.call('HGET', KEYS[1], 'start') or '-1')
local count
if start < 0 or start <= now - window then
  count = 1
  redis.call('HSET', KEYS[1], 'count', 1, 'start', now)
else
  count = redis.call('HINCRBY', KEYS[1], 'count', 1)
end
redis.call('PEXPIRE', KEYS[1], window + keep)
return {count, 0}
"""
_LOCK = """
local till, now, keep = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local locked = tonumber(redis.call('HGET', KEYS[1], 'locked') or '0')
if till > locked then redis.call('HSET', KEYS[1], 'locked', till) end
local ttl = math.max(till - now, 0) + keep
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
"""
_REFUND = """
local count = tonumber(redis.call('HGET', KEYS[1], 'count') or '0')
if count > 0 then redis.call('HINCRBY', KEYS[1], 'count', -1) end
return 1
"""


async def _answer(call: Awaitable[T]) -> T:
    """Redis down or slow: the sign-in is refused as unavailable (503), never let through unthrottled."""
    try:
        return await call
    except RedisError:
        raise Unavailable("the sign-in throttle's store (Redis) cannot answer now; retry shortly") from None


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


class RedisAttempts:
    def __init__(self, client: Redis) -> None:
        self._redis = client
        self._attempt = client.register_script(_ATTEMPT)
        self._lock = client.register_script(_LOCK)
        self._refund = client.register_script(_REFUND)

    @classmethod
    def from_url(cls, url: str) -> RedisAttempts:
        return cls(Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2))

    async def attempt(self, key: str, now: datetime, window_seconds: int) -> Attempt:
        answer: Any = await _answer(
            self._attempt(keys=[_PREFIX + key], args=[_ms(now), window_seconds * 1000, _KEEP_MS])
        )
        count, locked = int(answer[0]), int(answer[1])
        if locked:
            return Attempt(0, datetime.fromtimestamp(locked / 1000, UTC))
        return Attempt(count)

    async def lock(self, key: str, until: datetime) -> None:
        now = datetime.now(UTC)
        await _answer(self._lock(keys=[_PREFIX + key], args=[_ms(until), _ms(now), _KEEP_MS]))

    async def refund(self, key: str) -> None:
        await _answer(self._refund(keys=[_PREFIX + key], args=[]))

    async def clear(self, key: str) -> None:
        await _answer(self._redis.delete(_PREFIX + key))

    async def prune(self, before: datetime) -> int:
        return 0  # every counter expires by itself

    async def close(self) -> None:
        await self._redis.aclose()
