"""The OpenAPI schema: bearer tokens, the one error body on every operation, ``Idempotency-Key`` on every POST."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from .idempotency import IDEMPOTENCY_PARAMETER


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class NearMatchSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    country = serializers.CharField()


class RegistrationRefusedSerializer(ErrorSerializer):
    near_matches = NearMatchSerializer(many=True, required=False)


ERRORS = {
    "401": "No token, or a revoked, expired or unknown one.",
    "403": "The token's role does not give access to this operation.",
    "429": "Too many requests for this token: wait the seconds in Retry-After.",
}
OBJECT_ERRORS = {"404": "No such object among your partner's."}
INPUT_ERRORS = {
    "400": "The request is malformed (fields names the bad input).",
    "422": "A program rule refused the request (same messages as the portal's pages).",
}


class ApiAutoSchema(AutoSchema):
    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self.method == "POST":
            parameters.append(IDEMPOTENCY_PARAMETER)
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = dict(ERRORS)
        if "{" in self.path or getattr(self.view, "pagination_class", None):  # a bad cursor is a 404 too
            codes.update(OBJECT_ERRORS)
        if self.method == "POST" or self._has_query_filters():
            codes.update(INPUT_ERRORS)
        for code, description in codes.items():
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                response["description"] = description
                responses[code] = response
        return responses

    def _has_query_filters(self) -> bool:
        return bool(getattr(self.view, "filterset_class", None)) or bool(getattr(self.view, "pagination_class", None))


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (portal → API tokens) or a staff token: `Bearer prm_…`.",
        }
