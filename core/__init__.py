"""The shared kernel: what every layer may use and what depends on nothing of ours.

- ``core.errors``: ``RuleViolation``, a broken business rule, shown alike by every channel;
- ``core.changes``: ``UNSET`` and ``Changes``, the one convention for partial updates;
- ``core.parsers``: the one way to read ids, names, zones, months and instants from input.
"""
