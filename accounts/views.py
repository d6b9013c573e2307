"""Sign-in, sign-out, profile (API tokens) and activation pages, for the console and portals."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.decorators.http import require_POST

from accounts import signins
from accounts.activation import user_for_activation
from accounts.forms import SetPasswordForm, SignInForm, TokenCreateForm
from accounts.services import password_set, token_issue, token_revoke
from audit import context as audit_context
from audit.middleware import client_ip
from audit.models import Channel
from serviflow.http import AuthenticatedHttpRequest
from serviflow.pages import next_target
from tenants.access import may_sign_in_on_host


class LoginView(View):
    """The console's and every portal's sign-in page; the host decides who may sign in."""

    template_name = "accounts/login.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            return redirect("home")
        return render(request, self.template_name, {"form": SignInForm(request)})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = SignInForm(request, data=request.POST)
        if not form.is_valid() or form.user is None:
            if form.retry_after is None:
                return render(request, self.template_name, {"form": form}, status=400)
            response = render(request, self.template_name, {"form": form}, status=429)
            response["Retry-After"] = str(form.retry_after)
            return response
        address = client_ip(request)
        with audit_context.person_context(form.user, channel=Channel.WEB, remote_addr=address):
            login(request, form.user, backend="django.contrib.auth.backends.ModelBackend")
        signins.record(signins.SIGNED_IN, user=form.user, channel=Channel.WEB, remote_addr=address)
        return HttpResponseRedirect(next_target(request))


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        signins.record(
            signins.SIGNED_OUT, user=request.user, channel=Channel.WEB, remote_addr=client_ip(request)
        )
    logout(request)
    return redirect("login")


@login_required
def profile(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    new_token: str | None = None
    form = TokenCreateForm()
    if request.method == "POST":
        form = TokenCreateForm(request.POST)
        if form.is_valid():
            _, new_token = token_issue(user=user, name=form.cleaned_data["name"])
            form = TokenCreateForm()
    tokens = user.api_tokens.order_by("-created_at")
    return render(request, "accounts/profile.html", {"form": form, "tokens": tokens, "new_token": new_token})


@login_required
@require_POST
def token_revoke_view(request: AuthenticatedHttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(request.user.api_tokens, pk=token_id)
    token_revoke(token=token)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("profile")


def activate(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    user = user_for_activation(uidb64, token)
    if user is not None and not may_sign_in_on_host(user, getattr(request, "tenant", None)):
        user = None  # a link is only good on the host its person signs in on
    if user is None:
        return render(request, "accounts/activate.html", {"invalid": True}, status=404)
    form = SetPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with audit_context.person_context(user, channel=Channel.WEB, remote_addr=client_ip(request)):
                password_set(user=user, password=form.cleaned_data["password1"])
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            signins.record(signins.SIGNED_IN, user=user, channel=Channel.WEB, remote_addr=client_ip(request))
        except ValidationError as exc:
            form.add_error("password1", exc.message_dict.get("password", exc.messages))
        else:
            messages.success(request, "Your password is set. Welcome!")
            return redirect("home")
    context: dict[str, Any] = {"form": form, "person": user}
    return render(request, "accounts/activate.html", context, status=400 if form.errors else 200)
