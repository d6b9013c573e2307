from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEntry
from tenants.models import Customer
from tenants.validators import email_domains
from tests.conftest import Cast, api_for


def test_admin_provisions_a_customer_through_the_api(cast: Cast) -> None:
    response = api_for(cast.alice).post(
        "/api/v1/customers/",
        {"name": "Umbrella", "slug": "umbrella", "timezone": "Asia/Tokyo"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["slug"] == "umbrella" and body["is_active"] is True
    assert body["portal_url"] == "http://umbrella.localhost:8000/"
    assert set(body) >= {
        "name",
        "slug",
        "timezone",
        "default_sla",
        "business_hours",
        "portal_url",
        "created_at",
    }


def test_duplicate_and_malformed_slugs_are_400(cast: Cast) -> None:
    client = api_for(cast.alice)
    duplicate = client.post("/api/v1/customers/", {"name": "A", "slug": "acme"}, format="json")
    assert duplicate.status_code == 400
    assert duplicate.json()["code"] == "invalid"
    assert "already exists" in duplicate.json()["fields"]["slug"][0]
    malformed = client.post("/api/v1/customers/", {"name": "A", "slug": "Bad Slug!"}, format="json")
    assert malformed.status_code == 400 and "slug" in malformed.json()["fields"]


def test_agents_read_but_do_not_write_customers(cast: Cast) -> None:
    client = api_for(cast.bob)
    assert client.get("/api/v1/customers/acme/").status_code == 200
    assert client.patch("/api/v1/customers/acme/", {"name": "X"}, format="json").status_code == 403
    assert client.post("/api/v1/customers/", {"name": "X", "slug": "xx"}, format="json").status_code == 403


def test_delete_archives_and_never_drops(cast: Cast) -> None:
    client = api_for(cast.alice)
    client.post("/api/v1/customers/", {"name": "Soon Gone", "slug": "soon-gone"}, format="json")
    assert client.delete("/api/v1/customers/soon-gone/").status_code == 204
    customer = Customer.objects.get(slug="soon-gone")
    assert customer.is_active is False
    assert client.get("/api/v1/customers/soon-gone/").json()["is_active"] is False


def test_slug_cannot_change(cast: Cast) -> None:
    response = api_for(cast.alice).patch("/api/v1/customers/acme/", {"slug": "acme2"}, format="json")
    assert response.status_code == 400 and "slug" in response.json()["fields"]


def test_patch_validates_timezone(cast: Cast) -> None:
    response = api_for(cast.alice).patch(
        "/api/v1/customers/acme/", {"timezone": "Nowhere/City"}, format="json"
    )
    assert response.status_code == 400
    assert "timezone" in response.json()["fields"]


def test_mail_domains_are_checked_unique_and_audited(cast: Cast) -> None:
    client = api_for(cast.alice)
    created = client.post(
        "/api/v1/customers/",
        {"name": "Hooli", "slug": "hooli", "email_domains": ["Hooli.com", "hooli.xyz", "hooli.com"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["email_domains"] == ["hooli.com", "hooli.xyz"]

    taken = client.patch("/api/v1/customers/acme/", {"email_domains": ["hooli.com"]}, format="json")
    assert taken.status_code == 400 and "another customer" in taken.json()["fields"]["email_domains"][0]
    bad = client.patch(
        "/api/v1/customers/hooli/", {"name": "Hooli Inc", "email_domains": ["not a domain"]}, format="json"
    )
    assert bad.status_code == 400 and "email_domains" in bad.json()["fields"]
    assert Customer.objects.get(slug="hooli").name == "Hooli"  # a refusal writes nothing

    changed = client.patch("/api/v1/customers/hooli/", {"email_domains": ["hooli.io"]}, format="json")
    assert changed.status_code == 200 and changed.json()["email_domains"] == ["hooli.io"]
    assert client.get("/api/v1/customers/hooli/").json()["email_domains"] == ["hooli.io"]
    assert AuditEntry.objects.filter(content_type__model="emaildomain").count() == 5  # +2, -2, +1


def test_a_mail_domain_is_read_as_the_schema_says() -> None:
    assert email_domains(["Acme.COM.", "acme.com", "mail.acme.co.uk"]) == ["acme.com", "mail.acme.co.uk"]
    for wrong in (
        " acme.com",
        "acme.com\n",
        "acme",
        "-acme.com",
        "acme..com",
        "ac me.com",
        "a" * 250 + ".com",
    ):
        with pytest.raises(ValidationError):
            email_domains([wrong])
