"""S3 access (AWS, MinIO, rclone): one configuration from the environment, folder upload/download in parallel."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

S3_WORKERS = 16


def cache_root(override: str | Path | None = None) -> Path:
    """Where downloads and derived data are cached: ``override``, ``FACEREC_CACHE_DIR`` or ``~/.cache/facerec``."""
    return Path(override or os.environ.get("FACEREC_CACHE_DIR") or Path.home() / ".cache" / "facerec")


class StorageError(RuntimeError):
    """S3 is unreachable, misconfigured, or lacks the expected object."""


class S3Config(BaseSettings):
    """Where S3 is and how to sign in: the one reader of the S3 variables, for training and serving alike.

    ``S3_ENDPOINT_URL`` (or Metaflow's ``METAFLOW_S3_ENDPOINT_URL``; empty = AWS), ``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``, ``S3_BUCKET``; from the environment or ``.env``.
    """

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True, frozen=True,
        populate_by_name=True,
    )  # fmt: skip

    endpoint_url: str | None = Field(
        None, validation_alias=AliasChoices("endpoint_url", "S3_ENDPOINT_URL", "METAFLOW_S3_ENDPOINT_URL")
    )
    access_key_id: str | None = Field(None, validation_alias=AliasChoices("access_key_id", "AWS_ACCESS_KEY_ID"))
    secret_access_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("secret_access_key", "AWS_SECRET_ACCESS_KEY")
    )
    region: str = Field("us-east-1", validation_alias=AliasChoices("region", "AWS_DEFAULT_REGION"))
    bucket: str | None = Field(None, validation_alias=AliasChoices("bucket", "S3_BUCKET"))

    def client(self, config=None):
        """A boto3 S3 client; ``config`` (a botocore Config) replaces the defaults below."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key.get_secret_value() if self.secret_access_key else None,
            region_name=self.region,
            # path-style works with MinIO and rclone; short timeouts and few retries so a dead endpoint fails fast
            config=config
            or Config(
                s3={"addressing_style": "path"},
                connect_timeout=5,
                read_timeout=60,
                retries={"max_attempts": 3, "mode": "standard"},
                max_pool_connections=S3_WORKERS,
            ),
        )


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/key`` -> (``bucket``, ``some/key``)."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"not an s3:// URI: {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def _wrap(action: str, exc: Exception) -> StorageError:
    return StorageError(f"{action} failed: {exc}")


def ensure_bucket(config: S3Config, bucket: str) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    client = config.client()
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError:
        try:
            client.create_bucket(Bucket=bucket)
        except (ClientError, BotoCoreError) as exc:
            raise _wrap(f"creating bucket {bucket!r} at {config.endpoint_url or 'AWS'}", exc) from exc
    except BotoCoreError as exc:
        raise _wrap(f"reaching S3 at {config.endpoint_url or 'AWS'}", exc) from exc


def upload_folder(config: S3Config, folder: str | Path, uri: str, progress: bool = False) -> int:
    """Upload every file under ``folder`` to the ``uri`` prefix, in parallel; returns the number of files."""
    from botocore.exceptions import BotoCoreError, ClientError

    folder = Path(folder)
    bucket, prefix = parse_s3_uri(uri)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    client = config.client()

    def put(path: Path) -> None:
        client.upload_file(str(path), bucket, f"{prefix.rstrip('/')}/{path.relative_to(folder).as_posix()}".lstrip("/"))

    try:
        with ThreadPoolExecutor(S3_WORKERS) as pool:
            for i, _ in enumerate(pool.map(put, files), 1):
                if progress and (i % 1000 == 0 or i == len(files)):
                    print(f"  uploaded {i:,}/{len(files):,}", flush=True)
    except (ClientError, BotoCoreError) as exc:
        raise _wrap(f"uploading {folder} to {uri}", exc) from exc
    return len(files)


def list_keys(config: S3Config, uri: str) -> list[str]:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = parse_s3_uri(uri)
    keys: list[str] = []
    try:
        for page in config.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [item["Key"] for item in page.get("Contents", [])]
    except (ClientError, BotoCoreError) as exc:
        raise _wrap(f"listing {uri}", exc) from exc
    return keys


def download_folder(config: S3Config, uri: str, folder: str | Path) -> int:
    """Download every object under the ``uri`` prefix into ``folder`` (parallel); returns the number of files."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = parse_s3_uri(uri)
    prefix = prefix.rstrip("/") + "/" if prefix else ""
    keys = [k for k in list_keys(config, f"s3://{bucket}/{prefix}") if not k.endswith("/")]
    if not keys:
        raise StorageError(f"nothing stored under {uri}")
    folder = Path(folder)
    client = config.client()

    def get(key: str) -> None:
        target = folder / key[len(prefix) :]
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        client.download_file(bucket, key, str(partial))
        partial.replace(target)

    try:
        with ThreadPoolExecutor(S3_WORKERS) as pool:
            list(pool.map(get, keys))
    except (ClientError, BotoCoreError) as exc:
        raise _wrap(f"downloading {uri}", exc) from exc
    return len(keys)


def put_json(config: S3Config, uri: str, data: dict) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = parse_s3_uri(uri)
    try:
        config.client().put_object(
            Bucket=bucket, Key=key, Body=json.dumps(data, indent=1).encode(), ContentType="application/json"
        )
    except (ClientError, BotoCoreError) as exc:
        raise _wrap(f"writing {uri}", exc) from exc


def get_json(config: S3Config, uri: str) -> dict:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = parse_s3_uri(uri)
    try:
        body = config.client().get_object(Bucket=bucket, Key=key)["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        raise _wrap(f"reading {uri}", exc) from exc
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise StorageError(f"{uri} is not valid JSON") from exc
