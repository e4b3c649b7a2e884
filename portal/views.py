from django.conf import settings
from django.http import HttpResponseRedirect, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from . import health


@require_POST
def language_switch(request):
    """Switch the interface language; a signed-in user's choice is saved for their emails too."""
    language = request.POST.get("language", "")
    next_url = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        next_url = "/"
    response = HttpResponseRedirect(next_url)
    if language not in dict(settings.LANGUAGES):
        return response
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        secure=settings.PRODUCTION,
        httponly=True,
    )
    if request.user.is_authenticated and request.user.language != language:
        request.user.language = language
        request.user.save(update_fields=["language"])
    return response


API_PREFIX = "/api/"  # the REST API answers its errors in its own JSON body (api/errors.py), even from here


def _api_error(request, status: int, code: str, message: str):
    """The API's error body for an error raised before any API view (a malformed path, an unknown URL)."""
    if not request.path.startswith(API_PREFIX):
        return None
    return JsonResponse({"code": code, "message": message, "fields": {}}, status=status)


def error_403(request, exception=None):
    return _api_error(request, 403, "permission_denied", "Forbidden.") or render(request, "403.html", status=403)


def error_404(request, exception=None):
    return _api_error(request, 404, "not_found", "Not found.") or render(request, "404.html", status=404)


def error_400(request, exception=None):
    return _api_error(request, 400, "bad_request", "Bad request.") or defaults.bad_request(request, exception)


def error_500(request):
    """The branded error page, rendered from the template alone: no request context, so no context processor,
    no session, no user and no query — the database may be what failed."""
    api = _api_error(request, 500, "server_error", "Server error.")
    if api is not None:
        return api
    return HttpResponseServerError(loader.get_template("500.html").render())


@require_GET
@never_cache
def health_live(request):
    """Liveness: the process answers (no database, no broker: a restart would not fix those)."""
    return JsonResponse({"ok": True})


@require_GET
@never_cache
def health_ready(request):
    """Readiness for the load balancer: 503 while the database or the broker is unreachable."""
    result = health.readiness()
    return JsonResponse(result, status=200 if result["ok"] else 503)


@require_GET
@never_cache
def health_jobs(request):
    """For monitoring: 503 when beat has not run its sweeper for minutes or a recorded task waits undispatched."""
    result = health.jobs_check()
    return JsonResponse(result, status=200 if result["ok"] else 503)
