"""``manage.py migrate_customers``: the template first, then the customers in batches, each schema
in one transaction, resumable. The migrations are real ones (a column, then a CHECK constraint on
the people app's profiles) in a temporary copy of that app's migrations, applied to the real
schemas inside the test's transaction."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from psycopg import sql

from people.models import CustomerUser
from tenants.migrating import customer_batches, migrate_in_batches, migrate_template
from tenants.models import Customer
from tenants.schema import customer_schema
from tenants.services import customer_provision
from tests.conftest import Cast
from tests.support import processes

TEMPLATE = settings.TENANT_TEMPLATE_SCHEMA
PEOPLE = Path(__file__).resolve().parents[2] / "people" / "migrations"

_COLUMN = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("people", "{leaf}")]
    operations = [migrations.AddField("customeruser", "probe_note", models.TextField(null=True))]
"""

# A constraint that one customer's data may break: its schema must then stay as it was.
_CHECK = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("people", "9001_probe_note")]
    operations = [
        migrations.AddConstraint(
            "customeruser",
            models.CheckConstraint(condition=~models.Q(phone="000"), name="people_phone_not_000"),
        )
    ]
"""

BOTH = {"9001_probe_note", "9002_phone_not_000"}

Probe = Callable[..., None]


@pytest.fixture
def probe_migrations(tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Probe:
    """Point the people app at a copy of its migrations plus the given ones (9001, 9002...)."""

    def install(*extra: str) -> None:
        (leaf,) = MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes("people")
        package = f"probe_people_{uuid.uuid4().hex}"  # never one imported before
        shutil.copytree(PEOPLE, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
        names = ("9001_probe_note", "9002_phone_not_000")
        for name, text in zip(names, extra, strict=False):
            (tmp_path / package / f"{name}.py").write_text(text.format(leaf=leaf[1]))
        monkeypatch.syspath_prepend(str(tmp_path))
        settings.MIGRATION_MODULES = {"people": package}

    return install


def _has_column(schema: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = %s"
            " AND table_name = 'people_customeruser' AND column_name = 'probe_note'",
            [schema],
        )
        return cursor.fetchone() is not None


def _recorded(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT name FROM {} WHERE app = 'people' AND name LIKE '9%%'").format(
                sql.Identifier(schema, "django_migrations")
            )
        )
        return {row[0] for row in cursor.fetchall()}


def _set_phone(cast: Cast, phone: str) -> None:
    """As if committed before the run: its deferred trigger events (which no ALTER TABLE in the
    same transaction tolerates) fire now."""
    with customer_schema(cast.acme), connection.cursor() as cursor:
        CustomerUser.objects.filter(user=cast.acme_user).update(phone=phone)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _migrate(*args: str) -> list[str]:
    out = StringIO()
    call_command("migrate_customers", *args, stdout=out)
    return out.getvalue().splitlines()


def _customer_schemas() -> list[str]:
    return sorted(Customer.objects.customers().values_list("schema_name", flat=True))


def test_the_template_first_then_the_customers_batch_by_batch(
    cast: Cast, actor: None, probe_migrations: Probe
) -> None:
    probe_migrations(_COLUMN)
    customer_provision(name="Mig A", slug="mig-a")
    customer_provision(name="Mig B", slug="mig-b")
    schemas = _customer_schemas()
    batches = (len(schemas) + 1) // 2

    lines = _migrate("--batch-size", "2")

    assert lines[0] == f"template {TEMPLATE}: 1 migrations applied"
    assert lines[1] == f"Then {len(schemas)} customer schemas in {batches} batches."
    assert lines[2].startswith(
        f"batch 1/{batches}: {schemas[0]} .. {schemas[1]}, 2 schemas, 2 migrations applied"
    )
    assert lines[3].startswith(
        f"batch 2/{batches}: {schemas[2]} .. {schemas[3]}, 2 schemas, 2 migrations applied"
    )
    for schema in (TEMPLATE, *schemas):
        assert _has_column(schema) and _recorded(schema) == {"9001_probe_note"}

    again = _migrate("--batch-size", "2")  # everything current: nothing applied, nothing breaks
    assert again[0] == f"template {TEMPLATE}: 0 migrations applied"
    assert all(", 0 migrations applied" in line for line in again[2:-1])


def test_from_resumes_at_the_named_schema(cast: Cast, actor: None, probe_migrations: Probe) -> None:
    probe_migrations(_COLUMN)
    lines = _migrate("--from", cast.globex.schema_name)
    assert lines[1].endswith(f"{len(_customer_schemas()) - 1} customer schemas in 1 batches.")
    assert _has_column(TEMPLATE) and _has_column(cast.globex.schema_name)
    assert not _has_column(cast.acme.schema_name) and _recorded(cast.acme.schema_name) == set()


def test_a_schema_that_fails_is_rolled_back_whole_and_named(
    cast: Cast, actor: None, probe_migrations: Probe
) -> None:
    probe_migrations(_COLUMN, _CHECK)
    acme, globex = cast.acme.schema_name, cast.globex.schema_name
    _set_phone(cast, "000")

    with pytest.raises(CommandError) as excinfo:
        _migrate("--batch-size", "1")

    message = str(excinfo.value)
    assert message.startswith(f"stopped at {acme}: IntegrityError")
    assert f"manage.py migrate_customers --from {acme}" in message
    assert not _has_column(acme) and _recorded(acme) == set()  # not the column without the check
    assert _has_column(TEMPLATE) and _recorded(TEMPLATE) == BOTH
    assert not _has_column(globex)  # after the failure: not reached

    _set_phone(cast, "")
    _migrate("--from", acme)
    for schema in (TEMPLATE, *_customer_schemas()):
        assert _recorded(schema) == BOTH


def test_a_customer_provisioned_during_the_batches_is_cloned_migrated(
    cast: Cast, actor: None, probe_migrations: Probe
) -> None:
    probe_migrations(_COLUMN)
    earlier = customer_batches(size=1)  # listed before the template: the late customer missing
    template = migrate_template()
    assert (template.schema, template.batch, template.applied) == (TEMPLATE, 0, 1)

    late = customer_provision(name="Late", slug="late-co")  # between the template and the batches
    migrated = {result.schema: result.applied for result in migrate_in_batches(customer_batches(size=1))}

    assert len(migrated) == len(earlier) + 1  # listed after the template: the late one too
    assert migrated.pop(late.schema_name) == 0  # cloned in the new shape
    assert _has_column(late.schema_name) and _recorded(late.schema_name) == {"9001_probe_note"}
    assert set(migrated.values()) == {1}


def test_a_schema_whose_table_stays_locked_is_retried_then_left_as_it_was(
    cast: Cast, actor: None, probe_migrations: Probe
) -> None:
    probe_migrations(_COLUMN)
    globex = cast.globex.schema_name
    with psycopg.connect(processes.test_database_url()) as locker:  # a long query on globex's table
        locker.execute(
            sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE").format(
                sql.Identifier(globex, "people_customeruser")
            )
        )
        with pytest.raises(CommandError) as excinfo:
            _migrate("--lock-timeout", "1")
        locker.rollback()

    assert str(excinfo.value).startswith(f"stopped at {globex}: OperationalError")
    assert "lock timeout" in str(excinfo.value)
    assert _has_column(cast.acme.schema_name) and not _has_column(globex)


@pytest.mark.parametrize(
    ("option", "value"), [("--batch-size", "0"), ("--pause", "-1"), ("--lock-timeout", "x")]
)
def test_bad_options_are_refused(cast: Cast, option: str, value: str) -> None:
    with pytest.raises(CommandError, match=f"argument {option}: "):
        _migrate(option, value)
