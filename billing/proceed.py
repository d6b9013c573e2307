"""The page an occasional agent sees first each day: a day pass will be consumed; Proceed."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from billing.models import Channel
from billing.services import (
    DayPassRequired,
    active_until,
    agent_zone,
    day_pass_consume,
    needs_day_pass,
    next_local_midnight,
)
from serviflow.http import AuthenticatedHttpRequest


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return "/"
    return target


@login_required
def day_pass(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_provider_staff:
        raise Http404
    target = _next(request)
    now = timezone.now()
    if not needs_day_pass(user) or active_until(user, now) is not None:
        return HttpResponseRedirect(target)
    zone = agent_zone(user)
    today = now.astimezone(zone).date()
    context = {
        "next": target,
        "today": today,
        "zone": zone.key,
        "until": timezone.localtime(next_local_midnight(today, zone), zone),
        "problem": None,
    }
    if request.method == "POST":
        try:
            use = day_pass_consume(user=user, channel=Channel.CONSOLE, now=now)
        except DayPassRequired as refusal:
            context["problem"] = refusal.detail
            return render(request, "billing/day_pass.html", context, status=402)
        until = timezone.localtime(use.valid_until, zone).strftime("%a %d %b %H:%M %Z")
        messages.success(request, f"Day pass used for {today:%a %d %b}: you have access until {until}.")
        return HttpResponseRedirect(target)
    return render(request, "billing/day_pass.html", context)
