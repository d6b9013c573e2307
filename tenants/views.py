from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import User
from tenants.access import customers_visible_to


@login_required
def console_home(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    customers = customers_visible_to(user).order_by("name")
    return render(request, "console/home.html", {"customers": customers})


@login_required
def portal_home(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/home.html", {})
