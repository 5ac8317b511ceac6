"""Sample Lambda events, as AWS delivers them, loaded by `load_event`."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any


@cache
def _read(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((Path(__file__).parent / f"{name}.json").read_text())
    return data


def load_event(name: str) -> dict[str, Any]:
    return copy.deepcopy(_read(name))
