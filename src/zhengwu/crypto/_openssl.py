"""The ctypes binding to the machine's OpenSSL 3 libcrypto, for SM2.

Why ctypes and the system library: the ``cryptography`` package has SM3 and SM4 but no SM2 curve,
and the OpenSSL it bundles is linked into its own extension, out of reach. Python's ``hashlib`` and
``ssl`` already load the system ``libcrypto.so.3``, so binding it adds no new native code.

Rules this module keeps:

* Every prototype is declared (``argtypes``/``restype``): without them ctypes truncates 64-bit
  pointers to C ints.
* Every object OpenSSL allocates is freed on every path (``try``/``finally``). Parsed keys live in
  :class:`PKey`, which frees its ``EVP_PKEY`` when the last Python reference goes, so a key that a
  thread is using is never freed under it by a cache eviction in another thread.
* OpenSSL's error queue (per OS thread) is drained after a failure and its text goes into the
  raised error's ``details``; it is also cleared after a failed verification, so stale entries never
  leak into a later, unrelated call.
* ctypes releases the GIL during each C call, so SM2 work in several threads runs in parallel.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import threading
from collections import OrderedDict
from ctypes import POINTER, byref, c_char_p, c_int, c_long, c_size_t, c_ulong, c_void_p
from typing import Any, NoReturn

from zhengwu.crypto.errors import CryptoError, CryptoUnavailableError

# BIO_ctrl command behind the BIO_get_mem_data() macro.
_BIO_CTRL_INFO = 3
_OPENSSL_VERSION_TEXT = 0
_MIN_VERSION = 0x30000000

# int (*pem_password_cb)(char *buf, int size, int rwflag, void *u)
_PEM_PASSWORD_CB = ctypes.CFUNCTYPE(c_int, c_void_p, c_int, c_int, c_void_p)


def _no_password(_buf: int | None, _size: int, _rwflag: int, _u: int | None) -> int:
    # Refuse to supply a pass phrase. Without a callback OpenSSL's default one would prompt on the
    # controlling terminal when handed an encrypted key: a server must never block on that.
    return -1


_NO_PASSWORD = _PEM_PASSWORD_CB(_no_password)

# name: (restype, argtypes)
_PROTOTYPES: dict[str, tuple[Any, list[Any]]] = {
    "OpenSSL_version_num": (c_ulong, []),
    "OpenSSL_version": (c_char_p, [c_int]),
    "ERR_get_error": (c_ulong, []),
    "ERR_error_string_n": (None, [c_ulong, c_char_p, c_size_t]),
    "ERR_clear_error": (None, []),
    "BIO_new_mem_buf": (c_void_p, [c_char_p, c_int]),
    "BIO_s_mem": (c_void_p, []),
    "BIO_new": (c_void_p, [c_void_p]),
    "BIO_free": (c_int, [c_void_p]),
    "BIO_ctrl": (c_long, [c_void_p, c_int, c_long, c_void_p]),
    "PEM_read_bio_PrivateKey": (c_void_p, [c_void_p, c_void_p, _PEM_PASSWORD_CB, c_void_p]),
    "PEM_read_bio_PUBKEY": (c_void_p, [c_void_p, c_void_p, _PEM_PASSWORD_CB, c_void_p]),
    "PEM_write_bio_PKCS8PrivateKey": (
        c_int,
        [c_void_p, c_void_p, c_void_p, c_char_p, c_int, c_void_p, c_void_p],
    ),
    "PEM_write_bio_PUBKEY": (c_int, [c_void_p, c_void_p]),
    "EVP_PKEY_free": (None, [c_void_p]),
    "EVP_PKEY_is_a": (c_int, [c_void_p, c_char_p]),
    "EVP_PKEY_get_bn_param": (c_int, [c_void_p, c_char_p, POINTER(c_void_p)]),
    "EVP_PKEY_get_octet_string_param": (
        c_int,
        [c_void_p, c_char_p, c_char_p, c_size_t, POINTER(c_size_t)],
    ),
    "BN_bn2binpad": (c_int, [c_void_p, c_char_p, c_int]),
    "BN_clear_free": (None, [c_void_p]),
    "EVP_PKEY_CTX_new_from_name": (c_void_p, [c_void_p, c_char_p, c_char_p]),
    "EVP_PKEY_CTX_new_from_pkey": (c_void_p, [c_void_p, c_void_p, c_char_p]),
    "EVP_PKEY_CTX_free": (None, [c_void_p]),
    "EVP_PKEY_CTX_set1_id": (c_int, [c_void_p, c_char_p, c_int]),
    "EVP_PKEY_keygen_init": (c_int, [c_void_p]),
    "EVP_PKEY_keygen": (c_int, [c_void_p, POINTER(c_void_p)]),
    "EVP_PKEY_encrypt_init": (c_int, [c_void_p]),
    "EVP_PKEY_encrypt": (c_int, [c_void_p, c_char_p, POINTER(c_size_t), c_char_p, c_size_t]),
    "EVP_PKEY_decrypt_init": (c_int, [c_void_p]),
    "EVP_PKEY_decrypt": (c_int, [c_void_p, c_char_p, POINTER(c_size_t), c_char_p, c_size_t]),
    "EVP_MD_fetch": (c_void_p, [c_void_p, c_char_p, c_char_p]),
    "EVP_MD_CTX_new": (c_void_p, []),
    "EVP_MD_CTX_free": (None, [c_void_p]),
    "EVP_MD_CTX_set_pkey_ctx": (None, [c_void_p, c_void_p]),
    "EVP_DigestSignInit": (c_int, [c_void_p, c_void_p, c_void_p, c_void_p, c_void_p]),
    "EVP_DigestSign": (c_int, [c_void_p, c_char_p, POINTER(c_size_t), c_char_p, c_size_t]),
    "EVP_DigestVerifyInit": (c_int, [c_void_p, c_void_p, c_void_p, c_void_p, c_void_p]),
    "EVP_DigestVerify": (c_int, [c_void_p, c_char_p, c_size_t, c_char_p, c_size_t]),
}


class Lib:
    """libcrypto with its prototypes declared, plus the SM3 digest fetched once."""

    def __init__(self, cdll: ctypes.CDLL) -> None:
        for name, (restype, argtypes) in _PROTOTYPES.items():
            fn = getattr(cdll, name)
            fn.restype = restype
            fn.argtypes = argtypes
        self.c = cdll
        self.version_num = int(cdll.OpenSSL_version_num())
        raw_version = cdll.OpenSSL_version(_OPENSSL_VERSION_TEXT)
        self.version = raw_version.decode("ascii", "replace") if raw_version else "OpenSSL (unknown)"
        # Fetched once and kept for the life of the process: an implicit fetch per signature
        # (EVP_sm3()) costs a method-store lookup each time. EVP_MD objects are thread-safe.
        md = cdll.EVP_MD_fetch(None, b"SM3", None)
        if not md:
            clear_errors_of(self)
            raise CryptoUnavailableError(
                "本机 OpenSSL 不支持 SM3 算法",
                message_en=f"{self.version} has no SM3 digest",
            )
        self.sm3_md: int = md


_lib: Lib | None = None
_lib_lock = threading.Lock()


def _candidate_names() -> list[str]:
    names: list[str] = []
    found = ctypes.util.find_library("crypto")
    if found:
        names.append(found)
    names.extend(["libcrypto.so.3", "libcrypto.3.dylib"])
    return names


def lib() -> Lib:
    """The loaded libcrypto (loaded on first use); :class:`CryptoUnavailableError` if it cannot be."""
    global _lib
    if _lib is not None:
        return _lib
    with _lib_lock:
        if _lib is not None:
            return _lib
        errors: list[str] = []
        for name in _candidate_names():
            try:
                cdll = ctypes.CDLL(name)
            except OSError as exc:
                errors.append(f"{name}: {exc}")
                continue
            try:
                loaded = Lib(cdll)
            except AttributeError as exc:  # a symbol is missing: not OpenSSL 3
                errors.append(f"{name}: {exc}")
                continue
            if loaded.version_num < _MIN_VERSION:
                errors.append(f"{name}: {loaded.version} is older than 3.0")
                continue
            _lib = loaded
            return loaded
        raise CryptoUnavailableError(
            "无法加载 OpenSSL 3 的 libcrypto，SM2 不可用",
            message_en="cannot load OpenSSL 3 libcrypto; SM2 is unavailable",
            details={"tried": errors},
        )


def clear_errors_of(the_lib: Lib) -> list[str]:
    """Empty this thread's OpenSSL error queue and return its entries as text (oldest first)."""
    out: list[str] = []
    buf = ctypes.create_string_buffer(256)
    # Bounded: a corrupt queue must not spin forever.
    for _ in range(64):
        code = the_lib.c.ERR_get_error()
        if not code:
            break
        the_lib.c.ERR_error_string_n(code, buf, len(buf))
        out.append(buf.value.decode("ascii", "replace"))
    the_lib.c.ERR_clear_error()
    return out


