"""Console pages of customers: the list (search, state, paging; each customer's default SLA,
business hours, open tickets, users and CIs), the edit page (name, time zone, default SLA,
business hours, portal and mail domains), archiving (confirmed) and restoring. Provider admins
change customers; agents read the ones they are members of (``provider_page``,
``customer_page``); and the new-customer wizard (provider admins). Every change goes through
``tenants.services`` (the wizard: ``people.onboarding``), as from the API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.models import User, UserKind
from accounts.services import check_timezone
from cmdb.inventory.models import AssetCount
from core.parsers import zone_names
from core.rehearsal import rehearse
from people.forms import FirstUsersFileForm, FirstUsersFormSet
from people.onboarding import (
    FirstUser,
    NewPolicy,
    NewProfile,
    Onboarding,
    customer_onboard,
    policy_make,
    profile_make,
)
from people.services import CustomerUserFields
from serviflow.http import AuthenticatedHttpRequest
from serviflow.pages import WORKFLOW_ERRORS, customer_page, filtered_page, problem_of, provider_page
from sla import services as sla_services
from sla.models import BusinessHours, SlaPolicy
from sla.presenters import schedule_text, simulation_json
from sla.serializers import SimulateSerializer
from tenants.access import CustomerAccess, Reach, customers_visible_to, reaches
from tenants.filtersets import CustomerFilterSet
from tenants.forms import (
    EXISTING,
    NEW,
    NONE,
    CustomerForm,
    CustomerStartForm,
    HoursChoiceForm,
    PolicyChoiceForm,
    WizardHolidaysForm,
    WizardPolicyForm,
    WizardProfileForm,
)
from tenants.models import Customer
from tenants.services import (
    customer_archive,
    customer_portal_domains,
    customer_provision_check,
    customer_restore,
    customer_update,
)
from tickets.index.models import TicketIndexEntry
from tickets.models import ACTIVE_STATUSES

CUSTOMERS_PAGE_SIZE = 25
CUSTOMERS_REFUSAL = "Only provider admins can change customers."


def _count(rows: QuerySet[Any], total: Any) -> Coalesce:
    """A correlated count per customer row (``rows`` filtered by ``customer=OuterRef("pk")``)."""
    grouped = rows.order_by().values("customer").annotate(n=total).values("n")
    return Coalesce(Subquery(grouped, output_field=IntegerField()), 0)


def customers_listed(user: User) -> QuerySet[Customer]:
    """The customers ``user`` sees, each with its open tickets (the public ticket index), its
    active users (the public identities) and its CIs (the CMDB's asset counts): one statement
    for a page of rows, whatever the number of customers, and no customer schema visited."""
    mine = {"customer": OuterRef("pk")}
    customers: QuerySet[Customer] = (
        customers_visible_to(user)
        .select_related("default_sla", "business_hours")
        .annotate(
            open_tickets=_count(
                TicketIndexEntry.objects.filter(**mine, status__in=ACTIVE_STATUSES), Count("pk")
            ),
            users=_count(
                User.objects.filter(**mine, kind=UserKind.CUSTOMER_USER, is_active=True), Count("pk")
            ),
            cis=_count(AssetCount.objects.filter(**mine), Sum("count")),
        )
    )
    return customers


@require_safe
@provider_page(read=Reach.CONSOLE, write=Reach.CONSOLE)
def customer_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    params = request.GET
    rows = customers_listed(request.user)
    listed, status = filtered_page(request, CustomerFilterSet, rows, page_size=CUSTOMERS_PAGE_SIZE)
    context: dict[str, Any] = {
        "params": params,
        "state": params.get("state") or "active",
        "can_edit": reaches(request.user, Reach.ADMIN),
        **listed,
    }
    template = "tenants/_customer_table.html" if request.htmx else "tenants/customer_list.html"
    return render(request, template, context, status=status)


def _customer_url(customer: Customer) -> str:
    return reverse("console-customer", args=[customer.slug])


@customer_page(read=Reach.ADMIN, write=Reach.ADMIN)
def customer_edit(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    customer = access.customer
    form = CustomerForm(request.POST or None, initial=CustomerForm.initial_for(customer))
    if request.method == "POST" and form.is_valid():
        try:
            customer_update(customer=customer, changes=form.changes())
        except WORKFLOW_ERRORS as exc:
            form.add_workflow_error(exc)
            customer.refresh_from_db()
        else:
            messages.success(request, f"{customer.name} saved.")
            return HttpResponseRedirect(_customer_url(customer))
    context = {
        "customer": customer,
        "form": form,
        "portal_domains": customer_portal_domains(customer),
        "timezones": sorted(zone_names()),
    }
    return render(request, "tenants/customer_edit.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@customer_page(read=Reach.ADMIN, write=Reach.ADMIN)
def customer_archive_page(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    """GET: what archiving does, and the button that confirms it. POST: archive."""
    customer = access.customer
    if request.method == "POST":
        customer_archive(customer=customer)
        messages.success(
            request,
            f"{customer.name} archived: its portal is closed and nothing was deleted. Restore it any time.",
        )
        return HttpResponseRedirect(_customer_url(customer))
    return render(request, "tenants/customer_archive.html", {"customer": customer})


@require_POST
@customer_page(read=Reach.ADMIN, write=Reach.ADMIN)
def customer_restore_page(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    customer_restore(customer=access.customer)
    messages.success(request, f"{access.customer.name} restored: its portal is open again.")
    return HttpResponseRedirect(_customer_url(access.customer))


# --- the new-customer wizard ----------------------------------------------------------------------
#
# Four steps of input and a summary. Each step's input is checked by the workflows it will go
# through (rehearsed: run and rolled back, so a profile's or a policy's rules are the services'
# own) and kept in the session as it was typed, so going back shows it again. Nothing is written
# until the summary's button: one ``customer_onboard`` transaction.

WIZARD = "customer_wizard"  # the session key of the draft: {step: the step's posted fields}
STEPS = ("customer", "hours", "sla", "users", "summary")
STEP_TITLES = {
    "customer": "Customer",
    "hours": "Time zone and business hours",
    "sla": "Default SLA",
    "users": "First users",
    "summary": "Summary",
}


def step_url(step: str) -> str:
    return reverse(f"console-onboarding-{step}")


class StepInvalid(Exception):
    """A step's input was refused; its forms carry the reasons."""


def _draft(request: AuthenticatedHttpRequest) -> dict[str, dict[str, str]]:
    draft = request.session.get(WIZARD)
    return draft if isinstance(draft, dict) else {}


def _keep(request: AuthenticatedHttpRequest, step: str, data: Mapping[str, str]) -> None:
    draft = _draft(request)
    draft[step] = {key: value for key, value in data.items() if key != "csrfmiddlewaretoken"}
    request.session[WIZARD] = draft


def _forms(step: str, data: Mapping[str, str] | None) -> dict[str, Any]:
    if step == "customer":
        return {"customer": CustomerStartForm(data)}
    if step == "hours":
        return {
            "choice": HoursChoiceForm(data),
            "profile": _making(WizardProfileForm, data, "new"),
            "fill": _making(WizardHolidaysForm, data, "fill"),
        }
    if step == "sla":
        return {"choice": PolicyChoiceForm(data), "policy": _making(WizardPolicyForm, data, "new")}
    return {"users": FirstUsersFormSet(data, prefix="users")}


def _making(form_class: type[forms.Form], data: Mapping[str, str] | None, prefix: str) -> forms.Form:
    """The form of a new profile or policy: bound when the step makes one, otherwise showing
    what was typed in it without judging it (it is not used)."""
    if data is not None and data.get("choice") == NEW:
        return form_class(data, prefix=prefix)
    typed = {
        key.removeprefix(f"{prefix}-"): value
        for key, value in (data or {}).items()
        if key.startswith(f"{prefix}-")
    }
    return form_class(initial=typed or None, prefix=prefix)


def _valid(*bound: Any) -> None:
    if not all([form.is_valid() for form in bound]):  # every form, so each shows its errors
        raise StepInvalid


def _customer_part(bound: dict[str, Any], parts: dict[str, Any]) -> dict[str, Any]:
    form = bound["customer"]
    _valid(form)
    data = form.cleaned_data
    try:
        domains = customer_provision_check(
            name=data["name"], slug=data["slug"], timezone_name="UTC", email_domains=data["email_domains"]
        )
    except ValidationError as exc:
        form.add_workflow_error(exc)
        raise StepInvalid from exc
    return {"name": data["name"].strip(), "slug": data["slug"].strip(), "email_domains": tuple(domains)}


def _hours_part(bound: dict[str, Any], parts: dict[str, Any]) -> dict[str, Any]:
    choice, profile, fill = bound["choice"], bound["profile"], bound["fill"]
    _valid(choice)
    timezone_name = choice.cleaned_data["timezone"]
    try:
        check_timezone(timezone_name)
    except ValidationError as exc:
        choice.add_workflow_error(exc)
        raise StepInvalid from exc
    if choice.cleaned_data["choice"] == EXISTING:
        return {"timezone": timezone_name, "hours": choice.cleaned_data["profile"]}
    if choice.cleaned_data["choice"] == NONE:
        return {"timezone": timezone_name, "hours": None}
    _valid(profile, fill)
    wanted, holidays = profile.cleaned_data, fill.cleaned_data
    years = range(0)
    try:
        if holidays["country"]:
            years = sla_services.years_parse(holidays["years"])
        new = NewProfile(
            name=wanted["name"],
            timezone=timezone_name,
            schedule=wanted["schedule"],
            holidays=wanted["holiday_list"],
            holiday_country=holidays["country"],
            holiday_subdivision=holidays["subdivision"],
            holiday_years=years,
        )
        rehearse(lambda: profile_make(new))
    except WORKFLOW_ERRORS as exc:
        filling = isinstance(exc, ValidationError) and set(exc.message_dict) <= {
            "country",
            "subdivision",
            "years",
        }
        (fill if filling else profile).add_workflow_error(exc)
        raise StepInvalid from exc
    return {"timezone": timezone_name, "hours": new}


def _sla_part(bound: dict[str, Any], parts: dict[str, Any]) -> dict[str, Any]:
    choice, policy = bound["choice"], bound["policy"]
    _valid(choice)
    if choice.cleaned_data["choice"] == EXISTING:
        chosen: SlaPolicy | NewPolicy | None = choice.cleaned_data["policy"]
    elif choice.cleaned_data["choice"] == NONE:
        chosen = None
    else:
        _valid(policy)
        data = policy.cleaned_data
        chosen = NewPolicy(
            name=data["name"], targets=policy.targets(), warning_percent=data["warning_percent"]
        )
    try:
        answer = rehearse(lambda: p2_opened_now(parts["hours"]["hours"], chosen))
    except WORKFLOW_ERRORS as exc:
        (policy if isinstance(chosen, NewPolicy) else choice).add_workflow_error(exc)
        raise StepInvalid from exc
    return {"policy": chosen, "p2": answer}


def p2_opened_now(hours: BusinessHours | NewProfile | None, policy: SlaPolicy | NewPolicy | None) -> Any:
    """The simulator's answer (``sla.presenters.simulation_json``) for a P2 ticket opened now under
    the customer's default SLA (the provider default without one), the new profile and policy
    made first (call it rehearsed: nothing stays)."""
    made = profile_make(hours) if isinstance(hours, NewProfile) else hours
    chosen = policy_make(policy, made) if isinstance(policy, NewPolicy) else policy
    chosen = chosen or SlaPolicy.objects.filter(is_default=True).first()
    if chosen is None:
        return None
    now = timezone.now().replace(microsecond=0)
    serializer = SimulateSerializer(
        data={"policy": chosen.pk, "priority": "P2", "created_at": now.isoformat()}
    )
    if not serializer.is_valid():
        return None
    return simulation_json(serializer.simulation())


def _users_part(bound: dict[str, Any], parts: dict[str, Any]) -> dict[str, Any]:
    formset = bound["users"]
    _valid(formset)
    users = tuple(
        FirstUser(
            fields=CustomerUserFields(
                email=row.cleaned_data["email"],
                name=row.cleaned_data["name"],
                role=row.cleaned_data["role"],
                timezone=parts["hours"]["timezone"],
            ),
            password=row.cleaned_data["password"] or None,
            password_hash=None if row.cleaned_data["password"] else formset.data.get(f"{row.prefix}{HASH}"),
        )
        for row in formset.forms
        if row.filled
    )
    return {"users": users}


PARTS = {"customer": _customer_part, "hours": _hours_part, "sla": _sla_part, "users": _users_part}


def _parts(draft: dict[str, dict[str, str]], upto: str) -> tuple[dict[str, Any], str | None]:
    """The parts of the steps before ``upto``, checked again from the draft; and the first step
    that is missing or no longer passes (a name taken meanwhile), if any."""
    parts: dict[str, Any] = {}
    for step in STEPS[: STEPS.index(upto)]:
        if step not in draft:
            return parts, step
        try:
            parts[step] = PARTS[step](_forms(step, draft[step]), parts)
        except StepInvalid:
            return parts, step
    return parts, None


HASH = "-password_hash"  # the draft keeps a first user's password hashed, never as typed


def _users_posted(request: AuthenticatedHttpRequest, draft: dict[str, dict[str, str]]) -> Mapping[str, str]:
    """The users step as posted, a row's password (hashed) kept from the draft when the row
    comes back with the same email and no password (a password is never shown again)."""
    posted = request.POST.copy()
    for key in [key for key in posted if key.endswith(HASH)]:  # only the draft has hashes
        del posted[key]
    kept = draft.get("users") or {}
    for key, value in kept.items():
        row = key.removesuffix(HASH)
        same_row = posted.get(f"{row}-email") == kept.get(f"{row}-email")
        if key.endswith(HASH) and same_row and not posted.get(f"{row}-password"):
            posted[key] = value
    return posted


def _users_kept(data: Mapping[str, str]) -> dict[str, str]:
    """What the draft keeps of the users step: each password typed replaced by its hash."""
    kept = dict(data.items())
    for key, value in data.items():
        if key.endswith("-password") and value:
            kept[key.removesuffix("-password") + HASH] = make_password(value)
            kept[key] = ""
    return kept


@require_http_methods(["GET", "POST"])
@provider_page(read=Reach.ADMIN, write=Reach.ADMIN, refusal=CUSTOMERS_REFUSAL)
def onboarding_step(request: AuthenticatedHttpRequest, step: str) -> HttpResponse:
    """One step: GET shows it (filled from the draft); POST checks it, keeps it and goes on
    (``preview`` stays, to show what the input gives)."""
    draft = _draft(request)
    parts, broken = _parts(draft, step)
    if broken is not None:
        return HttpResponseRedirect(step_url(broken))
    data: Mapping[str, str] | None = draft.get(step)
    if request.method == "POST":
        data = _users_posted(request, draft) if step == "users" else request.POST
        if step == "users" and "read_csv" in request.POST:
            return _users_from_file(request, data, parts)
    bound = _forms(step, data)
    context: dict[str, Any] = {}
    status = 200
    if data is not None:
        try:
            context["part"] = PARTS[step](bound, parts)
        except StepInvalid:
            status = 400 if request.method == "POST" else 200
        else:
            if request.method == "POST" and "preview" not in request.POST:
                _keep(request, step, _users_kept(data) if step == "users" else data)
                return HttpResponseRedirect(step_url(STEPS[STEPS.index(step) + 1]))
    return _wizard_page(request, step, bound | context, status=status)


MAX_FIRST_USERS = 50  # people.forms.FirstUsersFormSet's max_num


def _users_from_file(
    request: AuthenticatedHttpRequest, posted: Mapping[str, str], parts: dict[str, Any]
) -> HttpResponse:
    """The users step with a CSV file's rows put into the empty rows and after the typed ones
    (which keep their places, and so their kept passwords); nothing is kept until Next."""
    file_form = FirstUsersFileForm(request.POST, request.FILES, slug=parts["customer"]["slug"])
    if not file_form.is_valid():
        context = _forms("users", posted) | {"file_form": file_form}
        return _wizard_page(request, "users", context, status=400)
    data = {key: posted[key] for key in posted}
    total = FirstUsersFormSet(posted, prefix="users").total_form_count()
    free = [i for i in range(total) if not data.get(f"users-{i}-email", "").strip()]
    read: list[dict[str, str]] = file_form.cleaned_data["users_csv"]
    places = free + list(range(total, total + max(0, len(read) - len(free))))
    if total - len(free) + len(read) > MAX_FIRST_USERS:
        file_form.add_error(
            "users_csv",
            f"At most {MAX_FIRST_USERS} first users: import the others once the customer exists (Imports).",
        )
        return _wizard_page(request, "users", _forms("users", posted) | {"file_form": file_form}, status=400)
    for place, row in zip(places, read, strict=False):
        for field in ("email", "name", "role"):
            data[f"users-{place}-{field}"] = row[field]
        data[f"users-{place}-password"] = ""
    data["users-TOTAL_FORMS"] = str(max(total, places[-1] + 1 if places and read else total))
    messages.info(request, f"{len(read)} users read from the file: check them, then Next.")
    return _wizard_page(request, "users", _forms("users", data) | {"file_form": file_form})


@require_http_methods(["GET", "POST"])
@provider_page(read=Reach.ADMIN, write=Reach.ADMIN, refusal=CUSTOMERS_REFUSAL)
def onboarding_summary(request: AuthenticatedHttpRequest) -> HttpResponse:
    """What will be made; POST makes all of it in one transaction, or nothing and says why."""
    draft = _draft(request)
    parts, broken = _parts(draft, "summary")
    if broken is not None:
        if request.method == "POST":
            messages.error(request, f"{STEP_TITLES[broken]}: this step needs another look.")
        return HttpResponseRedirect(step_url(broken))
    shown = {"parts": parts, "summary": _summary(parts)}
    if request.method == "GET":
        return _wizard_page(request, "summary", shown)
    onboarding = Onboarding(
        name=parts["customer"]["name"],
        slug=parts["customer"]["slug"],
        timezone=parts["hours"]["timezone"],
        email_domains=parts["customer"]["email_domains"],
        business_hours=parts["hours"]["hours"],
        default_sla=parts["sla"]["policy"],
        users=parts["users"]["users"],
    )
    try:
        customer = customer_onboard(onboarding=onboarding, by=request.user)
    except WORKFLOW_ERRORS as exc:
        status, problems = problem_of(exc)
        return _wizard_page(request, "summary", shown | {"errors": problems}, status=status)
    request.session.pop(WIZARD, None)
    invited = sum(1 for user in onboarding.users if not user.sets_password)
    messages.success(
        request,
        f"{customer.name} is ready at {customer.portal_host}"
        + (f"; {invited} invitation email{'s' if invited != 1 else ''} on the way." if invited else "."),
    )
    return HttpResponseRedirect(_customer_url(customer))


def _summary(parts: dict[str, Any]) -> dict[str, str]:
    """The business hours and the default SLA in words, new ones marked as such."""
    hours = parts["hours"]["hours"]
    if isinstance(hours, NewProfile):
        profile = {"timezone": hours.timezone, "schedule": hours.schedule}
        holidays = (
            f", with the public holidays of {hours.holiday_country.upper()}" if hours.holiday_country else ""
        )
        hours_text = f"new: {hours.name}, {schedule_text(profile)}{holidays}"
    else:
        hours_text = f"{hours.name}, {schedule_text(hours.as_profile())}" if hours else "none: 24\u00d77"
    policy = parts["sla"]["policy"]
    if isinstance(policy, NewPolicy):
        policy_text = f"new: {policy.name}"
    else:
        policy_text = policy.name if policy else "none: the provider default applies"
    return {"hours": hours_text, "policy": policy_text}


@require_POST
@provider_page(read=Reach.ADMIN, write=Reach.ADMIN, refusal=CUSTOMERS_REFUSAL)
def onboarding_cancel(request: AuthenticatedHttpRequest) -> HttpResponse:
    request.session.pop(WIZARD, None)
    messages.success(request, "The new customer's draft was discarded; nothing was created.")
    return HttpResponseRedirect(reverse("console-customers"))


def _wizard_page(
    request: AuthenticatedHttpRequest, step: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    draft = _draft(request)
    steps = [
        {
            "step": name,
            "title": STEP_TITLES[name],
            "url": step_url(name),
            "done": name in draft,
            "current": name == step,
        }
        for name in STEPS
    ]
    if step == "users":
        context.setdefault("file_form", FirstUsersFileForm(slug=""))
    context = context | {
        "step": step,
        "title": STEP_TITLES[step],
        "steps": steps,
        "timezones": sorted(zone_names()) if step == "hours" else [],
        "previous": step_url(STEPS[STEPS.index(step) - 1]) if step != "customer" else None,
    }
    return render(request, "tenants/wizard.html", context, status=status)
