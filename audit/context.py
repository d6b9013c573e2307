"""Who is acting: a signed-in person on a channel, or a named background job.

Requests set it in ``AuditContextMiddleware`` (web) and the API base view (api); tasks and
management commands use ``job_context``. Every audit entry written while a context is active
records it; an entry written without one fails the database constraint on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models.signals import pre_save
from django.dispatch import receiver

from audit.models import AuditEntry, Channel

if TYPE_CHECKING:
    from accounts.models import User


@dataclass(frozen=True)
class Actor:
    user: User | None
    channel: str
    job: str = ""
    remote_addr: str | None = None


_current: ContextVar[Actor | None] = ContextVar("serviflow_audit_actor", default=None)


def current_actor() -> Actor | None:
    return _current.get()


@contextmanager
def acting(actor: Actor) -> Iterator[Actor]:
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


def person_context(user: User, *, channel: str, remote_addr: str | None = None) -> Any:
    return acting(Actor(user=user, channel=channel, remote_addr=remote_addr))


def job_context(job: str) -> Any:
    """Background work acts under its own name, never as a person."""
    if not job:
        raise ValueError("a job needs a name")
    return acting(Actor(user=None, channel=Channel.SYSTEM, job=job))


def set_request_actor(user: User | None, *, channel: str, remote_addr: str | None) -> Token[Actor | None]:
    """Used by request handling; ``AuditContextMiddleware`` restores the previous context after."""
    actor = Actor(user=user, channel=channel, remote_addr=remote_addr) if user is not None else None
    return _current.set(actor)


def restore(token: Token[Actor | None]) -> None:
    _current.reset(token)


@receiver(pre_save, sender=AuditEntry, dispatch_uid="audit.fill_actor")
def _fill_actor(sender: type[AuditEntry], instance: AuditEntry, **kwargs: Any) -> None:
    actor_fill(instance)


def actor_fill(instance: AuditEntry) -> None:
    """Stamp ``instance`` with who is acting (entries saved one by one get this from pre_save;
    entries written in bulk, which sends no signals, are stamped by ``audit.bulk``)."""
    actor = _current.get()
    if actor is None:
        return
    if actor.user is not None and instance.actor_id is None:
        instance.actor = actor.user
        instance.actor_email = actor.user.email
    instance.channel = actor.channel
    instance.job = actor.job
    if actor.remote_addr and not instance.remote_addr:
        instance.remote_addr = actor.remote_addr
