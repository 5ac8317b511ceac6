"""The API's resources, each declared once (see declare.py for what is derived from a declaration).

Adding a field to an account: add its `Field` to `ACCOUNT_FIELDS` (request and response, with its limits), its
attribute to the `Account` dataclass and `AccountModel`, and use it where it matters. The service's reader,
the JSON rendering, the OpenAPI document and the response validation of the tests follow from the declaration.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from chalicelib.domain import rules
from chalicelib.domain.calls import CallResult, Direction, MediaSecurity
from chalicelib.domain.declare import Field, Shape, page_of
from chalicelib.domain.import_job import JobStatus, Policy, Source
from chalicelib.domain.model import AccountStatus, AccountType, CreationMode, Language, Role, SecurityModel, Transport
from chalicelib.domain.provisioning import MessageStatus, Purpose

ID = 64
NUMBER = 32
T: Final = "datetime"

ACCOUNT_INPUT = Shape(
    "AccountInput",
    (
        Field("username", max_length=64, min_length=1, description="generated from the number when left out"),
        Field("password", max_length=128, min_length=1, rule_min_length=rules.PASSWORD_MIN_LENGTH, strip=False,
              write_only=True),
        Field("group_id", max_length=ID, min_length=1, required=True, label="Group"),
        Field("provisioning_profile_id", max_length=ID, nullable=True, label="Provisioning profile"),
        Field("phone_number", max_length=NUMBER, min_length=1, required=True, label="Virtual phone number",
              description="E.164 (+...) or digits for test numbers"),
        Field("secondary_phone_number", max_length=NUMBER, nullable=True, label="Virtual phone number (secondary)"),
        Field("account_type", "choice", choices=AccountType),
        Field("security_model", "choice", choices=SecurityModel),
        Field("obfuscation_enabled", "boolean", label="Obfuscation mode"),
        Field("obfuscation_key", max_length=64, min_length=1, description="PGSM only"),
        Field("keep_alive", "boolean", label="Keep-alive"),
        Field("permit", "strings", max_items=50, max_length=50, description="CIDRs, SNOM only"),
        Field("deny", "strings", max_items=50, max_length=50, description="CIDRs, SNOM only"),
        Field("full_name", max_length=200, nullable=True, label="Owner"),
        Field("email", max_length=254, nullable=True, label="E-mail"),
        Field("description", max_length=1000, multiline=True, nullable=True),
    ),
    read_only=("id", "enabled", "status", "status_changed_at", "created_at", "updated_at", "creation_mode",
               "sip_locked_until"),
)  # fmt: skip
ACCOUNT_CREATE = ACCOUNT_INPUT.extended(
    "AccountInput", Field("mode", max_length=20, description="plain (default) or wizard: disabled until activated")
)
ACCOUNT_PATCH = ACCOUNT_INPUT.optional("AccountPatch")
ACCOUNT = ACCOUNT_INPUT.response(
    "Account",
    Field("id"),
    Field("enabled", "boolean"),
    Field("status", "choice", choices=AccountStatus),
    Field("status_changed_at", T),
    Field("created_at", T),
    Field("updated_at", T),
    Field("creation_mode", "choice", choices=CreationMode),
    Field("sms_problem", description="why the last text message failed; empty when fine"),
    Field("sip_locked_until", T, nullable=True, description="the SIP edge refuses the account until then"),
    nullable=("secondary_phone_number", "obfuscation_key"),
)
ACCOUNT_RESULT = ACCOUNT.extended("AccountResult", Field("warnings", "strings", required=True))
ACCOUNT_ROW = ACCOUNT.only(
    "AccountRow",
    ("id", "username", "group_id", "full_name", "phone_number", "secondary_phone_number", "email", "description",
     "account_type", "enabled", "status", "status_changed_at", "sms_problem"),
)  # fmt: skip

GROUP_INPUT = Shape(
    "GroupInput",
    (
        Field("name", max_length=100, min_length=1, required=True),
        Field("it_email", max_length=254, min_length=1, required=True, label="IT contact e-mail"),
        Field(
            "provisioning_profile_id", max_length=ID, min_length=1, required=True, label="Default provisioning profile"
        ),
        Field("enabled", "boolean"),
        Field("language", "choice", choices=Language, description="of the SIP edge's announcements; default en"),
    ),
)
GROUP_PATCH = GROUP_INPUT.optional("GroupPatch")
GROUP = GROUP_INPUT.response(
    "Group", Field("id"), Field("account_count", "integer", minimum=0), Field("created_at", T), Field("updated_at", T)
)

_PORT = {"kind": "integer", "minimum": 1, "maximum": 65535, "nullable": True}
PROFILE_INPUT = Shape(
    "ProfileInput",
    (
        Field("name", max_length=100, min_length=1, required=True),
        Field("sip_domain", max_length=253, min_length=1, required=True, label="SIP domain (realm)"),
        Field("sip_host", max_length=253, min_length=1, required=True, label="SIP host"),
        Field("tls_port", **_PORT, label="TLS port"),  # type: ignore[arg-type]
        Field("tcp_port", **_PORT, label="TCP port"),  # type: ignore[arg-type]
        Field("udp_port", **_PORT, label="UDP port"),  # type: ignore[arg-type]
        Field("default_transport", "choice", choices=Transport, label="Default transport"),
        Field("android_url", max_length=2000, nullable=True, label="Android download URL"),
        Field("ios_url", max_length=2000, nullable=True, label="iOS download URL"),
        Field("other_url", max_length=2000, nullable=True, label="Other devices download URL"),
        Field("installation_sms_template", max_length=480, min_length=1, description="must contain {link}",
              label="Installation SMS text"),
        Field("activation_sms_template", max_length=480, min_length=1, description="must contain {link}",
              label="Activation SMS text"),
        Field("default_country", max_length=2, nullable=True, label="Default country",
              description="ISO 3166 code (IT, DE...): the console offers it for numbers typed without +"),
        Field("transports", "strings", choices=Transport, max_items=3,
              description="transports the SIP edge accepts registrations over; empty: the edge's default (TLS)"),
    ),
)  # fmt: skip
PROFILE_PATCH = PROFILE_INPUT.optional("ProfilePatch")
PROFILE = PROFILE_INPUT.response(
    "Profile",
    Field("id"),
    Field("created_at", T),
    Field("updated_at", T),
    nullable=("tls_port", "tcp_port", "udp_port"),
)

OPERATOR_PASSWORD_MIN = 10
OPERATOR_INPUT = Shape(
    "OperatorInput",
    (
        Field("username", max_length=64, min_length=1, required=True),
        Field("password", max_length=256, min_length=1, rule_min_length=OPERATOR_PASSWORD_MIN, strip=False,
              write_only=True, required=True),
        Field("role", "choice", choices=Role, required=True),
        Field("group_ids", "strings", max_items=200, max_length=ID, label="Groups"),
        Field("enabled", "boolean"),
    ),
)  # fmt: skip
OPERATOR_PATCH = OPERATOR_INPUT.optional("OperatorPatch", without=("username",))
OPERATOR = OPERATOR_INPUT.response("Operator", Field("id"), Field("created_at", T), Field("updated_at", T))

MESSAGE = Shape(
    "Message",
    (
        Field("id", required=True),
        Field("account_id", required=True),
        Field("to", required=True),
        Field("channel", required=True, description="sms or email"),
        Field("purpose", "choice", choices=Purpose, required=True),
        Field("status", "choice", choices=MessageStatus, required=True),
        Field("provider_id", required=True),
        Field("error_code", required=True),
        Field("error_message", required=True),
        Field("attempts", "integer", minimum=0, required=True),
        Field("created_at", T, required=True),
        Field("updated_at", T, required=True),
    ),
)
SENT_MESSAGE = MESSAGE.extended(
    "SentMessage",
    Field("encoding", required=True, description="GSM-7 or UCS-2"),
    Field("segments", "integer", minimum=1, required=True, description="SMS segments the text takes"),
)
SMS_SENT = Shape(
    "SmsSent",
    (
        Field("message", "shape", shape=SENT_MESSAGE, required=True),
        Field("account", "shape", shape=ACCOUNT, required=True),
    ),
)
REGISTRATION = Shape(
    "Registration",
    (
        *(Field(name, required=True) for name in ("account_id", "username", "group_id", "contact", "source")),
        Field("transport", "choice", choices=Transport, required=True),
        Field("user_agent", required=True),
        Field("edge", required=True, description="the SIP edge task that holds the contact"),
        Field("registered_at", T, required=True),
        Field("expires_at", T, required=True),
    ),
)
EVENT = Shape(
    "TimelineEvent",
    (Field("at", T, required=True), Field("kind", required=True), Field("actor", required=True),
     Field("detail", "object", required=True)),
)  # fmt: skip
HISTORY = Shape(
    "History",
    (Field("timeline", "shapes", shape=EVENT, required=True), Field("sessions", "any", required=True),
     Field("calls", "any", required=True)),
)  # fmt: skip
LOGIN_ATTEMPT = Shape(
    "LoginAttempt",
    (
        Field("at", T, required=True),
        *(Field(name, required=True) for name in ("username", "source_ip", "outcome", "user_agent")),
    ),
)

LOGIN = Shape(
    "Login",
    (
        Field("username", max_length=64, min_length=1, required=True),
        Field("password", max_length=256, min_length=1, strip=False, required=True, write_only=True),
    ),
)


class BulkAction(StrEnum):
    ENABLE = "enable"
    DISABLE = "disable"
    SEND_INSTALLATION_SMS = "send_installation_sms"
    SEND_ACTIVATION_SMS = "send_activation_sms"
    EXPORT = "export"
    DELETE = "delete"


class BulkOutcome(StrEnum):
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"


BULK_MAX = 200
BULK_INPUT = Shape(
    "BulkInput",
    (
        Field("action", "choice", choices=BulkAction, required=True, label="Action"),
        Field("ids", "strings", max_items=BULK_MAX, max_length=ID, required=True, label="Accounts",
              description="the accounts' ids (at most 200; repeated ids count once)"),
    ),
)  # fmt: skip
BULK_ITEM = Shape(
    "BulkItem",
    (
        Field("account_id", required=True),
        Field("username", required=True, description="empty when the account was not found"),
        Field("outcome", "choice", choices=BulkOutcome, required=True),
        Field("code", required=True, description="why it was skipped or failed (a problem code); empty when done"),
        Field("message", required=True),
    ),
)
BULK_RESULT = Shape(
    "BulkResult",
    (
        Field("action", "choice", choices=BulkAction, required=True),
        Field("results", "shapes", shape=BULK_ITEM, required=True, description="one per account, in the given order"),
        Field("accounts", "shapes", shape=ACCOUNT_ROW, required=True,
              description="export: the accounts exported (list rows); empty for the other actions"),
    ),
)  # fmt: skip

AUDIT_EVENT = Shape(
    "AuditEvent",
    (
        Field("seq", "integer", minimum=1, required=True, description="the entry's place in the chain"),
        Field("at", T, required=True),
        Field("actor", required=True, description="the operator's username"),
        Field("source", required=True, description="where the request came from"),
        Field("action", required=True, description="e.g. account.update, account.bulk.disable, login.success"),
        Field("target_kind", required=True),
        Field("target_id", required=True),
        Field("detail", "object", required=True, description="what: changed fields before/after, counts; no secret"),
        Field("prev_hash", required=True, description="the hash of the entry before (64 zeros for the first)"),
        Field("hash", required=True, description="SHA-256 of this entry's content and prev_hash"),
    ),
)

SESSION = Shape(
    "Session",
    (Field("token", required=True, description="send as `Authorization: Bearer <token>`"),
     Field("expires_at", T, required=True), Field("operator", "shape", shape=OPERATOR, required=True)),
)  # fmt: skip

ROW_ERROR = Shape(
    "RowError",
    (Field("row", "integer", minimum=0, required=True), Field("field", required=True), Field("code", required=True),
     Field("message", required=True)),
)  # fmt: skip
IMPORT_JOB = Shape(
    "ImportJob",
    (
        *(Field(name, required=True)
          for name in ("id", "group_id", "file_name", "created_by", "message", "profile_id")),
        Field("policy", "choice", choices=Policy, required=True),
        Field("status", "choice", choices=JobStatus, required=True),
        Field("source", "choice", choices=Source, required=True),
        Field("progress", "integer", minimum=0, maximum=100, required=True),
        Field("has_result", "boolean", required=True, value=lambda job: bool(job.result_key),
              description="the result CSV is at /imports/{id}/result"),
        Field("dry_run", "boolean", required=True),
        Field("send_installation_sms", "boolean", required=True),
        Field("created_at", T, required=True),
        Field("updated_at", T, nullable=True, required=True),
        *(Field(name, "integer", minimum=0, required=True)
          for name in ("rows", "valid", "created", "failed", "skipped", "errors_total")),
        Field("errors", "shapes", shape=ROW_ERROR, required=True, description="the first row errors"),
    ),
)  # fmt: skip
_IMPORT_OPTIONS = (
    Field("group_id", max_length=ID, min_length=1, required=True),
    Field("profile_id", max_length=ID, description="the default provisioning profile (else the group's)"),
    Field("policy", "choice", choices=Policy),
    Field("dry_run", "boolean"),
    Field("send_installation_sms", "boolean"),
)
IMPORT_UPLOAD = Shape(
    "ImportUpload",
    (Field("file", required=True, description="the CSV file (a multipart part with a file name)"), *_IMPORT_OPTIONS),
)
IMPORT_REFERENCE = Shape(
    "ImportReference",
    (Field("upload_id", required=True, description="from POST /imports/uploads"), Field("file_name", max_length=255),
     *_IMPORT_OPTIONS),
)  # fmt: skip
UPLOAD_REQUEST = Shape("UploadRequest", (Field("group_id", max_length=ID, min_length=1, required=True),))
UPLOAD_FORM = Shape(
    "UploadForm",
    (Field("upload_id", required=True), Field("url", required=True),
     Field("fields", "object", required=True, description="the form fields to post with the file"),
     Field("expires_in", "integer", minimum=0, required=True), Field("max_bytes", "integer", minimum=0, required=True)),
)  # fmt: skip

CALL = Shape(
    "Call",
    (
        *(Field(name, required=True) for name in ("call_id", "caller_username", "callee_username", "dialled")),
        Field("direction", "choice", choices=Direction, required=True),
        Field("started_at", T, required=True),
        Field("answered_at", T, nullable=True, required=True),
        Field("ended_at", T, nullable=True, required=True),
        Field("duration_seconds", "integer", minimum=0, required=True),
        Field("result", "choice", choices=CallResult, nullable=True, required=True,
              description="null while the call goes on"),
        Field("sip_code", "integer", nullable=True, required=True),
        Field("media_security", "choice", choices=MediaSecurity, required=True),
    ),
)  # fmt: skip

FIELD_ERROR = Shape("FieldError", (Field("field", required=True), Field("code", required=True),
                                   Field("message", required=True)))  # fmt: skip
PROBLEM = Shape(
    "Problem",
    (Field("type"), Field("title", required=True), Field("status", "integer", required=True),
     Field("code", required=True, description="stable, for programs"), Field("detail", required=True),
     Field("field", description="the field at fault"), Field("errors", "shapes", shape=FIELD_ERROR)),
    description="RFC 9457",
    open=True,
)  # fmt: skip

PAGES = {
    s.name: page_of(s) for s in (GROUP, PROFILE, OPERATOR, MESSAGE, REGISTRATION, LOGIN_ATTEMPT, CALL, AUDIT_EVENT)
}
PAGES["ImportPage"] = page_of(IMPORT_JOB, "ImportPage")
ACCOUNT_PAGE = page_of(ACCOUNT)
ROW_PAGE = page_of(ACCOUNT_ROW)

SHAPES: tuple[Shape, ...] = (
    ACCOUNT_CREATE, ACCOUNT_PATCH, ACCOUNT, ACCOUNT_RESULT, ACCOUNT_ROW, GROUP_INPUT, GROUP_PATCH, GROUP,
    PROFILE_INPUT, PROFILE_PATCH, PROFILE, OPERATOR_INPUT, OPERATOR_PATCH, OPERATOR, MESSAGE, REGISTRATION, EVENT,
    HISTORY, LOGIN_ATTEMPT, LOGIN, SENT_MESSAGE, SMS_SENT, SESSION, ROW_ERROR, IMPORT_JOB, IMPORT_UPLOAD,
    IMPORT_REFERENCE, UPLOAD_REQUEST, UPLOAD_FORM, CALL, FIELD_ERROR, PROBLEM, BULK_INPUT, BULK_ITEM, BULK_RESULT,
    AUDIT_EVENT, *PAGES.values(),
)  # fmt: skip
"""Every declared shape: the OpenAPI document's components come from this tuple (add a new resource here)."""
