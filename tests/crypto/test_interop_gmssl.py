"""SM2 interoperability with the gmssl PyPI package (pure Python, used only as an oracle).

gmssl's conventions: keys are hex strings (d as 64 hex digits, the public key as 128 hex digits
x||y); signatures are hex ``r||s`` (or hex DER with ``asn1=True``); ciphertexts are bytes
``x1||y1||C3||C2`` WITHOUT the 04 before C1 in ``mode=1``, and C1C2C3 in its default ``mode=0``.

gmssl defects these tests work around or show (why it is an oracle, never a dependency):
* ``decrypt`` never compares C3, so it returns garbage for a tampered ciphertext;
* its default ``mode=0`` is the legacy C1C2C3 order;
* it strips a "04" prefix with ``str.lstrip("04")``, which also eats leading 0/4 digits of x,
  so a public key whose hex starts with "04" is corrupted - such keys are skipped here;
* its nonces come from ``random.choice`` (not a CSPRNG).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from gmssl import sm2 as gmssl_sm2

from zhengwu.crypto import (
    DecryptionError,
    sm2_ciphertext_c1c2c3_to_c1c3c2,
    sm2_decrypt,
    sm2_encrypt,
    sm2_generate_keypair,
    sm2_key_to_hex,
    sm2_public_key_from_private,
    sm2_sign,
    sm2_signature_raw_to_der,
    sm2_verify,
)

Pair = tuple[bytes, bytes]


def gmssl_safe_keypair() -> tuple[bytes, bytes, str, str]:
    """A key pair whose public hex survives gmssl's lstrip("04") bug: (priv PEM, pub PEM, d, xy)."""
    while True:
        private, public = sm2_generate_keypair()
        xy = sm2_key_to_hex(public)
        if not xy.startswith("04"):
            return private, public, sm2_key_to_hex(private), xy


def test_our_signatures_verify_in_gmssl() -> None:
    private, _, d_hex, xy_hex = gmssl_safe_keypair()
    oracle = gmssl_sm2.CryptSM2(private_key=d_hex, public_key=xy_hex, mode=1)
    oracle_der = gmssl_sm2.CryptSM2(private_key=d_hex, public_key=xy_hex, mode=1, asn1=True)
    for message in (b"", b"abc", "电子证照 0001".encode(), os.urandom(300)):
        raw = sm2_sign(private, message, encoding="raw")
        assert oracle.verify_with_sm3(raw.hex(), message)
        der = sm2_sign(private, message)
        assert oracle_der.verify_with_sm3(der.hex(), message)
    # Sanity: the oracle does say no.
    raw = sm2_sign(private, b"abc", encoding="raw")
    assert not oracle.verify_with_sm3(raw.hex(), b"abd")


def test_gmssl_signatures_verify_in_ours() -> None:
    _, public, d_hex, xy_hex = gmssl_safe_keypair()
    oracle = gmssl_sm2.CryptSM2(private_key=d_hex, public_key=xy_hex, mode=1)
    oracle_der = gmssl_sm2.CryptSM2(private_key=d_hex, public_key=xy_hex, mode=1, asn1=True)
    for message in (b"abc", "政务数据共享".encode(), os.urandom(200)):
        raw_hex = oracle.sign_with_sm3(message)
        assert sm2_verify(public, message, bytes.fromhex(raw_hex), encoding="raw")
        assert sm2_verify(public, message, sm2_signature_raw_to_der(bytes.fromhex(raw_hex)))
        der_hex = oracle_der.sign_with_sm3(message)
        assert sm2_verify(public, message, bytes.fromhex(der_hex))
        assert not sm2_verify(public, message + b"!", bytes.fromhex(der_hex))


def test_gmssl_signature_with_the_published_key(std_keypair: Pair, sm2_example: Any) -> None:
    xy = (sm2_example.public_x + sm2_example.public_y).lower()
    oracle = gmssl_sm2.CryptSM2(private_key=sm2_example.private_hex, public_key=xy, mode=1)
    # With the standard's nonce k, gmssl reproduces the standard's (r, s) ...
    e_hex = oracle._sm3_z(sm2_example.message)  # gmssl's e = SM3(Z_A || M)
    assert e_hex.upper() == sm2_example.e
    k = "59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21"
    assert oracle.sign(bytes.fromhex(e_hex), k).upper() == sm2_example.r + sm2_example.s
    # ... and any random-nonce gmssl signature verifies with our copy of the key.
    sig = bytes.fromhex(oracle.sign_with_sm3(sm2_example.message))
    assert sm2_verify(std_keypair[1], sm2_example.message, sig, encoding="raw")
    assert sm2_public_key_from_private(std_keypair[0]) == std_keypair[1]


def test_our_ciphertexts_decrypt_in_gmssl() -> None:
    _, public, d_hex, xy_hex = gmssl_safe_keypair()
    oracle = gmssl_sm2.CryptSM2(private_key=d_hex, public_key=xy_hex, mode=1)
    for message in (b"k", b"sixteen byte key", os.urandom(100)):
        ct = sm2_encrypt(public, message)
        assert ct[0] == 0x04
        assert oracle.decrypt(ct[1:]) == message  # gmssl wants C1 without the 04


def test_gmssl_ciphertexts_decrypt_in_ours() -> None:
    private, _, d_hex, xy_hex = gmssl_safe_keypair()
    c1c3c2 = gmssl_sm2.CryptSM2(private_key=d_hex, public_key=xy_hex, mode=1)
    c1c2c3 = gmssl_sm2.CryptSM2(private_key=d_hex, public_key=xy_hex)  # gmssl's default order
    for message in (b"k", "公民身份号码".encode(), os.urandom(100)):
        assert sm2_decrypt(private, c1c3c2.encrypt(message)) == message
        legacy = c1c2c3.encrypt(message)
        assert sm2_decrypt(private, sm2_ciphertext_c1c2c3_to_c1c3c2(legacy)) == message


def test_c3_is_checked_by_us_but_not_by_gmssl() -> None:
    private, public, d_hex, xy_hex = gmssl_safe_keypair()
    oracle = gmssl_sm2.CryptSM2(private_key=d_hex, public_key=xy_hex, mode=1)
    ct = bytearray(sm2_encrypt(public, b"transfer 100 yuan"))
    ct[-1] ^= 0x01  # flip a bit of C2: C3 no longer matches
    assert oracle.decrypt(bytes(ct[1:])) == b"transfer 100 yuao"  # gmssl: silently wrong
    with pytest.raises(DecryptionError) as info:
        sm2_decrypt(private, bytes(ct))
    assert info.value.code == "crypto.sm2.decrypt_failed"
