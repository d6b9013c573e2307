"""The licence report of one month: what the provider pays for, and what it could pay less for.

Full-time agents (provider admins included) are counted once each, however many customers they
work for; occasional agents cost the passes they used. Customers' own agents (customer users with
the agent role) are agents too: each is one full-time licence (they have no licence type of their
own and never use day passes), listed with their customer and never advised to convert.

Where an occasional agent's passes in the month cost more than a full-time licence, the report
recommends converting them; where a full-time agent worked on so few days of a finished month
that passes would have cost less, it recommends the reverse (never for provider admins, who are
full-time by definition).
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import QuerySet, Sum
from django.utils import timezone

from accounts.models import CustomerRole, Licence, User, UserKind
from billing.models import AgentActivityDay, DayPassConsumption, DayPassPurchase
from billing.services import pool
from core.parsers import parse_month


@dataclass(frozen=True)
class Month:
    first: date

    @property
    def label(self) -> str:
        return self.first.strftime("%Y-%m")

    @property
    def after(self) -> date:
        days = calendar.monthrange(self.first.year, self.first.month)[1]
        return self.first + timedelta(days=days)

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.after - self.first).days)]

    def is_over(self, today: date) -> bool:
        return today >= self.after


def month_of(text: str | None) -> Month:
    """``YYYY-MM`` (default: the current month, UTC), or a ValidationError naming ``month``
    (``core.parsers.parse_month``: a month within the supported range, so its end is too)."""
    if not text:
        return Month(timezone.now().date().replace(day=1))
    return Month(parse_month(text, field="month"))


@dataclass
class AgentLine:
    agent: User
    passes: list[date] = field(default_factory=list)  # local dates of the passes used
    active_days: list[date] = field(default_factory=list)  # full-time agents: days worked

    @property
    def licence(self) -> str:
        """Customers' agents have no licence field: they are full-time agents of their company."""
        return self.agent.licence or Licence.FULL_TIME

    def as_dict(self) -> dict[str, object]:
        price = Decimal(settings.DAY_PASS_PRICE)
        customer = self.agent.customer
        return {
            "agent": self.agent.pk,
            "email": self.agent.email,
            "name": self.agent.name,
            "licence": self.licence,
            "is_admin": self.agent.kind == UserKind.PROVIDER_ADMIN,
            "customer": customer.slug if customer is not None else None,
            "passes": len(self.passes),
            "pass_days": [day.isoformat() for day in self.passes],
            "passes_cost": str(price * len(self.passes)),
            "active_days": len(self.active_days),
        }


def licence_report(month: Month) -> dict[str, object]:
    price, licence = Decimal(settings.DAY_PASS_PRICE), Decimal(settings.FULL_TIME_LICENCE_PRICE)
    staff = User.objects.filter(kind__in=[UserKind.PROVIDER_ADMIN, UserKind.AGENT])
    full_time = [*staff.filter(is_active=True, licence=Licence.FULL_TIME), *customer_agents()]
    lines: dict[int, AgentLine] = {agent.pk: AgentLine(agent) for agent in full_time}
    used = DayPassConsumption.objects.filter(local_date__gte=month.first, local_date__lt=month.after)
    per_day: dict[date, int] = defaultdict(int)
    users = {user.pk: user for user in staff.filter(pk__in=used.values("agent_id"))}
    for agent_id, local_date in used.order_by("local_date").values_list("agent_id", "local_date"):
        lines.setdefault(agent_id, AgentLine(users[agent_id])).passes.append(local_date)
        per_day[local_date] += 1
    activity = AgentActivityDay.objects.filter(
        agent_id__in=list(lines), local_date__gte=month.first, local_date__lt=month.after
    )
    for agent_id, local_date in activity.order_by("local_date").values_list("agent_id", "local_date"):
        lines[agent_id].active_days.append(local_date)
    bought = DayPassPurchase.objects.filter(
        bought_at__date__gte=month.first, bought_at__date__lt=month.after
    ).aggregate(total=Sum("quantity"))["total"]
    ordered = sorted(lines.values(), key=lambda line: (line.agent.name.lower(), line.agent.pk))
    occasional = [line for line in ordered if line.licence == Licence.OCCASIONAL]
    return {
        "month": month.label,
        "full_time_agents": sum(1 for line in ordered if line.licence == Licence.FULL_TIME),
        "occasional_agents": sum(1 for line in occasional if line.passes),
        "occasional_agents_total": staff.filter(is_active=True, licence=Licence.OCCASIONAL).count(),
        "day_passes_consumed": sum(per_day.values()),
        "day_passes_bought": int(bought or 0),
        "balance": pool().balance,
        "day_pass_price": str(price),
        "full_time_licence_price": str(licence),
        "currency": settings.BILLING_CURRENCY,
        "by_agent": [line.as_dict() for line in ordered],
        "by_day": [{"date": day.isoformat(), "passes": per_day.get(day, 0)} for day in month.days],
        "recommendations": _recommendations(ordered, month, price, licence),
    }


def customer_agents() -> QuerySet[User]:
    """Customers' own agents who can work: active people of active customers."""
    return User.objects.filter(
        kind=UserKind.CUSTOMER_USER,
        customer_role=CustomerRole.AGENT,
        is_active=True,
        customer__is_active=True,
    ).select_related("customer")


def _recommendations(
    lines: list[AgentLine], month: Month, price: Decimal, licence: Decimal
) -> list[dict[str, object]]:
    currency = settings.BILLING_CURRENCY
    advice: list[dict[str, object]] = []
    for line in lines:
        agent, passes, worked = line.agent, len(line.passes), len(line.active_days)
        if agent.licence == Licence.OCCASIONAL and price * passes > licence:
            detail = (
                f"{agent.name} used {passes} day passes in {month.label} ({price * passes} {currency}); "
                f"a full-time licence costs {licence} {currency}."
            )
            advice.append(_advice(agent, "convert_to_full_time", detail))
        elif (
            agent.licence == Licence.FULL_TIME
            and agent.kind == UserKind.AGENT
            and month.is_over(timezone.now().date())
            and price * worked < licence
        ):
            detail = (
                f"{agent.name} worked on {worked} days in {month.label}: as an occasional agent that would "
                f"have cost {price * worked} {currency} instead of {licence} {currency}."
            )
            advice.append(_advice(agent, "convert_to_occasional", detail))
    return advice


def _advice(agent: User, action: str, detail: str) -> dict[str, object]:
    return {"agent": agent.pk, "email": agent.email, "name": agent.name, "action": action, "detail": detail}
