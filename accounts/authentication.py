from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts import signins
from accounts.models import ApiToken, Licence, User, token_digest
from audit.middleware import client_ip
from audit.models import Channel

_TOUCH_EVERY = timedelta(minutes=5)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>``: one indexed lookup by SHA-256 digest per request."""

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: use 'Bearer <token>'.")
        try:
            raw = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token contains invalid characters.") from None
        matches = ApiToken.objects.live().select_related("user").filter(digest=token_digest(raw)).order_by()
        token = next(iter(matches[:1]), None)  # the digest is unique: no ordering needed
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("This account is deactivated.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > _TOUCH_EVERY:
            # Bookkeeping, not a change a person made: a plain UPDATE, outside the audit trail.
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            if token.user.licence == Licence.OCCASIONAL:
                # An occasional agent's access is what day passes are bought for: each use of a
                # token (at most one entry per token per touch interval) is on the record.
                signins.record(
                    signins.TOKEN_USED,
                    user=token.user,
                    channel=Channel.API,
                    remote_addr=client_ip(request),
                    token=token,
                )
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
