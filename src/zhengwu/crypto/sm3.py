"""SM3 hash (GB/T 32905-2016, GM/T 0004-2012) and HMAC-SM3 (RFC 2104 with SM3, as in GM/T 0042).

The work is done by OpenSSL: through :mod:`hashlib` when the Python build's OpenSSL offers ``sm3``
(OpenSSL 3 does), else through the ``cryptography`` package's SM3. Both are C; nothing here hashes
in Python.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from zhengwu.crypto.errors import BytesLike, as_bytes

DIGEST_SIZE = 32
BLOCK_SIZE = 64


def _hashlib_has_sm3() -> bool:
    try:
        hashlib.new("sm3")
    except ValueError:
        return False
    return True


# Decided once: hashlib's OpenSSL either has SM3 or not for the life of the process.
_HASHLIB_SM3 = _hashlib_has_sm3()


class Sm3Hasher:
    """Incremental SM3: feed data with :meth:`update`, read the 32-byte digest with :meth:`digest`.

    Unlike ``hashlib`` objects, :meth:`digest` may be called at any time without ending the hasher
    (it digests a copy), and :meth:`copy` forks the state, which Merkle-tree builders use to hash a
    common prefix once.
    """

    __slots__ = ("_h",)

    digest_size = DIGEST_SIZE
    block_size = BLOCK_SIZE
    name = "sm3"

    def __init__(self, data: BytesLike = b"") -> None:
        if _HASHLIB_SM3:
            self._h: hashlib._Hash | hashes.Hash = hashlib.new("sm3")
        else:
            self._h = hashes.Hash(hashes.SM3())
        if data:
            self.update(data)

    def update(self, data: BytesLike) -> Sm3Hasher:
        """Add ``data`` to the hash; returns the hasher so calls can be chained."""
        self._h.update(as_bytes(data, "data"))
        return self

    def copy(self) -> Sm3Hasher:
        """An independent hasher with the same state."""
        other = Sm3Hasher.__new__(Sm3Hasher)
        other._h = self._h.copy()
        return other

    def digest(self) -> bytes:
        """The 32-byte SM3 digest of everything fed so far (the hasher stays usable)."""
        h = self._h.copy()
        if isinstance(h, hashes.Hash):
            return h.finalize()
        return h.digest()

    def hexdigest(self) -> str:
        """:meth:`digest` as 64 lowercase hex characters."""
        return self.digest().hex()


def sm3_hash(data: BytesLike) -> bytes:
    """The 32-byte SM3 digest of ``data``."""
    data = as_bytes(data, "data")
    if _HASHLIB_SM3:
        return hashlib.new("sm3", data).digest()
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def sm3_hmac(key: BytesLike, data: BytesLike) -> bytes:
    """HMAC-SM3 of ``data`` under ``key`` (RFC 2104, block size 64, output 32 bytes).

    Any key length is allowed, as RFC 2104 says (longer keys are hashed first); an empty key is
    allowed too but gives no secrecy, so callers should use at least 16 random bytes.
    """
    key = as_bytes(key, "key")
    data = as_bytes(data, "data")
    if _HASHLIB_SM3:
        return hmac.new(key, data, "sm3").digest()
    mac = crypto_hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize()


def sm3_hmac_verify(key: BytesLike, data: BytesLike, mac: BytesLike) -> bool:
    """True when ``mac`` is the HMAC-SM3 of ``data`` under ``key``; compares in constant time."""
    mac = as_bytes(mac, "mac")
    return hmac.compare_digest(sm3_hmac(key, data), mac)
