"""API: a customer's configuration items, ``/api/v1/customers/{slug}/cis/`` and their relations.

Agents (member provider staff, the customer's own agents) read and write; the customer's
admins read every CI and other users the CIs they own; customer users never write.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from audit.models import AuditEntry
from cmdb import selectors, services
from cmdb.filtersets import CiFilterSet
from cmdb.models import CiRelation, ConfigurationItem
from cmdb.serializers import (
    AssetCountsSerializer,
    CiRelationSerializer,
    CiRelationWriteSerializer,
    CiSerializer,
    CiWriteSerializer,
)
from people.selectors import profile_from
from serviflow.api.views import CustomerScopedViewSet
from serviflow.filters import FilterBackend
from tenants.access import CustomerAccess
from tickets.serializers import HistoryEntrySerializer


class CmdbScopedViewSet(CustomerScopedViewSet):
    scope = "cmdb"

    def check_customer_role(self, request: Request, access: CustomerAccess) -> None:
        if request.method not in ("GET", "HEAD", "OPTIONS") and not access.works_tickets:
            raise PermissionDenied("Customer users see the CMDB read-only; ask your service provider.")

    def ci(self, pk: str) -> ConfigurationItem:
        return selectors.ci_for(self.access, pk)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if hasattr(self, "access"):
            context["access"] = self.access  # which CIs the reader may name
        return context


class CiViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, CmdbScopedViewSet):
    serializer_class = CiSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    method_hints = {"PUT": "Use PATCH to change a CI."}
    filter_backends = [FilterBackend]
    filterset_class = CiFilterSet

    def get_queryset(self) -> QuerySet[ConfigurationItem]:
        if getattr(self, "swagger_fake_view", False):
            return ConfigurationItem.objects.none()
        return selectors.cis_visible(self.access)

    def get_object(self) -> ConfigurationItem:
        return self.ci(self.kwargs["pk"])

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset())) or []
        effective, named = selectors.names_seen(self.access, page)
        context = self.get_serializer_context() | {"effective": effective, "named": named}
        return self.get_paginated_response(CiSerializer(page, many=True, context=context).data)

    def _references(self, values: dict[str, Any]) -> dict[str, Any]:
        refs: dict[str, Any] = {}
        if "owner" in values:
            refs["owner"] = profile_from(values["owner"], field="owner")
        if "parent" in values:
            refs["parent"] = selectors.ci_from(self.access, values["parent"], field="parent")
        return refs

    def _shown(self, ci: ConfigurationItem, code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(self.ci(str(ci.pk))).data, status=code)

    @extend_schema(request=CiWriteSerializer, responses={201: CiSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = CiWriteSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        values = data.validated_data | self._references(data.validated_data)
        ci = services.ci_create(
            customer=self.access.customer,
            by=self.access.user,
            new=services.NewCi(**values),
        )
        return self._shown(ci, status.HTTP_201_CREATED)

    @extend_schema(request=CiWriteSerializer, responses={200: CiSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ci = self.get_object()
        data = CiWriteSerializer(data=request.data, partial=True, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        values = data.validated_data | self._references(data.validated_data)
        ci = services.ci_update(
            customer=self.access.customer,
            ci=ci,
            by=self.access.user,
            changes=services.CiChanges(**values),
        )
        return self._shown(ci)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Delete a CI that no ticket and no child CI refers to (409 otherwise: retire it)."""
        services.ci_delete(customer=self.access.customer, ci=self.get_object(), by=self.access.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={200: AssetCountsSerializer})
    @action(detail=False, methods=["get"])
    def counts(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Asset counts of the CIs you may see, by type, by status and by both."""
        return Response(selectors.asset_counts(selectors.cis_visible(self.access)))

    @extend_schema(responses={200: HistoryEntrySerializer(many=True)})
    @action(detail=True, methods=["get"], filter_backends=[])  # its own list, not the CI filters
    def history(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The CI's audit entries (created, changed, retired), oldest first."""
        entries: QuerySet[AuditEntry] = selectors.history_for(self.get_object())
        page = self.paginate_queryset(entries) or []
        return self.get_paginated_response(
            HistoryEntrySerializer(page, many=True, context=self.get_serializer_context()).data
        )


class CiRelationViewSet(mixins.ListModelMixin, CmdbScopedViewSet):
    """``cis/{ci_pk}/relations/``: both directions; POST adds one, DELETE ``{id}/`` removes it."""

    serializer_class = CiRelationSerializer

    def get_queryset(self) -> QuerySet[CiRelation]:
        if getattr(self, "swagger_fake_view", False):
            return CiRelation.objects.none()
        return selectors.relations_visible(self.access, self.ci(self.kwargs["ci_pk"]))

    @extend_schema(request=CiRelationWriteSerializer, responses={201: CiRelationSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ci = self.ci(self.kwargs["ci_pk"])
        data = CiRelationWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        source, target = selectors.relation_ends(
            self.access, ci, data.validated_data["target"], data.validated_data["direction"]
        )
        relation = services.ci_relate(
            customer=self.access.customer,
            source=source,
            target=target,
            kind=data.validated_data["kind"],
            by=self.access.user,
        )
        shown = self.get_queryset().get(pk=relation.pk)
        return Response(self.get_serializer(shown).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        relation = selectors.relation_for(self.access, self.ci(self.kwargs["ci_pk"]), self.kwargs["pk"])
        services.ci_unrelate(customer=self.access.customer, relation=relation, by=self.access.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
