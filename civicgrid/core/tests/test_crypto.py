"""Tests for civicgrid.core.crypto (field encryption, blind index) and EncryptedTextField."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db.models.lookups import IsNull
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from civicgrid.core import crypto
from civicgrid.core.crypto import blind_index, decrypt, encrypt
from civicgrid.core.fields import EncryptedTextField

KEY_A = "correct horse battery staple A"
KEY_B = "another-secret-key-for-tests-B"
KEY_C = "a third test key, never configured"

TOKEN_RE = re.compile(r"v1:[0-9a-f]{8}:[A-Za-z0-9_-]+=*")


def _key_id(token: str) -> str:
    return token.split(":")[1]


def _replace_data(token: str, data: bytes) -> str:
    version, key_id, _data = token.split(":")
    return f"{version}:{key_id}:{base64.urlsafe_b64encode(data).decode()}"


def _data(token: str) -> bytes:
    return base64.urlsafe_b64decode(token.split(":")[2])


# --------------------------------------------------------------------------- encryption


@pytest.mark.parametrize(
    "plaintext", ["450403199001011234", "张三丰 广西梧州市万秀区", "", "a:b:c", "x" * 10_000]
)
def test_round_trip(plaintext):
    token = encrypt(plaintext)
    assert TOKEN_RE.fullmatch(token)
    assert plaintext not in token or plaintext == ""
    assert decrypt(token) == plaintext


@settings(max_examples=200, database=None, deadline=None)
@given(st.text())
def test_round_trip_any_text(plaintext):
    assert decrypt(encrypt(plaintext)) == plaintext


def test_encryption_is_randomised():
    first, second = encrypt("13812345678"), encrypt("13812345678")
    assert first != second
    assert _data(first)[:12] != _data(second)[:12]  # fresh nonce
    assert decrypt(first) == decrypt(second) == "13812345678"


def test_key_id_is_derived_from_the_encryption_key():
    with override_settings(FIELD_ENCRYPTION_KEY=KEY_A):
        token = encrypt("secret")
        derived = crypto._derive(KEY_A)
    assert _key_id(token) == hashlib.sha256(derived.encryption).hexdigest()[:8]
    assert derived.encryption != derived.blind_index  # separate HKDF outputs
    assert len(derived.encryption) == len(derived.blind_index) == 32
    assert derived.encryption != KEY_A.encode()[:32]


def test_default_base64_key_and_plain_passphrase_both_work():
    from django.conf import settings as django_settings

    assert decrypt(encrypt("x")) == "x"  # the configured (base64) development key
    with override_settings(FIELD_ENCRYPTION_KEY="just a long enough passphrase"):
        assert decrypt(encrypt("x")) == "x"
    assert len(django_settings.FIELD_ENCRYPTION_KEY) >= crypto.MIN_KEY_LENGTH


@pytest.mark.parametrize("key", ["", "short", "fifteen chars!!"])
def test_short_key_is_refused(key):
    with override_settings(FIELD_ENCRYPTION_KEY=key), pytest.raises(ImproperlyConfigured):
        encrypt("x")


def test_old_keys_must_be_a_list():
    with override_settings(FIELD_ENCRYPTION_OLD_KEYS=KEY_B), pytest.raises(ImproperlyConfigured):
        decrypt(encrypt("x"))


def test_non_text_is_refused():
    with pytest.raises(TypeError):
        encrypt(12345)
    with pytest.raises(TypeError):
        decrypt(b"v1:abc:def")


# --------------------------------------------------------------------------- tampering


def test_flipping_any_byte_is_detected():
    token = encrypt("450403199001011234")
    data = _data(token)
    for i in range(len(data)):
        tampered = bytearray(data)
        tampered[i] ^= 0x01
        with pytest.raises(ValueError, match="authentication"):
            decrypt(_replace_data(token, bytes(tampered)))


def test_truncation_and_extension_are_detected():
    token = encrypt("450403199001011234")
    data = _data(token)
    with pytest.raises(ValueError):
        decrypt(_replace_data(token, data[:-1]))
    with pytest.raises(ValueError):
        decrypt(_replace_data(token, data + b"\0"))
    with pytest.raises(ValueError, match="too short"):
        decrypt(_replace_data(token, data[:20]))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "450403199001011234",  # plaintext left in the column
        "v1:abcdef12",
        "v2:abcdef12:AAAA",
        "v1:abcdef12:AAAA:extra",
        "v1:abcdef12:not base64!",
        "v1:abcdef12:AAAA\n",
    ],
)
def test_malformed_tokens(token):
    with pytest.raises(ValueError):
        decrypt(token)


def test_invalid_base64_for_current_key():
    key_id = _key_id(encrypt("x"))
    with pytest.raises(ValueError, match="base64"):
        decrypt(f"v1:{key_id}:abc$def")
    with pytest.raises(ValueError, match="base64"):
        decrypt(f"v1:{key_id}:abcde")  # bad padding


def test_unknown_key_id():
    token = encrypt("x")
    with pytest.raises(ValueError, match="unknown key"):
        decrypt(token.replace(_key_id(token), "00000000", 1))


def test_header_is_authenticated():
    """Relabelling a token with another known key's id fails, even though that key is configured."""
    with override_settings(FIELD_ENCRYPTION_KEY=KEY_A):
        token_a = encrypt("secret")
    with override_settings(FIELD_ENCRYPTION_KEY=KEY_B, FIELD_ENCRYPTION_OLD_KEYS=[KEY_A]):
        id_b = _key_id(encrypt("other"))
        with pytest.raises(ValueError, match="authentication"):
            decrypt(token_a.replace(_key_id(token_a), id_b, 1))


