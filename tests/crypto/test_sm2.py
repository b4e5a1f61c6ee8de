"""SM2 on OpenSSL: the GM/T 0003.5 worked examples, encodings, key forms, and bad input."""

from __future__ import annotations

import os
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from zhengwu.crypto import (
    DEFAULT_UID,
    CryptoError,
    DecryptionError,
    sm2_ciphertext_c1c2c3_to_c1c3c2,
    sm2_ciphertext_c1c3c2_to_c1c2c3,
    sm2_ciphertext_der_to_raw,
    sm2_ciphertext_raw_to_der,
    sm2_decrypt,
    sm2_encrypt,
    sm2_generate_keypair,
    sm2_key_to_hex,
    sm2_private_pem_from_hex,
    sm2_public_key_from_private,
    sm2_public_pem_from_hex,
    sm2_sign,
    sm2_signature_der_to_raw,
    sm2_signature_raw_to_der,
    sm2_verify,
    sm2_za,
    sm3_hash,
)
from zhengwu.crypto.sm2 import _decompress, _on_curve

Pair = tuple[bytes, bytes]
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123


# ---------------------------------------------------------------------------------------------
# the published examples


def test_example_key_derives_the_published_public_key(std_keypair: Pair, sm2_example: Any) -> None:
    _, public = std_keypair
    assert sm2_key_to_hex(public) == (sm2_example.public_x + sm2_example.public_y).lower()
    assert sm2_key_to_hex(std_keypair[0]) == sm2_example.private_hex.lower()


def test_example_za_and_e(std_keypair: Pair, sm2_example: Any) -> None:
    za = sm2_za(std_keypair[1])
    assert za.hex() == sm2_example.za.lower()
    assert sm3_hash(za + sm2_example.message).hex() == sm2_example.e.lower()


def test_example_signature_verifies(std_keypair: Pair, sm2_example: Any) -> None:
    _, public = std_keypair
    raw = bytes.fromhex(sm2_example.r + sm2_example.s)
    der = sm2_signature_raw_to_der(raw)
    assert sm2_verify(public, sm2_example.message, der)
    assert sm2_verify(public, sm2_example.message, raw, encoding="raw")
    assert sm2_verify(public, sm2_example.message, der, uid=sm2_example.uid)
    # Any change of message, ID or signature breaks it.
    assert not sm2_verify(public, b"message digesT", der)
    assert not sm2_verify(public, sm2_example.message, der, uid=b"1234567812345679")
    assert not sm2_verify(public, sm2_example.message, der, uid=b"")  # OpenSSL's own default ID
    bad_s = (int(sm2_example.s, 16) + 1).to_bytes(32, "big")
    assert not sm2_verify(public, sm2_example.message, raw[:32] + bad_s, encoding="raw")


def _example_ciphertext(ex: Any) -> tuple[bytes, bytes]:
    """(raw without 04, DER) forms of the Annex C ciphertext."""
    body = bytes.fromhex(ex.c1_x + ex.c1_y + ex.c3 + ex.c2)
    # GM/T 0009 SM2Cipher, serialised by hand: x and y as INTEGERs (y needs a 00: top bit set).
    der = bytes.fromhex("307c" + "0220" + ex.c1_x + "022100" + ex.c1_y + "0420" + ex.c3 + "0413" + ex.c2)
    return body, der


def test_example_ciphertext_decrypts_in_every_form(std_keypair: Pair, sm2_example: Any) -> None:
    private, _ = std_keypair
    body, der = _example_ciphertext(sm2_example)
    # C1's x starts with 0x04, so "starts with 04" cannot tell prefixed from bare raw forms:
    # the on-curve check must.
    assert body[0] == 0x04
    assert sm2_decrypt(private, b"\x04" + body) == sm2_example.plaintext
    assert sm2_decrypt(private, body) == sm2_example.plaintext
    assert sm2_decrypt(private, der, encoding="der") == sm2_example.plaintext
    assert sm2_ciphertext_raw_to_der(body) == der
    assert sm2_ciphertext_raw_to_der(b"\x04" + body) == der
    assert sm2_ciphertext_der_to_raw(der) == b"\x04" + body


