"""Secrets the email channel keeps at rest (an IMAP mailbox's password), encrypted with Fernet
(AES-128-CBC with an HMAC-SHA256 tag) under a key derived from ``settings.SECRET_KEY`` with HKDF.

A token is useless without the secret key, and a changed secret key makes every token unreadable
(``decrypt`` raises ``Undecryptable``: the password has to be entered again). Neither the text
nor the token is ever logged or returned by the API."""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

# Names what the derived key is for, so that no other use of SECRET_KEY yields the same key.
_PURPOSE = b"serviflow mail: mailbox passwords"


class Undecryptable(Exception):
    """The token was not made with this secret key (changed since), or was altered."""


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(text: str) -> str:
    return _fernet(settings.SECRET_KEY).encrypt(text.encode()).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _fernet(settings.SECRET_KEY).decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError, ValueError):
        raise Undecryptable("the stored password cannot be decrypted (was SECRET_KEY changed?)") from None
