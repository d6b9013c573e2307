"""The SLA engine (``spec/sla.md``): arithmetic that anyone can check to the second.

- ``calendar``: business time (``add``, ``between``) in a profile's zone, holidays and DST;
- ``clocks``: the vocabulary (clocks, segment states) and both clocks from a ticket's timeline;
- ``resolution``: which policy applies and why, from what each level of the hierarchy holds;
- ``keeping``: a ticket's SLA fields kept by the ticket workflows inside their transaction;
- ``simulate``: the same engine on instants typed by an admin.

Nothing here reads another app's tables: the ticket workflows (``tickets``) gather what the
hierarchy needs and call in.
"""
