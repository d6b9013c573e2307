from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from audit.context import job_context
from tenants import services
from tenants.models import Customer, CustomerSettings, Domain
from tenants.schema import customer_schema
from tenants.services import customer_archive, customer_provision
from tests.conftest import Cast


def _schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name])
        return cursor.fetchone() is not None


def test_provision_creates_schema_domain_and_settings_together(cast: Cast, actor: None) -> None:
    customer = customer_provision(name="Initech", slug="initech-eu", timezone_name="Europe/Paris")
    assert customer.schema_name == "c_initech_eu"
    assert _schema_exists("c_initech_eu")
    assert Domain.objects.get(tenant=customer).domain == "initech-eu.localhost"
    assert CustomerSettings.objects.get(customer=customer).ticket_prefix == "INITECHEU"
    with customer_schema(customer), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations")
        assert cursor.fetchone()[0] > 0  # migration records came with the clone


def test_a_failure_midway_leaves_nothing_behind(
    cast: Cast, actor: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(customer: Customer, prefix: str) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "_create_settings", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        customer_provision(name="Half", slug="half-made")
    assert not Customer.objects.filter(slug="half-made").exists()
    assert not Domain.objects.filter(domain__startswith="half-made.").exists()
    assert not _schema_exists("c_half_made")


@pytest.mark.parametrize(
    ("slug", "fragment"),
    [
        ("Acme", "lowercase"),
        ("-acme", "lowercase"),
        ("ac_me", "lowercase"),
        ("a" * 41, "lowercase"),
        ("www", "reserved"),
        ("api", "reserved"),
        ("public", "reserved"),
        ("template", "reserved"),
        ("acme", "already exists"),
    ],
)
def test_bad_slugs_are_refused_with_a_message(cast: Cast, actor: None, slug: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        customer_provision(name="X", slug=slug)
    assert fragment in " ".join(excinfo.value.message_dict["slug"])


def test_unknown_timezone_is_refused(cast: Cast, actor: None) -> None:
    with pytest.raises(ValidationError) as excinfo:
        customer_provision(name="X", slug="tz-test", timezone_name="Mars/Olympus")
    assert "IANA" in excinfo.value.message_dict["timezone"][0]


def test_archiving_keeps_the_schema_and_the_rows(cast: Cast, actor: None) -> None:
    customer = customer_provision(name="Old", slug="old-co")
    customer_archive(customer=customer)
    customer.refresh_from_db()
    assert customer.is_active is False and customer.archived_at is not None
    assert _schema_exists("c_old_co")


def test_clone_has_the_same_structure_as_the_template(cast: Cast) -> None:
    query = """
        SELECT 'col ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
          FROM information_schema.columns WHERE table_schema = %(s)s
        UNION ALL
        SELECT 'con ' || conname || ' ' || contype::text || ' '
               || CASE WHEN contype = 'f' THEN pg_get_constraintdef(oid) ELSE '' END
              FROM pg_constraint WHERE connamespace = %(s)s::regnamespace
        UNION ALL
        SELECT 'idx ' || indexname FROM pg_indexes WHERE schemaname = %(s)s
    """
    with connection.cursor() as cursor:
        cursor.execute(query, {"s": "customer_template"})
        template = sorted(row[0].replace("customer_template.", "<own>.") for row in cursor.fetchall())
        cursor.execute(query, {"s": cast.acme.schema_name})
        clone = sorted(row[0].replace(f"{cast.acme.schema_name}.", "<own>.") for row in cursor.fetchall())
    # Foreign keys inside the schema point at the clone's own tables, never at the template's.
    assert template == clone
    assert any(item.startswith("con ") and " f FOREIGN KEY" in item for item in clone)
    assert any("REFERENCES <own>.tickets_ticket" in item for item in clone)
    assert not any("customer_template" in item for item in clone)


@pytest.mark.django_db(transaction=False)
def test_two_concurrent_provisionings_both_succeed(cast: Cast, django_db_blocker) -> None:
    """Real threads, real connections, committed: no shared helper objects to fight over."""
    errors: list[BaseException] = []

    def provision(slug: str) -> None:
        try:
            with job_context("tests.concurrent"):
                customer_provision(name=slug, slug=slug)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=provision, args=(f"conc-{n}",)) for n in range(2)]
    with django_db_blocker.unblock():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert Customer.objects.filter(slug__in=["conc-0", "conc-1"]).count() == 2
