"""Console pages of a customer's users."""

from __future__ import annotations

from django.urls import path

from people import console

urlpatterns = [
    path("customers/<slug:slug>/users/", console.user_list, name="console-users"),
    path("customers/<slug:slug>/users/new/", console.user_new, name="console-user-new"),
    path("customers/<slug:slug>/users/<int:user_id>/", console.user_detail, name="console-user"),
    path("customers/<slug:slug>/users/<int:user_id>/state/", console.user_state, name="console-user-state"),
]
