"""Admin → Agents in the console: the list with its filters, the create and edit forms, and
(de)activation, through Django's test client on the console host. Provider admins change agents,
agents only read, anyone else gets 404."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AgentMembership, ApiToken, User
from accounts.services import AgentFields, agent_create, token_issue
from audit.models import AuditEntry
from tests.conftest import PASSWORD, Cast
from tests.support.clients import console

AGENTS = "/agents/"
NEW = "/agents/new/"


def _form(**kw: Any) -> dict[str, Any]:
    """What the create form posts for a full-time agent of Acme, changed by ``kw``."""
    data: dict[str, Any] = {
        "email": "dora@msp.test",
        "name": "Dora",
        "timezone": "Europe/London",
        "licence": "full_time",
        "customers": [],
        "tickets": "write",
        "cmdb": "read",
        "reports": "none",
        "password": "",
    }
    data.update(kw)
    return {key: value for key, value in data.items() if value is not False}


def _edit_form(agent: User, **kw: Any) -> dict[str, Any]:
    """The edit form as the page fills it in for ``agent``, changed by ``kw``."""
    permissions = {"tickets": "write", "cmdb": "read", "reports": "none", **agent.permissions}
    memberships = AgentMembership.objects.filter(agent=agent).values_list("customer_id", flat=True)
    return _form(
        email=agent.email,
        name=agent.name,
        timezone=agent.timezone,
        licence=agent.licence,
        is_admin="on" if agent.is_provider_admin else False,
        all_customers="on" if agent.all_customers else False,
        customers=[str(pk) for pk in memberships],
        **permissions,
    ) | {key: value for key, value in kw.items() if value is not False}


def _errors(html: str, field: str) -> str:
    """The error list the page shows under ``field``."""
    start = html.index(f'id="{field}-errors"')
    return html[start : html.index("</ul>", start)]


def _row(html: str, email: str) -> str:
    start = html.index(f'data-agent="{email}"')
    return html[start : html.index("</tr>", start)]


# --- the list -----------------------------------------------------------------------------------


def test_the_list_shows_licence_admin_customers_and_state(cast: Cast) -> None:
    page = console(cast.alice).get(AGENTS)
    html = page.content.decode()
    assert page.status_code == 200 and 'id="agent-new-link"' in html
    alice = _row(html, "alice@msp.test")
    assert "Full-time" in alice and "data-admin" in alice and ">All<" in alice and "active" in alice
    bob = _row(html, "bob@msp.test")
    assert "Full-time" in bob and "data-admin" not in bob and ">Acme<" in bob
    charlie = _row(html, "charlie@msp.test")
    assert 'data-licence="occasional"' in charlie and "Occasional" in charlie and ">Globex<" in charlie
    assert 'data-agent="admin@acme.test"' not in html  # customers' people are not agents
    assert f'href="/agents/{cast.bob.pk}/"' in html
    assert 'href="/agents/"' in html  # the nav link


def test_the_list_filters_by_licence_state_and_name(cast: Cast, actor: None) -> None:
    User.objects.filter(pk=cast.bob.pk).update(is_active=False)
    client = console(cast.alice)
    active = client.get(AGENTS).content.decode()
    assert 'data-agent="bob@msp.test"' not in active  # active agents by default
    gone = client.get(f"{AGENTS}?state=deactivated").content.decode()
    assert 'data-agent="bob@msp.test"' in gone and 'data-agent="alice@msp.test"' not in gone
    assert "deactivated" in _row(gone, "bob@msp.test")
    everyone = client.get(f"{AGENTS}?state=all").content.decode()
    assert 'data-agent="bob@msp.test"' in everyone and 'data-agent="alice@msp.test"' in everyone
    occasional = client.get(f"{AGENTS}?licence=occasional", HTTP_HX_REQUEST="true")
    body = occasional.content.decode()
    assert occasional.status_code == 200 and body.startswith('<div id="agent-table"')
    assert 'data-agent="charlie@msp.test"' in body and 'data-agent="alice@msp.test"' not in body
    found = client.get(f"{AGENTS}?search=ALI").content.decode()
    assert 'data-agent="alice@msp.test"' in found and 'data-agent="charlie@msp.test"' not in found
    bad = client.get(f"{AGENTS}?licence=part_time")
    assert (
        bad.status_code == 400
        and "licence: Use one of full_time, occasional, not &#x27;part_time&#x27;." in (bad.content.decode())
    )


def test_the_list_costs_the_same_queries_for_more_agents(cast: Cast, actor: None) -> None:
    client = console(cast.alice)
    client.get(AGENTS)  # warm the session

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(AGENTS).status_code == 200
        return len(captured)

    few = queries()
    for n in range(5):
        agent_create(
            fields=AgentFields(
                email=f"extra{n}@msp.test", name=f"Extra {n}", customers=(cast.acme, cast.globex)
            ),
            password=PASSWORD,
        )
    assert queries() == few


# --- who may see and change ----------------------------------------------------------------------


def test_agents_read_but_cannot_change_agents(cast: Cast) -> None:
    client = console(cast.bob)
    listing = client.get(AGENTS).content.decode()
    assert 'data-agent="charlie@msp.test"' in listing and 'id="agent-new-link"' not in listing
    page = client.get(f"/agents/{cast.charlie.pk}/")
    html = page.content.decode()
    assert page.status_code == 200 and 'id="agent-facts"' in html and 'id="agent-form"' not in html
    assert (
        "Globex" not in html  # Bob works Acme only: Charlie's other customers are not his business
        and "<dt>Customers</dt><dd>none that you work for</dd>" in html
        and "<dt>CMDB</dt><dd data-scope>Read only</dd>" in html
        and "/deactivate/" not in html
    )
    before = User.objects.count()
    refused = [
        client.get(NEW),
        client.post(NEW, _form()),
        client.post(f"/agents/{cast.charlie.pk}/", _edit_form(cast.charlie, name="Chuck")),
        client.post(f"/agents/{cast.charlie.pk}/deactivate/"),
        client.post(f"/agents/{cast.charlie.pk}/reactivate/"),
    ]
    assert [response.status_code for response in refused] == [403] * 5
    assert User.objects.count() == before
    cast.charlie.refresh_from_db()
    assert cast.charlie.name == "charlie" and cast.charlie.is_active


def test_customer_people_get_404(cast: Cast) -> None:
    client = console(cast.acme_it)  # a customer agent: signs in to the console, is no provider staff
    for response in (
        client.get(AGENTS),
        client.get(NEW),
        client.get(f"/agents/{cast.bob.pk}/"),
        client.post(NEW, _form()),
        client.post(f"/agents/{cast.bob.pk}/deactivate/"),
    ):
        assert response.status_code == 404
    assert not User.objects.filter(email="dora@msp.test").exists()
    assert console(cast.alice).get(f"/agents/{cast.acme_admin.pk}/").status_code == 404  # not an agent
    assert "Agents</a>" not in console(cast.acme_it).get("/").content.decode()


# --- creating -------------------------------------------------------------------------------------


def activations(callbacks: list[Any]) -> int:
    """The activation emails queued after commit (other work waits for the commit too: the
    membership table's ANALYZE, core.statistics)."""
    return sum("send_activation_email" in repr(c) for c in callbacks)


def test_an_admin_creates_a_full_time_agent_with_a_password(
    cast: Cast, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = console(cast.alice).post(
            NEW, _form(customers=[str(cast.acme.pk)], password="a-long-pass-123")
        )
    dora = User.objects.get(email="dora@msp.test")
    assert response.status_code == 302 and response["Location"] == f"/agents/{dora.pk}/"
    assert dora.licence == "full_time" and dora.kind == "agent" and dora.timezone == "Europe/London"
    assert dora.check_password("a-long-pass-123") and dora.permissions == {}
    assert list(AgentMembership.objects.filter(agent=dora).values_list("customer__slug", flat=True)) == [
        "acme"
    ]
    assert activations(callbacks) == 0  # no activation email: the password is set
    entry = AuditEntry.objects.filter(
        content_type__model="user", object_pk=str(dora.pk), action=AuditEntry.Action.CREATE
    ).get()  # (a membership may have the same id)
    assert entry.actor == cast.alice and entry.channel == "web"


def test_an_occasional_agent_without_password_gets_scopes_and_an_activation_email(
    cast: Cast, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = console(cast.alice).post(
            NEW,
            _form(
                licence="occasional",
                customers=[str(cast.acme.pk), str(cast.globex.pk)],
                tickets="read",
                cmdb="none",
                reports="read",
            ),
            follow=True,
        )
    html = response.content.decode()
    assert response.status_code == 200 and "An activation email goes to dora@msp.test." in html
    dora = User.objects.get(email="dora@msp.test")
    assert dora.licence == "occasional" and not dora.has_usable_password()
    assert dora.permissions == {"tickets": "read", "cmdb": "none", "reports": "read"}
    assert AgentMembership.objects.filter(agent=dora).count() == 2
    assert activations(callbacks) == 1  # the activation email is queued after commit
    # The edit page shows what was saved.
    assert 'value="read" selected' in html and 'value="none" selected' in html


def test_all_customers_and_admins(cast: Cast) -> None:
    client = console(cast.alice)
    client.post(NEW, _form(email="all@msp.test", all_customers="on", customers=[str(cast.acme.pk)]))
    everyone = User.objects.get(email="all@msp.test")
    assert everyone.all_customers and not AgentMembership.objects.filter(agent=everyone).exists()
    client.post(NEW, _form(email="boss@msp.test", is_admin="on"))
    boss = User.objects.get(email="boss@msp.test")
    assert boss.is_provider_admin and boss.all_customers and boss.licence == "full_time"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"email": "bob@msp.test"}, "email", "This email address is already registered."),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"name": ""}, "name", "This field is required."),
        ({"timezone": "Mars/Olympus"}, "timezone", "Mars/Olympus"),
        (
            {"licence": "occasional", "is_admin": "on"},
            "licence",
            "Provider admins are full-time agents: choose the full-time licence, or no admin rights.",
        ),
        ({"password": "123"}, "password", "This password is too short."),
        ({"cmdb": "admin"}, "cmdb", "Select a valid choice."),
    ],
)
def test_bad_input_is_400_naming_the_problem_and_writes_nothing(
    cast: Cast, changes: dict[str, str], field: str, message: str
) -> None:
    client = console(cast.alice)
    before = (User.objects.count(), AgentMembership.objects.count(), AuditEntry.objects.count())
    response = client.post(NEW, _form(customers=[str(cast.acme.pk)], **changes))
    assert response.status_code == 400
    assert message in _errors(response.content.decode(), field)
    assert (User.objects.count(), AgentMembership.objects.count(), AuditEntry.objects.count()) == before


