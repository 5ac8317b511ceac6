"""Import files on S3 (boto3): streamed reads, streamed multipart writes, presigned upload forms."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.errors import FileMissing, StorageUnavailable
from chalicelib.services.ports import StoredFile

READ_CHUNK = 256 * 1024
PART_SIZE = 8 * 1024 * 1024  # S3 multipart parts must be at least 5 MiB (but the last)


@contextmanager
def _unavailable() -> Iterator[None]:
    """No botocore error leaves the adapter: what is not a missing object means the store is unavailable."""
    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise StorageUnavailable("The file store cannot be reached; try again in a moment.") from exc


class S3Files:
    def __init__(self, bucket: str, region: str, endpoint: str | None = None) -> None:
        self.bucket = bucket
        config = Config(retries={"max_attempts": 4, "mode": "standard"}, signature_version="s3v4")
        self._client: Any = boto3.client("s3", region_name=region, endpoint_url=endpoint, config=config)

    def read(self, key: str) -> Iterator[bytes]:
        with _unavailable():
            try:
                body = self._client.get_object(Bucket=self.bucket, Key=key)["Body"]
            except ClientError as exc:
                if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                    raise FileMissing(f"No file {key}.") from exc
                raise
            try:
                yield from body.iter_chunks(READ_CHUNK)
            finally:
                body.close()

    def write(self, key: str, chunks: Iterable[bytes], content_type: str = "text/csv") -> None:
        """Small files in one PUT; larger ones as a multipart upload, so memory stays at one part."""
        with _unavailable():
            self._write(key, chunks, content_type)

    def _write(self, key: str, chunks: Iterable[bytes], content_type: str) -> None:
        buffer = bytearray()
        upload_id = ""
        parts: list[dict[str, Any]] = []
        try:
            for chunk in chunks:
                buffer += chunk
                if len(buffer) >= PART_SIZE:
                    if not upload_id:
                        upload_id = self._client.create_multipart_upload(
                            Bucket=self.bucket, Key=key, ContentType=content_type
                        )["UploadId"]
                    parts.append(self._part(key, upload_id, len(parts) + 1, bytes(buffer)))
                    buffer.clear()
            if not upload_id:
                self._client.put_object(Bucket=self.bucket, Key=key, Body=bytes(buffer), ContentType=content_type)
                return
            if buffer:
                parts.append(self._part(key, upload_id, len(parts) + 1, bytes(buffer)))
            self._client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            if upload_id:
                self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise

    def _part(self, key: str, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
        answer = self._client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body)
        return {"ETag": answer["ETag"], "PartNumber": number}

    def info(self, key: str) -> StoredFile | None:
        with _unavailable():
            try:
                head = self._client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if exc.response["Error"]["Code"] in ("NoSuchKey", "404", "NotFound"):
                    return None
                raise
        return StoredFile(
            key=key,
            size=int(head.get("ContentLength", 0)),
            etag=str(head.get("ETag", "")).strip('"'),
            version=str(head.get("VersionId") or ""),
            metadata={str(k).lower(): str(v) for k, v in (head.get("Metadata") or {}).items()},
        )

    def upload_form(self, key: str, max_bytes: int, expires_seconds: int) -> dict[str, Any]:
        with _unavailable():
            form: dict[str, Any] = self._client.generate_presigned_post(
                Bucket=self.bucket,
                Key=key,
                Conditions=[["content-length-range", 1, max_bytes]],
                ExpiresIn=expires_seconds,
            )
        return form

    def delete_prefix(self, prefix: str) -> None:
        with _unavailable():
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if keys:
                    self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
