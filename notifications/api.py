"""API: the caller's in-app notifications (``/api/v1/notifications/``) and notification
preferences (``/api/v1/me/notification-preferences/``); the notification rules, provider-wide
(``/api/v1/notification-rules/``) and per customer (``…/notification-rules/``), with their
preview for a sample ticket (api.md, milestone 2)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.parsers import is_id
from notifications import configure
from notifications.filtersets import NotificationFilterSet
from notifications.hooks import ticket_preview
from notifications.models import Notification, NotificationPreference, NotificationRule
from notifications.rules import effective_rules, unmutable_events
from notifications.selectors import notifications_for
from notifications.serializers import (
    EffectiveNotificationRuleSerializer,
    NotificationPreferenceInputSerializer,
    NotificationPreferenceSerializer,
    NotificationPreviewQuerySerializer,
    NotificationPreviewSerializer,
    NotificationRuleInputSerializer,
    NotificationRuleSerializer,
)
from notifications.services import notifications_mark_read
from serviflow.api.strict import JSONParser
from serviflow.api.views import ApiView, ApiViewSet, CustomerScopedMixin
from serviflow.filters import FilterBackend
from serviflow.http import ApiRequest
from tenants.access import Reach
from tenants.models import Customer


class NotificationSerializer(serializers.ModelSerializer[Notification]):
    ticket = serializers.IntegerField(source="ticket_id", allow_null=True)
    customer = serializers.CharField(source="customer.slug")
    at = serializers.DateTimeField(source="created_at")
    read = serializers.BooleanField(source="is_read")

    class Meta:
        model = Notification
        fields = ["id", "kind", "ticket", "ticket_number", "customer", "title", "url", "at", "read"]


_MARKED = inline_serializer("NotificationsMarked", {"marked": serializers.IntegerField()})


class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    serializer_class = NotificationSerializer
    filter_backends = [FilterBackend]
    filterset_class = NotificationFilterSet

    def get_queryset(self) -> QuerySet[Notification]:
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        return notifications_for(self.caller)

    @extend_schema(request=None, responses=_MARKED)
    @action(detail=True, methods=["post"])
    def read(self, request: ApiRequest, *args: Any, **kwargs: Any) -> Response:
        notification = self.get_object()
        user = request.user
        return Response({"marked": notifications_mark_read(user=user, ids=[notification.pk])})

    @extend_schema(request=None, responses=_MARKED)
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: ApiRequest) -> Response:
        user = request.user
        return Response({"marked": notifications_mark_read(user=user)})


# --- rules (api.md, milestone 2): provider admins ------------------------------------------------


class RuleViewSet(ApiViewSet):
    """The provider-wide rules (``/api/v1/notification-rules/``); ``CustomerRuleViewSet`` the
    same for one customer. Provider admins only."""

    read_reach = write_reach = Reach.ADMIN
    refusal = configure.ADMINS_ONLY
    serializer_class = NotificationRuleSerializer
    parser_classes = [JSONParser]

    @property
    def level(self) -> Customer | None:
        return None

    def get_object(self) -> NotificationRule:
        pk = self.kwargs["pk"]
        found = configure.rule_of(self.level, int(pk)) if is_id(pk) else None
        if found is None:
            raise Http404
        return found

    @extend_schema(responses=EffectiveNotificationRuleSerializer(many=True))
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """This level's rules, and per event without any, what it inherits (provider-wide rules
        or the built-in defaults, ``default: true``)."""
        # DRF's paginators page any sequence; their stubs name QuerySets only
        page = self.paginate_queryset(effective_rules(self.level))  # type: ignore[arg-type]
        return self.get_paginated_response(EffectiveNotificationRuleSerializer(page, many=True).data)

    @extend_schema(request=NotificationRuleInputSerializer, responses={201: NotificationRuleSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = NotificationRuleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rule = configure.rule_create(customer=self.level, by=self.caller, values=dict(data.validated_data))
        return Response(NotificationRuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(NotificationRuleSerializer(self.get_object()).data)

    @extend_schema(request=NotificationRuleInputSerializer, responses={200: NotificationRuleSerializer})
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rule = self.get_object()
        data = NotificationRuleInputSerializer(data=request.data, partial=kwargs.pop("partial", False))
        data.is_valid(raise_exception=True)
        changed = configure.rule_update(rule=rule, by=self.caller, changes=dict(data.validated_data))
        return Response(NotificationRuleSerializer(changed).data)

    @extend_schema(request=NotificationRuleInputSerializer, responses={200: NotificationRuleSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        configure.rule_delete(rule=self.get_object(), by=self.caller)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CustomerRuleViewSet(CustomerScopedMixin, RuleViewSet):
    """A customer's rules (``…/notification-rules/``) and "who would be notified" of each event
    on one of its tickets (``…/notification-rules/preview/?ticket=``)."""

    lookup_value_regex = "[0-9]+"

    @property
    def level(self) -> Customer | None:
        return self.access.customer

    @extend_schema(
        parameters=[NotificationPreviewQuerySerializer],
        responses=NotificationPreviewSerializer,
    )
    @action(detail=False, methods=["get"])
    def preview(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        query = NotificationPreviewQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        ticket_id = query.validated_data["ticket"]
        events = ticket_preview(self.access.customer, ticket_id)
        if events is None:
            raise Http404
        return Response(NotificationPreviewSerializer({"ticket": ticket_id, "events": events}).data)


# --- a person's own preferences -------------------------------------------------------------------


class PreferenceView(ApiView):
    """The caller's notification preferences (``/api/v1/me/notification-preferences/``): the
    events they mute per channel (honoured where the rules allow it) and their quiet hours."""

    parser_classes = [JSONParser]

    def _shown(self, preference: NotificationPreference) -> Response:
        context = {"unmutable": unmutable_events()}
        return Response(NotificationPreferenceSerializer(preference, context=context).data)

    @extend_schema(responses=NotificationPreferenceSerializer)
    def get(self, request: ApiRequest) -> Response:
        return self._shown(configure.preference_of(request.user))

    @extend_schema(request=NotificationPreferenceInputSerializer, responses=NotificationPreferenceSerializer)
    def put(self, request: ApiRequest) -> Response:
        return self._write(request, partial=False)

    @extend_schema(request=NotificationPreferenceInputSerializer, responses=NotificationPreferenceSerializer)
    def patch(self, request: ApiRequest) -> Response:
        return self._write(request, partial=True)

    def _write(self, request: ApiRequest, *, partial: bool) -> Response:
        data = NotificationPreferenceInputSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        quiet = None
        if not partial or "quiet_from" in values or "quiet_to" in values:
            current = configure.preference_of(request.user)
            quiet = (
                values.get("quiet_from", current.quiet_from if partial else None),
                values.get("quiet_to", current.quiet_to if partial else None),
            )
        muted = values.get("muted", None if partial else {})
        preference = configure.preference_set(user=request.user, muted=muted, quiet=quiet)
        return self._shown(preference)
