"""Settings for the channel partner portal, read from the environment in this one place.

With nothing set, the portal runs on an SQLite file under ``var/``, Celery tasks run in-process and
emails are written to ``var/mail/``. ``DATABASE_URL``, ``CELERY_BROKER_URL`` and ``REDIS_URL`` switch to
PostgreSQL, real workers and a shared cache; ``DJANGO_ENV=production`` turns on the hardened settings.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PORTAL_VAR_DIR", BASE_DIR / "var"))


def env(name, default=None):
    return os.environ.get(name, default)


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DJANGO_ENV = env("DJANGO_ENV", "development")
PRODUCTION = DJANGO_ENV == "production"

if PRODUCTION:
    SECRET_KEY = env("DJANGO_SECRET_KEY")
    ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")
    if not SECRET_KEY or len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set (50+ characters) in production.")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set in production.")
    DEBUG = False
else:
    SECRET_KEY = env("DJANGO_SECRET_KEY", "dev-only-insecure-key-do-not-use-in-production-0123456789")
    ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
    DEBUG = env_bool("DJANGO_DEBUG", True)

INSTALLED_APPS = [
    "portal.admin_apps.PortalAdminConfig",  # django.contrib.admin with the portal's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_tables2",
    "django_countries",  # translated country names (the codes allowed are portal.countries')
    "django_filters",
    "csp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "portal",
    "partners",
    "deals",
    "rebates",
    "api",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "portal.memo.RequestMemoMiddleware",  # first: every later middleware and the view share the request's memo
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.middleware.PrivateNoStoreMiddleware",  # after WhiteNoise: static files stay cacheable
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "portal.middleware.UserLanguageMiddleware",
    "portal.middleware.MalformedRequestMiddleware",
    "portal.middleware.StaffTwoFactorMiddleware",
    "partners.view_as.ViewAsPartnerMiddleware",  # after auth and sessions: staff viewing as a partner, read only
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "partners.context_processors.partner_context",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env("SQLITE_PATH", str(VAR_DIR / "portal.sqlite3")),
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (login rate limits live here) ---------------------------------------------------------
REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    # Falls back to a per-process cache while Redis is down (portal/cache.py): sign-in keeps working.
    CACHES = {"default": {"BACKEND": "portal.cache.RedisCacheWithFallback", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "portal"}}

# --- REST API (issue 14) ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.ApiTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.ApiCursorPagination",
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle"],
    # Per token, counted in the shared cache (REDIS_URL): a partner's CRM sync is well under this.
    "DEFAULT_THROTTLE_RATES": {"token": env("API_RATE_LIMIT", "600/minute")},
    "DEFAULT_SCHEMA_CLASS": "api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "COERCE_DECIMAL_TO_STRING": True,
}
# Webhook endpoints must be https in production; plain http is allowed elsewhere (local receivers, tests).
API_WEBHOOK_ALLOW_HTTP = env_bool("API_WEBHOOK_ALLOW_HTTP", not PRODUCTION)
# Webhooks to private, loopback or reserved addresses (a local receiver): outside production only.
API_WEBHOOK_ALLOW_PRIVATE = env_bool("API_WEBHOOK_ALLOW_PRIVATE", not PRODUCTION)
SPECTACULAR_SETTINGS = {
    "TITLE": "Partner Portal API",
    "DESCRIPTION": "Deal registrations, routed orders, orders, rebate statements and tier of the partner a token "
    "belongs to. Authenticate with `Authorization: Bearer <token>` (portal → API tokens).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",  # our static files (drf-spectacular-sidecar), no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RegistrationStatusEnum": "deals.models.Registration.Status",
        "RoutedOfferStatusEnum": "deals.models.RoutingOffer.Status",
        "StatementStatusEnum": "rebates.models.Statement.Status",
    },
}

# --- Accounts -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "portal.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"  # partner users → dashboard, channel staff → admin
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_ADAPTER = "portal.adapters.PortalAccountAdapter"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
# Limits "per ip" are per real client: see ALLAUTH_TRUSTED_PROXY_COUNT below. Failed sign-ins are limited per
# account (5 in 5 minutes) and, more loosely, per client IP (an office behind one NAT shares it).
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "20/5m/ip,5/5m/key",
    "reset_password": "5/m/ip,3/m/key",
    "confirm_email": "3/m/key",
}
# The client IP for rate limits. Behind the production layout (gunicorn on 127.0.0.1 behind an HTTPS proxy)
# REMOTE_ADDR is the proxy's, so every visitor would share one limit: trust the last X-Forwarded-For entry
# that our own proxies added (one proxy by default in production), or a header the proxy sets itself.
ALLAUTH_TRUSTED_PROXY_COUNT = int(env("PORTAL_TRUSTED_PROXY_COUNT", "1" if PRODUCTION else "0"))
ALLAUTH_TRUSTED_CLIENT_IP_HEADER = env("PORTAL_TRUSTED_CLIENT_IP_HEADER") or None
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Partner Portal] "
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Dell EMC Partner Portal"

# --- i18n -----------------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True
LANGUAGE_COOKIE_NAME = "portal_language"
# One unambiguous date format per language (month in words): portal/formats/<language>/formats.py.
FORMAT_MODULE_PATH = ["portal.formats"]

# --- Static ---------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", VAR_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
MEDIA_ROOT = Path(env("MEDIA_ROOT", VAR_DIR / "media"))
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# --- Email ----------------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Partner Portal <portal@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_HOST = env("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = int(env("EMAIL_PORT", "25"))
    EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
    EMAIL_TIMEOUT = 30
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"

# --- Celery ---------------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Late acks are opted into per task (only idempotent ones); the default acknowledges on receipt.
CELERY_TASK_ACKS_LATE = False
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Every task is short (minutes): a task over its hard limit is killed. A message taken by a worker that dies is
# redelivered once the visibility timeout passes, so the timeout sits just above the hard limit — a task still
# running is never delivered twice, a lost one is redelivered within minutes (docs/reliability.md). Jobs longer
# than the limit must be chunked into several tasks, not given a longer limit.
CELERY_TASK_TIME_LIMIT = int(env("CELERY_TASK_TIME_LIMIT", str(15 * 60)))
# A quarter close runs in chunks of partners (portal.chunks): at most this many partners, or about this many of
# the quarter's order lines, per chunk; each chunk is a task of seconds to a few minutes, far under the limit.
REBATES_CLOSE_CHUNK_PARTNERS = int(env("REBATES_CLOSE_CHUNK_PARTNERS", "1000"))
REBATES_CLOSE_CHUNK_LINES = int(env("REBATES_CLOSE_CHUNK_LINES", "250000"))
# The nightly tier evaluation runs in chunks of this many partners (under a second each at program scale); 5,000
# partners make 2 chunks, one per worker. A chunk sums its id range's lines of the window: at 2,500 partners the
# planner reads them through the booked_on index in parallel (≈ 0.14 s a chunk on the 1M-line bench), the
# (partner, booked_on) index alone being ≈ 20 ms faster (docs/performance.md).
TIERS_CHUNK_PARTNERS = int(env("TIERS_CHUNK_PARTNERS", "2500"))
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(env("CELERY_VISIBILITY_TIMEOUT", str(CELERY_TASK_TIME_LIMIT + 5 * 60))),
    # Workers look for messages past their visibility timeout every interval × throttle seconds (1 minute).
    "unacked_restore_interval": int(env("CELERY_UNACKED_RESTORE_INTERVAL", "30")),
    "unacked_restore_throttle": 2,
    # A broker gone without closing the connection must not hang a publish (or a request) forever.
    "socket_timeout": 10,
    "socket_connect_timeout": 2,
    # Each worker takes from its queues in sorted name order: "celery" (jobs, chunks, sweepers) before "email".
    "queue_order_strategy": "sorted",
}
# Two queues, which every worker consumes (``celery worker`` without ``-Q`` reads ``task_queues``): the nightly
# jobs and their chunks on "celery", sending email and rendering statements on "email". A night's chunks queue
# thousands of emails; taken first, the jobs finish in their own time, the emails follow (docs/operations.md).
EMAIL_QUEUE = "email"
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [Queue("celery"), Queue(EMAIL_QUEUE)]
CELERY_TASK_ROUTES = {
    name: {"queue": EMAIL_QUEUE}
    for name in (
        "portal.tasks.outbox_send",
        "portal.tasks.outbox_send_batch",
        "rebates.tasks.statements_email",
        "rebates.tasks.statements_deliver",
        "rebates.tasks.statement_documents_render",
    )
}
# A request that queues a task after its commit must not hang on a broker that is down: fail fast, the task
# stays in the outbox (portal.TaskOutbox) and the beat sweeper dispatches it.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}

# --- Security -------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "style-src": ["'self'"],
        "script-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
    }
}
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^health/"]  # the load balancer probes the app itself, over plain HTTP
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    LANGUAGE_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# --- Portal ---------------------------------------------------------------------------------------
# Links in emails (invitations, registration decisions, routed offers) start with this.
PORTAL_BASE_URL = env("PORTAL_BASE_URL", "http://127.0.0.1:8000")
IMPORT_MAX_BYTES = int(env("IMPORT_MAX_BYTES", str(200 * 1024 * 1024)))
IMPORT_MAX_ROWS = int(env("IMPORT_MAX_ROWS", "2000000"))
# A streamed import reports its first errors (by line) and counts the others.
IMPORT_MAX_REPORTED_ERRORS = int(env("IMPORT_MAX_REPORTED_ERRORS", "10000"))
# CI sets this so that a test needing PostgreSQL, Redis, a worker, SMTP or a browser fails instead of skipping.
PORTAL_REQUIRE_SERVICES = env_bool("PORTAL_REQUIRE_SERVICES")
DJANGO_TABLES2_TEMPLATE = "django_tables2/portal_table.html"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "celery.app.trace": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
