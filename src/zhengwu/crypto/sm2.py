"""SM2 public-key cryptography (GB/T 32918, GM/T 0003) on OpenSSL 3, with GM/T 0009 conventions.

Keys travel as PEM: private keys as unencrypted PKCS#8 (``-----BEGIN PRIVATE KEY-----``), public
keys as SubjectPublicKeyInfo (``-----BEGIN PUBLIC KEY-----``), both on the SM2 recommended curve
(OID 1.2.156.10197.1.301). Parsed keys are cached (bounded LRU per kind), so passing the same PEM
on every call costs one dictionary lookup, not a parse.

Encodings, decided once here:

* Signatures are DER ``SEQUENCE { r INTEGER, s INTEGER }`` (GM/T 0009 ``SM2Signature``), as
  OpenSSL, BouncyCastle and GmSSL produce them. ``encoding="raw"`` gives/takes the 64-byte
  ``r || s`` form instead (what gmssl's ``sign_with_sm3`` returns as hex).
* The signer's distinguishing ID defaults to GM/T 0009's ``1234567812345678``, as gmssl, GmSSL,
  BouncyCastle and Hutool use. OpenSSL 3 on its own signs with an EMPTY ID, so its signatures
  fail elsewhere: we always set the ID explicitly (``uid=b""`` reproduces OpenSSL's default).
* Ciphertexts are in the C1C3C2 order of GB/T 32918.4-2016. The default ``encoding="raw"`` is the
  standard's own byte string ``04 || x1 || y1 || C3 || C2`` (65 + 32 + len(M) bytes), as Hutool,
  BouncyCastle (``Mode.C1C3C2``) and many Chinese systems exchange it. ``encoding="der"`` is the
  GM/T 0009 ``SM2Cipher`` ASN.1 form ``SEQUENCE { x INTEGER, y INTEGER, hash OCTET STRING(32),
  cipherText OCTET STRING }`` that OpenSSL, Tongsuo and GmSSL use. When decrypting raw input the
  leading ``04`` may be absent (gmssl and sm-crypto omit it): which form it is is decided by which
  reading puts C1 on the curve, never by guessing from the first byte.
* Decryption always checks C3 (OpenSSL does): a tampered or truncated ciphertext, or the wrong
  key, raises :class:`~zhengwu.crypto.errors.DecryptionError` (``crypto.sm2.decrypt_failed``).

Legacy C1C2C3 data (the 2010 draft order, still gmssl's default) converts with
:func:`sm2_ciphertext_c1c2c3_to_c1c3c2` before decrypting.
"""

from __future__ import annotations

import base64
import ctypes
import re
from ctypes import byref, c_size_t, c_void_p
from typing import Literal

from zhengwu.crypto import _openssl
from zhengwu.crypto._openssl import PKey, fail
from zhengwu.crypto.errors import BytesLike, CryptoError, DecryptionError, as_bytes, invalid_type
from zhengwu.crypto.sm3 import sm3_hash

#: GM/T 0009-2012 section 10: the user ID to use when the parties agreed on none.
DEFAULT_UID = b"1234567812345678"

Encoding = Literal["der", "raw"]

# The SM2 recommended curve (GB/T 32918.5-2017 / GM/T 0003.5-2012).
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

_FIELD_BYTES = 32
_C3_BYTES = 32
# ENTL is the ID's length in bits in two bytes; OpenSSL stops one short of 65535 // 8.
_MAX_UID_BYTES = 8190
_MAX_DER_SIG = 80  # 72 is the real maximum for a 256-bit curve

# DER prefixes of the fixed-shape SM2 key structures (id-ecPublicKey + the SM2 curve OID).
_SM2_CURVE_OID = bytes.fromhex("06082a811ccf5501822d")
_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d0201") + _SM2_CURVE_OID + bytes.fromhex("034200")

_private_cache = _openssl.KeyCache()
_public_cache = _openssl.KeyCache()


