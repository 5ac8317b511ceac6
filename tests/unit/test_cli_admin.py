"""`python -m chalicelib.cli ensure-admin`: the first operator of a new deployment, created once."""

from __future__ import annotations

import pytest

from chalicelib import bootstrap, cli
from chalicelib.services.operators import BOOTSTRAP_ADMIN
from tests.conftest import make_context


def test_ensure_admin_creates_the_first_operator_once_and_prints_its_password_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ctx = make_context("memory", None)
    bootstrap.use(ctx)
    try:
        assert ctx.operators.get_by_username(BOOTSTRAP_ADMIN) is None
        assert cli.main(["ensure-admin"]) == 0
        printed = capsys.readouterr().out
        password = printed.split("with the password ")[1].split()[0]
        admin = ctx.operators.get_by_username(BOOTSTRAP_ADMIN)
        assert admin is not None and ctx.hasher.verify(admin.password_hash, password)
        assert cli.main(["ensure-admin"]) == 0
        assert "exists already" in capsys.readouterr().out
    finally:
        bootstrap.use(None)
