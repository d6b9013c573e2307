from __future__ import annotations

from celery import shared_task
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.activation import activation_email_send
from accounts.models import User
from audit.jobs import JobTask


@shared_task(base=JobTask, name="accounts.send_activation_email")
def send_activation_email(user_id: int) -> bool:
    """Idempotent enough for acks_late: it only sends while the account has no password yet."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or user.has_usable_password():
        return False
    activation_email_send(user=user)
    return True


@shared_task(base=JobTask, name="accounts.sessions_clear_expired")
def sessions_clear_expired() -> int:
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted
