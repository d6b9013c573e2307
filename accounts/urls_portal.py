"""Signing in and out, the profile with its API tokens, account activation: on every host."""

from __future__ import annotations

from django.urls import path

from accounts import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("profile/", views.profile, name="profile"),
    path("profile/tokens/<int:token_id>/revoke/", views.token_revoke_view, name="token-revoke"),
    path("activate/<str:uidb64>/<str:token>/", views.activate, name="activate"),
]