# --- editing --------------------------------------------------------------------------------------


def test_an_admin_edits_an_agent_and_the_licence_change_is_audited(cast: Cast) -> None:
    client = console(cast.alice)
    page = client.get(f"/agents/{cast.bob.pk}/").content.decode()
    assert 'id="agent-form"' in page and 'value="bob@msp.test"' in page and "/deactivate/" in page
    response = client.post(
        f"/agents/{cast.bob.pk}/",
        _edit_form(
            cast.bob,
            name="Robert",
            licence="occasional",
            customers=[str(cast.globex.pk)],
            tickets="read",
            cmdb="write",
        ),
    )
    assert response.status_code == 302 and response["Location"] == f"/agents/{cast.bob.pk}/"
    cast.bob.refresh_from_db()
    assert cast.bob.name == "Robert" and cast.bob.licence == "occasional"
    assert cast.bob.permissions == {"tickets": "read", "cmdb": "write", "reports": "none"}
    assert list(AgentMembership.objects.filter(agent=cast.bob).values_list("customer__slug", flat=True)) == [
        "globex"
    ]
    entry = AuditEntry.objects.filter(
        object_pk=str(cast.bob.pk), action=AuditEntry.Action.UPDATE, changes__has_key="licence"
    ).get()
    assert entry.actor == cast.alice and entry.channel == "web"
    assert entry.changes_dict["licence"] == ["full_time", "occasional"]
    # ... and back: full-time agents have every scope again.
    client.post(f"/agents/{cast.bob.pk}/", _edit_form(cast.bob, licence="full_time"))
    cast.bob.refresh_from_db()
    assert cast.bob.licence == "full_time"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"email": "charlie@msp.test"}, "email", "This email address is already registered."),
        ({"is_admin": "on", "licence": "occasional"}, "licence", "Provider admins are full-time agents"),
        ({"password": "123"}, "password", "This password is too short."),
    ],
)
def test_bad_edits_are_400_and_change_nothing(
    cast: Cast, changes: dict[str, str], field: str, message: str
) -> None:
    client = console(cast.alice)
    before = (AuditEntry.objects.count(), AgentMembership.objects.count())
    response = client.post(
        f"/agents/{cast.bob.pk}/",
        _edit_form(cast.bob, name="Robert", customers=[str(cast.globex.pk)], **changes),
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert message in _errors(html, field)
    bob = User.objects.get(pk=cast.bob.pk)
    assert (bob.name, bob.email, bob.kind, bob.licence) == ("bob", "bob@msp.test", "agent", "full_time")
    assert list(AgentMembership.objects.filter(agent=bob).values_list("customer__slug", flat=True)) == [
        "acme"
    ]
    assert (AuditEntry.objects.count(), AgentMembership.objects.count()) == before
    assert 'value="Robert"' in html  # what was typed stays in the form


# --- deactivating ---------------------------------------------------------------------------------


def test_deactivate_and_reactivate(cast: Cast, actor: None) -> None:
    token, _ = token_issue(user=cast.bob, name="script")
    client = console(cast.alice)
    gone = client.post(f"/agents/{cast.bob.pk}/deactivate/", follow=True)
    assert gone.status_code == 200 and "bob deactivated" in gone.content.decode()
    cast.bob.refresh_from_db()
    assert not cast.bob.is_active and not ApiToken.objects.get(pk=token.pk).is_live
    assert "/reactivate/" in gone.content.decode()
    back = client.post(f"/agents/{cast.bob.pk}/reactivate/", follow=True)
    assert back.status_code == 200 and "bob reactivated" in back.content.decode()
    cast.bob.refresh_from_db()
    assert cast.bob.is_active
    assert client.get(f"/agents/{cast.bob.pk}/deactivate/").status_code == 405  # POST only


def test_an_admin_cannot_deactivate_themselves(cast: Cast) -> None:
    client = console(cast.alice)
    assert "/deactivate/" not in client.get(f"/agents/{cast.alice.pk}/").content.decode()
    response = client.post(f"/agents/{cast.alice.pk}/deactivate/", follow=True)
    assert "You cannot deactivate yourself." in response.content.decode()
    cast.alice.refresh_from_db()
    assert cast.alice.is_active
