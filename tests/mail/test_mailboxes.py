"""The provider's IMAP mailboxes, through the API and the console page: provider admins only
(agents 403, customers' people 404), the password written but never read (stored encrypted,
absent from every answer and from the audit trail), input refused by field."""

from __future__ import annotations

import pytest

from audit.models import AuditEntry
from mail.mailboxes.services import MailboxChanges, MailboxFields, mailbox_create, mailbox_update
from mail.models import InboundMessage, Mailbox
from mail.secrets import decrypt
from mail.store import store_raw
from tests.conftest import Cast, api_for
from tests.support.clients import console

MAILBOXES = "/api/v1/email/mailboxes/"
SECRET = "Correct-Horse-Battery-41"


@pytest.fixture(autouse=True)
def _acting(actor: None) -> None:
    """Direct writes run as the job "tests"."""


def test_a_provider_admin_configures_mailboxes_and_never_reads_a_password(cast: Cast) -> None:
    admin = api_for(cast.alice)
    made = admin.post(
        MAILBOXES,
        {"host": "imap.acme.test", "username": "helpdesk@acme.test", "password": SECRET, "customer": "acme"},
        format="json",
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert body == {
        "id": body["id"],
        "host": "imap.acme.test",
        "port": 993,
        "use_ssl": True,
        "username": "helpdesk@acme.test",
        "folder": "INBOX",
        "customer": "acme",
        "last_poll": None,
        "last_error": "",
    }
    mailbox = Mailbox.objects.get(pk=body["id"])
    assert SECRET not in mailbox.password_encrypted and decrypt(mailbox.password_encrypted) == SECRET
    url = f"{MAILBOXES}{mailbox.pk}/"
    for read in (admin.get(MAILBOXES), admin.get(url)):
        assert read.status_code == 200 and SECRET not in read.content.decode()
        assert "password" not in read.content.decode()
    listed = {row["id"]: row for row in admin.get(MAILBOXES).json()["results"]}
    assert listed[mailbox.pk]["customer"] == "acme"

    kept = admin.patch(url, {"folder": "Support", "customer": None}, format="json")
    assert kept.status_code == 200, kept.content
    assert kept.json()["folder"] == "Support" and kept.json()["customer"] is None
    mailbox.refresh_from_db()
    assert decrypt(mailbox.password_encrypted) == SECRET  # not given: unchanged
    changed = admin.patch(url, {"password": "Another-one-22"}, format="json")
    assert changed.status_code == 200 and "Another-one-22" not in changed.content.decode()
    mailbox.refresh_from_db()
    assert decrypt(mailbox.password_encrypted) == "Another-one-22"
    entries = AuditEntry.objects.filter(content_type__model="mailbox", object_pk=str(mailbox.pk))
    assert entries.count() >= 2 and {e.channel for e in entries} == {"api"}
    for entry in entries:
        assert SECRET not in str(entry.changes) and "password" not in str(entry.changes)

    assert admin.delete(url).status_code == 204
    assert not Mailbox.objects.filter(pk=mailbox.pk).exists()


def test_a_mailbox_is_the_provider_admins_alone(cast: Cast) -> None:
    mailbox = mailbox_create(fields=MailboxFields(host="imap.msp.test", username="support", password=SECRET))
    url = f"{MAILBOXES}{mailbox.pk}/"
    agent = api_for(cast.bob)
    for response in (
        agent.get(MAILBOXES),
        agent.get(url),
        agent.post(MAILBOXES, {"host": "x.test", "username": "u", "password": "p"}, format="json"),
        agent.patch(url, {"folder": "Other"}, format="json"),
        agent.delete(url),
    ):
        assert response.status_code == 403, response.content
        assert response.json()["detail"] == "Only provider admins can configure mailboxes."
    for outsider in (cast.acme_admin, cast.acme_it, cast.globex_user):
        client = api_for(outsider)
        assert client.get(MAILBOXES).status_code == 404
        assert client.get(url).status_code == 404
        assert client.patch(url, {"folder": "Other"}, format="json").status_code == 404
    assert api_for(None).get(url).status_code == 401
    mailbox.refresh_from_db()
    assert mailbox.folder == "INBOX"
    assert api_for(cast.alice).get(f"{MAILBOXES}987654321/").status_code == 404


def test_mailbox_input_is_refused_by_field(cast: Cast) -> None:
    admin = api_for(cast.alice)
    good = {"host": "imap.msp.test", "username": "support", "password": SECRET}
    cases = {
        "password": {k: v for k, v in good.items() if k != "password"},
        "host": {**good, "host": "imap msp.test"},
        "port": {**good, "port": 70000},
        "username": {**good, "username": "support\r\nA1 DELETE INBOX"},
        "customer": {**good, "customer": "nobody-here"},
        "priority": {**good, "priority": "P1"},
    }
    for field, body in cases.items():
        refused = admin.post(MAILBOXES, body, format="json")
        assert refused.status_code == 400, (field, refused.content)
        assert field in refused.json()["fields"], (field, refused.json())
    assert admin.post(MAILBOXES, {**good, "port": "993"}, format="json").status_code == 400
    assert not Mailbox.objects.filter(host="imap.msp.test").exists()


def test_pointing_a_mailbox_elsewhere_reads_it_from_the_start_and_deleting_keeps_its_mail(
    cast: Cast,
) -> None:
    mailbox = mailbox_create(fields=MailboxFields(host="imap.msp.test", username="support", password=SECRET))
    Mailbox.objects.filter(pk=mailbox.pk).update(uidvalidity=7, last_uid=40, last_error="boom")
    mailbox.refresh_from_db()
    mailbox_update(mailbox=mailbox, changes=MailboxChanges(use_ssl=False))
    mailbox.refresh_from_db()
    assert (mailbox.uidvalidity, mailbox.last_uid) == (7, 40)  # the same folder
    mailbox_update(mailbox=mailbox, changes=MailboxChanges(folder="Archive"))
    mailbox.refresh_from_db()
    assert (mailbox.uidvalidity, mailbox.last_uid, mailbox.last_error) == (None, 0, "")

    raw = b"From: a@out.test\r\nSubject: kept\r\nMessage-ID: <kept@out.test>\r\n\r\nhello\r\n"
    stored = store_raw(raw, envelope_from="a@out.test", envelope_to=["support@msp.test"], mailbox=mailbox)
    assert api_for(cast.alice).delete(f"{MAILBOXES}{mailbox.pk}/").status_code == 204
    assert InboundMessage.objects.get(pk=stored.id).mailbox_id is None


def test_the_console_page_lists_adds_edits_and_deletes_mailboxes(cast: Cast) -> None:
    page = console(cast.alice)
    assert page.get("/mail/mailboxes/").status_code == 200
    missing = page.post(
        "/mail/mailboxes/", {"host": "imap.acme.test", "port": "993", "username": "u", "folder": "INBOX"}
    )
    assert missing.status_code == 400 and "Give the mailbox&#x27;s password." in missing.content.decode()
    added = page.post(
        "/mail/mailboxes/",
        {
            "host": "imap.acme.test",
            "port": "993",
            "use_ssl": "on",
            "username": "helpdesk@acme.test",
            "password": SECRET,
            "folder": "INBOX",
            "customer": "acme",
        },
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    mailbox = Mailbox.objects.get(host="imap.acme.test")
    assert mailbox.customer == cast.acme and decrypt(mailbox.password_encrypted) == SECRET
    Mailbox.objects.filter(pk=mailbox.pk).update(last_error="sign-in refused by imap.acme.test: no")
    listed = page.get("/mail/mailboxes/").content.decode()
    assert "helpdesk@acme.test" in listed and "sign-in refused by imap.acme.test" in listed
    assert SECRET not in listed

    edit = page.get(f"/mail/mailboxes/{mailbox.pk}/")
    assert edit.status_code == 200 and SECRET not in edit.content.decode()
    saved = page.post(
        f"/mail/mailboxes/{mailbox.pk}/",
        {"host": "imap.acme.test", "port": "143", "username": "helpdesk@acme.test", "folder": "INBOX"},
    )
    assert saved.status_code == 302
    mailbox.refresh_from_db()
    assert mailbox.port == 143 and not mailbox.use_ssl and mailbox.customer is None
    assert decrypt(mailbox.password_encrypted) == SECRET  # left empty: kept
    bad = page.post(
        f"/mail/mailboxes/{mailbox.pk}/",
        {"host": "not a host", "port": "143", "username": "helpdesk@acme.test", "folder": "INBOX"},
    )
    assert bad.status_code == 400 and "host name" in bad.content.decode()

    assert console(cast.bob).get("/mail/mailboxes/").status_code == 403
    assert console(cast.bob).post(f"/mail/mailboxes/{mailbox.pk}/delete/").status_code == 403
    assert console(cast.acme_it).get("/mail/mailboxes/").status_code == 404
    assert page.post(f"/mail/mailboxes/{mailbox.pk}/delete/").status_code == 302
    assert not Mailbox.objects.filter(pk=mailbox.pk).exists()
