"""Settings of the peer, django-helpdesk, as ``bench/peers`` runs it: the least it needs to serve
its REST API (``/api/tickets/``) in production mode. Written for this benchmark, not taken from
django-helpdesk's demo project. Run only by the peer's own virtual environment under ``./var/``
(``bench/peers/__main__.py`` sets ``PEER_DATABASE_URL`` and ``PYTHONPATH``); ServiFlow never
imports it.

Authentication is DRF's TokenAuthentication (one indexed look-up per request, no password
hashing); mail goes nowhere (the dummy backend: ServiFlow's creations, for their part, queue their
notifications for a worker that the benchmark does not run).
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs, unquote, urlsplit

_url = urlsplit(os.environ["PEER_DATABASE_URL"])
_query = {name: values[-1] for name, values in parse_qs(_url.query).items()}

SECRET_KEY = os.environ.get("PEER_SECRET_KEY", "bench-peers-throw-away")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "peer_urls"
USE_TZ = True
TIME_ZONE = "UTC"
SITE_ID = 1
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
STATIC_URL = "/static/"
LOGIN_URL = "/login/"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.sites",
    "django.contrib.humanize",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "helpdesk",
]
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(_url.path.lstrip("/")),
        "USER": unquote(_url.username or ""),
        "PASSWORD": unquote(_url.password or ""),
        "HOST": _query.get("host") or _url.hostname or "",  # ``?host=/socket/dir`` too
        "PORT": str(_url.port or ""),
        "CONN_MAX_AGE": None,  # one connection per gunicorn worker, kept (ServiFlow pools its own)
    }
}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
}
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
HELPDESK_TEAMS_MODE_ENABLED = False  # no pinax-teams
LOGGING = {"version": 1, "disable_existing_loggers": False}
