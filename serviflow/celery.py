"""The Celery app: Redis broker, acks_late, tasks discovered from every app's tasks.py."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serviflow.settings")

app = Celery("serviflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
