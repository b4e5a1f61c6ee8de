"""SM3 and HMAC-SM3: published vectors, an independent implementation, incremental use, bad input."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from gmssl import sm3 as gmssl_sm3

from zhengwu.crypto import CryptoError, Sm3Hasher, sm3_hash, sm3_hmac, sm3_hmac_verify
from zhengwu.errors import ValidationError

# GB/T 32905-2016 / GM/T 0004-2012 Appendix A, examples 1 and 2.
SM3_ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
SM3_ABCD16 = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"

# HMAC-SM3 examples of GM/T 0042-2015 Appendix D.3, as carried in the Linux kernel's
# crypto/testmgr.h (hmac_sm3_tv_template).
HMAC_SM3_VECTORS = [
    (
        bytes(range(1, 33)),
        b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq" * 2,
        "ca05e144ed05d1857840d1f318a4a8669e559fc8391f414485bfdf7bb408963a",
    ),
    (
        bytes(range(1, 38)),
        b"\xcd" * 50,
        "220bf579ded555393f0159f66c99877822a3ecf610d1552154b41d44b94db3ae",
    ),
    (
        b"\x0b" * 32,
        b"Hi There",
        "c0ba18c68b90c88bc07de794bfc7d2c8d19ec31ed8773bc2b390c9604e0be11e",
    ),
    (
        b"Jefe",
        b"what do ya want for nothing?",
        "2e87f1d16862e6d964b50a5200bf2b10b764faa9680a296a2405f24bec39f882",
    ),
]


def gmssl_sm3_bytes(data: bytes) -> bytes:
    """SM3 by gmssl's pure-Python code: an implementation independent of OpenSSL."""
    return bytes.fromhex(gmssl_sm3.sm3_hash(list(data)))


def rfc2104_hmac_with_gmssl(key: bytes, data: bytes) -> bytes:
    """HMAC built by hand from RFC 2104 on top of gmssl's SM3 (block size 64)."""
    if len(key) > 64:
        key = gmssl_sm3_bytes(key)
    key = key.ljust(64, b"\x00")
    ipad = bytes(b ^ 0x36 for b in key)
    opad = bytes(b ^ 0x5C for b in key)
    return gmssl_sm3_bytes(opad + gmssl_sm3_bytes(ipad + data))


def test_standard_vectors() -> None:
    assert sm3_hash(b"abc").hex() == SM3_ABC
    assert sm3_hash(b"abcd" * 16).hex() == SM3_ABCD16


def test_digest_is_32_bytes_and_matches_independent_implementation() -> None:
    for size in (0, 1, 55, 56, 63, 64, 65, 127, 128, 1000):
        data = os.urandom(size)
        digest = sm3_hash(data)
        assert len(digest) == 32
        assert digest == gmssl_sm3_bytes(data), size


def test_bytes_like_inputs() -> None:
    assert sm3_hash(bytearray(b"abc")).hex() == SM3_ABC
    assert sm3_hash(memoryview(b"abc")).hex() == SM3_ABC


def test_incremental_hasher_matches_one_shot() -> None:
    data = os.urandom(10_000)
    hasher = Sm3Hasher()
    for i in range(0, len(data), 333):
        hasher.update(data[i : i + 333])
    assert hasher.digest() == sm3_hash(data)
    assert hasher.hexdigest() == sm3_hash(data).hex()
    assert Sm3Hasher(b"abc").digest().hex() == SM3_ABC
    assert Sm3Hasher().update(b"ab").update(b"c").hexdigest() == SM3_ABC
    assert Sm3Hasher.digest_size == 32
    assert Sm3Hasher.block_size == 64


def test_digest_does_not_end_the_hasher_and_copy_forks() -> None:
    hasher = Sm3Hasher(b"ab")
    first = hasher.digest()
    assert hasher.digest() == first == sm3_hash(b"ab")
    fork = hasher.copy()
    hasher.update(b"c")
    fork.update(b"x")
    assert hasher.hexdigest() == SM3_ABC
    assert fork.digest() == sm3_hash(b"abx")


def test_hmac_published_vectors() -> None:
    for key, data, expected in HMAC_SM3_VECTORS:
        assert sm3_hmac(key, data).hex() == expected


def test_hmac_matches_hand_built_rfc2104() -> None:
    data = os.urandom(300)
    # Keys shorter than, equal to and longer than the 64-byte block (longer ones get hashed).
    for key_len in (0, 1, 16, 63, 64, 65, 200):
        key = os.urandom(key_len)
        assert sm3_hmac(key, data) == rfc2104_hmac_with_gmssl(key, data), key_len


def test_hmac_verify() -> None:
    key = os.urandom(32)
    mac = sm3_hmac(key, b"record")
    assert sm3_hmac_verify(key, b"record", mac)
    assert not sm3_hmac_verify(key, b"recorD", mac)
    assert not sm3_hmac_verify(os.urandom(32), b"record", mac)
    assert not sm3_hmac_verify(key, b"record", mac[:-1])


def test_large_input() -> None:
    data = b"\x5a" * (10 * 1024 * 1024)
    hasher = Sm3Hasher()
    view = memoryview(data)
    for i in range(0, len(data), 1 << 20):
        hasher.update(view[i : i + (1 << 20)])
    assert sm3_hash(data) == hasher.digest()
    assert len(sm3_hmac(b"k", data)) == 32


@pytest.mark.parametrize(
    "call",
    [
        lambda: sm3_hash("abc"),  # type: ignore[arg-type]
        lambda: sm3_hash(None),  # type: ignore[arg-type]
        lambda: sm3_hmac("key", b"data"),  # type: ignore[arg-type]
        lambda: sm3_hmac(b"key", 123),  # type: ignore[arg-type]
        lambda: Sm3Hasher().update("text"),  # type: ignore[arg-type]
        lambda: sm3_hmac_verify(b"k", b"d", "mac"),  # type: ignore[arg-type]
    ],
)
def test_wrong_types_raise_clear_error(call: Callable[[], object]) -> None:
    with pytest.raises(CryptoError) as info:
        call()
    assert info.value.code == "crypto.invalid_type"
    assert isinstance(info.value, ValidationError)
    assert info.value.message and info.value.message_en
