"""Field encryption and blind indexes for personal data (ID numbers, phone numbers, addresses).

Keys
    ``settings.FIELD_ENCRYPTION_KEY`` is any string of at least 16 characters (a base64 string is
    fine, but it is used as text and not decoded; it should carry at least 128 bits of entropy).
    Two independent 32-byte keys are derived from it with HKDF-SHA256 (different ``info``
    strings): one for AES-256-GCM encryption and one for the HMAC blind index.
    ``settings.FIELD_ENCRYPTION_OLD_KEYS`` (optional list) holds previous keys, still used for
    decrypting.

Token format
    ``v1:<key id>:<urlsafe base64 of nonce + ciphertext + tag>``, where the key id is the first
    8 hex characters of SHA-256 of the derived encryption key, so :func:`decrypt` picks the right
    key among the current and old ones. The ``v1:<key id>`` header is bound to the ciphertext as
    associated data, so it cannot be altered either.

Key rotation
    Put the old key into ``FIELD_ENCRYPTION_OLD_KEYS`` and set the new one as
    ``FIELD_ENCRYPTION_KEY``: existing values still decrypt and new writes use the new key.
    Blind indexes, however, are always computed with the *current* key, so after a rotation every
    stored blind index must be recomputed (a re-index management command) before lookups by
    index find old rows again; re-saving rows also re-encrypts them with the new key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = ["MIN_KEY_LENGTH", "VERSION", "blind_index", "decrypt", "encrypt"]

#: Token format version (first part of every token).
VERSION = "v1"
#: Minimum length, in characters, of FIELD_ENCRYPTION_KEY and each old key.
MIN_KEY_LENGTH = 16
#: Length of a blind index in hex characters (128 bits).
BLIND_INDEX_LENGTH = 32

_NONCE_BYTES = 12
_BASE64URL_RE = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_HKDF_SALT = b"civicgrid/field-keys"
_INFO_ENCRYPTION = b"civicgrid field encryption v1 (AES-256-GCM)"
_INFO_BLIND_INDEX = b"civicgrid blind index v1 (HMAC-SHA256)"


@dataclass(frozen=True)
class _DerivedKeys:
    encryption: bytes
    blind_index: bytes
    key_id: str


def _hkdf(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=info).derive(secret)


@lru_cache(maxsize=32)
def _derive(key: str) -> _DerivedKeys:
    """Derived keys for one configured key string (cached per string, so override_settings works)."""
    if not isinstance(key, str) or len(key) < MIN_KEY_LENGTH:
        raise ImproperlyConfigured(
            f"Field encryption keys must be strings of at least {MIN_KEY_LENGTH} characters"
        )
    secret = key.encode("utf-8")
    encryption = _hkdf(secret, _INFO_ENCRYPTION)
    return _DerivedKeys(
        encryption=encryption,
        blind_index=_hkdf(secret, _INFO_BLIND_INDEX),
        key_id=hashlib.sha256(encryption).hexdigest()[:8],
    )


def _current() -> _DerivedKeys:
    return _derive(getattr(settings, "FIELD_ENCRYPTION_KEY", ""))


def _keyring() -> dict[str, bytes]:
    """Encryption keys by key id: the current key first, then the old ones."""
    old = getattr(settings, "FIELD_ENCRYPTION_OLD_KEYS", None) or []
    if isinstance(old, str):
        raise ImproperlyConfigured("FIELD_ENCRYPTION_OLD_KEYS must be a list of keys, not a string")
    ring: dict[str, bytes] = {}
    for derived in (_current(), *(_derive(k) for k in old)):
        ring.setdefault(derived.key_id, derived.encryption)
    return ring


def _header(key_id: str) -> str:
    return f"{VERSION}:{key_id}"


def encrypt(plaintext: str) -> str:
    """Encrypt ``plaintext`` with AES-256-GCM under the current key; a random nonce every time."""
    if not isinstance(plaintext, str):
        raise TypeError(f"encrypt() takes a str, not {type(plaintext).__name__}")
    keys = _current()
    header = _header(keys.key_id)
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(keys.encryption).encrypt(nonce, plaintext.encode("utf-8"), header.encode("ascii"))
    return f"{header}:{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"


def decrypt(token: str) -> str:
    """Decrypt a token made by :func:`encrypt` with the current key or one of the old keys.

    Raises ValueError when the token is malformed, was made with an unknown key, or fails
    authentication (it was altered, or the key with its id has changed).
    """
    if not isinstance(token, str):
        raise TypeError(f"decrypt() takes a str, not {type(token).__name__}")
    parts = token.split(":")
    if len(parts) != 3 or parts[0] != VERSION:
        raise ValueError("Not an encrypted field value (expected 'v1:<key id>:<data>')")
    _version, key_id, data = parts
    key = _keyring().get(key_id)
    if key is None:
        raise ValueError(
            f"Encrypted value uses unknown key id {key_id!r}: "
            "add the key it was made with to FIELD_ENCRYPTION_OLD_KEYS"
        )
    if not _BASE64URL_RE.fullmatch(data):
        raise ValueError("Encrypted value is not valid base64")
    try:
        raw = base64.urlsafe_b64decode(data)
    except (binascii.Error, ValueError):
        raise ValueError("Encrypted value is not valid base64")
    if len(raw) < _NONCE_BYTES + 16:
        raise ValueError("Encrypted value is too short")
    try:
        plaintext = AESGCM(key).decrypt(
            raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _header(key_id).encode("ascii")
        )
    except InvalidTag:
        raise ValueError("Encrypted value failed authentication: it was altered or the key is wrong")
    return plaintext.decode("utf-8")


def blind_index(value: str, *, purpose: str) -> str:
    """A keyed, deterministic digest of ``value`` for exact-match lookups of encrypted data.

    HMAC-SHA256 with the derived index key over ``purpose + "\\0" + value``, as 32 hex characters.
    ``purpose`` (e.g. ``"resident_id"``) separates indexes of different kinds of data, so equal
    values in different columns do not match. Normalise ``value`` first (e.g. with
    ``normalise_resident_id``), since the digest matches exact bytes only. Always uses the
    current key: after a key rotation stored indexes must be recomputed.
    """
    if not isinstance(value, str):
        raise TypeError(f"blind_index() takes a str, not {type(value).__name__}")
    if not purpose or "\0" in purpose:
        raise ValueError("purpose must be a non-empty string without NUL characters")
    message = purpose.encode("utf-8") + b"\0" + value.encode("utf-8")
    return hmac.new(_current().blind_index, message, hashlib.sha256).hexdigest()[:BLIND_INDEX_LENGTH]
