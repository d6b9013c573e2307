"""API: canned responses (``/api/v1/canned-responses/``) and their text filled for a ticket
(``POST /api/v1/canned-responses/{id}/render/``), for provider agents."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from core.parsers import BIGINT_MAX
from serviflow.api.serializers import InputModelSerializer, InputSerializer
from serviflow.api.views import ApiViewSet
from serviflow.filters import FilterBackend
from serviflow.http import ApiRequest
from tenants.access import Reach, customer_access, customers_visible_to
from tenants.models import Customer
from tenants.schema import customer_schema
from tenants.validators import SLUG_PATTERN
from tickets.canned import services
from tickets.canned.models import CannedResponse, SetStatus
from tickets.filtersets import CannedResponseFilterSet
from tickets.selectors import ticket_for


class CannedResponseSerializer(InputModelSerializer):
    customer = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Customer.objects.none(),  # the caller's customers: get_fields
        allow_null=True,
        required=False,
        help_text="The customer's slug, for scope 'customer'; null otherwise.",
        error_messages={"does_not_exist": "No such customer: '{value}'."},
    )
    set_status = serializers.ChoiceField(
        choices=SetStatus.choices,
        allow_null=True,
        required=False,
        help_text="The status the reply sets as it is sent (Send and set pending, Send and resolve).",
    )
    owner = serializers.IntegerField(source="owner_id", read_only=True, allow_null=True)
    placeholders = serializers.SerializerMethodField(help_text="The placeholders the body uses.")
    editable = serializers.SerializerMethodField(help_text="Whether you may change or delete it.")

    class Meta:
        model = CannedResponse
        fields = [
            "id",
            "name",
            "body",
            "scope",
            "customer",
            "set_status",
            "owner",
            "placeholders",
            "editable",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "owner", "placeholders", "editable", "created_at", "updated_at"]
        extra_kwargs = {
            "name": {"max_length": services.NAME_MAX},
            "scope": {"required": False, "help_text": "personal (the default), shared or customer"},
            "body": {"max_length": services.BODY_MAX, "trim_whitespace": False},
        }

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        user = getattr(self.context.get("request"), "user", None)  # none while the schema is drawn
        if user is not None and user.is_authenticated:
            fields["customer"].queryset = customers_visible_to(user)  # type: ignore[attr-defined]
        return fields

    def get_placeholders(self, response: CannedResponse) -> list[str]:
        return sorted(set(services.placeholders_in(response.body)))

    def get_editable(self, response: CannedResponse) -> bool:
        return services.may_change(self.context["request"].user, response)

    def to_representation(self, instance: CannedResponse) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["set_status"] = instance.set_status or None
        return data


class RenderSerializer(InputSerializer):
    customer = serializers.RegexField(
        SLUG_PATTERN.pattern, max_length=40, help_text="The ticket's customer (slug)."
    )
    ticket = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX, help_text="The ticket's id.")


class RenderedSerializer(serializers.Serializer[Any]):
    body = serializers.CharField(help_text="The text with its placeholders filled.")


class CannedResponseViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ApiViewSet,
):
    """Canned responses: the shared ones, your personal ones and those limited to a customer you
    work. Anyone writes their own personal responses; shared and customer ones are written by
    provider admins (403 otherwise). Placeholders: {{requester}}, {{reference}}, {{agent}},
    {{customer}}, {{portal_link}}; an unknown one is refused. ``?customer=`` lists what that
    customer's tickets are offered."""

    read_reach = write_reach = Reach.STAFF
    serializer_class = CannedResponseSerializer
    filter_backends = [FilterBackend]
    filterset_class = CannedResponseFilterSet

    def get_queryset(self) -> QuerySet[CannedResponse]:
        if getattr(self, "swagger_fake_view", False):
            return CannedResponse.objects.none()
        return services.responses_visible_to(self.caller)

    def perform_create(self, serializer: CannedResponseSerializer) -> None:  # type: ignore[override]
        fields = services.ResponseFields(**serializer.validated_data)
        serializer.instance = services.response_create(by=self.caller, fields=fields)

    def perform_update(self, serializer: CannedResponseSerializer) -> None:  # type: ignore[override]
        serializer.instance = services.response_update(
            by=self.caller,
            response=serializer.instance,  # type: ignore[arg-type]
            fields=services.ResponseFields(**serializer.validated_data),
        )

    def perform_destroy(self, instance: CannedResponse) -> None:
        services.response_delete(by=self.caller, response=instance)

    @extend_schema(request=RenderSerializer, responses={200: RenderedSerializer}, filters=False)
    @action(detail=True, methods=["post"], filter_backends=[])
    def render(self, request: ApiRequest, pk: str | None = None) -> Response:
        """The body filled for one ticket; 404 for a ticket you may not open or a response not
        offered on that customer's tickets."""
        response = self.get_object()
        body = RenderSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        access = customer_access(self.caller, body.validated_data["customer"])
        access.require_scope("tickets", write=False)
        with customer_schema(access.customer):
            ticket = ticket_for(access, body.validated_data["ticket"])
            text = services.response_render(
                response=response, customer=access.customer, ticket=ticket, agent=self.caller
            )
        return Response({"body": text})
