"""One error body for every API error: ``{"code", "message", "fields"}``.

``fields`` maps an input field to its messages (``__all__`` for the request as a whole). Shape errors (a missing
field, a malformed date) are 400; a rule of the program refusing the request is 422, with the same messages as the
pages (HTML links removed).
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.html import strip_tags
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

NON_FIELD = "__all__"


class RuleRefused(exceptions.APIException):
    """A program rule refused the request (422), with messages by field."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "refused"

    def __init__(self, fields: dict[str, list[str]], *, code: str = "refused", message: str = ""):
        self.fields = fields
        self.code = code
        first = next((messages[0] for messages in fields.values() if messages), "")
        super().__init__(message or first or _("The request was refused."), code)


def refused_from(error: DjangoValidationError, *, rename=None) -> RuleRefused:
    """A service's ``ValidationError`` as a 422 (field names mapped by ``rename``)."""
    rename = rename or {}
    if hasattr(error, "error_dict"):
        fields = {
            rename.get(key, key): [strip_tags(m) for m in messages] for key, messages in error.message_dict.items()
        }
    else:
        fields = {NON_FIELD: [strip_tags(m) for m in error.messages]}
    codes = [item.code for item in error.error_list] if not hasattr(error, "error_dict") else []
    codes += [item.code for items in getattr(error, "error_dict", {}).values() for item in items]
    code = next((code for code in codes if code), None) or "refused"
    return RuleRefused(fields, code=code)


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error details as ``{"field": [...], "lines.1.estimated_amount": [...]}``."""
    if isinstance(detail, dict):
        items = [(NON_FIELD if key == "non_field_errors" else str(key), value) for key, value in detail.items()]
    elif isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        items = [(str(index), value) for index, value in enumerate(detail) if value]
    else:
        messages = [str(item) for item in (detail if isinstance(detail, list) else [detail])]
        return {prefix or NON_FIELD: messages}
    fields: dict[str, list[str]] = {}
    for key, value in items:
        name = prefix if key == NON_FIELD and prefix else (f"{prefix}.{key}" if prefix else key)
        for field, messages in _flatten(value, name).items():
            fields.setdefault(field, []).extend(messages)
    return fields


def api_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = refused_from(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, RuleRefused):
        body = {"code": exc.code, "message": str(exc.detail), "fields": exc.fields}
        if getattr(exc, "near_matches", None) is not None:
            body["near_matches"] = exc.near_matches
    elif isinstance(exc, exceptions.ValidationError):
        body = {"code": "invalid", "message": _("Some fields are invalid."), "fields": _flatten(exc.detail)}
    else:
        detail = getattr(exc, "detail", None)
        code = detail.code if hasattr(detail, "code") else getattr(exc, "default_code", "error")
        message = str(detail) if detail is not None else str(response.data.get("detail", ""))
        body = {"code": str(code), "message": message, "fields": {}}
    return Response(body, status=response.status_code, headers=dict(response.items()))
