"""The audit chain's beat job: publish every chain's head, signed, to the log (``audit.chain``),
so that deleting the newest entries is caught by ``audit_verify --against`` the log."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict

from celery import shared_task
from django.utils import timezone

from audit import chain
from audit.jobs import JobTask

logger = logging.getLogger("serviflow.audit.heads")


@shared_task(base=JobTask, name="audit.publish_heads", ignore_result=True)
def publish_heads() -> int:
    heads = chain.current_heads(timezone.now())
    for head in heads:
        logger.info("audit head %s", json.dumps(asdict(head), separators=(",", ":")))
    return len(heads)