def test_wrong_key_cannot_decrypt():
    with override_settings(FIELD_ENCRYPTION_KEY=KEY_A):
        token = encrypt("secret")
    with override_settings(FIELD_ENCRYPTION_KEY=KEY_B), pytest.raises(ValueError, match="unknown key"):
        decrypt(token)


# --------------------------------------------------------------------------- rotation


def test_rotation_decrypts_with_old_keys():
    with override_settings(FIELD_ENCRYPTION_KEY=KEY_A):
        old_token = encrypt("450403199001011234")
    with override_settings(FIELD_ENCRYPTION_KEY=KEY_C):
        older_token = encrypt("13812345678")
    with override_settings(FIELD_ENCRYPTION_KEY=KEY_B, FIELD_ENCRYPTION_OLD_KEYS=[KEY_A, KEY_C]):
        assert decrypt(old_token) == "450403199001011234"
        assert decrypt(older_token) == "13812345678"
        new_token = encrypt("450403199001011234")
        assert _key_id(new_token) not in (_key_id(old_token), _key_id(older_token))
    with override_settings(FIELD_ENCRYPTION_KEY=KEY_B, FIELD_ENCRYPTION_OLD_KEYS=[]):
        assert decrypt(new_token) == "450403199001011234"
        with pytest.raises(ValueError, match="unknown key"):
            decrypt(old_token)


def test_old_keys_are_not_used_for_new_values():
    with override_settings(FIELD_ENCRYPTION_KEY=KEY_B, FIELD_ENCRYPTION_OLD_KEYS=[KEY_A]):
        token = encrypt("x")
    with override_settings(FIELD_ENCRYPTION_KEY=KEY_B):
        assert decrypt(token) == "x"


# --------------------------------------------------------------------------- blind index


def test_blind_index_is_deterministic_and_short():
    first = blind_index("450403199001011234", purpose="resident_id")
    assert first == blind_index("450403199001011234", purpose="resident_id")
    assert re.fullmatch(r"[0-9a-f]{32}", first)


def test_blind_index_depends_on_value_purpose_and_key():
    value = "450403199001011234"
    base = blind_index(value, purpose="resident_id")
    assert blind_index("450403199001011235", purpose="resident_id") != base
    assert blind_index(value, purpose="guardian_resident_id") != base
    assert blind_index(value + "\0", purpose="resident_id") != base
    with override_settings(FIELD_ENCRYPTION_KEY=KEY_A):
        under_a = blind_index(value, purpose="resident_id")
    with override_settings(FIELD_ENCRYPTION_KEY=KEY_B):
        under_b = blind_index(value, purpose="resident_id")
    assert len({base, under_a, under_b}) == 3
    # Not a plain (unkeyed) hash of the value.
    assert base not in hashlib.sha256(f"resident_id\0{value}".encode()).hexdigest()


def test_blind_index_uses_only_the_current_key():
    with override_settings(FIELD_ENCRYPTION_KEY=KEY_B):
        plain = blind_index("x", purpose="p")
    with override_settings(FIELD_ENCRYPTION_KEY=KEY_B, FIELD_ENCRYPTION_OLD_KEYS=[KEY_A]):
        assert blind_index("x", purpose="p") == plain


def test_blind_index_purpose_separates_the_value():
    # NUL is the separator, so it is refused in purposes: (purpose, value) pairs never collide.
    assert blind_index("bc", purpose="a") != blind_index("c", purpose="ab")
    assert blind_index("b\0c", purpose="a") != blind_index("c", purpose="a")
    with pytest.raises(ValueError):
        blind_index("c", purpose="a\0b")
    with pytest.raises(ValueError):
        blind_index("c", purpose="")
    with pytest.raises(TypeError):
        blind_index(None, purpose="p")


@settings(max_examples=100, database=None, deadline=None)
@given(st.text(), st.text())
def test_blind_index_distinct_values(a, b):
    if a != b:
        assert blind_index(a, purpose="p") != blind_index(b, purpose="p")


# --------------------------------------------------------------------------- EncryptedTextField


def test_field_encrypts_for_the_database_and_decrypts_back():
    field = EncryptedTextField(null=True, blank=True)
    stored = field.get_prep_value("450403199001011234")
    assert TOKEN_RE.fullmatch(stored)
    assert decrypt(stored) == "450403199001011234"
    assert field.from_db_value(stored, None, None) == "450403199001011234"
    assert field.get_prep_value("450403199001011234") != stored  # randomised


def test_field_keeps_none_and_empty():
    field = EncryptedTextField(null=True, blank=True)
    for value in (None, ""):
        assert field.get_prep_value(value) == value
        assert field.from_db_value(value, None, None) == value


def test_field_converts_non_text_before_encrypting():
    field = EncryptedTextField()
    assert decrypt(field.get_prep_value(13812345678)) == "13812345678"


def test_field_reports_tampered_values():
    field = EncryptedTextField()
    with pytest.raises(ValueError):
        field.from_db_value("450403199001011234", None, None)


def test_field_lookups():
    field = EncryptedTextField(null=True)
    assert field.get_lookup("isnull") is IsNull
    for name in ("exact", "iexact", "in", "contains", "startswith", "gt"):
        with pytest.raises(FieldError, match="isnull"):
            field.get_lookup(name)
    with pytest.raises(FieldError, match="blind index"):
        field.get_transform("lower")


def test_field_deconstructs():
    field = EncryptedTextField("ID number", null=True, blank=True)
    name, path, args, kwargs = field.deconstruct()
    assert path == "civicgrid.core.fields.EncryptedTextField"
    assert kwargs == {"verbose_name": "ID number", "null": True, "blank": True}
    rebuilt = EncryptedTextField(*args, **kwargs)
    assert rebuilt.deconstruct()[1:] == (path, args, kwargs)
