from __future__ import annotations

from celery import shared_task

from accounts.activation import activation_email_send
from people.models import CustomerUser
from tenants.jobs import TenantTask


@shared_task(base=TenantTask, name="people.send_invitation")
def send_invitation(profile_id: int) -> str | None:
    """Email a new customer user their activation link. Runs inside the customer's schema: the
    profile id is that customer's own. Sends only while the account has no password yet."""
    profile = CustomerUser.objects.select_related("user").filter(pk=profile_id).first()
    if profile is None or not profile.user.is_active or profile.user.has_usable_password():
        return None
    activation_email_send(user=profile.user)
    return profile.user.email
