"""SM4 block cipher (GB/T 32907-2016, GM/T 0002-2012) in GCM and CBC modes.

Two framings, both self-contained byte strings:

* ``gcm`` (the default, for data at rest and anything new): ``nonce(12) || ciphertext || tag(16)``.
  Authenticated: a flipped bit, a truncation, the wrong key or the wrong ``aad`` raises
  :class:`~zhengwu.crypto.errors.DecryptionError` (``crypto.sm4.auth_failed``); a wrong plaintext is
  never returned. GCM is the SM4-GCM of RFC 8998.
* ``cbc`` (for interoperability with systems that only speak CBC): ``iv(16) || ciphertext`` with
  PKCS#7 padding. CBC is NOT authenticated: a wrong key or tampering is caught only when it spoils
  the padding, which a random change does with probability about 255/256. Whoever needs integrity
  with CBC must add a MAC (encrypt-then-MAC with :func:`~zhengwu.crypto.sm3.sm3_hmac`) or use GCM.

The cipher itself is OpenSSL's, through the ``cryptography`` package.
"""

from __future__ import annotations

import os
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from zhengwu.crypto.errors import BytesLike, CryptoError, DecryptionError, as_bytes, invalid_type

KEY_SIZE = 16
BLOCK_SIZE = 16
GCM_NONCE_SIZE = 12
GCM_TAG_SIZE = 16
CBC_IV_SIZE = 16

Sm4Mode = Literal["gcm", "cbc"]


def _check_key(key: object) -> bytes:
    key_b = as_bytes(key, "key")
    if len(key_b) != KEY_SIZE:
        raise CryptoError(
            f"SM4 密钥长度必须为 {KEY_SIZE} 字节，实际为 {len(key_b)} 字节",
            message_en=f"SM4 key must be {KEY_SIZE} bytes, got {len(key_b)}",
            code="crypto.sm4.bad_key_size",
            field="key",
        )
    return key_b


def _check_mode(mode: object) -> str:
    if not isinstance(mode, str):
        raise invalid_type("mode", "str", mode)
    m = mode.lower()
    if m not in ("gcm", "cbc"):
        raise CryptoError(
            f"不支持的 SM4 工作模式：{mode}（可用 gcm、cbc）",
            message_en=f"unsupported SM4 mode {mode!r} (use 'gcm' or 'cbc')",
            code="crypto.sm4.bad_mode",
            field="mode",
        )
    return m


def _bad_iv(expected: int, got: int, mode: str) -> CryptoError:
    return CryptoError(
        f"SM4-{mode.upper()} 的 IV 长度必须为 {expected} 字节，实际为 {got} 字节",
        message_en=f"SM4-{mode.upper()} IV must be {expected} bytes, got {got}",
        code="crypto.sm4.bad_iv",
        field="iv",
    )


def _aad_with_cbc() -> CryptoError:
    return CryptoError(
        "CBC 模式不认证数据，不能使用附加认证数据（aad）；请改用 GCM",
        message_en="CBC mode does not authenticate, so it takes no aad; use GCM",
        code="crypto.sm4.aad_unsupported",
        field="aad",
    )


def sm4_encrypt(
    key: BytesLike,
    plaintext: BytesLike,
    *,
    mode: Sm4Mode | str = "gcm",
    iv: BytesLike | None = None,
    aad: BytesLike | None = None,
) -> bytes:
    """Encrypt ``plaintext`` with the 16-byte SM4 ``key``.

    ``mode="gcm"`` returns ``nonce(12) || ciphertext || tag(16)``; ``aad`` (additional data) is
    authenticated but not encrypted and must be given again to decrypt. ``mode="cbc"`` returns
    ``iv(16) || ciphertext`` with PKCS#7 padding. ``iv`` is random unless given; give one only to
    reproduce a known vector: a GCM nonce reused under the same key destroys its security.
    """
    key_b = _check_key(key)
    data = as_bytes(plaintext, "plaintext")
    m = _check_mode(mode)
    if m == "gcm":
        nonce = os.urandom(GCM_NONCE_SIZE) if iv is None else as_bytes(iv, "iv")
        if len(nonce) != GCM_NONCE_SIZE:
            raise _bad_iv(GCM_NONCE_SIZE, len(nonce), m)
        enc = Cipher(algorithms.SM4(key_b), modes.GCM(nonce)).encryptor()
        if aad is not None:
            enc.authenticate_additional_data(as_bytes(aad, "aad"))
        body = enc.update(data) + enc.finalize()
        return nonce + body + enc.tag
    if aad is not None:
        raise _aad_with_cbc()
    iv_b = os.urandom(CBC_IV_SIZE) if iv is None else as_bytes(iv, "iv")
    if len(iv_b) != CBC_IV_SIZE:
        raise _bad_iv(CBC_IV_SIZE, len(iv_b), m)
    padder = padding.PKCS7(BLOCK_SIZE * 8).padder()
    padded = padder.update(data) + padder.finalize()
    enc_cbc = Cipher(algorithms.SM4(key_b), modes.CBC(iv_b)).encryptor()
    return iv_b + enc_cbc.update(padded) + enc_cbc.finalize()


