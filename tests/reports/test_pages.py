"""The pages of issue 18: time on the ticket page (and from the reply box), a customer's
contracts with their ledgers and closed months, the service report (live, issued, versions), the
provider's overview of the month, and the portal's issued reports and contract."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import time_machine

from contracts import services
from contracts.models import ClosedMonth, Contract, TimeEntry
from reports.models import IssuedReport
from tests.conftest import Cast
from tests.support.clients import console, portal
from tests.tickets.conftest import make_ticket

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


@time_machine.travel(NOW, tick=False)
def test_time_is_logged_reversed_and_logged_from_the_reply_box_on_the_ticket_page(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user)
    page = f"/customers/acme/tickets/{ticket.pk}/"
    bob = console(cast.bob)
    html = bob.get(page).content.decode()
    assert 'id="time-form"' in html and "No time logged yet." in html
    logged = bob.post(
        page + "time/", {"minutes": "90", "work_date": "2026-12-07", "billable": "on", "note": "patch"}
    )
    assert logged.status_code == 302 and logged["Location"].endswith("#time")
    entry = TimeEntry.objects.get(customer=cast.acme, ticket_id=ticket.pk)
    html = bob.get(page).content.decode()
    assert "1 h 30 min in all" in html and f'data-entry="{entry.pk}"' in html
    bad = bob.post(page + "time/", {"minutes": "٣", "work_date": "2026-12-07"})
    assert bad.status_code == 400 and 'id="time-errors"' in bad.content.decode()
    reversed_ = bob.post(page + "time/", {"reverses": str(entry.pk)})
    assert reversed_.status_code == 302
    replied = bob.post(
        page + "reply/", {"body": "Done", "visibility": "public", "time_minutes": "20", "time_billable": "on"}
    )
    assert replied.status_code == 302
    minutes = list(
        TimeEntry.objects.filter(customer=cast.acme, ticket_id=ticket.pk).values_list("minutes", flat=True)
    )
    assert minutes == [90, -90, 20]
    html = bob.get(page).content.decode()
    assert "20 min in all" in html and "reversed" in html
    # A customer's requester has no console session: the sign-in page, and nothing logged.
    refused = console(cast.acme_user).post(page + "time/", {"minutes": "5", "work_date": "2026-12-07"})
    assert refused.status_code == 302 and refused["Location"].startswith("/login/")
    assert TimeEntry.objects.filter(customer=cast.acme, ticket_id=ticket.pk).count() == 3


@time_machine.travel(NOW, tick=False)
def test_contracts_pages_add_top_up_and_close_months(cast: Cast) -> None:
    alice = console(cast.alice)
    made = alice.post(
        "/customers/acme/contracts/",
        {
            "name": "Managed",
            "starts_on": "2026-01-01",
            "ends_on": "",
            "prepaid_hours": "10",
            "warn_percent": "20",
        },
    )
    assert made.status_code == 302, made.content.decode()[:2000]
    contract = Contract.objects.get(customer=cast.acme, name="Managed")
    bad = alice.post("/customers/acme/contracts/", {"name": "Bad", "starts_on": "2026-02-30"})
    assert bad.status_code == 400
    topped = alice.post(f"/customers/acme/contracts/{contract.pk}/", {"hours": "2.5", "note": "extra"})
    assert topped.status_code == 302
    assert services.balance_of(contract).minutes == 750
    html = alice.get(f"/customers/acme/contracts/{contract.pk}/").content.decode()
    assert "12.50 h" in html and 'data-kind="topup"' in html
    assert console(cast.bob).get("/customers/acme/contracts/").status_code == 200  # member agents read
    assert (
        console(cast.bob).post(f"/customers/acme/contracts/{contract.pk}/", {"hours": "1"}).status_code == 403
    )
    assert console(cast.charlie).get("/customers/acme/contracts/").status_code == 404
    closed = alice.post("/customers/acme/months/close/", {"month": "2026-11"})
    assert (
        closed.status_code == 302
        and ClosedMonth.objects.filter(customer=cast.acme, month=date(2026, 11, 1)).exists()
    )
    assert "2026-11, closed by alice" in alice.get("/customers/acme/contracts/").content.decode()
    # The customer's admin reads the contract and its history in the portal; its users do not.
    html = portal(cast.acme_admin).get("/contracts/").content.decode()
    assert "Managed" in html and "12.50 h" in html
    assert portal(cast.acme_user).get("/contracts/").status_code == 403


def test_the_service_report_page_issues_and_the_portal_reads_it(cast: Cast) -> None:
    with time_machine.travel(datetime(2026, 11, 10, 9, tzinfo=UTC), tick=False):
        make_ticket(cast, cast.acme_user, subject="November work")
        services.contract_create(
            customer=cast.acme,
            by=cast.alice,
            values={
                "name": "Block",
                "starts_on": date(2026, 1, 1),
                "prepaid_hours": Decimal(1),
                "warn_percent": 50,
            },
        )
    with time_machine.travel(NOW, tick=False):
        alice = console(cast.alice)
        page = alice.get("/customers/acme/report/?month=2026-11")
        html = page.content.decode()
        assert page.status_code == 200
        assert (
            'data-figure="tickets_created">1<' in html and html.count('src="data:image/svg+xml;base64,') == 3
        )
        assert "Not issued: the figures are live." in html
        assert alice.get("/customers/acme/report/?month=2026-13").status_code == 400
        assert portal(cast.acme_admin).get("/reports/2026-11/").status_code == 404  # not issued
        issued = alice.post("/customers/acme/report/issue/", {"month": "2026-11"})
        assert issued.status_code == 302
        report = IssuedReport.objects.get(customer=cast.acme, month=date(2026, 11, 1))
        html = alice.get("/customers/acme/report/?month=2026-11").content.decode()
        assert "Issued as version 1" in html and report.sha256 in html
        assert (
            console(cast.bob).post("/customers/acme/report/issue/", {"month": "2026-11"}).status_code == 403
        )
        overview = alice.get("/reports/?month=2026-11").content.decode()
        assert 'data-customer="acme"' in overview and "/customers/acme/report/?month=2026-11" in overview
        listed = portal(cast.acme_admin).get("/reports/").content.decode()
        assert 'data-month="2026-11"' in listed
        shown = portal(cast.acme_admin).get("/reports/2026-11/").content.decode()
        assert report.sha256 in shown and 'data-figure="tickets_created">1<' in shown
        pdf = portal(cast.acme_admin).get("/reports/2026-11/report.pdf")
        assert pdf.status_code == 200 and pdf.content == bytes(report.pdf or b"")
        assert portal(cast.acme_user).get("/reports/").status_code == 403
        assert portal(cast.globex_admin, "globex").get("/reports/2026-11/").status_code == 404
        # A malformed month names no report; a malformed version is a 400 naming it.
        assert portal(cast.acme_admin).get("/reports/2026-13/").status_code == 404
        bad = portal(cast.acme_admin).get("/reports/2026-11/?version=²")
        assert bad.status_code == 400 and "version" in bad.content.decode()


def test_issued_reports_are_emailed_once_on_the_customers_day(cast: Cast) -> None:
    from django.core import mail

    from reports.issuing import report_issue
    from reports.mailing import email_issued

    alice = console(cast.alice)
    with time_machine.travel(NOW, tick=False):
        saved = alice.post(
            "/customers/acme/report/schedule/", {"contacts": "cfo@acme.test\nnot-an-address", "day": "3"}
        )
        assert saved.status_code == 302 and not IssuedReport.objects.exists()
        assert "not-an-address" in alice.get("/customers/acme/report/").content.decode()  # the refusal, shown
        alice.post(
            "/customers/acme/report/schedule/", {"contacts": "cfo@acme.test, ops@acme.test", "day": "3"}
        )
        report_issue(customer=cast.acme, month=date(2026, 11, 1), by=cast.alice)
    # Berlin: 2026-12-02 23:30Z is already the 3rd.
    assert email_issued(datetime(2026, 12, 2, 22, 0, tzinfo=UTC)) == 0
    assert email_issued(datetime(2026, 12, 2, 23, 30, tzinfo=UTC)) == 1
    assert email_issued(datetime(2026, 12, 3, 9, 0, tzinfo=UTC)) == 0  # once
    sent = [m for m in mail.outbox if "service report" in m.subject]
    assert len(sent) == 1 and sorted(sent[0].to) == ["cfo@acme.test", "ops@acme.test"]
    name, content, kind = sent[0].attachments[0]
    assert (
        name == "acme-2026-11-service-report.pdf"
        and kind == "application/pdf"
        and content.startswith(b"%PDF")
    )
