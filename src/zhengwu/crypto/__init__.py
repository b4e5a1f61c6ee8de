"""National cryptography (国产密码) for zhengwu: SM2, SM3 and SM4, bytes in and bytes out.

* SM3 hash and HMAC-SM3 (GB/T 32905, GM/T 0004): :func:`sm3_hash`, :func:`sm3_hmac`,
  :class:`Sm3Hasher`.
* SM4 (GB/T 32907, GM/T 0002): :func:`sm4_encrypt` / :func:`sm4_decrypt`, GCM (authenticated,
  the default) or CBC with PKCS#7 (interoperability only).
* SM2 (GB/T 32918, GM/T 0003) with GM/T 0009 conventions, on the machine's OpenSSL 3:
  key pairs as PEM, signatures (DER, default user ID ``1234567812345678``), C1C3C2 encryption
  (raw ``04||x||y||C3||C2`` by default, or DER).

Every failure raises :class:`CryptoError` (a :class:`zhengwu.errors.ValidationError`) or its
subclass :class:`DecryptionError`, with a stable ``code`` under ``crypto.``.
"""

from zhengwu.crypto._openssl import openssl_version
from zhengwu.crypto.errors import CryptoError, CryptoUnavailableError, DecryptionError
from zhengwu.crypto.sm2 import (
    DEFAULT_UID,
    clear_key_cache,
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
)
from zhengwu.crypto.sm3 import Sm3Hasher, sm3_hash, sm3_hmac, sm3_hmac_verify
from zhengwu.crypto.sm4 import sm4_decrypt, sm4_encrypt

__all__ = [
    "DEFAULT_UID",
    "CryptoError",
    "CryptoUnavailableError",
    "DecryptionError",
    "Sm3Hasher",
    "clear_key_cache",
    "openssl_version",
    "sm2_ciphertext_c1c2c3_to_c1c3c2",
    "sm2_ciphertext_c1c3c2_to_c1c2c3",
    "sm2_ciphertext_der_to_raw",
    "sm2_ciphertext_raw_to_der",
    "sm2_decrypt",
    "sm2_encrypt",
    "sm2_generate_keypair",
    "sm2_key_to_hex",
    "sm2_private_pem_from_hex",
    "sm2_public_key_from_private",
    "sm2_public_pem_from_hex",
    "sm2_sign",
    "sm2_signature_der_to_raw",
    "sm2_signature_raw_to_der",
    "sm2_verify",
    "sm2_za",
    "sm3_hash",
    "sm3_hmac",
    "sm3_hmac_verify",
    "sm4_decrypt",
    "sm4_encrypt",
]