# ----------------------------------------------------------------------------------------------
# errors


def _bad_key(message: str, message_en: str, field: str = "key") -> CryptoError:
    return CryptoError(message, message_en=message_en, code="crypto.sm2.bad_key", field=field)


def _bad_ciphertext(message_en: str) -> DecryptionError:
    return DecryptionError(
        "SM2 密文格式错误或被截断",
        message_en=f"malformed SM2 ciphertext: {message_en}",
        code="crypto.sm2.bad_ciphertext",
        field="ciphertext",
    )


def _bad_signature(message_en: str) -> CryptoError:
    return CryptoError(
        "SM2 签名格式错误",
        message_en=f"malformed SM2 signature: {message_en}",
        code="crypto.sm2.bad_signature",
        field="signature",
    )


class _DerError(ValueError):
    """Internal: a DER structure is malformed (always turned into a CryptoError)."""


# ----------------------------------------------------------------------------------------------
# strict DER, just the INTEGER / OCTET STRING / SEQUENCE subset SM2 needs


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der_tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(content)) + content


def _der_uint(value: int) -> bytes:
    # A leading 0x00 keeps a set top bit from reading as a negative number.
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")
    return _der_tlv(0x02, body)


class _DerReader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos == len(self.data)

    def tlv(self, tag: int) -> bytes:
        d, i = self.data, self.pos
        if i + 2 > len(d) or d[i] != tag:
            raise _DerError(f"expected tag 0x{tag:02x} at offset {i}")
        first = d[i + 1]
        i += 2
        if first < 0x80:
            length = first
        else:
            count = first & 0x7F
            if count == 0 or count > 4 or i + count > len(d):
                raise _DerError("bad length")
            length = int.from_bytes(d[i : i + count], "big")
            i += count
            if length < 0x80 or d[i - count] == 0:
                raise _DerError("length not minimally encoded")
        if i + length > len(d):
            raise _DerError("truncated")
        self.pos = i + length
        return d[i : i + length]

    def uint(self) -> int:
        body = self.tlv(0x02)
        if not body:
            raise _DerError("empty INTEGER")
        if body[0] & 0x80:
            raise _DerError("negative INTEGER")
        if len(body) > 1 and body[0] == 0 and not body[1] & 0x80:
            raise _DerError("INTEGER not minimally encoded")
        return int.from_bytes(body, "big")


def _der_sequence(data: bytes) -> _DerReader:
    outer = _DerReader(data)
    inner = _DerReader(outer.tlv(0x30))
    if not outer.at_end():
        raise _DerError("trailing bytes after the SEQUENCE")
    return inner


# ----------------------------------------------------------------------------------------------
# curve helpers (only cheap checks; all real arithmetic is OpenSSL's)


def _on_curve(x: int, y: int) -> bool:
    return x < P and y < P and (y * y - (x * x * x + A * x + B)) % P == 0


