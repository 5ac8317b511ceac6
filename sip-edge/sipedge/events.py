"""Session events (docs/sip-events.md) and the batch sender that puts them on SQS from the timer process."""

from __future__ import annotations

import json
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sipedge.config import EdgeConfig

KINDS = ("registered", "unregistered", "expired", "keepalive_failed", "removed", "refused", "locked_out")
BATCH = 10  # SendMessageBatch's limit


def make_event(
    kind: str,
    *,
    edge: str,
    username: str,
    account_id: str = "",
    contact: str = "",
    source: str = "",
    transport: str = "",
    user_agent: str = "",
    expires: int = 0,
    reason: str = "",
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    return {
        "id": uuid.uuid4().hex,
        "kind": kind,
        "at": now().isoformat(),
        "username": username,
        "account_id": account_id,
        "contact": contact,
        "source": source,
        "transport": transport,
        "user_agent": user_agent,
        "expires": expires,
        "reason": reason,
        "edge": edge,
    }


def encode(event: Mapping[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"), sort_keys=True)


class EventSender:
    """Sends queued event bodies in batches of ten; failed ones stay queued for the next tick (bounded)."""

    MAX_PENDING = 50_000

    def __init__(
        self, queue_url: str | None, client: Any, log: Callable[[str], None] = lambda _: None, batch: int = BATCH
    ) -> None:
        self._batch = batch  # SQS takes 10 a call; the hand-over to the sidecar takes more per datagram
        self._queue_url = queue_url
        self._client = client
        self._log = log
        self.pending: deque[str] = deque(maxlen=self.MAX_PENDING)

    def add(self, bodies: Iterable[str]) -> None:
        self.pending.extend(bodies)

    def flush(self, max_batches: int = 50) -> int:
        """Sends up to `max_batches` batches; returns how many events were accepted by SQS."""
        if not self._queue_url:
            dropped = len(self.pending)
            self.pending.clear()
            if dropped:
                self._log(f"no SIP_EVENTS_QUEUE_URL: {dropped} events not sent")
            return 0
        sent = 0
        for _ in range(max_batches):
            if not self.pending:
                break
            batch = [self.pending.popleft() for _ in range(min(self._batch, len(self.pending)))]
            failed = self._send(batch)
            sent += len(batch) - len(failed)
            if failed:
                self.pending.extendleft(reversed(failed))
                break
        return sent

    def _send(self, batch: list[str]) -> list[str]:
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(batch)]
        try:
            answer = self._client.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
        except Exception as exc:  # any SQS trouble: keep the events, try again next tick
            self._log(f"SQS send failed ({type(exc).__name__}); {len(batch)} events kept")
            return batch
        failed_ids = {int(entry["Id"]) for entry in answer.get("Failed", [])}
        if failed_ids:
            self._log(f"SQS refused {len(failed_ids)} events; kept for retry")
        return [batch[i] for i in sorted(failed_ids)]


def sqs_client(config: EdgeConfig) -> Any:
    import boto3
    from botocore.config import Config

    settings = Config(connect_timeout=2, read_timeout=3, retries={"total_max_attempts": 2, "mode": "standard"})
    return boto3.client("sqs", region_name=config.region, endpoint_url=config.sqs_endpoint, config=settings)
