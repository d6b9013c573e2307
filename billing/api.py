"""API: the day-pass pool, purchases, consumptions, activation, and the licence report."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import ApiToken
from billing import services
from billing.filtersets import ConsumptionFilterSet
from billing.models import Channel, DayPassConsumption, DayPassPurchase
from billing.reports import licence_report, month_of
from core.parsers import MONTH_PATTERN
from serviflow.api.schema import error
from serviflow.api.serializers import InputModelSerializer
from serviflow.api.views import ApiView, ApiViewSet
from serviflow.filters import FilterBackend
from serviflow.http import ApiRequest
from tenants.access import Reach

BILLING_REFUSAL = "Only provider admins can see and buy day passes."


class PoolSerializer(serializers.Serializer[Any]):
    balance = serializers.IntegerField()
    purchased = serializers.IntegerField()
    consumed = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=2)


class DayPassPoolView(ApiView):
    read_reach = write_reach = Reach.ADMIN
    refusal = BILLING_REFUSAL

    @extend_schema(responses=PoolSerializer)
    def get(self, request: Request) -> Response:
        """The pool: balance, passes bought and consumed so far."""
        pool = services.pool()
        data = {
            "balance": pool.balance,
            "purchased": pool.purchased,
            "consumed": pool.consumed,
            "unit_price": services.unit_price(),
        }
        return Response(PoolSerializer(data).data)


BUY_BETWEEN = f"Buy between 1 and {services.MAX_PURCHASE:,} day passes at a time."


class PurchaseSerializer(InputModelSerializer):
    quantity = serializers.IntegerField(
        min_value=1,
        max_value=services.MAX_PURCHASE,
        error_messages={"min_value": BUY_BETWEEN, "max_value": BUY_BETWEEN},
    )
    bought_by = serializers.EmailField(source="bought_by.email", read_only=True)
    balance = serializers.SerializerMethodField()

    class Meta:
        model = DayPassPurchase
        fields = ["id", "quantity", "unit_price", "total", "balance", "bought_by", "bought_at"]
        read_only_fields = ["id", "unit_price", "total", "bought_by", "bought_at"]

    def get_balance(self, purchase: DayPassPurchase) -> int:
        """The pool's balance now (read once per response, not per row)."""
        if "balance" not in self.context:
            self.context["balance"] = services.pool().balance
        return int(self.context["balance"])


class PurchaseViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, ApiViewSet):
    """Purchases of day passes for the pool (provider admins)."""

    serializer_class = PurchaseSerializer
    read_reach = write_reach = Reach.ADMIN
    refusal = BILLING_REFUSAL

    def get_queryset(self) -> QuerySet[DayPassPurchase]:
        return DayPassPurchase.objects.select_related("bought_by").order_by("-bought_at", "-id")

    def perform_create(self, serializer: PurchaseSerializer) -> None:  # type: ignore[override]
        by = self.caller
        serializer.instance = services.day_passes_buy(by=by, quantity=serializer.validated_data["quantity"])


class ConsumptionSerializer(serializers.ModelSerializer[DayPassConsumption]):
    agent_email = serializers.EmailField(source="agent.email", read_only=True)
    agent_name = serializers.CharField(source="agent.name", read_only=True)
    state = serializers.SerializerMethodField()

    class Meta:
        model = DayPassConsumption
        fields = [
            "id",
            "agent",
            "agent_email",
            "agent_name",
            "local_date",
            "timezone",
            "consumed_at",
            "valid_until",
            "channel",
            "state",
        ]
        read_only_fields = fields

    def get_state(self, consumption: DayPassConsumption) -> str:
        return services.pass_state(consumption)


class ConsumptionViewSet(mixins.ListModelMixin, ApiViewSet):
    """Who used a day pass on which local date (provider admins); ``?agent=&from=&to=``."""

    serializer_class = ConsumptionSerializer
    read_reach = write_reach = Reach.ADMIN
    refusal = BILLING_REFUSAL
    filter_backends = [FilterBackend]
    filterset_class = ConsumptionFilterSet

    def get_queryset(self) -> QuerySet[DayPassConsumption]:
        return services.consumption_log()


class ActivationSerializer(serializers.Serializer[Any]):
    consumed = serializers.BooleanField()
    local_date = serializers.DateField(allow_null=True)
    valid_until = serializers.DateTimeField()


class ActivateView(ApiView):
    """The console's Proceed: use a day pass for today (occasional agents)."""

    gates_exempt = True  # this is where the pass is taken, deliberately
    read_reach = write_reach = Reach.STAFF

    @extend_schema(
        request=None,
        responses={
            200: ActivationSerializer,
            201: ActivationSerializer,
            402: error("`day_pass_required`: the pool is empty."),
        },
    )
    def post(self, request: ApiRequest) -> Response:
        user = request.user
        channel = Channel.API if isinstance(request.auth, ApiToken) else Channel.CONSOLE
        use = services.day_pass_consume(user=user, channel=channel)
        data = {
            "consumed": use.consumed,
            "local_date": use.consumption.local_date if use.consumption else None,
            "valid_until": use.valid_until,
        }
        code = status.HTTP_201_CREATED if use.consumed else status.HTTP_200_OK
        return Response(ActivationSerializer(data).data, status=code)


class AgentLineSerializer(serializers.Serializer[Any]):
    agent = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField()
    licence = serializers.CharField()
    is_admin = serializers.BooleanField()
    customer = serializers.CharField(
        allow_null=True, help_text="A customer's own agent: that customer's slug (a full-time licence)"
    )
    passes = serializers.IntegerField()
    pass_days = serializers.ListField(child=serializers.DateField())
    passes_cost = serializers.DecimalField(max_digits=14, decimal_places=2)
    active_days = serializers.IntegerField()


class DaySerializer(serializers.Serializer[Any]):
    date = serializers.DateField()
    passes = serializers.IntegerField()


class RecommendationSerializer(serializers.Serializer[Any]):
    agent = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField()
    action = serializers.ChoiceField(choices=["convert_to_full_time", "convert_to_occasional"])
    detail = serializers.CharField()


class LicenceReportSerializer(serializers.Serializer[Any]):
    month = serializers.CharField()
    full_time_agents = serializers.IntegerField()
    occasional_agents = serializers.IntegerField(help_text="occasional agents who used a pass this month")
    occasional_agents_total = serializers.IntegerField()
    day_passes_consumed = serializers.IntegerField()
    day_passes_bought = serializers.IntegerField()
    balance = serializers.IntegerField()
    day_pass_price = serializers.DecimalField(max_digits=10, decimal_places=2)
    full_time_licence_price = serializers.DecimalField(max_digits=10, decimal_places=2)
    currency = serializers.CharField()
    by_agent = AgentLineSerializer(many=True)
    by_day = DaySerializer(many=True)
    recommendations = RecommendationSerializer(many=True)


class MonthQuerySerializer(serializers.Serializer[Any]):
    month = serializers.RegexField(
        MONTH_PATTERN,
        required=False,
        max_length=7,
        trim_whitespace=False,
        help_text="YYYY-MM (default: this month)",
    )


class LicenceReportView(ApiView):
    read_reach = write_reach = Reach.ADMIN
    refusal = BILLING_REFUSAL

    @extend_schema(parameters=[MonthQuerySerializer], responses=LicenceReportSerializer)
    def get(self, request: Request) -> Response:
        """Licences of a month: unique full-time agents, occasional agents' passes, advice."""
        query = MonthQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(licence_report(month_of(query.validated_data.get("month"))))