def test_example_ciphertext_tampering_is_detected(std_keypair: Pair, sm2_example: Any) -> None:
    private, _ = std_keypair
    body, der = _example_ciphertext(sm2_example)
    raw = b"\x04" + body
    for index in (1, 64, 65, 80, 96, 97, len(raw) - 1):  # C1 x, C1 y, C3, C2
        tampered = bytearray(raw)
        tampered[index] ^= 0x80
        with pytest.raises(DecryptionError) as info:
            sm2_decrypt(private, bytes(tampered))
        assert info.value.code in {"crypto.sm2.decrypt_failed", "crypto.sm2.bad_ciphertext"}
    for cut in (raw[:-1], raw[:97], raw[:60], b""):
        with pytest.raises(DecryptionError):
            sm2_decrypt(private, cut)
    tampered_der = der[:-1] + bytes([der[-1] ^ 1])
    with pytest.raises(DecryptionError) as info:
        sm2_decrypt(private, tampered_der, encoding="der")
    assert info.value.code == "crypto.sm2.decrypt_failed"
    assert info.value.field == "ciphertext"


# ---------------------------------------------------------------------------------------------
# signatures


def test_sign_verify_round_trip(keypair: Pair) -> None:
    private, public = keypair
    for data in (b"", b"x", os.urandom(1000)):
        sig = sm2_sign(private, data)
        assert sig[0] == 0x30 and 8 <= len(sig) <= 72
        assert sm2_verify(public, data, sig)


def test_signatures_are_randomised(keypair: Pair) -> None:
    private, public = keypair
    a, b = sm2_sign(private, b"same"), sm2_sign(private, b"same")
    assert a != b
    assert sm2_verify(public, b"same", a) and sm2_verify(public, b"same", b)


def test_raw_signature_encoding(keypair: Pair) -> None:
    private, public = keypair
    raw = sm2_sign(private, b"doc", encoding="raw")
    assert len(raw) == 64
    assert sm2_verify(public, b"doc", raw, encoding="raw")
    der = sm2_signature_raw_to_der(raw)
    assert sm2_verify(public, b"doc", der)
    assert sm2_signature_der_to_raw(der) == raw
    assert not sm2_verify(public, b"doc", raw)  # raw bytes given as DER
    assert not sm2_verify(public, b"doc", der, encoding="raw")


def test_uid_is_part_of_the_signature(keypair: Pair) -> None:
    private, public = keypair
    sig = sm2_sign(private, b"doc", uid=b"alice@example.gov.cn")
    assert sm2_verify(public, b"doc", sig, uid=b"alice@example.gov.cn")
    assert not sm2_verify(public, b"doc", sig)
    default_sig = sm2_sign(private, b"doc")
    assert sm2_verify(public, b"doc", default_sig, uid=DEFAULT_UID)
    assert not sm2_verify(public, b"doc", default_sig, uid=b"")
    empty_sig = sm2_sign(private, b"doc", uid=b"")
    assert sm2_verify(public, b"doc", empty_sig, uid=b"")
    assert not sm2_verify(public, b"doc", empty_sig)


def test_wrong_key_or_message_is_false(keypair: Pair, other_keypair: Pair) -> None:
    private, public = keypair
    sig = sm2_sign(private, b"doc")
    assert not sm2_verify(other_keypair[1], b"doc", sig)
    assert not sm2_verify(public, b"doc2", sig)


def test_malformed_signatures_are_false_not_errors(keypair: Pair) -> None:
    private, public = keypair
    sig = sm2_sign(private, b"doc")
    bad = [
        b"",
        b"\x30",
        b"garbage",
        sig[:-1],
        sig + b"\x00",  # trailing byte after the DER
        b"\x30\x06\x02\x01\x00\x02\x01\x01",  # r = 0
        os.urandom(71),
        b"\x30" * 10_000,
    ]
    for candidate in bad:
        assert sm2_verify(public, b"doc", candidate) is False
    for candidate in (b"", bytes(64), b"\xff" * 64, os.urandom(63)):
        assert sm2_verify(public, b"doc", candidate, encoding="raw") is False


