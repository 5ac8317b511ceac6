"""Field rules shared by several resources: phone numbers, e-mail, CIDRs, usernames, passwords, URLs."""

from __future__ import annotations

import ipaddress
import re
import secrets
from dataclasses import dataclass

import phonenumbers

from chalicelib.domain.errors import FieldError

SHORT_NUMBER_DIGITS = 6
_SHORT_NUMBER = re.compile(rf"[0-9]{{2,{SHORT_NUMBER_DIGITS}}}")
_NUMBER_CHARACTERS = re.compile(r"\+?[0-9]+")
_NUMBER_PUNCTUATION = re.compile(r"[\s\-().]")
_EMAIL = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+")
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{2,63}")
_DOMAIN = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*"
)
_URL = re.compile(r"https?://[^\s<>\"']{1,1990}")
PASSWORD_MIN_LENGTH = 8
GENERATED_USERNAME_DIGITS = 9


@dataclass(frozen=True)
class PhoneNumber:
    value: str  # E.164 for international numbers, plain digits for short test numbers
    warning: str | None = None


class InvalidField(Exception):
    def __init__(self, error: FieldError) -> None:
        super().__init__(error.message)
        self.error = error


def normalize_phone_number(field: str, raw: str) -> PhoneNumber:
    """One spelling per number, so that uniqueness holds: international numbers become E.164 (`+`, or the `00`
    international prefix, spaces and punctuation dropped; digits without either that only make sense as an
    international number get their `+`, with a warning); short test numbers (manual: "a three character number
    such as 111") are up to six digits; letters are refused (no `+1 800 FLOWERS`)."""
    text = raw.strip()
    compact = _NUMBER_PUNCTUATION.sub("", text)
    if not _NUMBER_CHARACTERS.fullmatch(compact):
        raise InvalidField(
            FieldError(
                field,
                "invalid_phone_number",
                f"'{raw}' holds letters or other signs: give an international number with + and country code, "
                "or digits only for a test number.",
            )
        )
    if compact.startswith("00"):
        return _international(field, raw, "+" + compact[2:])
    if compact.startswith("+"):
        return _international(field, raw, compact)
    if _SHORT_NUMBER.fullmatch(compact):
        return PhoneNumber(compact)
    as_international = _parsed("+" + compact)
    if as_international is not None and phonenumbers.is_valid_number(as_international):
        e164 = phonenumbers.format_number(as_international, phonenumbers.PhoneNumberFormat.E164)
        return PhoneNumber(e164, f"{field}: '{raw}' was read as the international number {e164}.")
    raise InvalidField(
        FieldError(
            field,
            "invalid_phone_number",
            f"'{raw}' must be an international number with + and country code (e.g. +391234567890), "
            f"or up to {SHORT_NUMBER_DIGITS} digits for a test number (e.g. 111).",
        )
    )


def _parsed(text: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None


def _international(field: str, raw: str, text: str) -> PhoneNumber:
    parsed = _parsed(text)
    if parsed is None or not phonenumbers.is_possible_number(parsed):
        raise InvalidField(
            FieldError(field, "invalid_phone_number", f"'{raw}' is not a possible international number.")
        )
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    warning = None
    if not phonenumbers.is_valid_number(parsed):
        warning = f"{field}: {e164} is a possible number but not a valid one for its country; check it."
    return PhoneNumber(e164, warning)


def check_region(field: str, value: str) -> None:
    if value and value not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidField(
            FieldError(field, "invalid_country", f"'{value}' is not a country code such as IT, DE or GB (capitals).")
        )


def national_number(raw: str, region: str) -> str | None:
    """The E.164 spelling of a number typed the national way (no + or 00) in `region`, when it is a valid number
    there; None otherwise (already international, a short test number, or not a number of that country)."""
    compact = _NUMBER_PUNCTUATION.sub("", raw.strip())
    if not region or not compact.isdigit() or compact.startswith("00") or _SHORT_NUMBER.fullmatch(compact):
        return None
    try:
        parsed = phonenumbers.parse(compact, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_short_number(raw: str) -> bool:
    return bool(_SHORT_NUMBER.fullmatch(_NUMBER_PUNCTUATION.sub("", raw.strip())))


def check_email(field: str, value: str) -> None:
    if value and not _EMAIL.fullmatch(value):
        raise InvalidField(FieldError(field, "invalid_email", f"'{value}' is not an e-mail address."))


def check_username(field: str, value: str) -> None:
    if not _USERNAME.fullmatch(value):
        raise InvalidField(
            FieldError(
                field,
                "invalid_username",
                "Usernames are 3 to 64 characters: letters, digits, '.', '_' or '-', starting with a "
                "letter or digit.",
            )
        )


def check_password(field: str, value: str) -> None:
    if len(value) < PASSWORD_MIN_LENGTH:
        raise InvalidField(
            FieldError(field, "password_too_short", f"Passwords need at least {PASSWORD_MIN_LENGTH} characters.")
        )


def check_domain(field: str, value: str) -> None:
    if not _DOMAIN.fullmatch(value):
        raise InvalidField(FieldError(field, "invalid_domain", f"'{value}' is not a host or domain name."))


def check_url(field: str, value: str) -> None:
    if value and not _URL.fullmatch(value):
        raise InvalidField(FieldError(field, "invalid_url", f"'{value}' is not an http(s) URL."))


def normalize_cidr(field: str, value: str) -> str:
    """An IPv4 or IPv6 network (a bare address means that one host), in canonical form; no IPv6 zone id
    (`fe80::1%eth0`: an interface name of the machine that typed it, meaningless to the edge)."""
    try:
        if "%" in value:
            raise ValueError("zone id")
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError as exc:
        raise InvalidField(
            FieldError(field, "invalid_cidr", f"'{value}' is not an IPv4 or IPv6 address or CIDR network.")
        ) from exc


def generate_username() -> str:
    """A random numeric username, as the manual's form pre-fills (no leading zero)."""
    first = str(secrets.randbelow(9) + 1)
    rest = "".join(str(secrets.randbelow(10)) for _ in range(GENERATED_USERNAME_DIGITS - 1))
    return first + rest
