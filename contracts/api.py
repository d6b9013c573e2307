"""API: a customer's contracts and their prepaid ledgers, its months closed for time entries, and
the time entries of its tickets (api.md, milestone 2):

- ``…/contracts/`` and ``/{id}/``: provider admins write; member agents and the customer's admins
  read. ``…/contracts/{id}/ledger/``: the balance and the entries; ``POST {kind: topup, minutes}``.
- ``POST …/months/{YYYY-MM}/close/``: provider admins.
- ``…/tickets/{id}/time-entries/``: agents (provider staff and the customer's own agents).
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import CustomerRole
from contracts import services, time
from contracts.models import Contract
from contracts.serializers import (
    ContractInputSerializer,
    ContractSerializer,
    LedgerSerializer,
    TimeEntryInputSerializer,
    TimeEntrySerializer,
    TopupSerializer,
)
from core.parsers import MONTH_PATTERN, is_id, parse_month
from serviflow.api.schema import error
from serviflow.api.strict import JSONParser
from serviflow.api.views import CustomerScopedViewSet
from tenants.access import CustomerAccess, Reach
from tickets.api import TicketScopedViewSet

READERS = "Only provider staff and the customer's admins read its contracts."
NOT_AGENT = "Only agents read and log the time of a ticket."
MONTH_CLOSED = error("`month_closed`: the work date's month is closed for time entries.")


def balances(contracts: list[Contract]) -> dict[int, int]:
    """Each prepaid contract's balance in minutes."""
    return {pk: balance.minutes for pk, balance in services.balances_of(contracts).items()}


class ContractReadersMixin:
    read_reach = Reach.SIGNED_IN
    write_reach = Reach.ADMIN
    refusal: str | None = "Only provider admins change contracts."

    def check_customer_role(self, request: Request, access: CustomerAccess) -> None:
        if not access.is_provider_staff and access.customer_role != CustomerRole.ADMIN:
            raise PermissionDenied(READERS)


class ContractViewSet(
    ContractReadersMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    CustomerScopedViewSet,
):
    serializer_class = ContractSerializer
    parser_classes = [JSONParser]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]
    method_hints = {"DELETE": "Contracts are kept: end one by giving it ends_on."}
    pagination_class = None

    def get_queryset(self) -> Any:
        return services.contracts_of(self.access.customer).order_by("-starts_on", "-id")

    def get_object(self) -> Contract:
        pk = self.kwargs["pk"]
        found: Contract | None = self.get_queryset().filter(pk=int(pk)).first() if is_id(pk) else None
        if found is None:
            raise Http404
        return found

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if hasattr(self, "access") and not getattr(self, "swagger_fake_view", False):
            context["balances"] = balances(list(self.get_queryset()))
        return context

    @extend_schema(request=ContractInputSerializer, responses={201: ContractSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = ContractInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contract = services.contract_create(
            customer=self.access.customer, by=self.caller, values=data.validated_data
        )
        return Response(self.get_serializer(contract).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ContractInputSerializer, responses={200: ContractSerializer})
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        contract = self.get_object()
        data = ContractInputSerializer(data=request.data, partial=kwargs.pop("partial", False))
        data.is_valid(raise_exception=True)
        changed = services.contract_update(
            contract=contract, by=self.caller, changes=dict(data.validated_data)
        )
        return Response(self.get_serializer(changed).data)

    @extend_schema(request=ContractInputSerializer, responses={200: ContractSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)


class LedgerViewSet(ContractReadersMixin, CustomerScopedViewSet):
    """A contract's prepaid block: the balance (negative: overage) and every movement."""

    parser_classes = [JSONParser]
    serializer_class = LedgerSerializer

    def contract(self) -> Contract:
        pk = self.kwargs["contract_pk"]
        found = services.contracts_of(self.access.customer).filter(pk=int(pk)).first() if is_id(pk) else None
        if found is None:
            raise Http404
        return found

    def _ledger(self, contract: Contract) -> dict[str, Any]:
        balance = services.balance_of(contract)
        entries = services.ledger_of(contract).select_related("by")
        return LedgerSerializer(
            {
                "balance_minutes": balance.minutes,
                "overage_minutes": balance.overage,
                "low": balance.low,
                "entries": list(entries),
            }
        ).data

    @extend_schema(responses={200: LedgerSerializer})
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self._ledger(self.contract()))

    @extend_schema(request=TopupSerializer, responses={201: LedgerSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Top the block up (provider admins)."""
        contract = self.contract()
        data = TopupSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.topup(
            contract=contract,
            by=self.caller,
            minutes=data.validated_data["minutes"],
            note=data.validated_data["note"],
        )
        return Response(self._ledger(contract), status=status.HTTP_201_CREATED)


class MonthCloseViewSet(CustomerScopedViewSet):
    read_reach = write_reach = Reach.ADMIN
    refusal = "Only provider admins close months."
    parser_classes = [JSONParser]

    @extend_schema(
        request=None,
        parameters=[OpenApiParameter("month", str, OpenApiParameter.PATH, pattern=MONTH_PATTERN)],
        responses={201: None, 409: MONTH_CLOSED},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Close the month for time entries: later entries dated in it are refused (409)."""
        month = parse_month(self.kwargs["month"], field="month")
        closed = time.month_close(customer=self.access.customer, month=month, by=self.caller)
        return Response(
            {"month": f"{closed.month:%Y-%m}", "closed_at": closed.closed_at, "closed_by": self.caller.email},
            status=status.HTTP_201_CREATED,
        )


class TimeEntryViewSet(TicketScopedViewSet):
    serializer_class = TimeEntrySerializer
    parser_classes = [JSONParser]
    pagination_class = None

    def check_customer_role(self, request: Request, access: CustomerAccess) -> None:
        if not access.works_tickets:
            raise PermissionDenied(NOT_AGENT)

    @extend_schema(responses={200: TimeEntrySerializer(many=True)})
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The ticket's time entries, oldest first (reversals included)."""
        ticket = self.ticket()
        entries = time.entries_of_ticket(self.access.customer, ticket.pk)
        return Response(TimeEntrySerializer(entries, many=True).data)

    @extend_schema(
        request=TimeEntryInputSerializer,
        responses={201: TimeEntrySerializer, 409: MONTH_CLOSED},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Log time (or reverse an entry: ``reverses``, the whole entry, dated in an open month)."""
        ticket = self.ticket()
        data = TimeEntryInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = time.time_log(
            customer=self.access.customer,
            ticket_id=ticket.pk,
            by=self.caller,
            agent=self.access.works_tickets,
            data=time.TimeInput(**data.validated_data),
        )
        return Response(TimeEntrySerializer(entry).data, status=status.HTTP_201_CREATED)
