"""X-Road style identifiers: good ones, and every kind of bad one naming its part."""

from __future__ import annotations

import pytest

from factories import organ_uscc
from zhengwu.errors import ValidationError
from zhengwu.exchange.identifiers import ClientId, parse_client_id, parse_service_id

USCC = organ_uscc("330000", 7)


def test_good_client_and_service_ids_round_trip() -> None:
    member = parse_client_id(f"CN-DEV/GOV/{USCC}")
    assert member == ClientId("CN-DEV", "GOV", USCC) and member.object_type == "MEMBER"
    sub = parse_client_id(f"CN-DEV/GOV/{USCC}/HUJI.v2", expected_instance="CN-DEV")
    assert sub.subsystem_code == "HUJI.v2" and str(sub) == f"CN-DEV/GOV/{USCC}/HUJI.v2"
    assert sub.to_xroad()["object_type"] == "SUBSYSTEM"
    svc = parse_service_id(f"CN-DEV/GOV/{USCC}/HUJI/getPerson")
    assert svc.service_code == "getPerson" and svc.service_version is None
    versioned = parse_service_id(f"CN-DEV/GOV/{USCC}/HUJI/getPerson/v1")
    assert versioned.service_version == "v1" and str(versioned).endswith("/getPerson/v1")
    assert parse_client_id(f"CN-DEV/GOV/{USCC}/a'(b)+c,d-e.f=g?") is not None


@pytest.mark.parametrize(
    ("value", "code", "field"),
    [
        ("CN-DEV/GOV", "exchange.id.parts", "client"),
        (f"CN-DEV/GOV/{USCC}/A/B", "exchange.id.parts", "client"),
        (f"/GOV/{USCC}", "exchange.id.empty", "xroad_instance"),
        (f"CN DEV/GOV/{USCC}", "exchange.id.bad_char", "xroad_instance"),
        (f"CN-DEV/XXX/{USCC}", "exchange.id.unknown_class", "member_class"),
        (f"CN-DEV/G;V/{USCC}", "exchange.id.bad_char", "member_class"),
        ("CN-DEV/GOV/not-a-uscc", "exchange.id.bad_member_code", "member_code"),
        (f"CN-DEV/GOV/{USCC[:-1]}X", "exchange.id.bad_member_code", "member_code"),
        (f"CN-DEV/GOV/{USCC.lower()}", "exchange.id.not_canonical", "member_code"),
        (f"CN-DEV/GOV/{USCC}/户籍", "exchange.id.bad_char", "subsystem_code"),
        (f"CN-DEV/GOV/{USCC}/", "exchange.id.empty", "subsystem_code"),
        (f"CN-DEV/GOV/{USCC}/{'A' * 256}", "exchange.id.too_long", "subsystem_code"),
    ],
)
def test_bad_client_ids_name_the_part(value: str, code: str, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_client_id(value)
    assert err.value.code == code
    assert err.value.field == field


@pytest.mark.parametrize(
    ("value", "code", "field"),
    [
        (f"CN-DEV/GOV/{USCC}/HUJI", "exchange.id.parts", "service"),
        (f"CN-DEV/GOV/{USCC}/HUJI/get%20x", "exchange.id.bad_char", "service_code"),
        (f"CN-DEV/GOV/{USCC}/HUJI/get/v 1", "exchange.id.bad_char", "service_version"),
        (f"CN-DEV/GOV/{USCC}/HUJI//v1", "exchange.id.empty", "service_code"),
    ],
)
def test_bad_service_ids_name_the_part(value: str, code: str, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_service_id(value)
    assert (err.value.code, err.value.field) == (code, field)


def test_other_instance_and_non_text_are_refused() -> None:
    with pytest.raises(ValidationError) as err:
        parse_client_id(f"EE/GOV/{USCC}", expected_instance="CN-DEV")
    assert err.value.code == "exchange.id.wrong_instance"
    with pytest.raises(ValidationError) as err:
        parse_client_id(12345)
    assert err.value.code == "exchange.id.type"
