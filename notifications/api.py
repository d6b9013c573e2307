"""API: the caller's in-app notifications, ``/api/v1/notifications/``."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from notifications.filtersets import NotificationFilterSet
from notifications.models import Notification
from notifications.selectors import notifications_for
from notifications.services import notifications_mark_read
from serviflow.api.views import ApiViewSet
from serviflow.filters import FilterBackend
from serviflow.http import ApiRequest


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
