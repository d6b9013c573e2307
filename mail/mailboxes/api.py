"""API: the provider's IMAP mailboxes (``/api/v1/email/mailboxes/``, provider admins; agents get
403, anyone else 404). The password is written, never read: no answer carries it, encrypted or
not. Writes go through ``mail.mailboxes.services``, as from the console."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import mixins, serializers

from mail.mailboxes import services
from mail.models import Mailbox
from serviflow.api.serializers import InputModelSerializer
from serviflow.api.views import ApiViewSet
from tenants.access import Reach
from tenants.models import Customer


def _text(maximum: int, **kwargs: Any) -> serializers.RegexField:
    # not trimmed here: the service trims, after refusing control characters
    return serializers.RegexField(services.TEXT_PATTERN, max_length=maximum, trim_whitespace=False, **kwargs)


class MailboxSerializer(InputModelSerializer):
    host = serializers.RegexField(
        services.HOST_PATTERN,
        max_length=services.HOST_MAX,
        trim_whitespace=False,
        help_text="The IMAP server's host name or IPv4 address.",
    )
    port = serializers.IntegerField(min_value=1, max_value=65535, default=993)
    use_ssl = serializers.BooleanField(
        default=True, help_text="IMAP over TLS (the server's certificate is checked); false: plain IMAP."
    )
    username = _text(services.USERNAME_MAX, help_text="The user name to sign in with.")
    password = _text(
        services.PASSWORD_MAX,
        write_only=True,
        required=False,
        help_text="Stored encrypted, never shown. Left out of an update, it stays as it is.",
    )
    folder = _text(services.FOLDER_MAX, default="INBOX", help_text="The folder polled.")
    customer = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Customer.objects.active(),
        allow_null=True,
        default=None,
        help_text="The customer whose mail this mailbox receives (its slug); null: the provider's shared "
        "mailbox, routed by sender.",
        error_messages={"does_not_exist": "No such customer: '{value}'."},
    )

    class Meta:
        model = Mailbox
        fields = [
            "id",
            "host",
            "port",
            "use_ssl",
            "username",
            "password",
            "folder",
            "customer",
            "last_poll",
            "last_error",
        ]
        read_only_fields = ["id", "last_poll", "last_error"]
        extra_kwargs = {
            "last_poll": {"help_text": "When the last poll ran (null: never)."},
            "last_error": {"help_text": "What went wrong in the last poll; empty when it went well."},
        }


class MailboxCreateSerializer(MailboxSerializer):
    password = _text(services.PASSWORD_MAX, write_only=True, help_text="Stored encrypted, never shown.")


class MailboxViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ApiViewSet,
):
    """IMAP mailboxes polled for mail (every ``MAIL_POLL_SECONDS``), each with its last poll and
    error. Mail of a mailbox pinned to a customer goes to that customer."""

    read_reach = write_reach = Reach.ADMIN
    refusal = services.MAILBOXES_REFUSAL

    def get_queryset(self) -> QuerySet[Mailbox]:
        return Mailbox.objects.select_related("customer").order_by("host", "username", "pk")

    def get_serializer_class(self) -> type[MailboxSerializer]:
        return MailboxCreateSerializer if self.action == "create" else MailboxSerializer

    def perform_create(self, serializer: MailboxSerializer) -> None:  # type: ignore[override]
        serializer.instance = services.mailbox_create(
            fields=services.MailboxFields(**serializer.validated_data)
        )

    def perform_update(self, serializer: MailboxSerializer) -> None:  # type: ignore[override]
        serializer.instance = services.mailbox_update(
            mailbox=serializer.instance,  # type: ignore[arg-type]
            changes=services.MailboxChanges(**serializer.validated_data),
        )

    def perform_destroy(self, instance: Mailbox) -> None:
        services.mailbox_delete(mailbox=instance)