def test_signature_conversion_errors() -> None:
    for bad in (
        b"",
        b"\x30\x00",
        b"\x30\x06\x02\x01\x00\x02\x01\x01",
        b"\x30\x06\x02\x01\x01\x02\x01\x01\x00",
    ):
        with pytest.raises(CryptoError) as info:
            sm2_signature_der_to_raw(bad)
        assert info.value.code == "crypto.sm2.bad_signature"
    # Non-minimal INTEGER (a superfluous leading zero) is not DER.
    with pytest.raises(CryptoError):
        sm2_signature_der_to_raw(b"\x30\x07\x02\x02\x00\x01\x02\x01\x01")
    for bad in (b"", bytes(64), os.urandom(65), N.to_bytes(32, "big") * 2):
        with pytest.raises(CryptoError) as info:
            sm2_signature_raw_to_der(bad)
        assert info.value.code == "crypto.sm2.bad_signature"


def test_large_message(keypair: Pair) -> None:
    private, public = keypair
    data = os.urandom(10 * 1024 * 1024)
    sig = sm2_sign(private, data)
    assert sm2_verify(public, data, sig)
    assert not sm2_verify(public, data[:-1], sig)


# ---------------------------------------------------------------------------------------------
# encryption


@pytest.mark.parametrize("size", [1, 31, 32, 33, 1000, 70_000])
def test_encrypt_round_trip_raw(keypair: Pair, size: int) -> None:
    private, public = keypair
    data = os.urandom(size)
    ct = sm2_encrypt(public, data)
    assert len(ct) == 65 + 32 + size
    assert ct[0] == 0x04
    assert sm2_decrypt(private, ct) == data
    assert sm2_decrypt(private, ct[1:]) == data  # without the 04, as gmssl/sm-crypto send it


def test_encrypt_round_trip_der_and_conversions(keypair: Pair) -> None:
    private, public = keypair
    der = sm2_encrypt(public, b"key material", encoding="der")
    assert der[0] == 0x30
    assert sm2_decrypt(private, der, encoding="der") == b"key material"
    raw = sm2_ciphertext_der_to_raw(der)
    assert sm2_decrypt(private, raw) == b"key material"
    assert sm2_ciphertext_raw_to_der(raw) == der


def test_encryption_is_randomised(keypair: Pair) -> None:
    public = keypair[1]
    assert sm2_encrypt(public, b"same") != sm2_encrypt(public, b"same")


def test_legacy_c1c2c3_order(keypair: Pair) -> None:
    private, public = keypair
    ct = sm2_encrypt(public, b"legacy peer")
    legacy = sm2_ciphertext_c1c3c2_to_c1c2c3(ct)
    assert legacy != ct and len(legacy) == len(ct)
    assert legacy[65:-32] == ct[97:]  # C2 now before C3
    assert sm2_ciphertext_c1c2c3_to_c1c3c2(legacy) == ct
    assert sm2_ciphertext_c1c2c3_to_c1c3c2(legacy[1:]) == ct
    assert sm2_decrypt(private, sm2_ciphertext_c1c2c3_to_c1c3c2(legacy)) == b"legacy peer"
    with pytest.raises(DecryptionError):
        sm2_ciphertext_c1c2c3_to_c1c3c2(os.urandom(120))


def test_decrypt_with_wrong_key_fails(keypair: Pair, other_keypair: Pair) -> None:
    ct = sm2_encrypt(keypair[1], b"for keypair only")
    with pytest.raises(DecryptionError) as info:
        sm2_decrypt(other_keypair[0], ct)
    assert info.value.code == "crypto.sm2.decrypt_failed"
    assert "解密失败" in info.value.message


