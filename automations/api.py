"""API: automation rules, a customer's (``/api/v1/customers/{slug}/automations/``) and the
provider-wide ones (``/api/v1/automations/``), for provider admins; ``POST /{id}/dry-run/``
lists what a rule would have done to the customer's tickets of the last 30 days."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from automations import services
from automations.models import Rule
from automations.serializers import (
    DryRunResultSerializer,
    DryRunSerializer,
    RuleInputSerializer,
    RuleSerializer,
)
from core.parsers import is_id
from serviflow.api.strict import JSONParser
from serviflow.api.views import ApiViewSet, CustomerScopedViewSet
from tenants.access import Reach, customer_access
from tenants.models import Customer


class _RuleRoutes(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    """What both collections share; ``rules_customer`` is the customer (None: provider-wide)."""

    read_reach = write_reach = Reach.ADMIN
    serializer_class = RuleSerializer
    parser_classes = [JSONParser]
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    @property
    def rules_customer(self) -> Customer | None:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet[Rule]:
        if getattr(self, "swagger_fake_view", False):
            return Rule.objects.none()
        return (
            Rule.objects.filter(customer=self.rules_customer)
            .select_related("customer", "owner")
            .order_by("position", "id")
        )

    def get_object(self) -> Rule:
        pk = self.kwargs["pk"]
        found = self.get_queryset().filter(pk=int(pk)).first() if is_id(pk) else None
        if found is None:
            raise Http404
        return found

    @extend_schema(request=RuleInputSerializer, responses={201: RuleSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = RuleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rule = services.rule_create(
            by=self.caller,  # type: ignore[attr-defined]
            customer=self.rules_customer,
            fields=services.RuleFields(**data.validated_data),
        )
        return Response(RuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RuleInputSerializer, responses={200: RuleSerializer})
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rule = self.get_object()
        data = RuleInputSerializer(data=request.data, partial=kwargs.pop("partial", False))
        data.is_valid(raise_exception=True)
        changed = services.rule_update(
            by=self.caller,  # type: ignore[attr-defined]
            rule=rule,
            fields=services.RuleFields(**data.validated_data),
        )
        return Response(RuleSerializer(changed).data)

    @extend_schema(request=RuleInputSerializer, responses={200: RuleSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.rule_delete(by=self.caller, rule=self.get_object())  # type: ignore[attr-defined]
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _dry_run(self, request: Request, customer: Customer) -> Response:
        found = services.rule_dry_run(rule=self.get_object(), customer=customer)
        return Response({"matches": [match.as_json() for match in found]})


class CustomerRuleViewSet(_RuleRoutes, CustomerScopedViewSet):
    """A customer's automation rules (provider admins). They run after the provider-wide ones."""

    @property
    def rules_customer(self) -> Customer | None:
        return self.access.customer

    @extend_schema(request=None, responses={200: DryRunResultSerializer}, filters=False)
    @action(detail=True, methods=["post"], url_path="dry-run")
    def dry_run(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """What the rule would have done to this customer's tickets of the last 30 days, as they
        are now. Writes nothing."""
        return self._dry_run(request, self.access.customer)


class ProviderRuleViewSet(_RuleRoutes, ApiViewSet):
    """Provider-wide automation rules (provider admins): they run on every customer's tickets,
    before the customer's own rules."""

    @property
    def rules_customer(self) -> Customer | None:
        return None

    @extend_schema(request=DryRunSerializer, responses={200: DryRunResultSerializer}, filters=False)
    @action(detail=True, methods=["post"], url_path="dry-run")
    def dry_run(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """What the rule would have done to one customer's tickets of the last 30 days (``customer``,
        required). Writes nothing."""
        body = DryRunSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        access = customer_access(self.caller, body.validated_data["customer"])
        return self._dry_run(request, access.customer)