def clear_errors() -> list[str]:
    """:func:`clear_errors_of` the loaded library."""
    return clear_errors_of(lib())


def fail(
    code: str,
    message: str,
    message_en: str,
    *,
    field: str | None = None,
    cls: type[CryptoError] = CryptoError,
) -> NoReturn:
    """Raise ``cls`` with OpenSSL's queued error text in ``details['openssl']`` (queue cleared)."""
    queued = clear_errors()
    details: dict[str, Any] = {"openssl": queued} if queued else {}
    raise cls(message, message_en=message_en, code=code, field=field, details=details)


class PKey:
    """Owner of one ``EVP_PKEY*``; frees it when garbage-collected."""

    __slots__ = ("ptr",)

    def __init__(self, ptr: int) -> None:
        self.ptr = ptr

    def __del__(self) -> None:
        ptr, self.ptr = self.ptr, 0
        if ptr and _lib is not None:
            # At interpreter shutdown ctypes may already be torn down; leaking then is harmless.
            with contextlib.suppress(Exception):
                _lib.c.EVP_PKEY_free(ptr)

    def is_a(self, name: bytes) -> bool:
        """Whether OpenSSL considers this key of type ``name`` (e.g. ``b"SM2"``)."""
        return bool(lib().c.EVP_PKEY_is_a(self.ptr, name))


