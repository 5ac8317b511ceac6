"""The OpenAPI 3.1 document of /api/v1 (a test checks it lists exactly the routes the app serves)."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Request, Response

from chalicelib.api.http import json_response, route
from chalicelib.services.context import Context

bp = Blueprint(__name__)

_S = {"type": "string"}
_NS = {"type": ["string", "null"]}
_B = {"type": "boolean"}
_T = {"type": "string", "format": "date-time"}
_SL = {"type": "array", "items": _S}
_PORT = {"type": ["integer", "null"], "minimum": 1, "maximum": 65535}

_ACCOUNT_INPUT = {
    "username": _S,
    "password": {"type": "string", "writeOnly": True, "minLength": 8},
    "group_id": _S,
    "provisioning_profile_id": _NS,
    "phone_number": {"type": "string", "description": "E.164 (+...) or digits for test numbers"},
    "secondary_phone_number": _NS,
    "account_type": {"enum": ["PGSM", "SNOM"]},
    "security_model": {"enum": ["SDES", "ZRTP"]},
    "obfuscation_enabled": _B,
    "obfuscation_key": _S,
    "keep_alive": _B,
    "permit": _SL,
    "deny": _SL,
    "full_name": _NS,
    "email": _NS,
    "description": _NS,
}
_ACCOUNT = {
    **{k: v for k, v in _ACCOUNT_INPUT.items() if k != "password"},
    "id": _S,
    "enabled": _B,
    "status": {
        "enum": ["created", "installation_sms_sent", "installed", "activation_sms_sent", "activated", "connected"]
    },
    "status_changed_at": _T,
    "created_at": _T,
    "updated_at": _T,
    "creation_mode": {"enum": ["plain", "wizard", "batch"]},
    "sms_problem": {"type": "string", "description": "why the last text message failed; empty when fine"},
    "sip_locked_until": {
        **_NS,
        "format": "date-time",
        "description": "the SIP edge refuses the account until then (wrong passwords)",
    },
}
_GROUP_INPUT = {"name": _S, "it_email": _S, "provisioning_profile_id": _S, "enabled": _B}
_GROUP = {**_GROUP_INPUT, "id": _S, "account_count": {"type": "integer"}, "created_at": _T, "updated_at": _T}
_PROFILE_INPUT = {
    "name": _S,
    "sip_domain": _S,
    "sip_host": _S,
    "tls_port": _PORT,
    "tcp_port": _PORT,
    "udp_port": _PORT,
    "default_transport": {"enum": ["tls", "tcp", "udp"]},
    "android_url": _S,
    "ios_url": _S,
    "other_url": _S,
    "installation_sms_template": {"type": "string", "description": "must contain {link}; {owner} optional"},
    "activation_sms_template": {"type": "string", "description": "must contain {link}; {owner} optional"},
    "transports": {
        "type": "array",
        "items": {"enum": ["tls", "tcp", "udp"]},
        "description": "transports the SIP edge accepts registrations over; empty: the edge's default (TLS)",
    },
}
_PROFILE = {**_PROFILE_INPUT, "id": _S, "created_at": _T, "updated_at": _T}
_OPERATOR_INPUT = {
    "username": _S,
    "password": {"type": "string", "writeOnly": True, "minLength": 10},
    "role": {"enum": ["admin", "operator", "viewer"]},
    "group_ids": _SL,
    "enabled": _B,
}
_OPERATOR = {
    **{k: v for k, v in _OPERATOR_INPUT.items() if k != "password"},
    "id": _S,
    "created_at": _T,
    "updated_at": _T,
}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _page(name: str) -> dict[str, Any]:
    return _obj({"items": {"type": "array", "items": _ref(name)}, "next_cursor": _NS})


SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "properties": {
            "type": _S,
            "title": _S,
            "status": {"type": "integer"},
            "code": _S,
            "detail": _S,
            "field": _S,
            "errors": {"type": "array", "items": _obj({"field": _S, "code": _S, "message": _S})},
        },
        "required": ["title", "status", "code", "detail"],
    },
    "AccountInput": _obj({**_ACCOUNT_INPUT, "mode": {"enum": ["plain", "wizard"]}}, ["group_id", "phone_number"]),
    "AccountPatch": _obj(_ACCOUNT_INPUT),
    "Account": _obj(_ACCOUNT),
    "AccountResult": {"allOf": [_ref("Account")], "properties": {"warnings": _SL}},
    "AccountPage": {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"anyOf": [_ref("Account"), _ref("AccountRow")]}},
            "next_cursor": _NS,
        },
    },
    "AccountRow": _obj(
        {
            **{k: _ACCOUNT[k] for k in ("id", "username", "group_id", "full_name", "phone_number")},
            **{k: _ACCOUNT[k] for k in ("secondary_phone_number", "email", "description", "account_type")},
            **{k: _ACCOUNT[k] for k in ("enabled", "status", "status_changed_at", "sms_problem")},
        }
    ),
    "History": _obj(
        {
            "timeline": {
                "type": "array",
                "items": _obj({"at": _T, "kind": _S, "actor": _S, "detail": {"type": "object"}}),
            },
            "sessions": {"type": "array"},
            "calls": {"type": "array"},
        }
    ),
    "GroupInput": _obj(_GROUP_INPUT, ["name", "it_email", "provisioning_profile_id"]),
    "GroupPatch": _obj(_GROUP_INPUT),
    "Group": _obj(_GROUP),
    "GroupPage": _page("Group"),
    "ProfileInput": _obj(_PROFILE_INPUT, ["name", "sip_domain", "sip_host"]),
    "ProfilePatch": _obj(_PROFILE_INPUT),
    "Profile": _obj(_PROFILE),
    "ProfilePage": _page("Profile"),
    "OperatorInput": _obj(_OPERATOR_INPUT, ["username", "password", "role"]),
    "OperatorPatch": _obj({k: v for k, v in _OPERATOR_INPUT.items() if k != "username"}),
    "Operator": _obj(_OPERATOR),
    "OperatorPage": _page("Operator"),
    "Message": _obj(
        {
            **{k: _S for k in ("id", "account_id", "to", "provider_id", "error_code", "error_message")},
            "purpose": {"enum": ["install", "activate"]},
            "channel": {"enum": ["sms", "email"]},
            "status": {"enum": ["queued", "sent", "delivered", "undelivered", "failed"]},
            "attempts": {"type": "integer"},
            "created_at": _T,
            "updated_at": _T,
            "encoding": {"enum": ["GSM-7", "UCS-2"]},
            "segments": {"type": "integer"},
        }
    ),
    "MessagePage": _page("Message"),
    "SmsSent": _obj({"message": _ref("Message"), "account": _ref("Account")}),
    "ImportJob": {
        "type": "object",
        "properties": {
            **{k: _S for k in ("id", "group_id", "file_name", "created_by", "policy", "message", "profile_id")},
            "status": {"enum": ["pending", "running", "completed", "failed"]},
            "source": {"enum": ["upload", "drop"]},
            "progress": {"type": "integer", "minimum": 0, "maximum": 100},
            "has_result": {**_B, "description": "the result CSV is at /imports/{id}/result"},
            "dry_run": _B,
            "send_installation_sms": _B,
            "created_at": _T,
            "updated_at": _T,
            **{k: {"type": "integer"} for k in ("rows", "valid", "created", "failed", "skipped", "errors_total")},
            "errors": {
                "type": "array",
                "items": _obj({"row": {"type": "integer"}, "field": _S, "code": _S, "message": _S}),
            },
        },
    },
    "ImportPage": _page("ImportJob"),
    "UploadRequest": _obj({"group_id": _S}, ["group_id"]),
    "UploadForm": _obj(
        {
            "upload_id": _S,
            "url": _S,
            "fields": {"type": "object", "additionalProperties": _S},
            "expires_in": {"type": "integer"},
            "max_bytes": {"type": "integer"},
        }
    ),
    "Registration": _obj(
        {
            **{k: _S for k in ("account_id", "username", "group_id", "contact", "source", "user_agent")},
            "edge": {"type": "string", "description": "the SIP edge task that holds the contact"},
            "transport": {"enum": ["udp", "tcp", "tls"]},
            "registered_at": _T,
            "expires_at": _T,
        }
    ),
    "RegistrationPage": _page("Registration"),
    "Login": _obj({"username": _S, "password": _S}, ["username", "password"]),
    "Session": _obj({"token": _S, "expires_at": _T, "operator": _ref("Operator")}),
    "LoginAttemptPage": _obj({"items": {"type": "array", "items": {"type": "object"}}, "next_cursor": _NS}),
}

_ERRORS = {
    code: {"description": text, "content": {"application/problem+json": {"schema": _ref("Problem")}}}
    for code, text in {
        "400": "Malformed request",
        "401": "Not logged in",
        "403": "Not allowed",
        "404": "Not found",
        "409": "Conflict",
        "413": "Body too large",
        "415": "Not JSON",
        "422": "Invalid fields",
        "429": "Rate limited",
        "503": "Search engine unavailable",
    }.items()
}


def _op(summary: str, response: str | None, body: str | None = None, status: str = "200") -> dict[str, Any]:
    responses: dict[str, Any] = dict(_ERRORS)
    if response is None:
        responses["204" if status == "200" else status] = {"description": "Done"}
    else:
        responses[status] = {"description": "OK", "content": {"application/json": {"schema": _ref(response)}}}
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    return op


def _crud(name: str, schema: str, key: str) -> dict[str, dict[str, Any]]:
    item_params = [{"name": key, "in": "path", "required": True, "schema": _S}]
    return {
        f"/{name}": {
            "get": _op(f"List {name}", f"{schema}Page"),
            "post": _op(f"Create one of {name}", schema, f"{schema}Input", "201"),
        },
        f"/{name}/{{{key}}}": {
            "parameters": item_params,
            "get": _op(f"Get one of {name}", schema),
            "patch": _op(f"Update one of {name}", schema, f"{schema}Patch"),
            "delete": _op(f"Delete one of {name}", None),
        },
    }


def document() -> dict[str, Any]:
    account_param = [{"name": "account_id", "in": "path", "required": True, "schema": _S}]
    paths: dict[str, Any] = {
        "/auth/login": {"post": {**_op("Log in", "Session", "Login"), "security": []}},
        "/auth/logout": {"post": _op("Log out (revokes the token)", None)},
        "/auth/me": {"get": _op("The logged-in operator", "Operator")},
        "/audit/logins": {"get": _op("Recent login attempts (admin)", "LoginAttemptPage")},
        "/openapi.json": {
            "get": {"summary": "This document", "security": [], "responses": {"200": {"description": "OpenAPI"}}}
        },
        "/accounts": {
            "get": {
                **_op("List a group's accounts", "AccountPage"),
                "parameters": [
                    {"name": "group_id", "in": "query", "required": True, "schema": _S},
                    {
                        "name": "q",
                        "in": "query",
                        "schema": _S,
                        "description": "Lucene syntax over owner, username, callerid, email, description; "
                        "with q the items are account list rows (AccountRow)",
                    },
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                    {"name": "cursor", "in": "query", "schema": _S},
                ],
            },
            "post": _op(
                "Create an account (plain way, or wizard way: disabled until activated)",
                "AccountResult",
                "AccountInput",
                "201",
            ),
        },
        "/accounts/export": {
            "get": {
                "summary": "A group's PGSM accounts in the batch CSV format (re-imports into an empty group)",
                "parameters": [{"name": "group_id", "in": "query", "required": True, "schema": _S}],
                "responses": {**_ERRORS, "200": {"description": "CSV", "content": {"text/csv": {"schema": _S}}}},
            }
        },
        "/accounts/{account_id}": {
            "parameters": account_param,
            "get": _op("Get an account", "Account"),
            "patch": _op("Update an account", "AccountResult", "AccountPatch"),
            "delete": _op("Delete an account", None),
        },
        "/accounts/{account_id}/enable": {"parameters": account_param, "post": _op("Enable", "Account")},
        "/accounts/{account_id}/disable": {"parameters": account_param, "post": _op("Disable", "Account")},
        "/accounts/{account_id}/installation-sms": {
            "parameters": account_param,
            "post": _op("Queue the installation SMS (new link)", "SmsSent", status="202"),
        },
        "/accounts/{account_id}/activation-sms": {
            "parameters": account_param,
            "post": _op("Queue the activation SMS (new link)", "SmsSent", status="202"),
        },
        "/accounts/{account_id}/installation-email": {
            "parameters": account_param,
            "post": _op("Queue the installation link by e-mail (devices without SMS)", "SmsSent", status="202"),
        },
        "/accounts/{account_id}/activation-email": {
            "parameters": account_param,
            "post": _op("Queue the activation link by e-mail (devices without SMS)", "SmsSent", status="202"),
        },
        "/accounts/{account_id}/messages": {
            "parameters": account_param,
            "get": _op("SMS sent to the account, newest first", "MessagePage"),
        },
        "/sms/status/{message_id}": {
            "parameters": [{"name": "message_id", "in": "path", "required": True, "schema": _S}],
            "post": {
                "summary": "Twilio status callback (X-Twilio-Signature checked)",
                "security": [],
                "responses": {"204": {"description": "Recorded"}, "403": _ERRORS["403"]},
            },
        },
        "/imports": {
            "get": _op("Recent import jobs of the operator's groups", "ImportPage"),
            "post": {
                **_op(
                    "Queue the import of a batch file (validated first; dry run and policies): a multipart "
                    "upload, or JSON naming a presigned upload (upload_id); the job runs in the background",
                    "ImportJob",
                    status="202",
                ),
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file", "group_id"],
                                "properties": {
                                    "file": {"type": "string", "contentMediaType": "text/csv"},
                                    "group_id": _S,
                                    "profile_id": _S,
                                    "policy": {"enum": ["all_or_nothing", "skip_invalid"]},
                                    "dry_run": {"type": "boolean"},
                                    "send_installation_sms": {"type": "boolean"},
                                },
                            }
                        },
                        "application/json": {
                            "schema": _obj(
                                {
                                    "upload_id": _S,
                                    "file_name": _S,
                                    "group_id": _S,
                                    "profile_id": _S,
                                    "policy": {"enum": ["all_or_nothing", "skip_invalid"]},
                                    "dry_run": {"type": "boolean"},
                                    "send_installation_sms": {"type": "boolean"},
                                },
                                ["upload_id", "group_id"],
                            )
                        },
                    },
                },
            },
        },
        "/imports/uploads": {
            "post": _op(
                "A presigned S3 form (url, fields) for a file too large for a request; expires in 15 minutes",
                "UploadForm",
                "UploadRequest",
                "201",
            ),
        },
        "/imports/{job_id}": {
            "parameters": [{"name": "job_id", "in": "path", "required": True, "schema": _S}],
            "get": _op("One import job: status, progress, counts and per-row errors", "ImportJob"),
        },
        "/imports/{job_id}/result": {
            "parameters": [{"name": "job_id", "in": "path", "required": True, "schema": _S}],
            "get": {
                "summary": "Every record of the file with its outcome and created username",
                "responses": {**_ERRORS, "200": {"description": "CSV", "content": {"text/csv": {"schema": _S}}}},
            },
        },
        "/registrations": {
            "get": {
                **_op("Who is online in a group: registered SIP contacts by username", "RegistrationPage"),
                "parameters": [
                    {"name": "group_id", "in": "query", "required": True, "schema": _S},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                    {"name": "cursor", "in": "query", "schema": _S},
                ],
            },
        },
        "/accounts/{account_id}/sip-lockout": {
            "parameters": account_param,
            "delete": _op("Lift the SIP edge's lockout of the account (repeated wrong passwords)", "Account"),
        },
        "/accounts/{account_id}/history": {
            "parameters": account_param,
            "get": _op("Timeline, sessions, calls", "History"),
        },
        **_crud("groups", "Group", "group_id"),
        **_crud("provisioning-profiles", "Profile", "profile_id"),
        **_crud("operators", "Operator", "operator_id"),
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Secure voice operator API", "version": "1.0.0"},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@route(bp, "/openapi.json", ["GET"], public=True)
def openapi(ctx: Context, request: Request, actor: None) -> Response:
    return json_response(document())
