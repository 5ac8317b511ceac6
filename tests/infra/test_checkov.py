"""checkov (PyPI, its own venv made by `make test`: .venv/checkov) on both synthesized templates: no finding
beyond the ones infra/checkov-accepted.json accepts with a reason, and no accepted entry that matches nothing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.infra.conftest import Synth

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".venv" / "checkov" / "bin" / "checkov"
ACCEPTED: list[dict[str, Any]] = json.loads((ROOT / "infra" / "checkov-accepted.json").read_text())["accepted"]


def _findings(template: dict[str, Any], workdir: Path, stage: str) -> list[tuple[str, str]]:
    path = workdir / f"{stage}.template.json"
    path.write_text(json.dumps(template))
    run = subprocess.run(
        [str(CHECKOV), "-f", str(path), "--framework", "cloudformation", "--quiet", "--compact", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode in (0, 1), run.stderr[-3000:]  # 1: findings (judged below)
    report = json.loads(run.stdout)
    assert report["summary"]["passed"] > 100, report["summary"]  # it did check the template
    return [(f["check_id"], f["resource"].split(".", 1)[1]) for f in report["results"]["failed_checks"]]


def _accepts(entry: dict[str, Any], stage: str, check: str, resource: str) -> bool:
    return (
        entry["check"] == check
        and resource.startswith(entry.get("resource", ""))
        and stage in entry.get("stages", ["dev", "prod"])
    )


def test_checkov_finds_nothing_the_design_does_not_accept(synth: Synth, tmp_path: Path) -> None:
    assert CHECKOV.exists(), "make test installs checkov into .venv/checkov (requirements-checkov.txt)"
    used: set[int] = set()
    unaccepted = []
    for stage in ("dev", "prod"):
        for check, resource in _findings(synth.templates[stage], tmp_path, stage):
            matches = [i for i, entry in enumerate(ACCEPTED) if _accepts(entry, stage, check, resource)]
            used.update(matches)
            if not matches:
                unaccepted.append((stage, check, resource))
    assert not unaccepted, unaccepted
    stale = [ACCEPTED[i] for i in range(len(ACCEPTED)) if i not in used]
    assert not stale, f"accepted findings that no longer occur (remove them): {stale}"
    assert all(entry["reason"] for entry in ACCEPTED)
