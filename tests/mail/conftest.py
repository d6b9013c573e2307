"""A real Dovecot for the IMAP tests: Debian's ``/usr/sbin/dovecot`` in the foreground with a
configuration of its own under a temporary directory (one static user in a passwd file, Maildir
storage, plain IMAP on 127.0.0.1 and a free port, plaintext sign-in allowed, no TLS), started
once per module. Each test works in a folder of its own (``Dovecot.new_folder``) and puts mail
there over IMAP (APPEND), as a delivery would."""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import free_port

DOVECOT = Path("/usr/sbin/dovecot")
USER, PASSWORD = "support@imap.test", "imap-test-Secret-77"


@dataclass
class Dovecot:
    port: int
    user: str = USER
    password: str = PASSWORD
    host: str = "127.0.0.1"

    def _client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        client.login(self.user, self.password)
        return client

    def new_folder(self) -> str:
        folder = f"T{uuid.uuid4().hex[:10]}"
        client = self._client()
        try:
            assert client.create(folder)[0] == "OK"
        finally:
            client.logout()
        return folder

    def append(self, folder: str, *messages: bytes) -> None:
        client = self._client()
        try:
            for raw in messages:
                assert client.append(folder, "", "", raw)[0] == "OK"  # no flags, the time of now
        finally:
            client.logout()

    def recreate(self, folder: str) -> None:
        """Delete the folder and make it again: a new UIDVALIDITY, UIDs from 1 again."""
        client = self._client()
        try:
            assert client.delete(folder)[0] == "OK"
            assert client.create(folder)[0] == "OK"
        finally:
            client.logout()

    def seen(self, folder: str) -> int:
        """How many messages of the folder are flagged \\Seen."""
        client = self._client()
        try:
            client.select(folder, readonly=True)
            _, data = client.uid("SEARCH", "SEEN")
        finally:
            client.logout()
        return len(data[0].split()) if data and data[0] else 0


def _config(root: Path, port: int) -> str:
    if os.geteuid() == 0:
        # Mail is never read as root: the mailbox belongs to "nobody".
        owner = pwd.getpwnam("nobody")
        uid, gid, extra = owner.pw_uid, owner.pw_gid, ""
        for path in (root / "Maildir", root / "home"):
            os.chown(path, uid, gid)
    else:  # an ordinary user runs every Dovecot process as itself
        me, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
        uid, gid = os.getuid(), os.getgid()
        extra = f"default_internal_user = {me}\ndefault_login_user = {me}\ndefault_internal_group = {group}\n"
        extra += "service anvil {\n  chroot =\n}\nservice imap-login {\n  chroot =\n}\n"
    (root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    return f"""base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/Maildir
first_valid_uid = 1
{extra}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


def _greets(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            return sock.recv(64).startswith(b"* OK")
    except OSError:
        return False


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    if not DOVECOT.exists():
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd; .ci/run does)")
    root = Path(tempfile.mkdtemp(prefix="sf-dovecot-"))
    root.chmod(0o755)  # the mail user ("nobody" under root) walks into it
    for name in ("Maildir", "home"):
        (root / name).mkdir()
    port = free_port()
    conf = root / "dovecot.conf"
    conf.write_text(_config(root, port))
    with (root / "stdout.log").open("wb") as out:
        proc = subprocess.Popen([str(DOVECOT), "-F", "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not _greets(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                logs = [(root / n).read_text() for n in ("stdout.log", "dovecot.log") if (root / n).exists()]
                raise RuntimeError("Dovecot did not start:\n" + "\n".join(logs))
            time.sleep(0.2)
        yield Dovecot(port=port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)
