"""Account rules of the manual, through the service layer, on both storage backends."""

from __future__ import annotations

import hashlib
import threading

import pytest

from chalicelib.domain.errors import Conflict, Forbidden, InvalidCursor, NotFound, ValidationFailed
from chalicelib.domain.model import AccountStatus, AccountType, CreationMode, SecurityModel
from chalicelib.services import accounts, groups
from tests.conftest import World


def codes(exc: ValidationFailed) -> dict[str, str]:
    return {e.field: e.code for e in exc.errors}


def create(world: World, **fields: object) -> accounts.AccountResult:
    return accounts.create_account(world.ctx, world.admin, world.account_data(**fields))


def test_generates_a_random_numeric_username_when_absent(world: World) -> None:
    first = create(world).account
    second = create(world, phone_number="+393471234568").account
    assert first.username.isdigit() and len(first.username) == 9 and first.username[0] != "0"
    assert first.username != second.username


def test_plain_account_starts_enabled_with_status_created(world: World) -> None:
    account = create(world, username="1001").account
    assert account.enabled is True
    assert account.status is AccountStatus.CREATED
    assert account.creation_mode is CreationMode.PLAIN
    assert account.status_changed_at == account.created_at
    stored = accounts.get_account(world.ctx, world.admin, account.id)
    assert stored == account


def test_stores_only_sip_digests_for_the_profile_realm(world: World) -> None:
    account = create(world, username="1002", password="sip-secret-1").account
    creds = account.credentials
    assert creds is not None and creds.realm == "voice.example.com"
    expected = hashlib.md5(b"1002:voice.example.com:sip-secret-1", usedforsecurity=False).hexdigest()
    assert creds.ha1 == expected
    assert "sip-secret-1" not in repr(accounts.get_account(world.ctx, world.admin, account.id))


def test_defaults_follow_the_manual(world: World) -> None:
    account = create(world).account
    assert account.account_type is AccountType.PGSM
    assert account.security_model is SecurityModel.SDES
    assert account.obfuscation_enabled is True and account.obfuscation_key == "9"
    assert account.keep_alive is False
    assert account.provisioning_profile_id == world.group_a.provisioning_profile_id


def test_normalises_international_numbers_to_e164(world: World) -> None:
    account = create(world, phone_number="+39 347 123 4567", secondary_phone_number="+39-347-765-4321").account
    assert account.phone_number == "+393471234567"
    assert account.secondary_phone_number == "+393477654321"


def test_short_test_numbers_are_allowed_but_cannot_use_automatic_activation(world: World) -> None:
    result = create(world, phone_number="111")
    assert result.account.phone_number == "111"
    assert result.account.has_international_number is False
    assert any("automatic activation" in w for w in result.warnings)


def test_possible_but_invalid_numbers_are_accepted_with_a_warning(world: World) -> None:
    result = create(world, phone_number="+3932456753")  # from the manual's CSV example
    assert result.account.phone_number == "+3932456753"
    assert any("not a valid one" in w for w in result.warnings)