def _decompress(prefix: int, x: int) -> int:
    # P = 3 (mod 4), so a square root is a single exponentiation.
    rhs = (x * x * x + A * x + B) % P
    y = pow(rhs, (P + 1) // 4, P)
    if y * y % P != rhs:
        raise ValueError("x is not on the curve")
    return y if y % 2 == prefix % 2 else P - y


# ----------------------------------------------------------------------------------------------
# keys


def _pem_arg(pem: object, field: str) -> bytes:
    data = as_bytes(pem, field)
    if b"-----BEGIN" not in data:
        raise _bad_key("密钥不是 PEM 格式", "key is not PEM (no -----BEGIN line)", field)
    return data


def _check_sm2(key: PKey, field: str) -> PKey:
    if not key.is_a(b"SM2"):
        raise _bad_key("密钥不是 SM2 密钥（曲线不是 SM2 推荐曲线）", "not an SM2 key", field)
    return key


def _load_private(pem: object, field: str = "private_pem") -> PKey:
    data = _pem_arg(pem, field)
    key = _private_cache.get(data)
    if key is not None:
        return key
    if b"ENCRYPTED" in data:
        raise _bad_key(
            "不支持加密的私钥 PEM，请先解密",
            "encrypted private key PEM is not supported; decrypt it first",
            field,
        )
    parsed = _openssl.read_pem_key(data, private=True)
    if parsed is None:
        raise _bad_key("无法解析 SM2 私钥 PEM", "cannot parse the private key PEM", field)
    key = _check_sm2(parsed, field)
    _private_cache.put(data, key)
    return key


def _load_public(pem: object, field: str = "public_pem") -> PKey:
    data = _pem_arg(pem, field)
    key = _public_cache.get(data)
    if key is not None:
        return key
    parsed = _openssl.read_pem_key(data, private=False)
    if parsed is None:
        raise _bad_key("无法解析 SM2 公钥 PEM", "cannot parse the public key PEM", field)
    key = _check_sm2(parsed, field)
    _public_cache.put(data, key)
    return key


def _public_point(key: PKey) -> bytes:
    """``04 || x || y`` of a loaded key."""
    the = _openssl.lib()
    buf = ctypes.create_string_buffer(1 + 2 * _FIELD_BYTES)
    out_len = c_size_t(0)
    if the.c.EVP_PKEY_get_octet_string_param(key.ptr, b"pub", buf, len(buf), byref(out_len)) != 1:
        fail("crypto.sm2.bad_key", "无法读取 SM2 公钥", "cannot read the SM2 public point")
    point = buf.raw[: out_len.value]
    if len(point) != 1 + 2 * _FIELD_BYTES or point[0] != 4:
        raise _bad_key("SM2 公钥编码异常", "unexpected SM2 public point encoding")
    return point


def _private_scalar(key: PKey) -> bytes:
    the = _openssl.lib()
    bn = c_void_p()
    if the.c.EVP_PKEY_get_bn_param(key.ptr, b"priv", byref(bn)) != 1 or not bn.value:
        fail("crypto.sm2.bad_key", "无法读取 SM2 私钥", "cannot read the SM2 private scalar")
    try:
        buf = ctypes.create_string_buffer(_FIELD_BYTES)
        if the.c.BN_bn2binpad(bn, buf, _FIELD_BYTES) != _FIELD_BYTES:
            fail("crypto.sm2.bad_key", "SM2 私钥长度异常", "SM2 private scalar is too long")
        return buf.raw
    finally:
        the.c.BN_clear_free(bn)


def _armor(der: bytes, label: str) -> bytes:
    b64 = base64.b64encode(der)
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    head = f"-----BEGIN {label}-----\n".encode()
    tail = f"-----END {label}-----\n".encode()
    return head + b"\n".join(lines) + b"\n" + tail


def sm2_generate_keypair() -> tuple[bytes, bytes]:
    """A fresh SM2 key pair: (private PEM, PKCS#8; public PEM, SubjectPublicKeyInfo)."""
    the = _openssl.lib()
    ctx = the.c.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
    if not ctx:
        fail("crypto.sm2.keygen_failed", "SM2 密钥生成失败", "cannot create an SM2 key context")
    try:
        out = c_void_p()
        if the.c.EVP_PKEY_keygen_init(ctx) != 1 or the.c.EVP_PKEY_keygen(ctx, byref(out)) != 1:
            fail("crypto.sm2.keygen_failed", "SM2 密钥生成失败", "SM2 key generation failed")
    finally:
        the.c.EVP_PKEY_CTX_free(ctx)
    key = PKey(out.value or 0)
    return _openssl.write_pem_key(key, private=True), _openssl.write_pem_key(key, private=False)


def sm2_public_key_from_private(private_pem: bytes) -> bytes:
    """The public key PEM (SubjectPublicKeyInfo) that belongs to ``private_pem``."""
    return _openssl.write_pem_key(_load_private(private_pem), private=False)


def _parse_hex(value: object, field: str) -> bytes:
    if not isinstance(value, str):
        raise invalid_type(field, "str (hex)", value)
    text = re.sub(r"\s+", "", value)
    if text[:2].lower() == "0x":
        text = text[2:]
    if not text or len(text) % 2 or not re.fullmatch(r"[0-9a-fA-F]+", text):
        raise _bad_key("十六进制密钥格式错误", "key is not an even-length hex string", field)
    return bytes.fromhex(text)


def sm2_private_pem_from_hex(private_hex: str) -> bytes:
    """PKCS#8 PEM of the private key given as hex (gmssl's form: 64 hex digits of d).

    Shorter hex (a scalar printed without leading zeros) is left-padded. ``d`` must lie in
    [1, n-2] as GB/T 32918.1 requires.
    """
    raw = _parse_hex(private_hex, "private_hex")
    if len(raw) > _FIELD_BYTES:
        raise _bad_key("SM2 私钥应为 32 字节（64 个十六进制字符）", "SM2 private key exceeds 32 bytes")
    d = int.from_bytes(raw, "big")
    if not 1 <= d <= N - 2:
        raise _bad_key("SM2 私钥超出取值范围 [1, n-2]", "SM2 private key is outside [1, n-2]")
    # SEC 1 ECPrivateKey without the public point: OpenSSL derives the point while parsing, but
    # would then also leave it out when writing. So parse once to learn the point, then build the
    # full structure (with [1] publicKey) that every PKCS#8 reader expects.
    version_and_d = bytes.fromhex("020101") + _der_tlv(0x04, d.to_bytes(_FIELD_BYTES, "big"))
    params = _der_tlv(0xA0, _SM2_CURVE_OID)
    bare = _openssl.read_pem_key(
        _armor(_der_tlv(0x30, version_and_d + params), "EC PRIVATE KEY"), private=True
    )
    if bare is None:
        raise _bad_key("无法由十六进制构造 SM2 私钥", "OpenSSL rejected the private key")
    point = _public_point(_check_sm2(bare, "private_hex"))
    public = _der_tlv(0xA1, _der_tlv(0x03, b"\x00" + point))
    full = _der_tlv(0x30, version_and_d + params + public)
    key = _openssl.read_pem_key(_armor(full, "EC PRIVATE KEY"), private=True)
    if key is None:
        raise _bad_key("无法由十六进制构造 SM2 私钥", "OpenSSL rejected the private key")
    return _openssl.write_pem_key(_check_sm2(key, "private_hex"), private=True)


def sm2_public_pem_from_hex(public_hex: str) -> bytes:
    """SubjectPublicKeyInfo PEM of the public key given as hex.

    Accepts gmssl's 128 hex digits ``x || y``, the same with a ``04`` prefix (130 digits), or a
    compressed point (``02``/``03`` and x, 66 digits). The point must be on the SM2 curve.
    """
    raw = _parse_hex(public_hex, "public_hex")
    if len(raw) == 2 * _FIELD_BYTES:
        raw = b"\x04" + raw
    if len(raw) == 1 + _FIELD_BYTES and raw[0] in (2, 3):
        x = int.from_bytes(raw[1:], "big")
        try:
            y = _decompress(raw[0], x)
        except ValueError:
            raise _bad_key("SM2 公钥不在曲线上", "SM2 public point is not on the curve") from None
        raw = b"\x04" + raw[1:] + y.to_bytes(_FIELD_BYTES, "big")
    if len(raw) != 1 + 2 * _FIELD_BYTES or raw[0] != 4:
        raise _bad_key(
            "SM2 公钥应为 128 个十六进制字符（x||y），可带 04 前缀",
            "SM2 public key must be 128 hex digits x||y, optionally prefixed by 04",
        )
    x = int.from_bytes(raw[1:33], "big")
    y = int.from_bytes(raw[33:], "big")
    if not _on_curve(x, y):
        raise _bad_key("SM2 公钥不在曲线上", "SM2 public point is not on the curve")
    key = _openssl.read_pem_key(_armor(_SPKI_PREFIX + raw, "PUBLIC KEY"), private=False)
    if key is None:
        raise _bad_key("无法由十六进制构造 SM2 公钥", "OpenSSL rejected the public key")
    return _openssl.write_pem_key(_check_sm2(key, "public_hex"), private=False)


def sm2_key_to_hex(pem: bytes) -> str:
    """The gmssl-style hex of a key PEM: 64 hex digits of d for a private key, 128 of x||y for a
    public key (lowercase, no ``04`` prefix)."""
    data = _pem_arg(pem, "pem")
    if b"PRIVATE KEY" in data:
        return _private_scalar(_load_private(data, "pem")).hex()
    return _public_point(_load_public(data, "pem"))[1:].hex()


def sm2_za(public_pem: bytes, *, uid: BytesLike = DEFAULT_UID) -> bytes:
    """Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA) of GB/T 32918.2, 32 bytes.

    Signing hashes ``Z_A || M``; this is for systems that sign the digest elsewhere (a USB key, a
    cipher machine) and for checking a counterpart's ID handling.
    """
    uid_b = _check_uid(uid)
    point = _public_point(_load_public(public_pem))
    fixed = b"".join(v.to_bytes(_FIELD_BYTES, "big") for v in (A, B, GX, GY))
    return sm3_hash((len(uid_b) * 8).to_bytes(2, "big") + uid_b + fixed + point[1:])


def clear_key_cache() -> None:
    """Forget every parsed key (for tests, or after rotating keys)."""
    _private_cache.clear()
    _public_cache.clear()


# ----------------------------------------------------------------------------------------------
# signatures


def _check_uid(uid: object) -> bytes:
    uid_b = as_bytes(uid, "uid")
    if len(uid_b) > _MAX_UID_BYTES:
        raise CryptoError(
            f"SM2 用户标识过长（最多 {_MAX_UID_BYTES} 字节）",
            message_en=f"SM2 user ID exceeds {_MAX_UID_BYTES} bytes",
            code="crypto.sm2.bad_uid",
            field="uid",
        )
    return uid_b


def _check_encoding(encoding: object) -> str:
    if encoding not in ("der", "raw"):
        raise CryptoError(
            f"不支持的编码：{encoding!r}（可用 der、raw）",
            message_en=f"unsupported encoding {encoding!r} (use 'der' or 'raw')",
            code="crypto.sm2.bad_encoding",
            field="encoding",
        )
    return str(encoding)


def sm2_signature_der_to_raw(signature: BytesLike) -> bytes:
    """DER ``SEQUENCE { r, s }`` to the 64-byte ``r || s`` form."""
    sig = as_bytes(signature, "signature")
    try:
        seq = _der_sequence(sig)
        r, s = seq.uint(), seq.uint()
        if not seq.at_end():
            raise _DerError("trailing bytes inside the SEQUENCE")
    except _DerError as exc:
        raise _bad_signature(str(exc)) from None
    if not (0 < r < N and 0 < s < N):
        raise _bad_signature("r or s out of range")
    return r.to_bytes(_FIELD_BYTES, "big") + s.to_bytes(_FIELD_BYTES, "big")


def sm2_signature_raw_to_der(signature: BytesLike) -> bytes:
    """The 64-byte ``r || s`` form to DER ``SEQUENCE { r, s }``."""
    sig = as_bytes(signature, "signature")
    if len(sig) != 2 * _FIELD_BYTES:
        raise _bad_signature(f"raw form must be 64 bytes, got {len(sig)}")
    r = int.from_bytes(sig[:_FIELD_BYTES], "big")
    s = int.from_bytes(sig[_FIELD_BYTES:], "big")
    if not (0 < r < N and 0 < s < N):
        raise _bad_signature("r or s out of range")
    return _der_tlv(0x30, _der_uint(r) + _der_uint(s))


def _digest_ctx(the: _openssl.Lib, key: PKey, uid: bytes) -> tuple[int, int]:
    """A new (EVP_MD_CTX, EVP_PKEY_CTX) pair with the distinguishing ID set; caller frees both.

    The pkey ctx is handed to the md ctx with EVP_MD_CTX_set_pkey_ctx, which does NOT transfer
    ownership, so both are freed by the caller (md ctx first).
    """
    mctx = the.c.EVP_MD_CTX_new()
    pctx = the.c.EVP_PKEY_CTX_new_from_pkey(None, key.ptr, None)
    if not mctx or not pctx:
        the.c.EVP_MD_CTX_free(mctx)
        the.c.EVP_PKEY_CTX_free(pctx)
        fail("crypto.openssl.failed", "OpenSSL 内存分配失败", "OpenSSL context allocation failed")
    if the.c.EVP_PKEY_CTX_set1_id(pctx, uid, len(uid)) != 1:
        the.c.EVP_MD_CTX_free(mctx)
        the.c.EVP_PKEY_CTX_free(pctx)
        fail("crypto.sm2.bad_uid", "无法设置 SM2 用户标识", "OpenSSL refused the SM2 user ID", field="uid")
    the.c.EVP_MD_CTX_set_pkey_ctx(mctx, pctx)
    return mctx, pctx


def sm2_sign(
    private_pem: bytes,
    data: BytesLike,
    *,
    uid: BytesLike = DEFAULT_UID,
    encoding: Encoding | str = "der",
) -> bytes:
    """Sign ``data`` with SM2 and SM3 (e = SM3(Z_A || data), Z_A over ``uid``).

    Returns the DER signature, or the 64-byte ``r || s`` with ``encoding="raw"``. Signatures are
    randomised: signing the same data twice gives different, equally valid signatures.
    """
    key = _load_private(private_pem)
    msg = as_bytes(data, "data")
    uid_b = _check_uid(uid)
    enc = _check_encoding(encoding)
    the = _openssl.lib()
    mctx, pctx = _digest_ctx(the, key, uid_b)
    try:
        if the.c.EVP_DigestSignInit(mctx, None, the.sm3_md, None, key.ptr) != 1:
            fail("crypto.sm2.sign_failed", "SM2 签名失败", "EVP_DigestSignInit failed")
        buf = ctypes.create_string_buffer(_MAX_DER_SIG)
        sig_len = c_size_t(_MAX_DER_SIG)
        if the.c.EVP_DigestSign(mctx, buf, byref(sig_len), msg, len(msg)) != 1:
            fail("crypto.sm2.sign_failed", "SM2 签名失败", "EVP_DigestSign failed")
    finally:
        the.c.EVP_MD_CTX_free(mctx)
        the.c.EVP_PKEY_CTX_free(pctx)
    der = buf.raw[: sig_len.value]
    return sm2_signature_der_to_raw(der) if enc == "raw" else der


def sm2_verify(
    public_pem: bytes,
    data: BytesLike,
    signature: BytesLike,
    *,
    uid: BytesLike = DEFAULT_UID,
    encoding: Encoding | str = "der",
) -> bool:
    """True when ``signature`` is a valid SM2 signature of ``data`` by ``public_pem``'s owner.

    False for any bad signature, including a malformed one, one over other data, or one made with
    another ``uid``. A malformed or non-SM2 key is not a "bad signature": it raises
    :class:`~zhengwu.crypto.errors.CryptoError` (``crypto.sm2.bad_key``).
    """
    key = _load_public(public_pem)
    msg = as_bytes(data, "data")
    sig = as_bytes(signature, "signature")
    uid_b = _check_uid(uid)
    if _check_encoding(encoding) == "raw":
        try:
            sig = sm2_signature_raw_to_der(sig)
        except CryptoError:
            return False
    if not sig or len(sig) > _MAX_DER_SIG:
        return False
    the = _openssl.lib()
    mctx, pctx = _digest_ctx(the, key, uid_b)
    try:
        if the.c.EVP_DigestVerifyInit(mctx, None, the.sm3_md, None, key.ptr) != 1:
            fail("crypto.sm2.verify_failed", "SM2 验签初始化失败", "EVP_DigestVerifyInit failed")
        ok = the.c.EVP_DigestVerify(mctx, sig, len(sig), msg, len(msg))
    finally:
        the.c.EVP_MD_CTX_free(mctx)
        the.c.EVP_PKEY_CTX_free(pctx)
    if ok != 1:
        # A bad signature leaves entries on the queue; drop them so they cannot surface later.
        _openssl.clear_errors_of(the)
        return False
    return True


# ----------------------------------------------------------------------------------------------
# encryption


def _split_raw(raw: bytes) -> tuple[int, int, bytes, bytes]:
    """(x1, y1, C3, C2) of a raw C1C3C2 ciphertext, with or without the 04 before C1."""
    n = _FIELD_BYTES
    for offset in (1, 0):
        if offset and raw[:1] != b"\x04":
            continue
        if len(raw) < offset + 2 * n + _C3_BYTES + 1:
            continue
        x = int.from_bytes(raw[offset : offset + n], "big")
        y = int.from_bytes(raw[offset + n : offset + 2 * n], "big")
        if _on_curve(x, y):
            rest = raw[offset + 2 * n :]
            return x, y, rest[:_C3_BYTES], rest[_C3_BYTES:]
    raise _bad_ciphertext("C1 is not a point on the SM2 curve, or the ciphertext is too short")


def sm2_ciphertext_raw_to_der(ciphertext: BytesLike) -> bytes:
    """Raw ``[04] || x1 || y1 || C3 || C2`` to GM/T 0009 DER ``SM2Cipher`` (C1C3C2 both)."""
    x, y, c3, c2 = _split_raw(as_bytes(ciphertext, "ciphertext"))
    return _der_tlv(0x30, _der_uint(x) + _der_uint(y) + _der_tlv(0x04, c3) + _der_tlv(0x04, c2))


def sm2_ciphertext_der_to_raw(ciphertext: BytesLike) -> bytes:
    """GM/T 0009 DER ``SM2Cipher`` to raw ``04 || x1 || y1 || C3 || C2``."""
    data = as_bytes(ciphertext, "ciphertext")
    try:
        seq = _der_sequence(data)
        x, y = seq.uint(), seq.uint()
        c3, c2 = seq.tlv(0x04), seq.tlv(0x04)
        if not seq.at_end():
            raise _DerError("trailing bytes inside the SEQUENCE")
    except _DerError as exc:
        raise _bad_ciphertext(str(exc)) from None
    if len(c3) != _C3_BYTES or not c2 or not _on_curve(x, y):
        raise _bad_ciphertext("bad C1, C3 or C2")
    return b"\x04" + x.to_bytes(_FIELD_BYTES, "big") + y.to_bytes(_FIELD_BYTES, "big") + c3 + c2


def sm2_ciphertext_c1c2c3_to_c1c3c2(ciphertext: BytesLike) -> bytes:
    """Reorder a raw legacy C1C2C3 ciphertext (gmssl ``mode=0``, old BouncyCastle) to raw C1C3C2.

    The 04 before C1 may be absent on input; the output always has it.
    """
    data = as_bytes(ciphertext, "ciphertext")
    n = _FIELD_BYTES
    for offset in (1, 0):
        if (offset and data[:1] != b"\x04") or len(data) < offset + 2 * n + _C3_BYTES + 1:
            continue
        c1 = data[offset : offset + 2 * n]
        if _on_curve(int.from_bytes(c1[:n], "big"), int.from_bytes(c1[n:], "big")):
            body = data[offset + 2 * n :]
            return b"\x04" + c1 + body[-_C3_BYTES:] + body[:-_C3_BYTES]
    raise _bad_ciphertext("C1 is not a point on the SM2 curve, or the ciphertext is too short")


def sm2_ciphertext_c1c3c2_to_c1c2c3(ciphertext: BytesLike) -> bytes:
    """Reorder a raw C1C3C2 ciphertext to the legacy C1C2C3 order (04-prefixed), for old peers."""
    x, y, c3, c2 = _split_raw(as_bytes(ciphertext, "ciphertext"))
    return b"\x04" + x.to_bytes(_FIELD_BYTES, "big") + y.to_bytes(_FIELD_BYTES, "big") + c2 + c3


def _pkey_crypt(key: PKey, data: bytes, *, encrypt: bool) -> bytes:
    the = _openssl.lib()
    code = "crypto.sm2.encrypt_failed" if encrypt else "crypto.sm2.decrypt_failed"
    cls = CryptoError if encrypt else DecryptionError
    msg_zh = "SM2 加密失败" if encrypt else "SM2 解密失败：密文被篡改、被截断或密钥错误"
    msg_en = "SM2 encryption failed" if encrypt else "SM2 decryption failed: tampered, truncated or wrong key"
    init = the.c.EVP_PKEY_encrypt_init if encrypt else the.c.EVP_PKEY_decrypt_init
    op = the.c.EVP_PKEY_encrypt if encrypt else the.c.EVP_PKEY_decrypt
    ctx = the.c.EVP_PKEY_CTX_new_from_pkey(None, key.ptr, None)
    if not ctx:
        fail("crypto.openssl.failed", "OpenSSL 内存分配失败", "OpenSSL context allocation failed")
    try:
        out_len = c_size_t(0)
        if init(ctx) != 1 or op(ctx, None, byref(out_len), data, len(data)) != 1:
            fail(code, msg_zh, msg_en, field=None if encrypt else "ciphertext", cls=cls)
        buf = ctypes.create_string_buffer(out_len.value)
        if op(ctx, buf, byref(out_len), data, len(data)) != 1:
            fail(code, msg_zh, msg_en, field=None if encrypt else "ciphertext", cls=cls)
        return buf.raw[: out_len.value]
    finally:
        the.c.EVP_PKEY_CTX_free(ctx)


def sm2_encrypt(public_pem: bytes, plaintext: BytesLike, *, encoding: Encoding | str = "raw") -> bytes:
    """Encrypt ``plaintext`` (not empty) to ``public_pem`` with SM2, C1C3C2 order.

    ``encoding="raw"`` (default): ``04 || x1 || y1 || C3 || C2``, 97 bytes plus the plaintext.
    ``encoding="der"``: GM/T 0009 ``SM2Cipher``. SM2 encryption is for short secrets (keys,
    tokens); encrypt bulk data with SM4 and the SM4 key with SM2.
    """
    key = _load_public(public_pem)
    data = as_bytes(plaintext, "plaintext")
    enc = _check_encoding(encoding)
    if not data:
        raise CryptoError(
            "SM2 明文不能为空",
            message_en="SM2 cannot encrypt an empty plaintext",
            code="crypto.sm2.empty_plaintext",
            field="plaintext",
        )
    der = _pkey_crypt(key, data, encrypt=True)
    return sm2_ciphertext_der_to_raw(der) if enc == "raw" else der


def sm2_decrypt(private_pem: bytes, ciphertext: BytesLike, *, encoding: Encoding | str = "raw") -> bytes:
    """Decrypt an SM2 C1C3C2 ciphertext with ``private_pem``; C3 is always checked.

    ``encoding`` names the input form as for :func:`sm2_encrypt`; raw input may omit the ``04``.
    Any tampering, truncation or the wrong key raises
    :class:`~zhengwu.crypto.errors.DecryptionError`.
    """
    key = _load_private(private_pem)
    data = as_bytes(ciphertext, "ciphertext")
    enc = _check_encoding(encoding)
    der = sm2_ciphertext_raw_to_der(data) if enc == "raw" else data
    return _pkey_crypt(key, der, encrypt=False)
