"""The account timeline's events in plain words: a label per kind, the category the History tab filters by,
and which details are worth showing (message and call ids are internal)."""

from __future__ import annotations

from enum import StrEnum

from chalicelib.domain.registration import SIP_EVENT_LABELS


class Category(StrEnum):
    ACCOUNT = "account"  # created, changed, enabled/disabled, keys revoked
    MESSAGES = "messages"  # installation and activation links sent, their delivery
    PHONE = "phone"  # what the phone did with the links
    SIP = "sip"  # registrations and their refusals


CATEGORY_LABELS = {
    Category.ACCOUNT: "Account changes",
    Category.MESSAGES: "Text messages and e-mails",
    Category.PHONE: "Phone steps",
    Category.SIP: "SIP sessions",
}

KIND_LABELS = {
    "created": "Account created",
    "updated": "Settings changed",
    "enabled": "Account enabled",
    "disabled": "Account disabled",
    "deleted": "Account deleted",
    "keys_revoked": "All keys revoked",
    "sip_lockout_lifted": "SIP lockout lifted",
    "installation_sms_queued": "Installation SMS queued",
    "activation_sms_queued": "Activation SMS queued",
    "installation_email_queued": "Installation e-mail queued",
    "activation_email_queued": "Activation e-mail queued",
    "sms_sent": "Text message sent",
    "sms_delivered": "Text message delivered",
    "sms_undelivered": "Text message not delivered",
    "sms_failed": "Text message failed",
    "sms_queued": "Text message queued",
    "installation_link_opened": "Installation link opened",
    "installation_clicked": "Installation clicked",
    "installed": "App installed",
    "activated": "Activated",
}
DETAIL_LABELS = {
    "mode": "way",
    "purpose": "for",
    "platform": "platform",
    "app_version": "app version",
    "error": "problem",
    "error_code": "provider code",
    "username": "username",
    "reason": "reason",
    "was_enabled": "was enabled",
    "needs": "needs",
}
HIDDEN_DETAILS = ("message_id", "fields", "call_id", "event_id", "event")  # "event": a SIP event's label
MODE_LABELS = {"plain": "the plain way", "wizard": "the wizard way", "batch": "by batch import"}
PURPOSE_LABELS = {"install": "installation", "activate": "activation"}


def category_of(kind: str) -> Category:
    if kind.startswith("sip_") and kind != "sip_lockout_lifted":
        return Category.SIP
    if kind.startswith("sms_") or kind.endswith("_queued"):
        return Category.MESSAGES
    if kind.startswith("installation_") or kind in ("installed", "activated"):
        return Category.PHONE
    return Category.ACCOUNT


def label_of(kind: str) -> str:
    if kind in KIND_LABELS:
        return KIND_LABELS[kind]
    sip = {k.value: label for k, label in SIP_EVENT_LABELS.items()}.get(kind.removeprefix("sip_"))
    return sip or kind.replace("_", " ").capitalize()


def shown_details(detail: dict[str, str]) -> list[tuple[str, str]]:
    """The details worth a person's reading, each as (label, value); the before/after pairs of an update are
    shown as the diff, not here."""
    out: list[tuple[str, str]] = []
    for key, value in detail.items():
        if key in HIDDEN_DETAILS or "." in key or not value:
            continue
        value = MODE_LABELS.get(value, value) if key == "mode" else value
        value = PURPOSE_LABELS.get(value, value) if key == "purpose" else value
        out.append((DETAIL_LABELS.get(key, key.replace("_", " ")), value))
    return out


def changes_of(detail: dict[str, str]) -> list[tuple[str, str, str]]:
    """An update's changed fields as (field, before, after); a secret is named with empty values."""
    names = [n for n in detail.get("fields", "").split(",") if n]
    return [(n, detail.get(f"{n}.before", ""), detail.get(f"{n}.after", "")) for n in names]
