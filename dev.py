#!/usr/bin/env python3
"""ServiFlow's developer entry point. Needs only Python 3.11+.

    python3 dev.py run            install, start services, migrate, seed demo data, run web + worker + beat
    python3 dev.py test           install, then the static checks, the whole pytest suite and every
                                  benchmark at smoke size (`test ARGS`: pytest ARGS only)
    python3 dev.py bench NAME     run bench/NAME.py or bench/NAME/ (see bench/README.md); `--smoke`
                                  after NAME for tiny sizes
    python3 dev.py bench --smoke  every benchmark at tiny sizes; fails if one crashes
    python3 dev.py check          only the static checks (ruff, mypy, import layers, migrations)
    python3 dev.py contract [--examples N]
                                  the OpenAPI contract run (schemathesis) with N examples per operation
    python3 dev.py manage ARGS    manage.py inside the project's environment

Without DATABASE_URL / REDIS_URL the embedded PostgreSQL 18 and Valkey 9 under ./var/ are used.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
UV_VERSION = "0.13.8"
STAMP = VENV / ".serviflow-installed"


def sh(*args: str | Path, env: dict[str, str] | None = None, check: bool = True) -> int:
    result = subprocess.run([str(a) for a in args], cwd=ROOT, env=env)
    if check and result.returncode != 0:
        sys.exit(result.returncode)
    return result.returncode


def ensure_installed() -> None:
    """Create .venv and install the locked dependencies; again only when uv.lock changes."""
    wanted = hashlib.sha256(
        (ROOT / "uv.lock").read_bytes() + (ROOT / "pyproject.toml").read_bytes()
    ).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted and PY.exists():
        return
    print("==> installing ServiFlow into .venv (locked versions from uv.lock)", flush=True)
    if not PY.exists():
        sh(sys.executable, "-m", "venv", VENV)
    uv = VENV / "bin" / "uv"
    if not uv.exists():
        sh(PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"uv=={UV_VERSION}")
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(VENV), "VIRTUAL_ENV": str(VENV)}
    sh(uv, "sync", "--frozen", "--all-groups", "--python", PY, env=env)
    STAMP.write_text(wanted)


def service_env(**defaults: str) -> dict[str, str]:
    """The environment for every child process, with the embedded services' URLs filled in."""
    env = {**defaults, **os.environ}
    env.setdefault("DJANGO_SETTINGS_MODULE", "serviflow.settings")
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not env.get(name)]
    if missing:
        code = (
            "from serviflow import embedded;"
            f"print(embedded.postgres_url() if 'DATABASE_URL' in {missing!r} else '');"
            f"print(embedded.valkey_url() if 'REDIS_URL' in {missing!r} else '')"
        )
        out = subprocess.run([str(PY), "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"could not start the embedded services:\n{out.stderr}")
        db_url, redis_url = out.stdout.splitlines()[:2]
        if db_url:
            env["DATABASE_URL"] = db_url
            print(f"==> embedded PostgreSQL 18: {db_url}")
        if redis_url:
            env["REDIS_URL"] = redis_url
            print(f"==> embedded Valkey 9: {redis_url}")
    return env


def cmd_run(args: list[str]) -> None:
    ensure_installed()
    port = os.environ.get("PORT", "8000")
    env = service_env(DEBUG="1", PUBLIC_PORT=port)
    manage = [str(PY), "manage.py"]
    sh(*manage, "sync_platform", "--provider-name", "Demo MSP", env=env)
    sh(*manage, "seed_demo", env=env)
    (ROOT / "var").mkdir(exist_ok=True)
    celery = [str(VENV / "bin" / "celery"), "-A", "serviflow"]
    procs = {
        "web": subprocess.Popen([*manage, "runserver", f"0.0.0.0:{port}"], cwd=ROOT, env=env),
        "worker": subprocess.Popen(
            [*celery, "worker", "-l", "INFO", "--concurrency", "2"], cwd=ROOT, env=env
        ),
        "beat": subprocess.Popen(
            [*celery, "beat", "-l", "INFO", "-s", str(ROOT / "var" / "celerybeat-schedule")],
            cwd=ROOT,
            env=env,
        ),
        "mail": subprocess.Popen([*manage, "mail_server", "--port", "2525"], cwd=ROOT, env=env),
    }
    print(
        f"\n==> ServiFlow is running. Console: http://localhost:{port}/  Portal: http://acme.localhost:{port}/"
    )
    print("==> Mail to <customer slug>@localhost over SMTP on port 2525 becomes tickets.")
    print("==> Press Ctrl-C to stop web, worker, beat and the mail listener.\n", flush=True)
    exit_code = 0
    try:
        while True:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    print(f"==> {name} exited with {proc.returncode}; stopping the rest")
                    exit_code = proc.returncode or 1
                    raise KeyboardInterrupt
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    sys.exit(exit_code)


def cmd_check(args: list[str]) -> None:
    ensure_installed()
    env = service_env(DEBUG="1")
    bin_ = VENV / "bin"
    sh(bin_ / "ruff", "check", ".")
    sh(bin_ / "ruff", "format", "--check", ".")
    sh(bin_ / "mypy", ".", env=env)
    # The layers of pyproject.toml's [tool.importlinter]: apps import downwards only.
    sh(bin_ / "lint-imports", "--no-cache", env={**env, "PYTHONPATH": str(ROOT)})
    sh(PY, "manage.py", "makemigrations", "--check", "--dry-run", env=env)


def cmd_test(args: list[str]) -> None:
    """Without arguments (what CI runs): the static checks, the whole suite and every benchmark
    at smoke size; fails if any of them fails. With arguments: only ``pytest ARGS``."""
    if not args:
        cmd_check([])
    ensure_installed()
    env = service_env(DEBUG="1", EMAIL_URL="locmem:")
    chromium = env.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not Path(chromium).exists():
        print(f"==> note: {chromium} is missing; browser tests will fail (Debian: apt-get install chromium)")
    code = sh(PY, "-m", "pytest", *args, env=env, check=False)
    if args:
        sys.exit(code)
    smoke = bench_smoke()
    if code:
        print(f"==> pytest failed (exit code {code})")
    sys.exit(code or smoke)


def benchmarks() -> dict[str, Path]:
    """Every benchmark by name, found, not listed: each folder bench/NAME/ with a __main__.py and
    each script bench/NAME.py (one with an ``if __name__ == "__main__":``; a module without it, or
    whose name starts with ``_``, is a helper)."""
    found: dict[str, Path] = {}
    for path in sorted((ROOT / "bench").iterdir()):
        if path.is_dir() and (path / "__main__.py").is_file():
            found[path.name] = path
        elif (
            path.suffix == ".py"
            and not path.name.startswith("_")
            and 'if __name__ == "__main__":' in path.read_text(encoding="utf-8")
        ):
            found[path.stem] = path
    return found


SMOKE_TIMEOUT_S = 300  # per benchmark: a hung smoke run fails instead of blocking CI


def smoke_run(script: Path, env: dict[str, str]) -> tuple[str, str]:
    """Run one benchmark with ``--smoke``, its output passed through; returns what went wrong
    (empty if nothing did) and its verdict line."""
    proc = subprocess.Popen(
        [str(PY), str(script), "--smoke"],
        cwd=ROOT,
        env={**env, "PYTHONUNBUFFERED": "1"},  # its lines as they come, tracebacks in place
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    timed_out = threading.Event()

    def stop() -> None:  # SIGINT first: the benchmark's cleanup (dropping its database) runs
        timed_out.set()
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()

    timer = threading.Timer(SMOKE_TIMEOUT_S, stop)
    timer.start()
    verdict = ""
    try:
        for line in proc.stdout or ():
            print(line, end="", flush=True)
            if line.startswith("Verdict:"):
                verdict = line.strip()
        code = proc.wait()
    finally:
        timer.cancel()
    if timed_out.is_set():
        return f"timed out after {SMOKE_TIMEOUT_S} s", verdict
    if code != 0:
        return f"exit code {code}", verdict
    return ("" if verdict else "printed no verdict"), verdict


def bench_smoke() -> int:
    """Every benchmark at smoke size, one after the other (they share the bench database);
    returns 1 if any crashed. Verdicts at these sizes mean nothing: printed, never failed on."""
    ensure_installed()
    env = service_env(DEBUG="1")
    results: list[tuple[str, float, str, str]] = []
    started = time.monotonic()
    # One migrated database that every run's bench database copies (bench/_smoke_template.py).
    helper = [str(PY), str(ROOT / "bench" / "_smoke_template.py")]
    made = subprocess.run(
        [*helper, "create"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, check=False
    )
    if made.returncode:
        print("==> the smoke runs' template database could not be made; each run migrates its own")
    else:
        env = {**env, "BENCH_SMOKE_TEMPLATE": made.stdout.strip().splitlines()[-1]}
    try:
        for name, script in benchmarks().items():
            print(f"\n==> bench {name} --smoke", flush=True)
            began = time.monotonic()
            problem, verdict = smoke_run(script, env)
            results.append((name, time.monotonic() - began, problem, verdict))
    finally:
        if not made.returncode:
            subprocess.run([*helper, "drop"], cwd=ROOT, env=env, check=False)
    width = max((len(name) for name, *_ in results), default=0)
    print("\n==> benchmarks at smoke size (figures and verdicts mean nothing at these sizes)")
    for name, seconds, problem, verdict in results:
        outcome = f"FAILED: {problem}" if problem else "ran"
        print(f"    {name:<{width}}  {seconds:5.1f} s  {outcome}  {verdict}".rstrip())
    failed = any(problem for _, _, problem, _ in results)
    print(
        f"==> {len(results)} benchmarks in {time.monotonic() - started:.0f} s: {'FAILED' if failed else 'OK'}"
    )
    return 1 if failed else 0


def cmd_contract(args: list[str]) -> None:
    """The contract test of ``dev.py test`` (tests/contract/), longer: every phase for every
    caller, with ``--examples`` cases per operation (default 100) instead of CI's handful."""
    examples, rest = "100", list(args)
    if rest[:1] == ["--examples"]:
        if len(rest) < 2 or not (rest[1].isascii() and rest[1].isdigit()):
            sys.exit("usage: python3 dev.py contract [--examples N] [pytest options, e.g. -k provider_admin]")
        examples, rest = rest[1], rest[2:]
    ensure_installed()
    env = service_env(DEBUG="1", EMAIL_URL="locmem:", CONTRACT_EXAMPLES=examples, CONTRACT_FULL="1")
    print(f"==> schemathesis: all operations and checks, {examples} examples; see test-artifacts/contract/")
    sys.exit(sh(PY, "-m", "pytest", "tests/contract", *rest, env=env, check=False))


def cmd_bench(args: list[str]) -> None:
    found = benchmarks()
    if args == ["--smoke"]:
        sys.exit(bench_smoke())
    if not args or args[0].startswith("-"):
        names = ", ".join(found)
        sys.exit(
            f"usage: python3 dev.py bench NAME [--smoke] | --smoke   (NAME: {names}; see bench/README.md)"
        )
    if args[0] not in found:
        sys.exit(f"no benchmark bench/{args[0]} (there are: {', '.join(found)})")
    ensure_installed()
    env = service_env(DEBUG="1")
    sys.exit(sh(PY, found[args[0]], *args[1:], env=env, check=False))


def cmd_manage(args: list[str]) -> None:
    ensure_installed()
    sys.exit(sh(PY, "manage.py", *args, env=service_env(DEBUG="1"), check=False))


def cmd_stop(args: list[str]) -> None:
    """Stop the embedded PostgreSQL and Valkey (their data stays in ./var/)."""
    ensure_installed()
    sh(PY, "-c", "from serviflow import embedded; embedded.postgres_stop(); embedded.valkey_stop()")


COMMANDS = {
    "run": cmd_run,
    "test": cmd_test,
    "check": cmd_check,
    "contract": cmd_contract,
    "bench": cmd_bench,
    "manage": cmd_manage,
    "stop": cmd_stop,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        sys.exit(2)
    COMMANDS[sys.argv[1]](sys.argv[2:])
