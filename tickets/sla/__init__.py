"""The SLA as it applies to tickets: which policy a ticket runs on (``policy``: the hierarchy's
facts gathered from the ticket, its requester and its CI), the sweep that records warnings and
breaches on tickets (``sweep``) and an admin's re-apply to open tickets (``reapply``). The
arithmetic is the SLA engine's (``sla.engine``)."""
