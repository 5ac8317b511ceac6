"""A mock of Kamailio's KSR module for the routing script's unit tests: pseudo-variables from a dict, every call
recorded, return codes settable per function."""

from __future__ import annotations

import sys
from collections import defaultdict, deque
from typing import Any


class _Module:
    def __init__(self, owner: FakeKSR, name: str) -> None:
        self._owner = owner
        self._name = name

    def __getattr__(self, function: str) -> Any:
        def call(*args: Any) -> Any:
            return self._owner.called(f"{self._name}.{function}", args)

        return call


class _Pv:
    def __init__(self, owner: FakeKSR) -> None:
        self._owner = owner

    def get(self, name: str) -> Any:
        return self._owner.pvs.get(name)

    def sets(self, name: str, value: str) -> None:
        self._owner.pvs[name] = value

    def seti(self, name: str, value: int) -> None:
        self._owner.pvs[name] = value


class _Htable:
    """htable's writes recorded like any call and kept, so `$sht(table=>key)` reads them back."""

    def __init__(self, owner: FakeKSR) -> None:
        self._owner = owner

    def sht_seti(self, table: str, key: str, value: int) -> int:
        self._owner.pvs[f"$sht({table}=>{key})"] = value
        return int(self._owner.called("htable.sht_seti", (table, key, value)))

    def sht_rm(self, table: str, key: str) -> int:
        self._owner.pvs.pop(f"$sht({table}=>{key})", None)
        return int(self._owner.called("htable.sht_rm", (table, key)))

    def __getattr__(self, function: str) -> Any:
        return _Module(self._owner, "htable").__getattr__(function)


class _Mqueue:
    def __init__(self, owner: FakeKSR) -> None:
        self._queues: dict[str, deque[tuple[str, str]]] = defaultdict(deque)
        self._current: dict[str, tuple[str, str]] = {}
        self._owner = owner

    def mq_add(self, name: str, key: str, value: str) -> int:
        self._queues[name].append((key, value))
        return 1

    def mq_fetch(self, name: str) -> int:
        if not self._queues[name]:
            return -1
        self._current[name] = self._queues[name].popleft()
        return 1

    def mqk_get(self, name: str) -> str:
        return self._current[name][0]

    def mqv_get(self, name: str) -> str:
        return self._current[name][1]

    def items(self, name: str) -> list[tuple[str, str]]:
        return list(self._queues[name])


class FakeKSR:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.returns: dict[str, Any] = {"siputils.has_totag": -1}  # out of dialog unless a test says otherwise
        self.pvs: dict[str, Any] = {}
        self.method = "REGISTER"
        self.pv = _Pv(self)
        self.mqueue = _Mqueue(self)
        self.htable = _Htable(self)

    def called(self, name: str, args: tuple[Any, ...]) -> Any:
        """Records the call; its return code is the test's (a callable: called with the arguments), else 1."""
        self.calls.append((name, args))
        value = self.returns.get(name, 1)
        return value(*args) if callable(value) else value

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def args(self, name: str) -> list[tuple[Any, ...]]:
        return [args for called, args in self.calls if called == name]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("is_") and name[3:].isupper():
            return lambda: self.method == name[3:]
        if name in ("info", "warn", "err", "dbg", "notice", "crit"):
            return lambda text: self.called(name, (text,))
        return _Module(self, name)


def install() -> FakeKSR:
    fake = FakeKSR()
    sys.modules["KSR"] = fake  # type: ignore[assignment]
    return fake
