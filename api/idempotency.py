"""``Idempotency-Key`` on every POST: a retry returns the first response and runs nothing twice.

The key row is inserted first, in the request's transaction: on PostgreSQL a concurrent retry blocks on the
unique index until the first request commits, then reads its stored response. A request that fails with an
exception is rolled back with its key, so it can be retried. The same key with another body is refused (422).
"""

import hashlib
import json

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from .errors import RuleRefused
from .models import IdempotentRequest

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_HEADERS = ("Location",)

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Any unique string (a UUID): a retry with the same key returns the first response.",
)


def _fingerprint(request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b" " + request.path.encode() + b"\n")
    digest.update(request.body)
    return digest.hexdigest()


def _replay(stored: IdempotentRequest) -> Response:
    response = Response(stored.body, status=stored.status_code, headers=stored.headers)
    response[REPLAYED_HEADER] = "true"
    return response


def _refuse(fields_message: str, code: str):
    raise RuleRefused({HEADER: [fields_message]}, code=code)


def _existing(token, key, fingerprint) -> Response:
    stored = IdempotentRequest.objects.get(token=token, key=key)
    if stored.fingerprint != fingerprint:
        _refuse(_("This Idempotency-Key was already used with a different request."), "idempotency_key_reused")
    return _replay(stored)


def idempotent(request, handler) -> Response:
    """Run ``handler()`` once per (token, ``Idempotency-Key``); without the header, just run it."""
    key = request.headers.get(HEADER)
    if key is None:
        return handler()
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        _refuse(_("An Idempotency-Key has 1 to %(max)s characters.") % {"max": MAX_KEY_LENGTH}, "invalid")
    token, fingerprint = request.auth, _fingerprint(request)
    with transaction.atomic():
        try:
            with transaction.atomic():
                stored = IdempotentRequest.objects.create(token=token, key=key, fingerprint=fingerprint)
        except IntegrityError:
            return _existing(token, key, fingerprint)
        response = handler()
        stored.status_code = response.status_code
        stored.body = json.loads(json.dumps(response.data, cls=JSONEncoder))
        stored.headers = {name: response[name] for name in KEPT_HEADERS if response.has_header(name)}
        stored.save(update_fields=["status_code", "body", "headers"])
        return response


class IdempotentPostMixin:
    """An API view whose POST runs ``self.run(**kwargs)`` through ``idempotent`` (authentication, permissions and
    throttles already ran: a refused request stores nothing)."""

    def post(self, request, *args, **kwargs):
        return idempotent(request, lambda: self.run(*args, **kwargs))

    def run(self, *args, **kwargs):
        raise NotImplementedError