@pytest.mark.parametrize("number", ["+12", "+39abc", "12ab", "+", "1", "0039 347 1234567 99999999"])
def test_refuses_numbers_that_are_not_numbers(world: World, number: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        create(world, phone_number=number)
    assert codes(exc.value) == {"phone_number": "invalid_phone_number"}


def test_numbers_are_unique_across_primary_and_secondary(world: World) -> None:
    create(world, phone_number="+393471111111", secondary_phone_number="+393472222222")
    for fields in (
        {"phone_number": "+393472222222"},
        {"phone_number": "+393473333333", "secondary_phone_number": "+393471111111"},
        {"phone_number": "+39 347 111 1111"},
    ):
        with pytest.raises(Conflict) as exc:
            create(world, **fields)
        assert exc.value.code == "duplicate"
        assert exc.value.field in {"phone_number", "secondary_phone_number"}


@pytest.mark.both_backends
def test_duplicate_username_is_a_conflict_and_leaves_nothing_behind(world: World) -> None:
    create(world, username="2001")
    with pytest.raises(Conflict) as exc:
        create(world, username="2001", phone_number="+393479999999")
    assert exc.value.field == "username"
    # the number of the failed request is still free: no half-written guard remained
    assert create(world, username="2002", phone_number="+393479999999").account.username == "2002"
    assert groups.get_group(world.ctx, world.admin, world.group_a.id).account_count == 2


def test_secondary_number_needs_a_primary_and_must_differ(world: World) -> None:
    with pytest.raises(ValidationFailed) as exc:
        accounts.create_account(
            world.ctx,
            world.admin,
            {"password": "sip-secret-1", "group_id": world.group_a.id, "secondary_phone_number": "+393471234567"},
        )
    assert codes(exc.value)["phone_number"] == "required"
    with pytest.raises(ValidationFailed) as exc:
        create(world, phone_number="+393471234567", secondary_phone_number="+39 347 1234567")
    assert codes(exc.value) == {"secondary_phone_number": "same_as_primary"}


def test_numbers_cannot_be_changed_after_creation(world: World) -> None:
    account = create(world, phone_number="+393471234567").account
    for field, value in (("phone_number", "+393470000000"), ("secondary_phone_number", "+393470000001")):
        with pytest.raises(ValidationFailed) as exc:
            accounts.update_account(world.ctx, world.admin, account.id, {field: value})
        assert codes(exc.value) == {field: "immutable"}
        assert "delete" in exc.value.errors[0].message
    same = accounts.update_account(world.ctx, world.admin, account.id, {"phone_number": "+39 347 123 4567"})
    assert same.account.phone_number == "+393471234567"


def test_snom_accounts_use_sdes_and_ip_lists_without_obfuscation(world: World) -> None:
    account = create(
        world, account_type="SNOM", permit=["192.168.1.10", "10.0.0.0/8", "2001:db8::/32"], deny=["10.1.2.0/24"]
    ).account
    assert account.security_model is SecurityModel.SDES
    assert account.obfuscation_enabled is False and account.obfuscation_key is None
    assert account.permit == ("192.168.1.10/32", "10.0.0.0/8", "2001:db8::/32")
    assert account.deny == ("10.1.2.0/24",)


def test_snom_refuses_zrtp_and_obfuscation_fields(world: World) -> None:
    with pytest.raises(ValidationFailed) as exc:
        create(world, account_type="SNOM", security_model="ZRTP", obfuscation_key="7")
    assert codes(exc.value) == {"security_model": "snom_requires_sdes", "obfuscation_key": "not_allowed_for_snom"}


def test_pgsm_refuses_permit_and_deny_lists(world: World) -> None:
    with pytest.raises(ValidationFailed) as exc:
        create(world, permit=["10.0.0.0/8"])
    assert codes(exc.value) == {"permit": "not_allowed_for_pgsm"}


@pytest.mark.parametrize("cidr", ["10.0.0.0/33", "300.1.1.1", "fe80::zz", "host.example.com"])
def test_refuses_invalid_cidrs(world: World, cidr: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        create(world, account_type="SNOM", deny=[cidr])
    assert codes(exc.value) == {"deny[0]": "invalid_cidr"}


def test_refuses_blank_list_entries(world: World) -> None:
    with pytest.raises(ValidationFailed) as exc:
        create(world, account_type="SNOM", deny=[""])
    assert codes(exc.value) == {"deny": "blank_entry"}


def test_professional_accounts_use_zrtp_and_obfuscation_key_is_editable(world: World) -> None:
    account = create(world, security_model="ZRTP", obfuscation_key="42", keep_alive=True).account
    assert account.security_model is SecurityModel.ZRTP
    assert (account.obfuscation_key, account.keep_alive) == ("42", True)


def test_collects_every_field_error_in_one_answer(world: World) -> None:
    with pytest.raises(ValidationFailed) as exc:
        accounts.create_account(
            world.ctx,
            world.admin,
            {"username": "a b", "password": "short", "group_id": world.group_a.id, "phone_number": "x", "email": "no"},
        )
    assert codes(exc.value) == {
        "username": "invalid_username",
        "password": "password_too_short",
        "phone_number": "invalid_phone_number",
        "email": "invalid_email",
    }


def test_refuses_unknown_and_read_only_fields_and_wrong_types(world: World) -> None:
    with pytest.raises(ValidationFailed) as exc:
        create(world, colour="red", enabled=False, keep_alive="yes", permit="10.0.0.0/8")
    assert codes(exc.value) == {
        "colour": "unknown_field",
        "enabled": "read_only",
        "keep_alive": "invalid_type",
        "permit": "invalid_type",
    }


def test_unknown_group_or_profile_is_a_field_error(world: World) -> None:
    with pytest.raises(ValidationFailed) as exc:
        create(world, group_id="nope", provisioning_profile_id="nope")
    assert codes(exc.value) == {"group_id": "not_found", "provisioning_profile_id": "not_found"}


def test_update_changes_fields_and_records_the_timeline(world: World) -> None:
    account = create(world, username="3001").account
    updated = accounts.update_account(
        world.ctx, world.admin, account.id, {"full_name": "Marco Rossi", "keep_alive": True, "description": "CEO"}
    ).account
    assert (updated.full_name, updated.keep_alive, updated.description) == ("Marco Rossi", True, "CEO")
    assert updated.version == account.version + 1
    kinds = [e.kind for e in accounts.history(world.ctx, world.admin, account.id, 10).timeline]
    assert kinds == ["updated", "created"]


def test_username_change_needs_the_password_again_and_moves_the_guard(world: World) -> None:
    account = create(world, username="4001").account
    with pytest.raises(ValidationFailed) as exc:
        accounts.update_account(world.ctx, world.admin, account.id, {"username": "4002"})
    assert codes(exc.value) == {"password": "required"}
    renamed = accounts.update_account(
        world.ctx, world.admin, account.id, {"username": "4002", "password": "new-secret-2"}
    ).account
    assert renamed.credentials is not None
    assert (
        renamed.credentials.ha1
        == hashlib.md5(b"4002:voice.example.com:new-secret-2", usedforsecurity=False).hexdigest()
    )
    # the old username is free again, the new one taken
    create(world, username="4001", phone_number="+393475550001")
    with pytest.raises(Conflict):
        create(world, username="4002", phone_number="+393475550002")


def test_switching_to_snom_drops_obfuscation_and_back_restores_defaults(world: World) -> None:
    account = create(world, obfuscation_key="5").account
    snom = accounts.update_account(world.ctx, world.admin, account.id, {"account_type": "SNOM", "permit": ["10.0.0.1"]})
    assert (snom.account.obfuscation_enabled, snom.account.obfuscation_key) == (False, None)
    pgsm = accounts.update_account(world.ctx, world.admin, account.id, {"account_type": "PGSM"}).account
    assert (pgsm.obfuscation_enabled, pgsm.obfuscation_key, pgsm.permit) == (True, "9", ())


def test_enable_disable_is_recorded_once(world: World) -> None:
    account = create(world).account
    assert accounts.set_enabled(world.ctx, world.admin, account.id, False).enabled is False
    assert accounts.set_enabled(world.ctx, world.admin, account.id, False).enabled is False
    assert accounts.set_enabled(world.ctx, world.admin, account.id, True).enabled is True
    kinds = [e.kind for e in accounts.history(world.ctx, world.admin, account.id, 10).timeline]
    assert kinds == ["enabled", "disabled", "created"]


def test_delete_frees_username_and_numbers(world: World) -> None:
    account = create(world, username="5001", secondary_phone_number="+393476660000").account
    accounts.delete_account(world.ctx, world.admin, account.id)
    with pytest.raises(NotFound):
        accounts.get_account(world.ctx, world.admin, account.id)
    again = create(world, username="5001", secondary_phone_number="+393476660000").account
    assert again.id != account.id


def test_group_with_accounts_cannot_be_deleted(world: World) -> None:
    account = create(world).account
    with pytest.raises(Conflict) as exc:
        groups.delete_group(world.ctx, world.admin, world.group_a.id)
    assert exc.value.code == "group_not_empty"
    accounts.delete_account(world.ctx, world.admin, account.id)
    groups.delete_group(world.ctx, world.admin, world.group_a.id)
    with pytest.raises(NotFound):
        groups.get_group(world.ctx, world.admin, world.group_a.id)


def test_operator_of_group_a_cannot_touch_group_b(world: World) -> None:
    in_b = create(world, group_id=world.group_b.id).account
    with pytest.raises(Forbidden):
        accounts.get_account(world.ctx, world.operator_a, in_b.id)
    with pytest.raises(Forbidden):
        accounts.update_account(world.ctx, world.operator_a, in_b.id, {"full_name": "x"})
    with pytest.raises(Forbidden):
        accounts.create_account(world.ctx, world.operator_a, world.account_data(group_id=world.group_b.id))
    with pytest.raises(Forbidden):
        accounts.list_accounts(world.ctx, world.operator_a, world.group_b.id, 10, None)
    in_a = accounts.create_account(
        world.ctx, world.operator_a, world.account_data(phone_number="+393470002222")
    ).account
    with pytest.raises(Forbidden):  # nor move an account of its group into group B
        accounts.update_account(world.ctx, world.operator_a, in_a.id, {"group_id": world.group_b.id})


def test_viewers_read_but_never_write(world: World) -> None:
    account = create(world).account
    assert accounts.get_account(world.ctx, world.viewer_a, account.id).id == account.id
    with pytest.raises(Forbidden):
        accounts.set_enabled(world.ctx, world.viewer_a, account.id, False)
    with pytest.raises(Forbidden):
        accounts.create_account(world.ctx, world.viewer_a, world.account_data(phone_number="+393470001111"))


def test_moving_an_account_updates_both_group_counts(world: World) -> None:
    account = create(world).account
    accounts.update_account(world.ctx, world.admin, account.id, {"group_id": world.group_b.id})
    assert groups.get_group(world.ctx, world.admin, world.group_a.id).account_count == 0
    assert groups.get_group(world.ctx, world.admin, world.group_b.id).account_count == 1


def test_lists_a_group_by_username_in_pages(world: World) -> None:
    for i in range(7):
        create(world, username=f"70{i}", phone_number=f"+39347000100{i}")
    create(world, username="699", group_id=world.group_b.id, phone_number="+393470009999")
    seen: list[str] = []
    cursor = None
    while True:
        page = accounts.list_accounts(world.ctx, world.admin, world.group_a.id, 3, cursor)
        seen += [a.username for a in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [f"70{i}" for i in range(7)]


def test_a_tampered_cursor_is_refused(world: World) -> None:
    with pytest.raises(InvalidCursor) as exc:
        accounts.list_accounts(world.ctx, world.admin, world.group_a.id, 3, "%%%not-base64")
    assert (exc.value.status, exc.value.field) == (400, "cursor")


@pytest.mark.both_backends
def test_concurrent_creation_of_the_same_number_has_exactly_one_winner(world: World) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            create(world, username=f"80{i}", phone_number="+393478888888")
            outcomes.append("created")
        except Conflict as exc:
            outcomes.append(f"conflict:{exc.field}")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict:phone_number"] * 7 + ["created"]
    assert groups.get_group(world.ctx, world.admin, world.group_a.id).account_count == 1
    page = accounts.list_accounts(world.ctx, world.admin, world.group_a.id, 50, None)
    assert len(page.items) == 1


def test_a_profile_domain_changed_after_caching_is_picked_up(world: World) -> None:
    spare = world.make_profile("spare", sip_domain="old.example.com")
    first = create(world, provisioning_profile_id=spare.id).account  # the reference cache now holds "spare"
    accounts.delete_account(world.ctx, world.admin, first.id)  # unused again, so its domain may change
    groups.update_profile(world.ctx, world.admin, spare.id, {"sip_domain": "new.example.com"})
    fresh = create(world, phone_number="+393470006666", provisioning_profile_id=spare.id).account
    assert fresh.credentials is not None and fresh.credentials.realm == "new.example.com"


def test_a_group_deleted_after_caching_is_a_field_error(world: World) -> None:
    extra = world.make_group("short-lived")
    created = create(world, group_id=extra.id).account  # caches the group
    accounts.delete_account(world.ctx, world.admin, created.id)
    groups.delete_group(world.ctx, world.admin, extra.id)
    with pytest.raises(ValidationFailed) as exc:
        create(world, group_id=extra.id, phone_number="+393470007777")
    assert codes(exc.value) == {"group_id": "not_found"}


def test_wizard_accounts_start_disabled_without_credentials(world: World) -> None:
    data = {"mode": "wizard", "group_id": world.group_a.id, "phone_number": "+393471230000", "full_name": "Ada"}
    account = accounts.create_account(world.ctx, world.admin, data).account
    assert (account.enabled, account.credentials, account.creation_mode) == (False, None, CreationMode.WIZARD)
    assert account.username.isdigit()
    with pytest.raises(Conflict) as exc:
        accounts.set_enabled(world.ctx, world.admin, account.id, True)
    assert exc.value.code == "activation_required"


def test_wizard_refuses_passwords_usernames_snom_and_local_numbers(world: World) -> None:
    data = {"mode": "wizard", "group_id": world.group_a.id, "phone_number": "111", "username": "1234",
            "password": "sip-secret-1", "account_type": "SNOM"}  # fmt: skip
    with pytest.raises(ValidationFailed) as exc:
        accounts.create_account(world.ctx, world.admin, data)
    assert codes(exc.value) == {
        "username": "not_allowed_for_wizard",
        "password": "not_allowed_for_wizard",
        "account_type": "wizard_needs_pgsm",
        "phone_number": "international_number_required",
    }
    with pytest.raises(ValidationFailed) as exc:
        create(world, mode="batch-ish")
    assert codes(exc.value) == {"mode": "invalid_choice"}


def test_sip_passwords_keep_their_spaces(world: World) -> None:
    account = create(world, username="9901", password="  spaced out  ").account
    assert account.credentials is not None
    expected = hashlib.md5(b"9901:voice.example.com:  spaced out  ", usedforsecurity=False).hexdigest()
    assert account.credentials.ha1 == expected
