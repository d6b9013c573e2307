"""Run schemathesis' CLI against a live server with a generated configuration file.

The CLI (``st run``) in a subprocess gives a dependable exit code and its own readable failure
report (with ``curl`` reproductions); the configuration file carries what the command line
cannot say (an operation's own token, the few narrow exclusions); tests/contract/hooks.py, which
the CLI loads, points the cases at real objects.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ST = Path(sys.executable).parent / "st"
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Operation:
    """Settings for the operations matching ``path`` (and ``methods``, if given)."""

    path: str
    methods: Sequence[str] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    checks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, Sequence):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def config_toml(
    *,
    token: str,
    examples: int,
    operations: Sequence[Operation],
    max_steps: int,
    coverage: bool,
) -> str:
    lines = [
        # Here, not on the command line: an operation's own headers must be able to replace it.
        f"headers = {_toml_value({'Authorization': f'Bearer {token}'})}",
        "",
        "[generation]",
        f"max-examples = {examples}",
        "deterministic = true",
        'database = "none"',
        "",
        "[checks]",
        "enabled = true",
        "",
        # Nothing carried over from an earlier run: the same run finds the same things.
        "[cache]",
        "enabled = false",
        "",
        # Error feedback learns rules from 400s' messages and then takes "targets, unless a policy
        # is given" (the simulator) for "targets, always": the contract is the schema.
        "[phases.fuzzing.error-feedback]",
        "enabled = false",
        "",
        "[phases.stateful]",
        f"max-steps = {max_steps}",
        "",
        # The coverage phase tries every boundary of every field: thousands of requests per
        # caller, not bounded by max-examples. The long run (dev.py contract) has it.
        "[phases.coverage]",
        f"enabled = {_toml_value(coverage)}",
        "",
    ]
    for op in operations:
        lines.append("[[operations]]")
        # Two include-* keys would select either (an OR): a method and a path is one name.
        if op.methods:
            lines.append(f"include-name = {_toml_value([f'{m} {op.path}' for m in op.methods])}")
        else:
            lines.append(f"include-path = {_toml_value(op.path)}")
        if op.headers:
            lines.append(f"headers = {_toml_value(op.headers)}")
        for check, settings in op.checks.items():
            lines.append(f"checks.{check} = {_toml_value(settings)}")
        lines.append("")
    return "\n".join(lines)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    output: str

    def report(self) -> str:
        """The failures section and the summary: what a person needs to see in CI."""
        text = self.output
        found = [at for at in (text.find("=== ERRORS ==="), text.find("=== FAILURES ===")) if at != -1]
        return text[max(min(found) - 40, 0) :] if found else text[-6000:]


def run(
    *,
    schema_url: str,
    config: str,
    values: Mapping[str, Any],
    workdir: Path,
    tag: str,
    max_failures: int = 100,
    timeout: float | None = None,
) -> Outcome:
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    config_file = workdir / "schemathesis.toml"
    config_file.write_text(config)
    values_file = workdir / "values.json"
    values_file.write_text(json.dumps(values, indent=1))
    command = [
        str(ST),
        "--no-color",
        "--config-file",
        str(config_file),
        "run",
        schema_url,
        "--checks",
        "all",
        "--workers",
        "1",
        "--max-failures",
        str(max_failures),
        "--report",
        "junit",
        "--report-dir",
        str(workdir),
    ]
    result = subprocess.run(
        command,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "SCHEMATHESIS_HOOKS": "tests.contract.hooks",
            "CONTRACT_TAG": tag,
            "CONTRACT_VALUES": str(values_file),
        },
    )
    output = result.stdout + result.stderr
    (workdir / "output.txt").write_text(output)
    return Outcome(ok=result.returncode == 0, output=output)
