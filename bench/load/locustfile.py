"""The load benchmark's scenario, run by Locust in a process of its own (``bench/load`` starts it).

Locust patches the standard library with gevent, so this module never imports Django: what it
needs of the world (tokens, session keys, ticket ids, search words) comes from the JSON file
named by ``LOAD_WORLD``, which the benchmark writes after seeding. Every answer of every request
goes to ``LOAD_RESULTS`` (name, milliseconds, error or null) when Locust quits, so the benchmark
computes the percentiles itself from every sample rather than from Locust's rounded buckets.

Agents (one Locust user per seeded agent): look at the queue, take an unassigned ticket now and
then, work one of their own (the API's ticket, then its console page), reply (public, often
followed by ``pending``; or a private note), move a waiting ticket back to open, resolve, log
time; and search. Customer users (LOAD_CUSTOMER_USERS Locust users, each task as one of the
seeded customer users drawn at random): read their portal (home and a ticket page), submit a
ticket and reply to one of theirs through the API. Think times: LOAD_AGENT_WAIT and
LOAD_CUSTOMER_WAIT ("min,max" seconds).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from datetime import UTC, datetime
from typing import Any

from locust import FastHttpUser, between, events, task

WORLD: dict[str, Any] = json.loads(open(os.environ["LOAD_WORLD"], encoding="utf-8").read())  # noqa: SIM115
SAMPLES: list[tuple[str, float, str | None]] = []
WORDS: list[str] = WORLD["words"]
CONSOLE = "localhost"
OK_READ, OK_CREATE = (200,), (201,)
RNG = random.Random()  # noqa: S311 - picks of the scenario, not security


def _wait(name: str) -> tuple[float, float]:
    low, high = os.environ[name].split(",")
    return float(low), float(high)


def _record(name: str, response_time: float, exception: BaseException | None, **_: Any) -> None:
    SAMPLES.append((name, response_time, None if exception is None else str(exception)[:200]))


def _dump(**_: Any) -> None:
    with open(os.environ["LOAD_RESULTS"], "w", encoding="utf-8") as out:
        json.dump(SAMPLES, out)


events.request.add_listener(_record)  # type: ignore[no-untyped-call]
events.quitting.add_listener(_dump)  # type: ignore[no-untyped-call]


class Client(FastHttpUser):
    """Requests with the caller's credentials and host, failed unless the status is expected
    (redirects are not followed: a sign-in page would otherwise pass for the page)."""

    abstract = True
    wait_range: tuple[float, float] = (0.0, 0.0)

    def on_start(self) -> None:
        # A first task at once would make the spawn a burst (every user's first task within
        # seconds); a random part of a think time first spreads them as the rest of the run is.
        time.sleep(RNG.uniform(0, self.wait_range[1]))

    def call(
        self,
        method: str,
        path: str,
        name: str,
        *,
        host: str = CONSOLE,
        token: str = "",
        session: str = "",
        body: dict[str, Any] | None = None,
        expect: tuple[int, ...] = OK_READ,
    ) -> Any:
        headers = {"Host": host, "Accept": "application/json" if token else "text/html"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if session:
            headers["Cookie"] = f"sessionid={session}"
        with self.client.request(
            method, path, name=name, headers=headers, json=body, catch_response=True, allow_redirects=False
        ) as response:
            if response.status_code not in expect:
                response.failure(f"{response.status_code}: {(response.text or '')[:160]}")
                return None
            response.success()
            return response.json() if token and response.text else True


class Agent(Client):
    """One seeded agent, working the queue and their own tickets."""

    wait_range = _wait("LOAD_AGENT_WAIT")
    wait_time = between(*wait_range)
    fixed_count = len(WORLD["agents"])
    _next = itertools.count()

    def on_start(self) -> None:
        self.me: dict[str, Any] = WORLD["agents"][next(Agent._next) % len(WORLD["agents"])]
        super().on_start()

    def api(self, method: str, path: str, name: str, **kwargs: Any) -> Any:
        return self.call(method, path, name, token=self.me["token"], **kwargs)

    @task(5)
    def work(self) -> None:
        page = self.api("GET", "/api/v1/tickets/?status=open,pending", "queue")
        if page is None:
            return
        unassigned = [item for item in page["results"] if item.get("assignee") is None]
        if unassigned and RNG.random() < 0.3:
            item = RNG.choice(unassigned)
            path = f"/api/v1/customers/{item['customer']}/tickets/{item['id']}/"
            self.api("PATCH", path, "assign", body={"assignee": self.me["id"]})
        mine = self.api("GET", "/api/v1/tickets/?status=open,pending&assignee=me", "queue")
        if not mine or not mine["results"]:
            return
        item = RNG.choice(mine["results"])
        path = f"/api/v1/customers/{item['customer']}/tickets/{item['id']}/"
        ticket = self.api("GET", path, "ticket (API)")
        if ticket is None:
            return
        self.call("GET", path.removeprefix("/api/v1"), "ticket page", session=self.me["session"])
        self.act(path, ticket["status"])

    def act(self, path: str, status: str) -> None:
        roll = RNG.random()
        if roll < 0.45:
            public = RNG.random() < 0.7
            body = {"body": "Could you try again and tell us what you see?", "public": public}
            self.api("POST", f"{path}comments/", "reply (agent)", body=body, expect=OK_CREATE)
            if public and status == "open" and RNG.random() < 0.5:
                self.api("PATCH", path, "status change", body={"status": "pending"})
        elif roll < 0.6 and status == "pending":
            self.api("PATCH", path, "status change", body={"status": "open"})
        elif roll < 0.7:
            self.api("PATCH", path, "status change", body={"status": "resolved"})
        if RNG.random() < 0.3:
            today = datetime.now(UTC).date().isoformat()
            body = {"minutes": RNG.choice((5, 10, 15, 30)), "work_date": today, "note": "load"}
            self.api("POST", f"{path}time-entries/", "log time", body=body, expect=OK_CREATE)

    @task(2)
    def search(self) -> None:
        self.api("GET", f"/api/v1/search/?q={RNG.choice(WORDS)}", "search")


class CustomerUser(Client):
    """Each task as one of the seeded customer users, drawn at random."""

    wait_range = _wait("LOAD_CUSTOMER_WAIT")
    wait_time = between(*wait_range)
    fixed_count = int(os.environ["LOAD_CUSTOMER_USERS"])

    def someone(self) -> dict[str, Any]:
        return RNG.choice(WORLD["customer_users"])

    @task(3)
    def portal_home(self) -> None:
        who = self.someone()
        self.call("GET", "/", "portal home", host=who["host"], session=who["session"])

    @task(3)
    def portal_ticket(self) -> None:
        who = self.someone()
        if who["tickets"]:
            path = f"/tickets/{RNG.choice(who['tickets'])}/"
            self.call("GET", path, "portal ticket page", host=who["host"], session=who["session"])

    @task(2)
    def submit(self) -> None:
        who = self.someone()
        body = {
            "subject": f"{RNG.choice(WORDS).capitalize()} problem",
            "description": "It stopped working.",
        }
        made = self.call(
            "POST",
            f"/api/v1/customers/{who['slug']}/tickets/",
            "ticket create",
            token=who["token"],
            body={**body, "priority": RNG.choice(("P2", "P3", "P3", "P4"))},
            expect=OK_CREATE,
        )
        if made is not None:
            who["tickets"].append(made["id"])

    @task(2)
    def reply(self) -> None:
        who = self.someone()
        if who["tickets"]:
            path = f"/api/v1/customers/{who['slug']}/tickets/{RNG.choice(who['tickets'])}/comments/"
            body = {"body": "Thanks, here is what I see on my screen.", "public": True}
            self.call("POST", path, "reply (customer)", token=who["token"], body=body, expect=OK_CREATE)
