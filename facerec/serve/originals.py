"""The original photos of enrolled faces, kept in S3 so that a new model (or detector) can re-embed from them.

Per face: ``<prefix>/<face_id>`` holds the uploaded bytes as they came, and ``<prefix>/<face_id>.json`` the box of the
enrolled face and whether detection was used, so that re-detection picks the same face again. (A sidecar rather than
S3 user metadata, which not every S3 server keeps.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..storage import S3Config, StorageError, ensure_bucket, parse_s3_uri
from .detection import Box


@dataclass(frozen=True)
class Original:
    data: bytes
    box: Box
    detect: bool


class OriginalsStore:
    def __init__(self, config: S3Config, uri: str):
        self.config = config
        self.bucket, prefix = parse_s3_uri(uri)
        self.prefix = prefix.strip("/")
        self._client = config.client()
        self._ping_client = None

    def _key(self, face_id: str) -> str:
        return f"{self.prefix}/{face_id}" if self.prefix else face_id

    def ping(self) -> bool:
        """Whether the bucket answers now (short timeouts, no retries: for readiness checks)."""
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError

        if self._ping_client is None:
            self._ping_client = self.config.client(
                Config(s3={"addressing_style": "path"}, connect_timeout=2, read_timeout=3, retries={"max_attempts": 1})
            )
        try:
            self._ping_client.head_bucket(Bucket=self.bucket)
            return True
        except (BotoCoreError, ClientError):
            return False

    def connect(self) -> None:
        """Create the bucket when missing; raises StorageError when S3 cannot be reached."""
        ensure_bucket(self.config, self.bucket)

    def put(self, face_id: str, data: bytes, box: Box, detect: bool) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        sidecar = json.dumps({"box": [round(v, 2) for v in box], "detect": detect}).encode()
        try:
            self._client.put_object(Bucket=self.bucket, Key=self._key(face_id), Body=data)
            self._client.put_object(Bucket=self.bucket, Key=self._key(face_id) + ".json", Body=sidecar)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"keeping the original photo in s3://{self.bucket}/{self.prefix} failed: {exc}") from exc

    def _read(self, key: str) -> bytes | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise StorageError(f"reading s3://{self.bucket}/{key} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"reading s3://{self.bucket}/{key} failed: {exc}") from exc

    def get(self, face_id: str) -> Original | None:
        """The original of ``face_id``, or None when none was kept."""
        data, sidecar = self._read(self._key(face_id)), self._read(self._key(face_id) + ".json")
        if data is None or sidecar is None:
            return None
        info = json.loads(sidecar)
        return Original(data, tuple(float(v) for v in info["box"]), bool(info["detect"]))

    def delete(self, face_ids: list[str]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        keys = [key for face_id in face_ids for key in (self._key(face_id), self._key(face_id) + ".json")]
        for start in range(0, len(keys), 1000):  # S3's limit per DeleteObjects call
            objects = [{"Key": key} for key in keys[start : start + 1000]]
            try:
                self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})
            except (BotoCoreError, ClientError) as exc:
                raise StorageError(f"deleting original photos failed: {exc}") from exc
