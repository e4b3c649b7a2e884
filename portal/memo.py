"""A memo for the length of one request: the settings rows a page reads in several places (the program, the
tiers) are read once per request instead of once per caller.

Only inside a request (``RequestMemoMiddleware``): a worker's task, a job or the shell reads every time, as
before, so a long-running process never holds a stale copy. A save of a memoised model clears the memo
(``request_memo_clear`` connected to its ``post_save``), so a request that changes a setting reads the new value
afterwards. Two limits: a ``QuerySet.update()`` or raw SQL on such a model sends no signal — call
``request_memo_clear()`` after one inside a request; and a task run in process (no broker: ``make run``, the
tests) runs inside the request that queued it, so it shares that request's memo (read after the request's own
saves, hence current).
"""

from collections.abc import Callable
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

_memo: ContextVar[dict | None] = ContextVar("portal_request_memo", default=None)


def request_memo(key: str, compute: Callable[[], T]) -> T:
    """``compute()``, once per request for ``key``; every time outside a request."""
    memo = _memo.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def request_memo_clear(*args, **kwargs) -> None:
    """Forget what this request memoised (a signal receiver: it takes and ignores the signal's arguments)."""
    memo = _memo.get()
    if memo is not None:
        memo.clear()


class RequestMemoMiddleware:
    """Give each request a memo of its own, dropped when the response is returned."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _memo.set({})
        try:
            return self.get_response(request)
        finally:
            _memo.reset(token)
