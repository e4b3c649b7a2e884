"""One error body for every API error: ``{"code", "message", "fields"}``.

``fields`` maps an input field to its messages (``__all__`` for the request as a whole). Shape errors (a missing
field, a malformed date) are 400; a rule of the program refusing the request is 422, with the same messages as the
pages (HTML links removed).
"""

from django.core.exceptions import ValidationError as DjangoValidationError
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
    code = getattr(error, "code", None) or "refused"
    return RuleRefused(fields, code=code)


def _flatten(detail) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        fields = {}
        for key, value in detail.items():
            name = NON_FIELD if key == "non_field_errors" else str(key)
            if isinstance(value, dict):
                for sub, messages in _flatten(value).items():
                    fields[f"{name}.{sub}"] = messages
            else:
                fields[name] = [str(item) for item in (value if isinstance(value, list) else [value])]
        return fields
    if isinstance(detail, list):
        return {NON_FIELD: [str(item) for item in detail]}
    return {}


def api_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = refused_from(exc)
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