def read_pem_key(pem: bytes, *, private: bool) -> PKey | None:
    """Parse one PEM key with OpenSSL; None (error queue cleared) when OpenSSL refuses it."""
    the = lib()
    bio = the.c.BIO_new_mem_buf(pem, len(pem))
    if not bio:
        fail("crypto.openssl.failed", "OpenSSL 内存分配失败", "OpenSSL BIO allocation failed")
    try:
        reader = the.c.PEM_read_bio_PrivateKey if private else the.c.PEM_read_bio_PUBKEY
        ptr = reader(bio, None, _NO_PASSWORD, None)
    finally:
        the.c.BIO_free(bio)
    if not ptr:
        clear_errors_of(the)
        return None
    return PKey(ptr)


def write_pem_key(key: PKey, *, private: bool) -> bytes:
    """PEM of ``key``: PKCS#8 ``PRIVATE KEY`` (unencrypted) or SubjectPublicKeyInfo ``PUBLIC KEY``."""
    the = lib()
    bio = the.c.BIO_new(the.c.BIO_s_mem())
    if not bio:
        fail("crypto.openssl.failed", "OpenSSL 内存分配失败", "OpenSSL BIO allocation failed")
    try:
        if private:
            ok = the.c.PEM_write_bio_PKCS8PrivateKey(bio, key.ptr, None, None, 0, None, None)
        else:
            ok = the.c.PEM_write_bio_PUBKEY(bio, key.ptr)
        if ok != 1:
            fail("crypto.openssl.failed", "密钥导出失败", "OpenSSL could not write the key as PEM")
        data = c_char_p()
        length = int(the.c.BIO_ctrl(bio, _BIO_CTRL_INFO, 0, byref(data)))
        return ctypes.string_at(data, length)
    finally:
        the.c.BIO_free(bio)


class KeyCache:
    """A bounded, thread-safe LRU of parsed keys, keyed by the exact PEM bytes.

    Parsing a PEM costs far more than an SM2 signature, so a signer that passes the same PEM on
    every call must not pay it each time. Entries are :class:`PKey` objects: an evicted key stays
    valid for any thread still holding it and is freed when that thread drops it.
    """

    def __init__(self, maxsize: int = 256) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[bytes, PKey] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, pem: bytes) -> PKey | None:
        """The cached key for ``pem``, or None."""
        with self._lock:
            key = self._items.get(pem)
            if key is not None:
                self._items.move_to_end(pem)
            return key

    def put(self, pem: bytes, key: PKey) -> None:
        """Remember ``key`` for ``pem``, evicting the least recently used beyond ``maxsize``."""
        with self._lock:
            self._items[pem] = key
            self._items.move_to_end(pem)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget every key."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def openssl_version() -> str:
    """The version text of the libcrypto SM2 runs on, e.g. ``OpenSSL 3.0.19 27 Jan 2026``."""
    return lib().version
