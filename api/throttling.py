from rest_framework.throttling import SimpleRateThrottle

from .models import ApiToken


class TokenRateThrottle(SimpleRateThrottle):
    """Requests per token (``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["token"]``), counted in the shared cache;
    a 429 carries ``Retry-After``."""

    scope = "token"

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, ApiToken):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
