"""The peer's URLs (``bench/peers``): django-helpdesk at the root, its API under ``/api/``."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [path("", include("helpdesk.urls"))]
