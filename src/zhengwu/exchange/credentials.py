"""Upstream credentials: the secret the gateway shows a service's upstream (a front node's token).

The gateway strips the consumer's ``Authorization`` header (it carries the consumer's platform token),
so a front node cannot be reached without a credential of the gateway's own. It is stored with the
service, encrypted with SM4-GCM under a 16-byte key derived from the platform secret (HMAC-SM3 with a
label of its own, like the message log's body key), and bound to the service's row id as associated
data so a ciphertext copied onto another service does not decrypt. It is write-only: no API, page or
log line shows it; only the gateway decrypts it, once per directory cache fill.
"""

from __future__ import annotations

from zhengwu.crypto import sm3_hmac, sm4_decrypt, sm4_encrypt
from zhengwu.errors import ValidationError

_KEY_LABEL = b"zhengwu/exchange/upstream-credential-key/v1"

#: Longest credential accepted (node tokens are ~43 characters; generous for other upstreams).
MAX_CREDENTIAL_LENGTH = 4096


def credential_key(secret_key: str) -> bytes:
    """The SM4 key for upstream credentials, derived from the platform secret."""
    return sm3_hmac(secret_key.encode("utf-8"), _KEY_LABEL)[:16]


def _aad(service_id: int) -> bytes:
    return b"exchange_service:" + str(service_id).encode("ascii")


def credential_check(credential: str) -> str:
    """A credential goes into an HTTP header: printable ASCII, no spaces around, not too long."""
    value = credential.strip()
    if not value or len(value) > MAX_CREDENTIAL_LENGTH or not all(0x21 <= ord(c) <= 0x7E for c in value):
        raise ValidationError(
            "上游凭据应为 1 到 4096 个可打印 ASCII 字符（不含空格）",
            message_en="upstream_credential must be 1 to 4096 printable ASCII characters without spaces",
            code="exchange.service.bad_credential",
            field="upstream_credential",
        )
    return value


def credential_encrypt(key: bytes, service_id: int, credential: str) -> bytes:
    """Encrypt a (checked) credential for the service with row id ``service_id``."""
    return sm4_encrypt(key, credential_check(credential).encode("ascii"), aad=_aad(service_id))


def credential_decrypt(key: bytes, service_id: int, stored: bytes) -> str:
    """The plain credential; raises :class:`zhengwu.crypto.DecryptionError` on a wrong key or row."""
    return sm4_decrypt(key, stored, aad=_aad(service_id)).decode("ascii")
