"""Pure domain pieces: status changes, digests, field rules."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import rules
from chalicelib.domain.digest import sip_credentials
from chalicelib.domain.model import (
    STATUS_LABELS,
    Account,
    AccountStatus,
    AccountType,
    CreationMode,
    SecurityModel,
    iso,
)

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def make_account() -> Account:
    return Account(
        id="a1", username="100", group_id="g", provisioning_profile_id="p", phone_number="+393471234567",
        secondary_phone_number=None, account_type=AccountType.PGSM, security_model=SecurityModel.SDES,
        obfuscation_enabled=True, obfuscation_key="9", keep_alive=False, permit=(), deny=(), full_name="",
        email="", description="", enabled=True, status=AccountStatus.CREATED, status_changed_at=T0,
        created_at=T0, updated_at=T0, creation_mode=CreationMode.PLAIN, credentials=None,
    )  # fmt: skip


def test_status_change_records_its_time_and_version() -> None:
    later = T0 + timedelta(minutes=5)
    moved = make_account().with_status(AccountStatus.INSTALLATION_SMS_SENT, later)
    assert (moved.status, moved.status_changed_at, moved.version) == (AccountStatus.INSTALLATION_SMS_SENT, later, 2)
    assert moved.with_status(AccountStatus.INSTALLATION_SMS_SENT, later + timedelta(hours=1)) is moved


def test_status_labels_use_the_manuals_words() -> None:
    assert [STATUS_LABELS[s] for s in AccountStatus] == [
        "Created", "Installation SMS sent", "Installed", "Activation SMS sent", "Activated", "Connected",
    ]  # fmt: skip


def test_digests_match_rfc_2617_and_8760() -> None:
    creds = sip_credentials("alice", "example.com", "s3cret")
    assert creds.ha1 == hashlib.md5(b"alice:example.com:s3cret", usedforsecurity=False).hexdigest()
    assert creds.ha1b == hashlib.md5(b"alice@example.com:example.com:s3cret", usedforsecurity=False).hexdigest()
    assert creds.ha1_sha256 == hashlib.sha256(b"alice:example.com:s3cret").hexdigest()


def test_iso_times_are_utc_with_z() -> None:
    assert iso(T0) == "2026-11-25T10:00:00.000Z"
    assert iso(None) is None


@pytest.mark.parametrize("email", ["a@b.co", "first.last+tag@sub.example.org"])
def test_accepts_email_addresses(email: str) -> None:
    rules.check_email("email", email)


@pytest.mark.parametrize("email", ["plain", "a@b", "a b@c.com", "@example.com", "a@-x.com"])
def test_refuses_non_email_addresses(email: str) -> None:
    with pytest.raises(rules.InvalidField):
        rules.check_email("email", email)


def test_generated_usernames_are_nine_digits_without_leading_zero() -> None:
    names = {rules.generate_username() for _ in range(200)}
    assert all(n.isdigit() and len(n) == 9 and n[0] != "0" for n in names)
    assert len(names) > 190


def test_the_console_wizard_form_keeps_the_chosen_security_model() -> None:
    from chalicelib.console.forms import account_data

    fields = {"group_id": ["g"], "phone_number": ["+393471234567"], "security_model": ["ZRTP"], "username": ["1"]}
    data = account_data(fields, editing=False, wizard=True)
    assert data["security_model"] == "ZRTP" and data["mode"] == "wizard" and "username" not in data
