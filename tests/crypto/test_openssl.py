"""The ctypes binding: library loading, key cache, threads, OpenSSL's error queue, memory leaks."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import threading
from collections.abc import Callable

import pytest

from zhengwu.crypto import (
    CryptoError,
    CryptoUnavailableError,
    _openssl,
    openssl_version,
    sm2_decrypt,
    sm2_encrypt,
    sm2_generate_keypair,
    sm2_key_to_hex,
    sm2_private_pem_from_hex,
    sm2_public_key_from_private,
    sm2_sign,
    sm2_verify,
)
from zhengwu.crypto import sm2 as sm2_module
from zhengwu.errors import ConfigurationError

Pair = tuple[bytes, bytes]


def test_system_openssl_3_is_loaded() -> None:
    assert openssl_version().startswith("OpenSSL 3.")
    assert _openssl.lib().version_num >= 0x30000000
    assert _openssl.lib() is _openssl.lib()


def test_missing_library_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_openssl, "_lib", None)
    monkeypatch.setattr(_openssl, "_candidate_names", lambda: ["libzhengwu-no-such-crypto.so.3"])
    with pytest.raises(CryptoUnavailableError) as info:
        _openssl.lib()
    assert info.value.code == "crypto.openssl.unavailable"
    assert isinstance(info.value, ConfigurationError)
    assert "libzhengwu-no-such-crypto.so.3" in info.value.details["tried"][0]


def test_error_queue_is_left_empty(keypair: Pair) -> None:
    private, public = keypair
    the = _openssl.lib()
    assert not sm2_verify(public, b"x", b"\x30\x06\x02\x01\x01\x02\x01\x01")
    assert not sm2_verify(public, b"x", sm2_sign(private, b"y"))
    with pytest.raises(CryptoError):
        sm2_decrypt(private, b"\x04" + bytes(200))
    with pytest.raises(CryptoError):
        sealed = sm2_encrypt(public, b"abc")  # random: its last byte may already be any value
        sm2_decrypt(private, sealed[:-1] + bytes([sealed[-1] ^ 1]))
    with pytest.raises(CryptoError):
        sm2_verify(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", b"x", b"y")
    assert the.c.ERR_get_error() == 0


def test_openssl_detail_is_reported(keypair: Pair) -> None:
    private, public = keypair
    ct = bytearray(sm2_encrypt(public, b"abc"))
    ct[-1] ^= 1
    with pytest.raises(CryptoError) as info:
        sm2_decrypt(private, bytes(ct))
    assert info.value.details["openssl"]
    assert all(line.startswith("error:") for line in info.value.details["openssl"])


def test_key_cache_is_bounded_lru() -> None:
    cache = _openssl.KeyCache(maxsize=2)
    keys = []
    for _ in range(3):
        private, _ = sm2_generate_keypair()
        key = _openssl.read_pem_key(private, private=True)
        assert key is not None
        keys.append((private, key))
        cache.put(private, key)
    assert len(cache) == 2
    assert cache.get(keys[0][0]) is None  # evicted first
    assert cache.get(keys[1][0]) is keys[1][1]
    cache.put(keys[0][0], keys[0][1])  # now keys[2] is the least recently used
    assert cache.get(keys[2][0]) is None
    # An evicted key stays usable by whoever still holds it.
    assert keys[2][1].is_a(b"SM2")
    cache.clear()
    assert len(cache) == 0


def test_same_pem_is_parsed_once(keypair: Pair) -> None:
    private, public = keypair
    sm2_module.clear_key_cache()
    sm2_sign(private, b"a")
    first = sm2_module._private_cache.get(private)
    sm2_sign(private, b"b")
    assert sm2_module._private_cache.get(private) is first
    sm2_verify(public, b"a", b"")
    assert sm2_module._public_cache.get(public) is not None


def test_threads_share_keys_under_cache_churn(monkeypatch: pytest.MonkeyPatch) -> None:
    # A tiny cache and more keys than it holds: keys are evicted while other threads use them.
    monkeypatch.setattr(sm2_module._private_cache, "maxsize", 2)
    monkeypatch.setattr(sm2_module._public_cache, "maxsize", 2)
    pairs = [sm2_generate_keypair() for _ in range(5)]
    failures: list[str] = []

    def work(seed: int) -> None:
        try:
            for i in range(60):
                private, public = pairs[(seed + i) % len(pairs)]
                message = f"{seed}-{i}".encode()
                sig = sm2_sign(private, message)
                if not sm2_verify(public, message, sig) or sm2_verify(public, message + b"x", sig):
                    failures.append(f"signature {seed}-{i}")
                if i % 10 == 0 and sm2_decrypt(private, sm2_encrypt(public, message)) != message:
                    failures.append(f"encryption {seed}-{i}")
        except Exception as exc:
            failures.append(repr(exc))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            [
                "arena",
                "ordblks",
                "smblks",
                "hblks",
                "hblkhd",
                "usmblks",
                "fsmblks",
                "uordblks",
                "fordblks",
                "keepcost",
            ]
        )
    ]


def _heap_in_use() -> int:
    """Bytes malloc has handed out and not had back (glibc), else the resident set size."""
    gc.collect()
    libc = ctypes.CDLL(None)
    if hasattr(libc, "mallinfo2"):
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
        return int(info.uordblks + info.hblkhd)
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


def _growth(op: Callable[[], object], warmup: int, runs: int, rounds: int = 3) -> int:
    """The smallest heap growth over ``rounds`` rounds of ``runs`` calls, after ``warmup`` calls.

    The smallest, because another thread of the test process may allocate during one round;
    a real leak grows the heap in every round.
    """
    for _ in range(warmup):
        op()
    growths = []
    for _ in range(rounds):
        before = _heap_in_use()
        for _ in range(runs):
            op()
        growths.append(_heap_in_use() - before)
    return min(growths)


def test_no_leak_in_operations(keypair: Pair) -> None:
    private, public = keypair

    def cycle() -> None:
        sig = sm2_sign(private, b"data")
        sm2_verify(public, b"data", sig)
        sm2_verify(public, b"data", b"\x30\x00")
        ct = sm2_encrypt(public, b"0123456789abcdef")
        sm2_decrypt(private, ct)
        with contextlib.suppress(CryptoError):
            sm2_decrypt(private, ct[:-1] + bytes([ct[-1] ^ 1]))

    # A leaked EVP_MD_CTX is ~80 bytes and an EVP_PKEY_CTX ~190 per call, several calls a cycle:
    # 120 cycles would grow the heap by well over 10 KB. Measured growth is 0 after warm-up.
    assert _growth(cycle, warmup=100, runs=120) < 10_000


def test_no_leak_in_key_parsing_and_export(keypair: Pair) -> None:
    private, public = keypair
    d_hex = sm2_key_to_hex(private)

    def cycle() -> None:
        sm2_module.clear_key_cache()
        sm2_key_to_hex(private)
        sm2_key_to_hex(public)
        sm2_public_key_from_private(private)
        sm2_private_pem_from_hex(d_hex)
        sm2_generate_keypair()

    # Parsing warms OpenSSL's internal caches for a while; after that the heap is flat.
    assert _growth(cycle, warmup=100, runs=120) < 10_000
