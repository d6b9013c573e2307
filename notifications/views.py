"""The in-app feed as a page (the bell in the header links here), on the console and portals."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_POST

from notifications.selectors import notifications_for
from notifications.services import notifications_mark_read
from serviflow.http import AuthenticatedHttpRequest


@login_required
def feed(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    return render(request, "notifications/feed.html", {"notifications": notifications_for(user)[:100]})


@require_POST
@login_required
def read_all(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    notifications_mark_read(user=user)
    return HttpResponseRedirect("/notifications/")
