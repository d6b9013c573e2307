"""API of the email channel: a customer's mail settings (``customers/{slug}/email/``, provider
admins write, member agents read) and the triage list (``/api/v1/email/triage/``, provider
staff): read each mail with the trace of why it is there, send it to a customer or discard it."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.parsers import is_id
from mail import services
from mail.models import InboundMessage, State
from mail.serializers import (
    MailSettingsInputSerializer,
    MailSettingsSerializer,
    TriageAssignSerializer,
    TriageSerializer,
)
from serviflow.api.views import ApiViewSet, CustomerScopedViewSet
from serviflow.http import ApiRequest
from tenants.access import Reach, customer_access
from tenants.schema import customer_schema
from tickets.selectors import ticket_for
from tickets.serializers import TicketSerializer
from tickets.types.services import type_from


class MailSettingsViewSet(CustomerScopedViewSet):
    read_reach, write_reach = Reach.STAFF, Reach.ADMIN
    serializer_class = MailSettingsSerializer
    http_method_names = ["get", "put", "patch", "head", "options"]

    @extend_schema(responses={200: MailSettingsSerializer})
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(MailSettingsSerializer(services.mail_settings_of(self.access.customer)).data)

    @extend_schema(request=MailSettingsInputSerializer, responses={200: MailSettingsSerializer})
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = MailSettingsInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if "default_request_type" in values:
            chosen = type_from(values["default_request_type"], field="default_request_type")
            if chosen is not None and not chosen.active:
                raise ValidationError({"default_request_type": [f"'{chosen.name}' is no longer offered."]})
            values["default_request_type"] = chosen
        settings = services.mail_settings_update(
            customer=self.access.customer, changes=services.MailChanges(**values)
        )
        return Response(MailSettingsSerializer(settings).data)

    @extend_schema(request=MailSettingsInputSerializer, responses={200: MailSettingsSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, **kwargs)


class TriageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Mail no rule could place: who sent it, to whom, and why it is here (``trace``)."""

    read_reach = write_reach = Reach.STAFF
    serializer_class = TriageSerializer

    def get_queryset(self) -> QuerySet[InboundMessage]:
        return InboundMessage.objects.filter(state=State.TRIAGE).defer("raw").order_by("-received_at", "-id")

    def get_object(self) -> InboundMessage:
        pk = self.kwargs["pk"]  # digits (the route's pattern); beyond bigint names nothing: 404
        found = self.get_queryset().filter(pk=int(pk)).first() if is_id(pk) else None
        if found is None:
            raise Http404
        return found

    @extend_schema(request=TriageAssignSerializer, responses={201: TicketSerializer})
    @action(detail=True, methods=["post"])
    def assign(self, request: ApiRequest, pk: str) -> Response:
        """Send the mail to a customer: the ticket is made as if it had arrived there."""
        message = self.get_object()
        data = TriageAssignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        access = customer_access(request.user, data.validated_data["customer"])
        access.require_scope("tickets", write=True)
        outcome = services.triage_assign(message=message, customer=access.customer, by=request.user)
        with customer_schema(access.customer):
            ticket = ticket_for(access, int(outcome.ticket_id or 0))
            body = TicketSerializer(ticket, context={"customer": access.customer, "access": access}).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: TriageSerializer})
    @action(detail=True, methods=["post"])
    def discard(self, request: ApiRequest, pk: str) -> Response:
        """Discard the mail (it is kept, marked discarded by you; audited)."""
        message = services.triage_discard(message=self.get_object(), by=request.user)
        return Response(TriageSerializer(message).data)