def test_empty_plaintext_is_refused(keypair: Pair) -> None:
    with pytest.raises(CryptoError) as info:
        sm2_encrypt(keypair[1], b"")
    assert info.value.code == "crypto.sm2.empty_plaintext"


def test_bad_ciphertext_forms(keypair: Pair) -> None:
    private = keypair[0]
    for bad in (b"\x30\x03\x02\x01\x01", b"\x30", os.urandom(40)):
        with pytest.raises(DecryptionError):
            sm2_decrypt(private, bad, encoding="der")
    with pytest.raises(DecryptionError) as info:
        sm2_ciphertext_der_to_raw(b"\x30\x03\x02\x01\x01")
    assert info.value.code == "crypto.sm2.bad_ciphertext"
    with pytest.raises(DecryptionError) as info:
        sm2_decrypt(private, os.urandom(150))
    assert info.value.code == "crypto.sm2.bad_ciphertext"


def test_bad_encoding_argument(keypair: Pair) -> None:
    private, public = keypair
    for call in (
        lambda: sm2_encrypt(public, b"x", encoding="pem"),
        lambda: sm2_decrypt(private, b"x", encoding="hex"),
        lambda: sm2_sign(private, b"x", encoding="base64"),
        lambda: sm2_verify(public, b"x", b"y", encoding="DER "),
    ):
        with pytest.raises(CryptoError) as info:
            call()
        assert info.value.code == "crypto.sm2.bad_encoding"


# ---------------------------------------------------------------------------------------------
# keys


def test_generated_pems(keypair: Pair) -> None:
    private, public = keypair
    assert private.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert public.startswith(b"-----BEGIN PUBLIC KEY-----\n")
    assert sm2_public_key_from_private(private) == public
    assert len(sm2_key_to_hex(private)) == 64
    assert len(sm2_key_to_hex(public)) == 128
    assert sm2_generate_keypair()[0] != private


def test_hex_round_trip(keypair: Pair) -> None:
    private, public = keypair
    d_hex, xy_hex = sm2_key_to_hex(private), sm2_key_to_hex(public)
    assert sm2_private_pem_from_hex(d_hex) == private
    assert sm2_public_pem_from_hex(xy_hex) == public
    assert sm2_public_pem_from_hex("04" + xy_hex.upper()) == public
    y_parity = int(xy_hex[64:], 16) % 2
    assert sm2_public_pem_from_hex(f"0{2 + y_parity}" + xy_hex[:64]) == public  # compressed


def test_private_hex_forms_and_range(sm2_example: Any, std_keypair: Pair) -> None:
    assert sm2_private_pem_from_hex(" 0x" + sm2_example.private_hex.lower() + "\n") == std_keypair[0]
    short = sm2_private_pem_from_hex("01")  # d = 1 is legal; hex without leading zeros is padded
    assert sm2_key_to_hex(short) == "00" * 31 + "01"
    assert sm2_key_to_hex(sm2_public_key_from_private(short)) == (
        "32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7"
        "bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0"
    )  # 1 * G is the curve's published base point
    for bad in ("00", f"{N - 1:064x}", f"{N:064x}", "ff" * 33, "xyz", "", "abc"):
        with pytest.raises(CryptoError) as info:
            sm2_private_pem_from_hex(bad)
        assert info.value.code == "crypto.sm2.bad_key"
    with pytest.raises(CryptoError) as info:
        sm2_private_pem_from_hex(b"01")  # type: ignore[arg-type]
    assert info.value.code == "crypto.invalid_type"


def test_public_hex_rejects_points_off_the_curve(sm2_example: Any) -> None:
    x, y = sm2_example.public_x, sm2_example.public_y
    bad_y = f"{int(y, 16) ^ 1:064x}"
    for bad in (x + bad_y, "04" + x + bad_y, "05" + x + y, x, "00" * 64, "02" + "ff" * 32):
        with pytest.raises(CryptoError) as info:
            sm2_public_pem_from_hex(bad)
        assert info.value.code == "crypto.sm2.bad_key"


def _foreign_pems() -> list[bytes]:
    p256 = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return [
        p256.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        p256.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    ]


