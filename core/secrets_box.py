"""Encryption at rest for stored upstream keys (Fernet), and how they are shown (masked)."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretBox:
    """Encrypt with the first key, decrypt with any, so keys can be rotated."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._fernet = MultiFernet([Fernet(_fernet_key(k)) for k in keys])

    def encrypt(self, plaintext: str) -> str:
        """Return the ciphertext of a secret, as text."""
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        """Return the plaintext; raise ValueError when no configured key opens it."""
        return self._open(self._fernet.decrypt, ciphertext)

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt a ciphertext under the first (newest) key; ValueError as decrypt."""
        return self._open(self._fernet.rotate, ciphertext)

    @staticmethod
    def _open(operation, ciphertext: str) -> str:
        try:
            return operation(ciphertext.encode()).decode()
        except InvalidToken:
            raise ValueError(
                "a stored key cannot be decrypted with the configured USAGE_ENCRYPTION_KEYS"
            ) from None


def _fernet_key(material: str) -> bytes:
    # Any passphrase works: it is stretched to the 32 bytes Fernet wants.
    return base64.urlsafe_b64encode(
        hashlib.sha256(b"usage-data-key\0" + material.encode()).digest()
    )
