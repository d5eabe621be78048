"""Payload encryption: a Temporal PayloadCodec with AES-256-GCM and key rotation.

Every payload a client or worker sends (workflow and activity inputs and results, update
arguments, memo, and, through the encoded-attributes failure converter, failure messages) is
sealed before it leaves the process, so the Temporal server and its database hold no plaintext
personal data. Search attributes are never encoded by Temporal, which is why they carry none.

Each sealed payload names the key that sealed it (metadata ``encryption-key-id``). The active key
encrypts; every configured key decrypts, so a key is rotated by adding a new one, making it active
and keeping the old one until no history still needs it.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from onething.settings import Settings

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12  # 96 bits, the GCM standard; random per payload
KEY_BYTES = 32  # AES-256
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class EncryptionConfigError(ValueError):
    """The encryption settings are unusable; the message names the setting and the reason."""


class DecryptionError(ValueError):
    """A sealed payload cannot be opened; the message names the key id and the reason."""


def new_key() -> str:
    """A fresh random key in the form ONETHING_ENCRYPTION_KEYS expects."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def _decode_key(key_id: str, encoded: str) -> bytes:
    where = f"ONETHING_ENCRYPTION_KEYS[{key_id!r}]"
    if not _KEY_ID.match(key_id):
        raise EncryptionConfigError(
            f"ONETHING_ENCRYPTION_KEYS: key id {key_id!r} must be 1-64 letters, digits, '.', '_'"
            " or '-' (it is stored in every payload's metadata)"
        )
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        # The value itself is never echoed: it is a secret.
        raise EncryptionConfigError(f"{where}: not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise EncryptionConfigError(
            f"{where}: must be base64 of {KEY_BYTES} bytes (AES-256), got {len(raw)} bytes"
        )
    return raw


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over the serialized payload; the key id is bound as associated data so a
    payload relabelled with another key id fails authentication instead of decrypting."""

    def __init__(self, *, keys: Mapping[str, bytes], active_key_id: str) -> None:
        if not keys:
            raise EncryptionConfigError("ONETHING_ENCRYPTION_KEYS: at least one key is needed")
        if active_key_id not in keys:
            raise EncryptionConfigError(
                f"ONETHING_ENCRYPTION_KEY_ID: {active_key_id!r} is not one of the configured"
                f" keys ({', '.join(sorted(keys))})"
            )
        for key_id, key in keys.items():
            if len(key) != KEY_BYTES:
                raise EncryptionConfigError(
                    f"ONETHING_ENCRYPTION_KEYS[{key_id!r}]: must be {KEY_BYTES} bytes,"
                    f" got {len(key)}"
                )
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._active = active_key_id

    @property
    def active_key_id(self) -> str:
        return self._active

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._ciphers)

    def __repr__(self) -> str:
        # Key material must never reach a log line or a traceback.
        return f"EncryptionCodec(active_key_id={self._active!r}, key_ids={sorted(self._ciphers)})"

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        key_id = self._active.encode()
        sealed = self._ciphers[self._active].encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id}, data=nonce + sealed
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            # Written before encryption was switched on (or by a client without it): readable
            # as is, so turning encryption on never strands running cases.
            return payload
        raw_id = payload.metadata.get(KEY_ID_METADATA)
        if not raw_id:
            raise DecryptionError(
                f"encrypted payload has no {KEY_ID_METADATA!r} metadata: cannot tell which key"
                " sealed it"
            )
        key_id = raw_id.decode("utf-8", "replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise DecryptionError(
                f"payload was encrypted with key id {key_id!r}, which is not in"
                f" ONETHING_ENCRYPTION_KEYS (configured: {', '.join(sorted(self._ciphers))});"
                " keep retired keys configured until no history needs them"
            )
        if len(payload.data) <= NONCE_BYTES:
            raise DecryptionError(f"payload encrypted with key id {key_id!r} is truncated")
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, raw_id)
        except InvalidTag:
            raise DecryptionError(
                f"payload failed authentication with key id {key_id!r}: wrong key material for"
                " that id, or the payload was altered"
            ) from None
        return Payload.FromString(plain)


def codec_from_settings(settings: Settings) -> EncryptionCodec | None:
    """The codec the settings describe, or None when no key is configured (plaintext)."""
    configured = {k: v.get_secret_value() for k, v in settings.encryption_keys.items()}
    if not configured:
        if settings.encryption_key_id:
            raise EncryptionConfigError(
                "ONETHING_ENCRYPTION_KEY_ID is set but ONETHING_ENCRYPTION_KEYS is empty"
            )
        return None
    keys = {key_id: _decode_key(key_id, value) for key_id, value in configured.items()}
    active = settings.encryption_key_id
    if not active:
        if len(keys) > 1:
            raise EncryptionConfigError(
                "ONETHING_ENCRYPTION_KEY_ID: required when several keys are configured"
                f" ({', '.join(sorted(keys))}); it names the key that encrypts"
            )
        (active,) = keys
    return EncryptionCodec(keys=keys, active_key_id=active)
