"""API: a customer's request types (``/api/v1/customers/{slug}/request-types/``) and the
provider's library (``/api/v1/request-types/``, ``POST /{id}/copy/ {customer}``).

Provider admins write both; everyone of the customer reads its types (the customer's side: the
active ones, with the fields the customer sees); provider staff read the library."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.parsers import is_id
from serviflow.api.strict import JSONParser
from serviflow.api.views import ApiViewSet, CustomerScopedViewSet
from tenants.access import Reach, customer_access
from tenants.schema import customer_schema
from tickets.library.models import LibraryRequestType
from tickets.models import RequestType
from tickets.types import services
from tickets.types.serializers import (
    LibraryCopySerializer,
    LibraryTypeInputSerializer,
    LibraryTypeSerializer,
    RequestTypeInputSerializer,
    RequestTypeSerializer,
)

WRITERS = "Only provider admins change request types."


class RequestTypeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, CustomerScopedViewSet):
    """The customer's request types, in their order. Types are never deleted: set ``active``
    false to stop offering one (its tickets keep it)."""

    serializer_class = RequestTypeSerializer
    parser_classes = [JSONParser]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]
    method_hints = {"DELETE": "Request types are kept for their tickets: set active to false instead."}
    read_reach = Reach.SIGNED_IN
    write_reach = Reach.ADMIN
    refusal = WRITERS

    def get_queryset(self) -> QuerySet[RequestType]:
        if getattr(self, "swagger_fake_view", False):
            return RequestType.objects.none()
        return services.types_readable(self.access)

    def get_object(self) -> RequestType:
        pk = self.kwargs["pk"]
        found = services.type_for(self.access, int(pk)) if is_id(pk) else None
        if found is None:
            raise Http404
        return found

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if hasattr(self, "access"):
            context["customer_side"] = not self.access.works_tickets
        return context

    def _values(self, request: Request, *, partial: bool) -> services.TypeValues:
        data = RequestTypeInputSerializer(
            data=request.data, partial=partial, context=self.get_serializer_context()
        )
        data.is_valid(raise_exception=True)
        return services.TypeValues(**data.validated_data)

    @extend_schema(request=RequestTypeInputSerializer, responses={201: RequestTypeSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        created = services.request_type_create(
            customer=self.access.customer, by=self.caller, values=self._values(request, partial=False)
        )
        return Response(self.get_serializer(created).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RequestTypeInputSerializer, responses={200: RequestTypeSerializer})
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        request_type = self.get_object()
        changed = services.request_type_update(
            customer=self.access.customer,
            request_type=request_type,
            by=self.caller,
            values=self._values(request, partial=kwargs.get("partial", False)),
        )
        return Response(self.get_serializer(changed).data)

    @extend_schema(request=RequestTypeInputSerializer, responses={200: RequestTypeSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)


class LibraryTypeViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, ApiViewSet
):
    """The provider's library of request types: provider staff read it, provider admins write
    it and copy an entry to a customer (``POST /{id}/copy/ {customer}`` → 201 the customer's new
    type). A copy is independent: editing or deleting the entry later leaves it alone."""

    serializer_class = LibraryTypeSerializer
    parser_classes = [JSONParser]
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]
    read_reach = Reach.STAFF
    write_reach = Reach.ADMIN
    refusal = WRITERS
    queryset = LibraryRequestType.objects.all()

    def get_object(self) -> LibraryRequestType:
        pk = self.kwargs["pk"]
        found = LibraryRequestType.objects.filter(pk=int(pk)).first() if is_id(pk) else None
        if found is None:
            raise Http404
        self.check_object_permissions(self.request, found)
        return found

    @extend_schema(request=LibraryTypeInputSerializer, responses={201: LibraryTypeSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = LibraryTypeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = services.library_save(entry=None, values=dict(data.validated_data))
        return Response(self.get_serializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=LibraryTypeInputSerializer, responses={200: LibraryTypeSerializer})
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        entry = self.get_object()
        data = LibraryTypeInputSerializer(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        return Response(
            self.get_serializer(services.library_save(entry=entry, values=dict(data.validated_data))).data
        )

    @extend_schema(request=LibraryTypeInputSerializer, responses={200: LibraryTypeSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(request=LibraryCopySerializer, responses={201: RequestTypeSerializer})
    @action(detail=True, methods=["post"])
    def copy(self, request: Request, pk: str | None = None) -> Response:
        """Copy the entry to a customer as a new type of its own (404 for a customer you may not
        see; 400 if it already has a type of that name)."""
        entry = self.get_object()
        body = LibraryCopySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        access = customer_access(self.caller, body.validated_data["customer"])
        with customer_schema(access.customer):
            created = services.library_copy(entry=entry, customer=access.customer, by=self.caller)
            data = RequestTypeSerializer(created, context={"customer_side": False}).data
        return Response(data, status=status.HTTP_201_CREATED)
