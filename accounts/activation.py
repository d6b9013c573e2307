"""One-time activation links (valid PASSWORD_RESET_TIMEOUT, seven days): set a first password."""

from __future__ import annotations

from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from accounts.models import User
from core.links import console_link, portal_link


def activation_link(user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    if user.is_customer_user and user.customer is not None:
        return portal_link(user.customer.portal_host, "activate", uidb64=uid, token=token)
    return console_link("activate", uidb64=uid, token=token)


def activation_email_send(*, user: User) -> None:
    context = {"user": user, "link": activation_link(user)}
    send_mail(
        subject="Activate your ServiFlow account",
        message=render_to_string("accounts/email/activation.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )


def user_for_activation(uidb64: str, token: str) -> User | None:
    try:
        user_id = int(force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError):
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not default_token_generator.check_token(user, token):
        return None
    return user
