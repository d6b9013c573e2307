"""Importing customers, users and CIs: what each row does, dry runs, re-imports, refusals with
row and field, attribution."""

from __future__ import annotations

from accounts.models import User
from audit.models import AuditEntry
from cmdb.inventory.models import AssetCount
from cmdb.models import ConfigurationItem
from people.models import CustomerUser
from sla.models import STANDARD_TARGETS, SlaPolicy
from tenants.models import Customer, EmailDomain
from tenants.schema import customer_schema
from tests.conftest import Cast
from tests.imports.conftest import outcomes, run_import

USERS = """customer,email,name,role,timezone
acme,ann@acme.test,Ann,admin,Europe/Berlin
globex,bo@globex.test,Bo,,
acme,cy@acme.test,,user,UTC
"""


def test_a_dry_run_reports_every_row_and_writes_nothing(cast: Cast) -> None:
    users, audit = User.objects.count(), AuditEntry.objects.count()
    job = run_import(cast.alice, "users", USERS, dry_run=True)
    assert job.status == "done" and job.dry_run
    assert (job.total, job.processed, job.created, job.updated, job.refused) == (3, 3, 3, 0, 0)
    assert [entry["outcome"] for entry in job.report] == ["create", "create", "create"]
    assert User.objects.count() == users
    with customer_schema(cast.acme):
        assert not CustomerUser.objects.filter(user__email="ann@acme.test").exists()
        assert not AuditEntry.objects.filter(object_repr__contains="ann@acme.test").exists()
    # the import itself is recorded (and audited): who, file hash, counts
    assert AuditEntry.objects.count() > audit
    entry = AuditEntry.objects.filter(object_pk=str(job.pk), content_type__model="import").latest("timestamp")
    assert entry.actor == cast.alice and entry.changes and "created" in str(entry.changes)