def sm4_decrypt(
    key: BytesLike,
    ciphertext: BytesLike,
    *,
    mode: Sm4Mode | str = "gcm",
    aad: BytesLike | None = None,
) -> bytes:
    """Decrypt what :func:`sm4_encrypt` produced with the same ``key``, ``mode`` (and ``aad``).

    GCM: any tampering, truncation, wrong key or wrong ``aad`` raises
    :class:`~zhengwu.crypto.errors.DecryptionError` with code ``crypto.sm4.auth_failed``.
    CBC: a length that is not whole blocks raises ``crypto.sm4.bad_ciphertext``; bad padding
    (usually the wrong key or tampering, but CBC cannot tell for sure) raises
    ``crypto.sm4.bad_padding``.
    """
    key_b = _check_key(key)
    data = as_bytes(ciphertext, "ciphertext")
    m = _check_mode(mode)
    if m == "gcm":
        if len(data) < GCM_NONCE_SIZE + GCM_TAG_SIZE:
            raise DecryptionError(
                "SM4-GCM 密文过短（被截断或格式错误）",
                message_en=(
                    f"SM4-GCM ciphertext too short: {len(data)} bytes, "
                    f"at least {GCM_NONCE_SIZE + GCM_TAG_SIZE} needed"
                ),
                code="crypto.sm4.bad_ciphertext",
                field="ciphertext",
            )
        nonce = data[:GCM_NONCE_SIZE]
        tag = data[-GCM_TAG_SIZE:]
        body = data[GCM_NONCE_SIZE:-GCM_TAG_SIZE]
        dec = Cipher(algorithms.SM4(key_b), modes.GCM(nonce, tag)).decryptor()
        if aad is not None:
            dec.authenticate_additional_data(as_bytes(aad, "aad"))
        out = dec.update(body)
        try:
            return out + dec.finalize()
        except InvalidTag:
            raise DecryptionError(
                "SM4-GCM 认证失败：密文或附加数据被篡改，或密钥错误",
                message_en="SM4-GCM authentication failed: tampered ciphertext or aad, or wrong key",
                code="crypto.sm4.auth_failed",
                field="ciphertext",
            ) from None
    if aad is not None:
        raise _aad_with_cbc()
    if len(data) < CBC_IV_SIZE + BLOCK_SIZE or (len(data) - CBC_IV_SIZE) % BLOCK_SIZE:
        raise DecryptionError(
            "SM4-CBC 密文长度错误（应为 16 字节 IV 加若干整 16 字节分组）",
            message_en=(
                f"SM4-CBC ciphertext of {len(data)} bytes is not a 16-byte IV plus whole 16-byte blocks"
            ),
            code="crypto.sm4.bad_ciphertext",
            field="ciphertext",
        )
    dec_cbc = Cipher(algorithms.SM4(key_b), modes.CBC(data[:CBC_IV_SIZE])).decryptor()
    padded = dec_cbc.update(data[CBC_IV_SIZE:]) + dec_cbc.finalize()
    unpadder = padding.PKCS7(BLOCK_SIZE * 8).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise DecryptionError(
            "SM4-CBC 填充错误：密钥错误或密文被篡改",
            message_en="SM4-CBC padding is invalid: wrong key or tampered ciphertext",
            code="crypto.sm4.bad_padding",
            field="ciphertext",
        ) from None
