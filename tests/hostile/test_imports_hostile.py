"""Hostile batch files: an oversize field, a step that keeps failing, names creation would refuse."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.domain.errors import StorageUnavailable
from chalicelib.handlers import imports as import_handlers
from chalicelib.services import imports
from chalicelib.services.imports import ImportOptions, Policy
from infra import messaging
from tests.conftest import World
from tests.unit.test_imports import HEADER, listed, run


def test_a_field_over_the_csv_limit_is_a_row_error_and_the_job_completes(world: World) -> None:
    data = HEADER + "Ada,+393471234567,,end-to-site,\n" + 'Huge,+393471234568,,end-to-site,"' + "x" * 200_000 + '"\n'
    data += "Bob,+393471234569,,end-to-site,\n"
    job = run(world, data, ImportOptions(policy=Policy.SKIP_INVALID))
    assert (job.status, job.rows, job.valid, job.created) == ("completed", 3, 2, 2)
    assert [(e.row, e.code) for e in job.errors] == [(3, "unreadable")]
    assert listed(world) == ["Ada", "Bob"]


def test_the_dry_run_refuses_what_creation_would_refuse(world: World) -> None:
    data = HEADER + 'Ada,+393471234567,,end-to-site,\n"Bad\u0007Name",+393471234568,,end-to-site,\n'
    data += '"Two\nLines",+393471234569,,end-to-site,\n'
    dry = run(world, data, ImportOptions(dry_run=True))
    assert {(e.row, e.field) for e in dry.errors} == {(3, "fullName"), (4, "fullName")}
    real = run(world, data)  # all or nothing: refused as a whole, nothing created
    assert (real.status, real.created) == ("rejected", 0)
    assert listed(world) == []


class _Record:
    def __init__(self, body: str, receives: int) -> None:
        self.body = body
        self._receives = receives

    def to_dict(self) -> dict[str, Any]:
        return {"attributes": {"ApproximateReceiveCount": str(self._receives)}}


def test_a_step_that_reaches_the_dead_letter_queue_fails_its_job_with_the_reason(
    memory_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib import bootstrap

    world = memory_world
    bootstrap.use(world.ctx)
    try:
        data = (HEADER + "Ada,+393471234567,,end-to-site,\n").encode()
        job = imports.submit_upload(world.ctx, world.admin, world.group_a.id, "f.csv", data, imports.DEFAULT_OPTIONS)
        task = world.ctx.tasks.tasks[0]  # type: ignore[attr-defined]

        def broken(*_: Any) -> Any:
            raise StorageUnavailable("The file store cannot be reached; try again in a moment.")

        monkeypatch.setattr(world.ctx.files, "read", broken)
        body = json.dumps(task)
        for receive in range(1, imports.MAX_RECEIVES):
            with pytest.raises(StorageUnavailable):
                import_handlers.run_record(_Record(body, receive))
            assert world.ctx.imports.get(job.id).status != "failed"  # type: ignore[union-attr]
        with pytest.raises(StorageUnavailable):  # the last delivery
            import_handlers.run_record(_Record(body, imports.MAX_RECEIVES))
        stored = world.ctx.imports.get(job.id)
        assert stored is not None and stored.status == "failed"
        assert "file store cannot be reached" in stored.message and "5 times" in stored.message
    finally:
        bootstrap.use(None)


def test_the_limit_of_receives_is_the_queues() -> None:
    assert imports.MAX_RECEIVES == messaging.MAX_RECEIVES
