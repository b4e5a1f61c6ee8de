"""Shared fixtures of the zhengwu.crypto tests: key pairs and the published SM2 example."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from zhengwu.crypto import sm2_generate_keypair, sm2_private_pem_from_hex, sm2_public_key_from_private


@dataclass(frozen=True)
class Sm2Example:
    """The worked example of GM/T 0003.5-2012 / GB/T 32918.5-2017 on the recommended curve.

    Signature: Annex A; encryption: Annex C. The same values are used by OpenSSL's own
    test/sm2_internal_test.c ("From Annex A/C in both GM/T0003.5-2012 and GB/T 32918.5-2016").
    """

    private_hex: str = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"
    public_x: str = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    public_y: str = "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
    uid: bytes = b"1234567812345678"
    # signature example
    message: bytes = b"message digest"
    za: str = "B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3"
    e: str = "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640"
    r: str = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
    s: str = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
    # encryption example (k = 59276E27...BC21, the same nonce as the signature example)
    plaintext: bytes = b"encryption standard"
    c1_x: str = "04EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73"
    c1_y: str = "E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0"
    c3: str = "59983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766"
    c2: str = "21886CA989CA9C7D58087307CA93092D651EFA"


@pytest.fixture(scope="session")
def sm2_example() -> Sm2Example:
    """The published SM2 example values."""
    return Sm2Example()


@pytest.fixture(scope="session")
def std_keypair(sm2_example: Sm2Example) -> tuple[bytes, bytes]:
    """The published example key pair as (private PEM, public PEM)."""
    private = sm2_private_pem_from_hex(sm2_example.private_hex)
    return private, sm2_public_key_from_private(private)


@pytest.fixture(scope="session")
def keypair() -> tuple[bytes, bytes]:
    """One freshly generated SM2 key pair (private PEM, public PEM) for the session."""
    return sm2_generate_keypair()


@pytest.fixture(scope="session")
def other_keypair() -> tuple[bytes, bytes]:
    """A second, unrelated key pair."""
    return sm2_generate_keypair()
