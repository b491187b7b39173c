"""The one settings module, driven by environment variables.

| variable | meaning |
| --- | --- |
| SIMCARE_DATA_DIR | embedded database, generated keys, mail and SMS files (default ./var) |
| SIMCARE_PRODUCTION | "1": secure cookies, HSTS, no debug, keys required |
| SIMCARE_SECRET_KEY | Django's secret key (generated under the data dir when not in production) |
| SIMCARE_FIELD_KEYS | comma-separated Fernet keys for encrypted fields, newest first (rotation) |
| SIMCARE_ALLOWED_HOSTS | comma-separated host names |
| DATABASE_URL | postgres://… for PostgreSQL; SQLite under the data dir when unset |
| REDIS_URL | redis://… backs the channel layer, the task queue, the cache and rate limits |
| SIMCARE_EMAIL_URL | smtp://user:pass@host:port, or unset for files under the data dir |
| SIMCARE_VOUCHER_KEY | key of the voucher PIN hashes (default: derived from the secret key) |
| SIMCARE_CHAT_ALLOWED_ORIGINS | comma-separated outside origins allowed to embed the chat widget |
| SIMCARE_WEB_WORKERS | `simcare serve` processes (default: one per CPU with REDIS_URL, else 1) |
| SIMCARE_WEB_THREADS | request threads per web process, each with one database connection (8) |
| SIMCARE_DB_CONN_MAX_AGE | seconds a thread keeps its SQLite connection (600); PostgreSQL pools |
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import dj_database_url
from django.utils.translation import gettext_lazy as _

from simcare.kit import secrets_store


def _env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _json_env(name: str, default: Any) -> Any:
    raw = os.environ.get(name)
    return json.loads(raw) if raw else default


def _env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("SIMCARE_DATA_DIR", "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

PRODUCTION = _env_flag("SIMCARE_PRODUCTION")
DEBUG = _env_flag("SIMCARE_DEBUG", default=False) and not PRODUCTION
TESTING = _env_flag("SIMCARE_TESTING") or "pytest" in sys.modules

if PRODUCTION:
    SECRET_KEY = os.environ["SIMCARE_SECRET_KEY"]
    FIELD_ENCRYPTION_KEYS = _env_list("SIMCARE_FIELD_KEYS")
    if not FIELD_ENCRYPTION_KEYS:
        raise RuntimeError("SIMCARE_FIELD_KEYS must be set in production")
else:
    SECRET_KEY = os.environ.get("SIMCARE_SECRET_KEY") or secrets_store.django_secret(DATA_DIR)
    FIELD_ENCRYPTION_KEYS = _env_list("SIMCARE_FIELD_KEYS") or [secrets_store.fernet_key(DATA_DIR)]

ALLOWED_HOSTS = _env_list("SIMCARE_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver,[::1]")
CSRF_TRUSTED_ORIGINS = _env_list("SIMCARE_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "unfold.apps.BasicAppConfig",  # our admin site (simcare.admin_apps) replaces unfold's default
    "unfold.contrib.filters",
    "simcare.admin_apps.SimcareAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "huey.contrib.djhuey",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "csp",
    "ninja",  # its docs page then uses its bundled Swagger UI, not a CDN
    "simcare.kit",
    "simcare.accounts",
    "simcare.catalog",
    "simcare.stores",
    "simcare.lines",
    "simcare.ledger",
    "simcare.orders",
    "simcare.notify",
    "simcare.ops",
    "simcare.portal",
    "simcare.care",
    "simcare.aftersales",
    "simcare.usage",
    "simcare.ivr",
    "simcare.partners",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "simcare.ops.middleware.RequestLogMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simcare.ops.csp.SimcareCSPMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "simcare.urls"
ASGI_APPLICATION = "simcare.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
SQLITE_PATH = DATA_DIR / "simcare.sqlite3"
if os.environ.get("DATABASE_URL"):
    DATABASES = {
        "default": dj_database_url.parse(
            os.environ["DATABASE_URL"],
            conn_max_age=int(os.environ.get("SIMCARE_DB_CONN_MAX_AGE", "60")),
            conn_health_checks=True,
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(SQLITE_PATH),
            # Kept open by each web request thread and the WebSocket thread (they are
            # reused and bounded: simcare.kit.web_handler), not reopened per request.
            "CONN_MAX_AGE": int(os.environ.get("SIMCARE_DB_CONN_MAX_AGE", "600")),
            "OPTIONS": {
                # WAL lets readers go on while one writer writes; IMMEDIATE takes the
                # write lock at BEGIN so two writers queue instead of deadlocking.
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    "PRAGMA busy_timeout=20000;"
                    "PRAGMA foreign_keys=ON;"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # A file, not :memory:, so tests see WAL and several connections like production.
            "TEST": {"NAME": str(DATA_DIR / "test.sqlite3")},
        }
    }
DATABASE_IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
# Outside the tests, each process holds its PostgreSQL connections in a pool
# (psycopg_pool, Django's OPTIONS "pool") of at most SIMCARE_DB_POOL_SIZE (default 10,
# above the web handler's SIMCARE_WEB_THREADS + 1): a request borrows a connection at
# its first query and gives it back when it ends; one that waits longer than
# SIMCARE_DB_POOL_TIMEOUT seconds fails. Without it, one persistent connection per
# thread grew without bound under load ("too many clients").
SIMCARE_DB_POOL_SIZE = int(os.environ.get("SIMCARE_DB_POOL_SIZE", "10"))
if DATABASE_IS_POSTGRES and not TESTING and SIMCARE_DB_POOL_SIZE > 0:
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": SIMCARE_DB_POOL_SIZE,
        "timeout": float(os.environ.get("SIMCARE_DB_POOL_TIMEOUT", "10")),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, tasks, cache ------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
# Django's database sessions, read by SQL compiled once (simcare.accounts.sessions).
SESSION_ENGINE = "simcare.accounts.sessions.db"

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    CACHES = {
        "default": {
            # Django's, with one connection pool a process (simcare.kit.redis_cache).
            "BACKEND": "simcare.kit.redis_cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "simcare",
        }
    }
    # Sessions read from Redis (written through to the database): every signed-in page
    # reads its session, and this saves that query. Revocation does not rest on deleting
    # session rows: a password change or a closed account fails the session's auth hash.
    SESSION_ENGINE = "simcare.accounts.sessions.cached_db"
    _redis = urlparse(REDIS_URL)
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "simcare",
        "immediate": TESTING,
        "connection": {"url": REDIS_URL},
        "consumer": {"workers": 2, "worker_type": "thread", "check_worker_health": True},
    }
else:
    # Channels' in-memory layer with a periodic sweep (simcare.kit.channel_layers).
    CHANNEL_LAYERS = {"default": {"BACKEND": "simcare.kit.channel_layers.InMemoryChannelLayer"}}
    # A database cache, so rate limits and lockouts hold across the web process
    # and the worker on the embedded default too.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "simcare_cache",
        }
    }
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "simcare",
        "immediate": TESTING,
        "filename": str(DATA_DIR / "tasks.sqlite3"),
        "consumer": {"workers": 2, "worker_type": "thread", "check_worker_health": True},
    }

# --- Auth and security ------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "simcare.accounts.backends.EmailOrPhoneBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if TESTING:
    # Argon2 by design costs ~50 ms a hash; tests that create hundreds of users
    # would spend minutes there. Production and the demo keep Argon2 first.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "portal:home"

AXES_FAILURE_LIMIT = 10
AXES_COOLOFF_TIME = 1  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False
AXES_ENABLE_ADMIN = True
# Masked in the recorded attempts (the password always is): no codes or tokens at rest.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp_token", "csrfmiddlewaretoken"]

OTP_TOTP_ISSUER = "simcare"

# The back office's look and sidebar (simcare.admin_site.sidebar_navigation).
UNFOLD = {
    "SITE_TITLE": _("simcare back office"),
    "SITE_HEADER": "simcare",
    "SITE_SUBHEADER": _("Back office"),
    "SITE_SYMBOL": "sim_card",
    "SHOW_LANGUAGES": True,
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": True,
        "navigation": "simcare.admin_site.sidebar_navigation",
    },
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = _env_flag("SIMCARE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SIMCARE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SILENCED_SYSTEM_CHECKS: list[str] = []

# No inline scripts anywhere: every script is a static file. The admin theme
# needs inline styles and Alpine's expression evaluator, so the admin gets
# those two allowances (simcare.ops.csp).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    },
}

# --- i18n ---------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("zh-hans", _("Simplified Chinese")),
    ("en", _("English")),
    ("fr", _("French")),
]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"
BUSINESS_TIME_ZONE = "America/Toronto"
LANGUAGE_COOKIE_NAME = "simcare_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"

# --- Static and media ---------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = DATA_DIR / "media"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Email and SMS -------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = os.environ.get("SIMCARE_FROM_EMAIL", "simcare <no-reply@simcare.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
_email_url = os.environ.get("SIMCARE_EMAIL_URL", "")
if _email_url:
    _parsed = urlparse(_email_url)
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _parsed.hostname or "localhost"
    EMAIL_PORT = _parsed.port or 25
    EMAIL_HOST_USER = unquote(_parsed.username or "")
    EMAIL_HOST_PASSWORD = unquote(_parsed.password or "")
    EMAIL_USE_TLS = _parsed.scheme == "smtp+tls"
    EMAIL_USE_SSL = _parsed.scheme == "smtps"
    EMAIL_TIMEOUT = 15
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(DATA_DIR / "mail")

SIMCARE_SMS_BACKEND = os.environ.get("SIMCARE_SMS_BACKEND", "simcare.notify.sms.FileSmsBackend")
SIMCARE_SMS_FILE = DATA_DIR / "sms.log"

# --- Business configuration (defaults of the spec, overridable by environment) ---------------
SIMCARE_LIFECYCLE = {
    "grace_days": int(os.environ.get("SIMCARE_GRACE_DAYS", "30")),
    "suspend_days": int(os.environ.get("SIMCARE_SUSPEND_DAYS", "60")),
    "number_quarantine_days": int(os.environ.get("SIMCARE_NUMBER_QUARANTINE_DAYS", "90")),
    "reminder_days_before_expiry": [
        int(day) for day in _env_list("SIMCARE_REMINDER_DAYS", "7,3,1")
    ],
    "reminder_days_before_suspension": 7,
    "reminder_days_before_recycling": 7,
}
# Money (orders/): sales tax by province (orders/tax.py), auto-renew schedule (20-money.md).
SIMCARE_SALES_TAX = _json_env("SIMCARE_SALES_TAX_JSON", None)
SIMCARE_AUTO_RENEW = {
    # first attempt this long before period_end; retries at period_end, +1 day, +3 days
    "lead_hours": int(os.environ.get("SIMCARE_AUTO_RENEW_LEAD_HOURS", "24")),
    "retry_offsets_hours": [0, 24, 72],
}
SIMCARE_PUBLIC_BASE_URL = os.environ.get("SIMCARE_PUBLIC_BASE_URL", "http://127.0.0.1:8000")
SIMCARE_WORKER_HEARTBEAT_MAX_AGE_SECONDS = 180
# The seller named on receipts (legal name, address, GST/HST registration number).
SIMCARE_BUSINESS_NAME = os.environ.get("SIMCARE_BUSINESS_NAME", "simcare Mobile Inc.")
SIMCARE_BUSINESS_ADDRESS = os.environ.get(
    "SIMCARE_BUSINESS_ADDRESS", "100 King Street West, Suite 5700\nToronto ON  M5X 1C7\nCanada"
)
SIMCARE_TAX_REGISTRATION = os.environ.get("SIMCARE_TAX_REGISTRATION", "123456789 RT0001")

# --- Payment providers (a method whose keys are unset is hidden, not broken) -----------------
# Stripe: card payments by Checkout Session, saved cards (SetupIntent) for auto-renew.
SIMCARE_STRIPE_SECRET_KEY = os.environ.get("SIMCARE_STRIPE_SECRET_KEY", "")
SIMCARE_STRIPE_WEBHOOK_SECRET = os.environ.get("SIMCARE_STRIPE_WEBHOOK_SECRET", "")
# Only tests and stand-ins change it; empty means Stripe's own https://api.stripe.com.
SIMCARE_STRIPE_API_BASE = os.environ.get("SIMCARE_STRIPE_API_BASE", "")
SIMCARE_STRIPE_MAX_NETWORK_RETRIES = int(os.environ.get("SIMCARE_STRIPE_MAX_NETWORK_RETRIES", "1"))
# PayPal Orders v2 (paypal-server-sdk): "sandbox" or "production"; the base URL overrides both.
SIMCARE_PAYPAL_CLIENT_ID = os.environ.get("SIMCARE_PAYPAL_CLIENT_ID", "")
SIMCARE_PAYPAL_CLIENT_SECRET = os.environ.get("SIMCARE_PAYPAL_CLIENT_SECRET", "")
SIMCARE_PAYPAL_WEBHOOK_ID = os.environ.get("SIMCARE_PAYPAL_WEBHOOK_ID", "")
SIMCARE_PAYPAL_ENVIRONMENT = os.environ.get("SIMCARE_PAYPAL_ENVIRONMENT", "sandbox")
SIMCARE_PAYPAL_API_BASE = os.environ.get("SIMCARE_PAYPAL_API_BASE", "")
# Seconds an outbound call to a payment provider may take before it counts as failed (retryable).
SIMCARE_PAYMENT_PROVIDER_TIMEOUT = float(os.environ.get("SIMCARE_PAYMENT_PROVIDER_TIMEOUT", "20"))
# Outside sites that may embed the chat widget (its WebSocket checks the Origin header),
# e.g. "https://www.example-mobile.ca"; the site's own ALLOWED_HOSTS always may.
SIMCARE_CHAT_ALLOWED_ORIGINS = _env_list("SIMCARE_CHAT_ALLOWED_ORIGINS")
# Closed chats (messages, attachments) are deleted after this many days (70-trust.md).
SIMCARE_CHAT_RETENTION_DAYS = int(os.environ.get("SIMCARE_CHAT_RETENTION_DAYS", "730"))

# --- Logging: structlog, JSON in production -------------------------------------------------
LOG_LEVEL = os.environ.get("SIMCARE_LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "structured": {"()": "simcare.ops.logs.make_formatter", "as_json": PRODUCTION},
    },
    "filters": {"redact": {"()": "simcare.ops.logs.RedactFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "structured",
            "filters": ["redact"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Handlers given here keep Huey's consumer from adding its own (duplicate lines).
        "huey": {"level": "INFO", "handlers": ["console"], "propagate": False},
        "axes": {"level": "WARNING"},
        # WeasyPrint logs each step of every PDF at INFO.
        "weasyprint": {"level": "WARNING"},
        # The twilio library logs every request's URL and headers at INFO (phone numbers).
        "twilio.http_client": {"level": "WARNING"},
    },
}

# --- Vouchers (orders/pins.py) ----------------------------------------------------------------
# The key of the PIN hashes. Set it in production: without it the key derives from
# SECRET_KEY, and rotating SECRET_KEY would make every printed card unredeemable.
SIMCARE_VOUCHER_KEY = os.environ.get("SIMCARE_VOUCHER_KEY", "")

# --- Customer care ----------------------------------------------------------------------------
# The bot answers with an article when its confidence (0..1, docs/care.md) reaches this.
CARE_BOT_THRESHOLD = float(os.environ.get("SIMCARE_BOT_THRESHOLD", "0.3"))
# --- After-sales (aftersales/policy.py): returns windows and photos; review requests ----------
SIMCARE_RETURNS = {
    "no_reason_days": int(os.environ.get("SIMCARE_RETURN_NO_REASON_DAYS", "7")),
    "quality_days": int(os.environ.get("SIMCARE_RETURN_QUALITY_DAYS", "30")),
    "wrong_item_days": int(os.environ.get("SIMCARE_RETURN_WRONG_ITEM_DAYS", "30")),
    "max_photos": int(os.environ.get("SIMCARE_RETURN_MAX_PHOTOS", "5")),
    "max_photo_bytes": int(os.environ.get("SIMCARE_RETURN_MAX_PHOTO_MB", "10")) * 1024 * 1024,
}
SIMCARE_REVIEWS = {
    # a fulfilled order is asked for a review this many days later, once
    "request_after_days": int(os.environ.get("SIMCARE_REVIEW_REQUEST_AFTER_DAYS", "3")),
}
# --- Hotline IVR (ivr/) and SMS gateways (notify/gateways.py) -------------------------------
# Twilio signs every webhook with the account's auth token; without one the IVR answers 403.
SIMCARE_TWILIO_ACCOUNT_SID = os.environ.get("SIMCARE_TWILIO_ACCOUNT_SID", "")
SIMCARE_TWILIO_AUTH_TOKEN = os.environ.get("SIMCARE_TWILIO_AUTH_TOKEN", "")
# Only tests and stand-ins change it; empty means Twilio's own https://api.twilio.com.
SIMCARE_TWILIO_API_BASE = os.environ.get("SIMCARE_TWILIO_API_BASE", "")
SIMCARE_TWILIO_SMS_FROM = os.environ.get("SIMCARE_TWILIO_SMS_FROM", "")
# Where "0 a person" is connected in business hours: an E.164 number or a sip: URI.
SIMCARE_HOTLINE_AGENT_NUMBER = os.environ.get("SIMCARE_HOTLINE_AGENT_NUMBER", "+14165550100")
# The care team whose business hours the hotline keeps (empty: the default team).
SIMCARE_HOTLINE_TEAM = os.environ.get("SIMCARE_HOTLINE_TEAM", "")
# Without any care team: weekday (0 = Monday) → opening ranges, America/Toronto;
# Ontario holidays are closed.
SIMCARE_HOTLINE_HOURS = _json_env(
    "SIMCARE_HOTLINE_HOURS_JSON",
    {
        "0": [["09:00", "21:00"]],
        "1": [["09:00", "21:00"]],
        "2": [["09:00", "21:00"]],
        "3": [["09:00", "21:00"]],
        "4": [["09:00", "21:00"]],
        "5": [["10:00", "18:00"]],
        "6": [],
    },
)
SIMCARE_HOTLINE_VOICEMAIL_MAX_SECONDS = int(
    os.environ.get("SIMCARE_HOTLINE_VOICEMAIL_MAX_SECONDS", "120")
)
# Twilio <Say> voice per language ("alice" speaks zh-CN, en-CA and fr-CA).
SIMCARE_HOTLINE_VOICES = _json_env(
    "SIMCARE_HOTLINE_VOICES_JSON", {"zh-hans": "alice", "en": "alice", "fr": "alice"}
)
# Kannel smsbox (GET /cgi-bin/sendsms) and an SMPP SMSC; see docs/partners.md "SMS gateways".
SIMCARE_KANNEL_SENDSMS_URL = os.environ.get(
    "SIMCARE_KANNEL_SENDSMS_URL", "http://127.0.0.1:13013/cgi-bin/sendsms"
)
SIMCARE_KANNEL_USERNAME = os.environ.get("SIMCARE_KANNEL_USERNAME", "")
SIMCARE_KANNEL_PASSWORD = os.environ.get("SIMCARE_KANNEL_PASSWORD", "")
SIMCARE_SMS_SENDER = os.environ.get("SIMCARE_SMS_SENDER", "simcare")
SIMCARE_SMPP_HOST = os.environ.get("SIMCARE_SMPP_HOST", "127.0.0.1")
SIMCARE_SMPP_PORT = int(os.environ.get("SIMCARE_SMPP_PORT", "2775"))
SIMCARE_SMPP_SYSTEM_ID = os.environ.get("SIMCARE_SMPP_SYSTEM_ID", "")
SIMCARE_SMPP_PASSWORD = os.environ.get("SIMCARE_SMPP_PASSWORD", "")
SIMCARE_SMPP_SYSTEM_TYPE = os.environ.get("SIMCARE_SMPP_SYSTEM_TYPE", "")
SIMCARE_SMS_GATEWAY_TIMEOUT = float(os.environ.get("SIMCARE_SMS_GATEWAY_TIMEOUT", "10"))
# How long the outbox's SMPP bind waits for receipts after its last message before unbinding.
SIMCARE_SMPP_RECEIPT_WAIT_SECONDS = float(os.environ.get("SIMCARE_SMPP_RECEIPT_WAIT_SECONDS", "2"))

# Reseller webhooks may go to loopback, private and link-local addresses (an on-premises
# receiver, the tests' local ones); off by default against request forgery (kit/egress.py).
SIMCARE_WEBHOOK_ALLOW_PRIVATE = _env_flag("SIMCARE_WEBHOOK_ALLOW_PRIVATE")
# --- Web server (simcare serve, simcare.kit.web_handler) -------------------------------------
# Threads per web process that run requests (each keeps one database connection): more
# requests in flight wait for one. Connections <= workers * (threads + 1).
SIMCARE_WEB_THREADS = int(os.environ.get("SIMCARE_WEB_THREADS", "8"))
# --- Reseller orders in batches (simcare.partners.batching) ------------------------------------
# "thread": each web process places reseller renewals and add-ons in batches, in one thread
# with its own database connection (one more per process); "inline": each in its request's
# thread (the tests' default: the test client's transaction is not visible to another
# connection). Up to SIMCARE_RESELLER_BATCH_SIZE orders a transaction; a request waits at
# most SIMCARE_RESELLER_BATCH_TIMEOUT seconds for its answer (then 503 order_pending).
SIMCARE_RESELLER_BATCH = os.environ.get("SIMCARE_RESELLER_BATCH", "inline" if TESTING else "thread")
SIMCARE_RESELLER_BATCH_SIZE = int(os.environ.get("SIMCARE_RESELLER_BATCH_SIZE", "100"))
SIMCARE_RESELLER_BATCH_TIMEOUT = float(os.environ.get("SIMCARE_RESELLER_BATCH_TIMEOUT", "30"))
# Under load (the last batch had several orders) a batch waits up to this many milliseconds
# for as many requests as the last one had; an idle server places a lone order at once.
SIMCARE_RESELLER_BATCH_WAIT_MS = float(os.environ.get("SIMCARE_RESELLER_BATCH_WAIT_MS", "3"))
