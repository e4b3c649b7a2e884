"""The shared cache (Redis) with a per-process fallback, so that sign-in survives a Redis outage.

The cache holds the sign-in and password-reset rate limits. When Redis cannot be reached, each call falls back
to an in-process memory cache: the limits still apply, per process instead of program-wide, and the outage is
logged (once per ``LOG_EVERY``) instead of failing every sign-in with a 500.
"""

import logging
import time

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
LOG_EVERY = 60.0  # seconds


class RedisCacheWithFallback(RedisCache):
    """``RedisCache`` whose every operation falls back to a per-process ``LocMemCache`` while Redis is down."""

    def __init__(self, server, params):
        options = params.setdefault("OPTIONS", {})
        # Fail fast: a sign-in must not wait seconds for a Redis that is gone.
        options.setdefault("socket_connect_timeout", 0.5)
        options.setdefault("socket_timeout", 0.5)
        super().__init__(server, params)
        self._fallback = LocMemCache(f"fallback-{id(self)}", {"TIMEOUT": params.get("TIMEOUT", 300)})
        self._outage_logged_at = None

    def _degraded(self, operation: str, error: Exception):
        now = time.monotonic()
        if self._outage_logged_at is None or now - self._outage_logged_at >= LOG_EVERY:
            self._outage_logged_at = now
            logger.error("Redis cache unreachable (%s: %s): using the per-process fallback", operation, error)
        return self._fallback

    def _recovered(self):
        if self._outage_logged_at is not None:
            self._outage_logged_at = None
            logger.warning("Redis cache reachable again")


def _with_fallback(name):
    redis_method = getattr(RedisCache, name)

    def method(self, *args, **kwargs):
        try:
            result = redis_method(self, *args, **kwargs)
        except UNREACHABLE as error:
            return getattr(self._degraded(name, error), name)(*args, **kwargs)
        self._recovered()
        return result

    method.__name__ = name
    method.__doc__ = redis_method.__doc__
    return method


OPERATIONS = ("add", "get", "set", "touch", "delete", "get_many", "has_key", "incr", "set_many", "delete_many", "clear")
for _name in OPERATIONS:
    setattr(RedisCacheWithFallback, _name, _with_fallback(_name))
