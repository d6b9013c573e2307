"""Portal pages of the company's users (its admins)."""

from __future__ import annotations

from django.urls import path

from people import portal

urlpatterns = [
    path("users/", portal.user_list, name="portal-users"),
    path("users/new/", portal.user_new, name="portal-user-new"),
    path("users/<int:user_id>/", portal.user_detail, name="portal-user"),
    path("users/<int:user_id>/state/", portal.user_state, name="portal-user-state"),
]