def test_non_sm2_keys_are_refused(keypair: Pair) -> None:
    p256_pub, rsa_pub, p256_priv = _foreign_pems()
    for pub in (p256_pub, rsa_pub):
        with pytest.raises(CryptoError) as info:
            sm2_verify(pub, b"x", b"y")
        assert info.value.code == "crypto.sm2.bad_key"
        with pytest.raises(CryptoError):
            sm2_encrypt(pub, b"x")
    with pytest.raises(CryptoError) as info:
        sm2_sign(p256_priv, b"x")
    assert info.value.code == "crypto.sm2.bad_key"


def test_garbage_and_mismatched_pems(keypair: Pair) -> None:
    private, public = keypair
    garbage = [
        b"",
        b"not a key",
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        public[:40] + public[60:],
    ]
    for pem in garbage:
        with pytest.raises(CryptoError) as info:
            sm2_verify(pem, b"x", b"y")
        assert info.value.code == "crypto.sm2.bad_key"
        assert info.value.field == "public_pem"
    with pytest.raises(CryptoError) as info:
        sm2_verify(private, b"x", b"y")  # a private key where a public one is due
    assert info.value.code == "crypto.sm2.bad_key"
    with pytest.raises(CryptoError) as info:
        sm2_sign(public, b"x")
    assert info.value.code == "crypto.sm2.bad_key"
    with pytest.raises(CryptoError) as info:
        sm2_decrypt(private.replace(b"A", b"B", 3), b"\x04" + bytes(200))
    assert info.value.code == "crypto.sm2.bad_key"
    with pytest.raises(CryptoError) as info:
        sm2_sign(public.decode(), b"x")  # type: ignore[arg-type]
    assert info.value.code == "crypto.invalid_type"
    with pytest.raises(CryptoError) as info:
        sm2_key_to_hex(b"no pem")
    assert info.value.code == "crypto.sm2.bad_key"


def test_encrypted_private_key_is_refused_without_prompting() -> None:
    p256 = ec.generate_private_key(ec.SECP256R1())
    encrypted = p256.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    with pytest.raises(CryptoError) as info:
        sm2_sign(encrypted, b"x")
    assert info.value.code == "crypto.sm2.bad_key"
    assert "encrypted" in info.value.message_en


def test_bad_uid(keypair: Pair) -> None:
    private, public = keypair
    with pytest.raises(CryptoError) as info:
        sm2_sign(private, b"x", uid=b"u" * 8191)
    assert info.value.code == "crypto.sm2.bad_uid"
    with pytest.raises(CryptoError) as info:
        sm2_verify(public, b"x", b"y", uid="1234567812345678")  # type: ignore[arg-type]
    assert info.value.code == "crypto.invalid_type"
    long_uid = b"u" * 8190
    assert sm2_verify(public, b"x", sm2_sign(private, b"x", uid=long_uid), uid=long_uid)


def test_conversions_with_short_coordinates(keypair: Pair) -> None:
    # A curve point whose x has leading zero bytes: DER INTEGERs shrink, raw stays fixed-width.
    x = next(x for x in range(1, 100) if _is_on_curve_x(x))
    y = _decompress(2, x)
    assert _on_curve(x, y)
    c3, c2 = os.urandom(32), b"\x01\x02\x03"
    raw = b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big") + c3 + c2
    der = sm2_ciphertext_raw_to_der(raw)
    assert der[2:5] == bytes([0x02, 0x01, x])  # INTEGER x in one byte
    assert sm2_ciphertext_der_to_raw(der) == raw
    assert sm2_ciphertext_raw_to_der(raw[1:]) == der
    with pytest.raises(DecryptionError) as info:  # well-formed but not ours: C3 fails
        sm2_decrypt(keypair[0], raw)
    assert info.value.code == "crypto.sm2.decrypt_failed"


def _is_on_curve_x(x: int) -> bool:
    try:
        _decompress(2, x)
    except ValueError:
        return False
    return True
