"""SM4-GCM and SM4-CBC: standard vectors, framing, tamper detection, bad input, gmssl interop."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from gmssl import sm4 as gmssl_sm4

from zhengwu.crypto import CryptoError, DecryptionError, sm4_decrypt, sm4_encrypt
from zhengwu.errors import ValidationError, ZhengwuError

# GB/T 32907-2016 / GM/T 0002-2012 Appendix A: example 1 (one encryption) and example 2
# (the same block encrypted 1,000,000 times with the same key).
STD_KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")
STD_ONCE = "681edf34d206965e86b3e94f536e4246"
STD_MILLION = "595298c7c6fd271f0402f804c33d3f66"

# RFC 8998 Appendix A.1 (SM4-GCM), as in pyca/cryptography's vectors/.../SM4/rfc8998.txt.
GCM_IV = bytes.fromhex("00001234567800000000abcd")
GCM_AAD = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
GCM_PT = bytes.fromhex(
    "aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbccccccccccccccccdddddddddddddddd"
    "eeeeeeeeeeeeeeeeffffffffffffffffeeeeeeeeeeeeeeeeaaaaaaaaaaaaaaaa"
)
GCM_CT = bytes.fromhex(
    "17f399f08c67d5ee19d0dc9969c4bb7d5fd46fd3756489069157b282bb200735"
    "d82710ca5c22f0ccfa7cbf93d496ac15a56834cbcf98c397b4024a2691233b8d"
)
GCM_TAG = bytes.fromhex("83de3541e4c2b58177e065a9bf7b62ec")

# draft-ribose-cfrg-sm4-10 A.2.2.1 (SM4-CBC, no padding), as in pyca/cryptography's vectors.
CBC_IV = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
CBC_PT = bytes.fromhex("aaaaaaaabbbbbbbbccccccccddddddddeeeeeeeeffffffffaaaaaaaabbbbbbbb")
CBC_CT = bytes.fromhex("78ebb11cc40b0a48312aaeb2040244cb4cb7016951909226979b0d15dc6a8f6d")


def test_standard_example_1_single_block() -> None:
    # CBC with an all-zero IV encrypts the first block exactly as the bare cipher does.
    out = sm4_encrypt(STD_KEY, STD_KEY, mode="cbc", iv=bytes(16))
    assert out[16:32].hex() == STD_ONCE
    assert sm4_decrypt(STD_KEY, out, mode="cbc") == STD_KEY


def test_standard_example_2_million_iterations() -> None:
    # CBC chaining: with zero IV and plaintext P || 0 || 0 ..., block i is E(block i-1), so the
    # millionth ciphertext block is the key applied 1,000,000 times - in one 16 MB call.
    plaintext = STD_KEY + bytes(16 * 999_999)
    out = sm4_encrypt(STD_KEY, plaintext, mode="cbc", iv=bytes(16))
    last = 16 + 16 * 999_999
    assert out[last : last + 16].hex() == STD_MILLION


def test_rfc8998_gcm_vector() -> None:
    out = sm4_encrypt(STD_KEY, GCM_PT, iv=GCM_IV, aad=GCM_AAD)
    assert out == GCM_IV + GCM_CT + GCM_TAG
    assert sm4_decrypt(STD_KEY, out, aad=GCM_AAD) == GCM_PT


def test_cbc_draft_vector_and_pkcs7() -> None:
    out = sm4_encrypt(STD_KEY, CBC_PT, mode="cbc", iv=CBC_IV)
    # IV, the two vector blocks, then one whole block of PKCS#7 padding (32 is a block multiple).
    assert out[:16] == CBC_IV
    assert out[16:48] == CBC_CT
    assert len(out) == 16 + 48
    assert sm4_decrypt(STD_KEY, out, mode="CBC") == CBC_PT


@pytest.mark.parametrize("mode", ["gcm", "cbc"])
@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 1000])
def test_round_trip(mode: str, size: int) -> None:
    key = os.urandom(16)
    data = os.urandom(size)
    out = sm4_encrypt(key, data, mode=mode)
    if mode == "gcm":
        assert len(out) == 12 + size + 16
    else:
        assert len(out) == 16 + (size // 16 + 1) * 16
    assert sm4_decrypt(key, out, mode=mode) == data


def test_random_nonce_and_iv() -> None:
    key = os.urandom(16)
    assert sm4_encrypt(key, b"same") != sm4_encrypt(key, b"same")
    assert sm4_encrypt(key, b"same", mode="cbc") != sm4_encrypt(key, b"same", mode="cbc")


def test_gcm_aad_round_trip_and_mismatch() -> None:
    key = os.urandom(16)
    out = sm4_encrypt(key, b"payload", aad=b"record-42")
    assert sm4_decrypt(key, out, aad=b"record-42") == b"payload"
    for wrong in (None, b"record-43", b""):
        with pytest.raises(DecryptionError) as info:
            sm4_decrypt(key, out, aad=wrong)
        assert info.value.code == "crypto.sm4.auth_failed"


def test_gcm_detects_every_single_bit_flip_region() -> None:
    key = os.urandom(16)
    out = sm4_encrypt(key, b"the quick brown fox")
    for index in (0, 11, 12, len(out) - 17, len(out) - 16, len(out) - 1):
        tampered = bytearray(out)
        tampered[index] ^= 0x01
        with pytest.raises(DecryptionError) as info:
            sm4_decrypt(key, bytes(tampered))
        assert info.value.code == "crypto.sm4.auth_failed"
        assert info.value.field == "ciphertext"


def test_gcm_wrong_key_and_truncation() -> None:
    key = os.urandom(16)
    out = sm4_encrypt(key, b"secret")
    with pytest.raises(DecryptionError) as info:
        sm4_decrypt(os.urandom(16), out)
    assert info.value.code == "crypto.sm4.auth_failed"
    with pytest.raises(DecryptionError) as info:
        sm4_decrypt(key, out[:-1])
    assert info.value.code == "crypto.sm4.auth_failed"
    for short in (b"", out[:12], out[:27]):
        with pytest.raises(DecryptionError) as info:
            sm4_decrypt(key, short)
        assert info.value.code == "crypto.sm4.bad_ciphertext"


def test_cbc_bad_length_and_bad_padding() -> None:
    key = bytes(range(16))
    out = sm4_encrypt(key, b"interop data", mode="cbc", iv=bytes(range(16, 32)))
    for bad in (b"", out[:16], out[:-1], out + b"x"):
        with pytest.raises(DecryptionError) as info:
            sm4_decrypt(key, bad, mode="cbc")
        assert info.value.code == "crypto.sm4.bad_ciphertext"
    # Wrong key: with these fixed inputs the padding comes out invalid (CBC cannot always tell).
    with pytest.raises(DecryptionError) as info:
        sm4_decrypt(bytes(range(1, 17)), out, mode="cbc")
    assert info.value.code == "crypto.sm4.bad_padding"


def test_large_input() -> None:
    key = os.urandom(16)
    data = os.urandom(10 * 1024 * 1024)
    for mode in ("gcm", "cbc"):
        assert sm4_decrypt(key, sm4_encrypt(key, data, mode=mode), mode=mode) == data


@pytest.mark.parametrize("size", [0, 8, 15, 17, 24, 32])
def test_wrong_key_size(size: int) -> None:
    with pytest.raises(CryptoError) as info:
        sm4_encrypt(os.urandom(size), b"x")
    assert info.value.code == "crypto.sm4.bad_key_size"
    assert info.value.field == "key"
    with pytest.raises(CryptoError) as info:
        sm4_decrypt(os.urandom(size), bytes(64))
    assert info.value.code == "crypto.sm4.bad_key_size"


def test_other_bad_arguments() -> None:
    key = os.urandom(16)
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: sm4_encrypt(key, b"x", mode="ecb"), "crypto.sm4.bad_mode"),
        (lambda: sm4_decrypt(key, bytes(64), mode="ctr"), "crypto.sm4.bad_mode"),
        (lambda: sm4_encrypt(key, b"x", mode=1), "crypto.invalid_type"),  # type: ignore[arg-type]
        (lambda: sm4_encrypt(key, b"x", iv=bytes(16)), "crypto.sm4.bad_iv"),
        (lambda: sm4_encrypt(key, b"x", mode="cbc", iv=bytes(12)), "crypto.sm4.bad_iv"),
        (lambda: sm4_encrypt(key, b"x", mode="cbc", aad=b"a"), "crypto.sm4.aad_unsupported"),
        (lambda: sm4_decrypt(key, bytes(32), mode="cbc", aad=b"a"), "crypto.sm4.aad_unsupported"),
        (lambda: sm4_encrypt(key, "text"), "crypto.invalid_type"),  # type: ignore[arg-type]
        (lambda: sm4_encrypt("0123456789abcdef", b"x"), "crypto.invalid_type"),  # type: ignore[arg-type]
        (lambda: sm4_decrypt(key, None), "crypto.invalid_type"),  # type: ignore[arg-type]
    ]
    for call, code in cases:
        with pytest.raises(CryptoError) as info:
            call()
        assert info.value.code == code


def test_errors_are_in_the_zhengwu_hierarchy() -> None:
    with pytest.raises(ZhengwuError) as info:
        sm4_decrypt(os.urandom(16), sm4_encrypt(os.urandom(16), b"x"))
    err = info.value
    assert isinstance(err, DecryptionError)
    assert isinstance(err, CryptoError)
    assert isinstance(err, ValidationError)
    body = err.to_dict()
    assert body["code"] == "crypto.sm4.auth_failed"
    assert "认证失败" in body["message"]
    assert "authentication failed" in body["message_en"]


def test_cbc_interop_with_gmssl() -> None:
    key = os.urandom(16)
    iv = os.urandom(16)
    data = "跨部门共享数据 interop".encode()
    theirs = gmssl_sm4.CryptSM4()
    theirs.set_key(key, gmssl_sm4.SM4_ENCRYPT)
    their_ct = theirs.crypt_cbc(iv, data)  # PKCS#7 padded, IV not included
    assert sm4_encrypt(key, data, mode="cbc", iv=iv) == iv + their_ct
    assert sm4_decrypt(key, iv + their_ct, mode="cbc") == data
    theirs.set_key(key, gmssl_sm4.SM4_DECRYPT)
    ours = sm4_encrypt(key, data, mode="cbc")
    assert theirs.crypt_cbc(ours[:16], ours[16:]) == data
