"""The load benchmark's smoke run: the production settings, with static files served from the
apps' folders through whitenoise's finders instead of a collected, compressed manifest. A clean
clone has no ``var/static``, and collecting it costs about a minute of CPU in CI for files the
smoke run never asks for; the full run collects them as the image's build does."""

from serviflow.settings import *  # noqa: F403
from serviflow.settings import STORAGES

STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
WHITENOISE_USE_FINDERS = True
