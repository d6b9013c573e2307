from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from accounts.models import User
from audit.context import job_context
from audit.models import AuditEntry
from tenants.schema import customer_schema
from tests.conftest import Cast, api_for


def test_api_writes_record_the_person_and_channel_api(cast: Cast) -> None:
    api_for(cast.alice).patch("/api/v1/customers/acme/", {"name": "Acme Inc"}, format="json")
    entry = AuditEntry.objects.filter(object_repr="Acme Inc").latest("timestamp")
    assert entry.actor == cast.alice and entry.channel == "api" and entry.job == ""
    assert entry.changes_dict["name"] == ["Acme", "Acme Inc"]


def test_customer_scoped_writes_are_audited_inside_that_customer(cast: Cast) -> None:
    api_for(cast.bob).post(
        "/api/v1/customers/acme/users/", {"email": "a@acme.test", "name": "A"}, format="json"
    )
    with customer_schema(cast.acme):
        assert AuditEntry.objects.filter(
            actor=cast.bob, channel="api", object_repr__contains="a@acme.test"
        ).exists()
    with customer_schema(cast.globex):
        assert not AuditEntry.objects.filter(object_repr__contains="a@acme.test").exists()


def test_background_work_is_recorded_under_its_job_name(cast: Cast) -> None:
    with job_context("tests.nightly"):
        cast.charlie.name = "Charles"
        cast.charlie.save(update_fields=["name"])
    entry = AuditEntry.objects.filter(object_pk=str(cast.charlie.pk)).latest("timestamp")
    assert entry.actor is None and entry.job == "tests.nightly" and entry.channel == "system"


def test_an_anonymous_write_is_refused_by_the_database(cast: Cast) -> None:
    user = User.objects.get(pk=cast.charlie.pk)
    user.name = "Ghost"
    with (
        pytest.raises(IntegrityError, match=r"audit_entry_(has_actor_or_job|channel_valid)"),
        transaction.atomic(),
    ):
        user.save(update_fields=["name"])


def test_secrets_are_not_in_the_trail(cast: Cast) -> None:
    api_for(cast.alice).post(
        "/api/v1/agents/", {"email": "s@msp.test", "name": "S", "password": "a-long-pass-123"}, format="json"
    )
    entry = AuditEntry.objects.filter(object_repr__contains="s@msp.test").latest("timestamp")
    assert "password" not in (entry.changes or {})