def test_a_real_run_creates_users_attributed_to_the_importer_and_a_second_run_creates_nothing(
    cast: Cast, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = run_import(cast.alice, "users", USERS)
    assert (job.created, job.updated, job.unchanged, job.refused) == (3, 0, 0, 0)
    ann = User.objects.get(email="ann@acme.test")
    assert (ann.customer, ann.customer_role, ann.timezone, ann.name) == (
        cast.acme,
        "admin",
        "Europe/Berlin",
        "Ann",
    )
    assert User.objects.get(email="cy@acme.test").name == "cy"  # no name: the email's local part
    assert not ann.has_usable_password()
    with customer_schema(cast.acme):
        profile = CustomerUser.objects.get(user=ann)
        entries = AuditEntry.objects.filter(object_pk=str(profile.pk), content_type__model="customeruser")
        assert entries.get().actor == cast.alice and entries.get().job == "imports.run"
        assert AuditEntry.objects.get(object_pk=str(ann.pk), content_type__model="user").actor == cast.alice
    with customer_schema(cast.globex):
        assert CustomerUser.objects.filter(user__email="bo@globex.test").exists()
    assert len(callbacks) == 1  # the run's own enqueue; no activation emails unless asked

    again = run_import(cast.alice, "users", USERS)
    assert (again.created, again.updated, again.unchanged, again.refused) == (0, 0, 3, 0)
    assert User.objects.filter(email__in=["ann@acme.test", "bo@globex.test", "cy@acme.test"]).count() == 3


def test_activation_emails_only_when_asked(cast: Cast, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run_import(cast.alice, "users", USERS, send_invites=True)
    assert len(callbacks) == 1 + 3  # the run's own enqueue, then one invitation per new user


def test_known_users_are_updated_with_the_cells_given(cast: Cast) -> None:
    gold = SlaPolicy.objects.create(name="Gold", targets=STANDARD_TARGETS)
    text = (
        "customer,email,name,timezone,sla_policy\n"
        "acme,user@acme.test,,Asia/Tokyo,gold\n"
        "acme,user2@acme.test,,,\n"
    )
    job = run_import(cast.alice, "users", text)
    assert outcomes(job)[2] == ("update", "", "timezone, sla_policy")
    assert outcomes(job)[3][0] == "unchanged"
    cast.acme_user.refresh_from_db()
    assert cast.acme_user.timezone == "Asia/Tokyo" and cast.acme_user.name == "user"
    assert cast.profile(cast.acme_user).sla_policy == gold


def test_bad_user_rows_are_refused_with_row_and_field(cast: Cast) -> None:
    text = (
        "customer,email,name,timezone,role\n"
        "acme,,No Email,,\n"  # 2: missing email
        "acme,tz@acme.test,Tz,Mars/Olympus,\n"  # 3: bad time zone
        "nowhere,n@x.test,N,,\n"  # 4: no such customer
        "template,t@x.test,T,,\n"  # 5: exists, but nobody may see it
        "acme,ok@acme.test,Ok,,\n"  # 6: fine
        "acme,OK@acme.test,Again,,\n"  # 7: the same email again
        "globex,user@acme.test,Taken,,\n"  # 8: registered to someone else
        "acme,boss@acme.test,Boss,,agent\n"  # 9: agents are not imported
        "acme,f@acme.test,=HYPERLINK(1),,\n"  # 10: formula
    )
    job = run_import(cast.alice, "users", text)
    found = outcomes(job)
    assert found[2][:2] == ("refused", "email") and "required" in found[2][2]
    assert found[3][:2] == ("refused", "timezone") and "Mars/Olympus" in found[3][2]
    assert found[4] == ("refused", "customer", "No customer 'nowhere'.")
    assert found[5] == ("refused", "customer", "No customer 'template'.")  # never says it exists
    assert found[6][0] == "create"
    assert found[7][:2] == ("refused", "email") and "row 6" in found[7][2]
    assert found[8] == ("refused", "email", "This email address is already registered.")
    assert found[9][:2] == ("refused", "role")
    assert found[10][:2] == ("refused", "name") and "formula" in found[10][2]
    assert (job.created, job.refused) == (1, 8)
    assert not User.objects.filter(email__in=["tz@acme.test", "n@x.test", "t@x.test", "f@acme.test"]).exists()


def test_customers_are_provisioned_updated_and_duplicate_slugs_refused(cast: Cast) -> None:
    gold = SlaPolicy.objects.create(name="Gold", targets=STANDARD_TARGETS)
    text = (
        "name,slug,timezone,default_sla,email_domains\n"
        "Initech,initech-x,Europe/Paris,Gold,initech.test; initech.example\n"
        "Initech again,initech-x,,,\n"
        "Acme,acme,Europe/Berlin,,\n"
        "Bad Zone,badzone,Moon/Base,,\n"
        "Public,public,,,\n"
        ",noname,,,\n"
    )
    job = run_import(cast.alice, "customers", text)
    found = outcomes(job)
    assert found[2][0] == "create"
    assert found[3][:2] == ("refused", "slug") and "row 2" in found[3][2]
    assert found[4][0] == "unchanged"
    assert found[5][:2] == ("refused", "timezone")
    assert found[6][:2] == ("refused", "slug") and "reserved" in found[6][2]
    assert found[7][:2] == ("refused", "name")
    initech = Customer.objects.get(slug="initech-x")
    assert (initech.timezone, initech.default_sla) == ("Europe/Paris", gold)
    assert set(EmailDomain.objects.filter(customer=initech).values_list("domain", flat=True)) == {
        "initech.test",
        "initech.example",
    }
    again = run_import(cast.alice, "customers", "name,slug,timezone\nInitech,initech-x,Asia/Tokyo\n")
    assert outcomes(again)[2] == ("update", "", "timezone")
    assert Customer.objects.filter(slug="initech-x").count() == 1


CIS = """customer,name,type,parent,owner,attributes
acme,vm-1,server,host-1,user@acme.test,"{""os"": ""Debian""}"
acme,host-1,server,rack-1,,
acme,rack-1,other,,,
acme,orphan,server,nowhere,,
acme,loop-a,server,loop-b,,
acme,loop-b,server,loop-a,,
acme,below-orphan,server,orphan,,
acme,bad-attrs,server,,,[1]
acme,bad-owner,server,,nobody@acme.test,
globex,vm-1,server,,,
acme,below-bad,server,bad-attrs,,
"""


def test_cis_are_created_parents_first_and_bad_rows_refused(cast: Cast) -> None:
    job = run_import(cast.alice, "cis", CIS)
    found = outcomes(job)
    assert [found[line][0] for line in (2, 3, 4, 11)] == ["create"] * 4
    assert found[5][:2] == ("refused", "parent") and "nowhere" in found[5][2]
    assert found[6][:2] == ("refused", "parent") and "loop" in found[6][2]
    assert found[7][:2] == ("refused", "parent")
    assert found[8] == ("refused", "parent", "Its parent (row 5) is refused.")
    assert found[9][:2] == ("refused", "attributes")
    assert found[10][:2] == ("refused", "owner")
    assert found[12] == ("refused", "parent", "Its parent (row 9) is refused.")
    with customer_schema(cast.acme):
        vm = ConfigurationItem.objects.select_related("parent__parent", "owner__user").get(name="vm-1")
        assert vm.parent is not None and vm.parent.name == "host-1"
        assert vm.parent.parent is not None and vm.parent.parent.name == "rack-1"
        assert vm.owner is not None and vm.owner.user == cast.acme_user
        assert vm.attributes == {"os": "Debian"}
        entry = AuditEntry.objects.get(object_pk=str(vm.pk), content_type__model="configurationitem")
        assert entry.actor == cast.alice and entry.job == "imports.run"
    counted = AssetCount.objects.get(customer=cast.acme, type="server", status="active").count
    with customer_schema(cast.acme):
        assert counted == ConfigurationItem.objects.filter(type="server", status="active").count()
    with customer_schema(cast.globex):
        assert ConfigurationItem.objects.filter(name="vm-1").exists()

    again = run_import(cast.alice, "cis", CIS)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)
    moved = run_import(cast.alice, "cis", "customer,name,type,parent\nacme,vm-1,workstation,rack-1\n")
    assert outcomes(moved)[2] == ("update", "", "type, parent")
    loop = run_import(cast.alice, "cis", "customer,name,type,parent\nacme,rack-1,other,vm-1\n")
    assert outcomes(loop)[2][:2] == ("refused", "parent")
