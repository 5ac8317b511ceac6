"""The optional SES identity (`-c ses_domain=…`): synthesized on its own, with the same cdk-nag checks."""

from __future__ import annotations

import os
from pathlib import Path

import aws_cdk as cdk

from infra.cdk_app import build, check_with_cdk_nag
from tests.infra.conftest import cdk_context


def test_ses_domain_adds_the_identity_the_sender_and_only_that_identitys_send_permission(tmp_path: Path) -> None:
    previous = os.getcwd()
    os.chdir(tmp_path)
    try:
        app = cdk.App(context=cdk_context() | {"ses_domain": "voice.example.com"}, outdir=str(tmp_path / "out"))
        stack = build(app, "dev")
        check_with_cdk_nag(app)
        template = app.synth().get_stack_by_name(stack.stack_name).template
    finally:
        os.chdir(previous)
    resources = template["Resources"].values()
    (identity,) = [r for r in resources if r["Type"] == "AWS::SES::EmailIdentity"]
    assert identity["Properties"]["EmailIdentity"] == "voice.example.com"
    from infra.application import ALL_HANDLERS, SEND_SMS

    def statements(handler: object) -> list[dict[str, object]]:
        policy = template["Resources"][stack.get_logical_id(stack.access[handler].node.default_child)]  # type: ignore[arg-type,index]
        return list(policy["Properties"]["PolicyDocument"]["Statement"])

    # the queue's consumer sends the e-mail (activation.deliver), not the API that queues it
    (email,) = [s for s in statements(SEND_SMS) if s.get("Sid") == "Email"]
    assert email["Action"] == ["ses:SendEmail", "ses:SendRawEmail"]
    assert "identity/voice.example.com" in str(email["Resource"])
    others = [h for h in ALL_HANDLERS if h is not SEND_SMS]
    assert not [h.name for h in others if any(s.get("Sid") == "Email" for s in statements(h))]
    (sender,) = [
        r
        for r in resources
        if r["Type"] == "AWS::Serverless::Function" and r["Properties"]["Handler"] == "app.send_sms"
    ]
    variables = sender["Properties"]["Environment"]["Variables"]
    assert variables["EMAIL_PROVIDER"] == "ses"
    assert variables["EMAIL_FROM"] == "provisioning@voice.example.com"
