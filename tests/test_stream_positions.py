"""The stream bridge's position across restarts of the local stack (devstack/events.py StreamPositions)."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import boto3

from devstack.events import StreamBridge, StreamPositions, wait_until


def _table(url: str, name: str = "") -> tuple[Any, str]:
    client = boto3.client("dynamodb", endpoint_url=url, region_name="eu-west-1")
    name = name or f"positions-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )  # fmt: skip
    return client, name


class Taken:
    def __init__(self) -> None:
        self.ids: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, event: dict[str, Any], _: Any) -> None:
        with self.lock:
            self.ids.extend(r["dynamodb"]["Keys"]["id"]["S"] for r in event["Records"])


def _run_bridge(url: str, table: str, positions: StreamPositions, expected: int) -> list[str]:
    taken = Taken()
    bridge = StreamBridge(url, "eu-west-1", table, taken, poll_seconds=0.05, positions=positions).start()
    try:
        assert wait_until(lambda: len(taken.ids) >= expected, 10), taken.ids
    finally:
        bridge.stop()
    return taken.ids


def test_a_restarted_bridge_goes_on_after_the_last_record_it_delivered(moto_url: str, tmp_path: Path) -> None:
    client, table = _table(moto_url)
    for i in range(3):
        client.put_item(TableName=table, Item={"id": {"S": f"a{i}"}})
    path = tmp_path / "positions.json"
    assert _run_bridge(moto_url, table, StreamPositions(path), 3) == ["a0", "a1", "a2"]
    for i in range(2):
        client.put_item(TableName=table, Item={"id": {"S": f"b{i}"}})
    restarted = StreamPositions(path)  # read back from the file, as the next run does
    assert restarted.matches(moto_url, "eu-west-1", table)
    assert _run_bridge(moto_url, table, restarted, 2) == ["b0", "b1"]  # neither missed nor repeated


def test_a_position_the_restored_stream_no_longer_holds_does_not_match(moto_url: str, tmp_path: Path) -> None:
    client, table = _table(moto_url)
    client.put_item(TableName=table, Item={"id": {"S": "a0"}})
    path = tmp_path / "positions.json"
    _run_bridge(moto_url, table, StreamPositions(path), 1)
    # the table comes back without its last moments (a kill -9 between two snapshots), then changes again:
    client.delete_table(TableName=table)
    _table(moto_url, table)
    client.put_item(TableName=table, Item={"id": {"S": "other"}})  # the same sequence number, another record
    assert not StreamPositions(path).matches(moto_url, "eu-west-1", table)
