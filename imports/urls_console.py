"""Console pages of imports."""

from __future__ import annotations

from django.urls import path

from imports import console

urlpatterns = [
    path("imports/", console.import_list, name="console-imports"),
    path("imports/new/", console.import_new, name="console-import-new"),
    path("imports/<int:import_id>/", console.import_detail, name="console-import"),
    path("imports/<int:import_id>/retry/", console.import_retry_page, name="console-import-retry"),
]
