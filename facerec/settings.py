"""Service settings: one pydantic-settings object, read from the environment and `.env`."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from .storage import S3Config


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    # model: a bundle folder, s3://bucket/prefix/, s3://bucket/models/latest.json, or FacialRecognitionTrainFlow/<id>
    model_uri: str = Field("FacialRecognitionTrainFlow/latest", description="where the model bundle comes from")

    # index
    index_backend: Literal["embedded", "elasticsearch"] = "embedded"
    index_path: str = Field("artifacts/faces.sqlite3", description="SQLite file of the embedded index")
    ivf_min_vectors: int = Field(200_000, ge=1, description="embedded index: approximate (IVF) search from this size")
    ivf_nprobe: int = Field(32, ge=1, description="embedded index: IVF cells searched per query")
    es_url: str = "http://localhost:9200"
    es_index: str = "faces"
    es_username: str | None = None
    es_password: SecretStr | None = None
    es_verify_certs: bool = True
    es_num_candidates: int = Field(100, ge=1, le=10_000)

    # S3 (model bundles, original images)
    s3_endpoint_url: str | None = None
    s3_bucket: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_default_region: str = "us-east-1"

    # recognition
    unknown_threshold: float = Field(
        0.5, ge=0.0, le=1.0, description="calibrated P(same) below which a face is unknown"
    )
    top_k: int = Field(5, ge=1, le=100)
    min_face_probability: float = Field(0.9, ge=0.0, le=1.0, description="MTCNN face score to accept a detection")
    min_face_size: int = Field(40, ge=10, description="smallest face side in pixels MTCNN looks for")
    detection_max_side: int = Field(1024, ge=160, description="photos are downscaled to this side before detection")

    # limits and security
    api_key: SecretStr | None = None
    max_upload_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    max_image_pixels: int = Field(40_000_000, ge=10_000, description="refuse images with more pixels (bombs)")
    max_name_length: int = Field(128, ge=1, le=1024)
    inference_workers: int = Field(1, ge=1, le=64, description="requests decoded/detected/embedded in parallel")
    # 0 = cores / inference_workers. Measured on 2 cores with ONNX Runtime, 1 worker: 2 threads answered a crop in
    # 18.3 ms (p50) and served 63.7 requests/s, 1 thread 22.4 ms and 55.9/s. (With INFERENCE_RUNTIME=torch, 1 thread
    # per worker was faster: 38 ms against 62 ms, torch's OpenMP teams in worker threads compete.)
    torch_threads: int = Field(0, ge=0, description="torch / ONNX Runtime threads per inference worker")
    inference_runtime: Literal["onnx", "torch"] = Field(
        "onnx", description="runs the encoder and MTCNN's networks: ONNX Runtime (exported at start-up) or torch"
    )
    originals_uri: str | None = Field(
        None, description="s3://bucket/prefix: keep every enrolled photo there, so `reindex --source originals` works"
    )
    keep_face_crops: bool = Field(True, description="store each enrolled face crop so `reindex` can re-embed")

    # webapp (streamlit_webapp.py): where it finds the API
    api_url: str = Field("http://localhost:8000", description="the API's base URL, for the webapp")

    def s3(self) -> S3Config:
        return S3Config(
            endpoint_url=self.s3_endpoint_url,
            access_key_id=self.aws_access_key_id,
            secret_access_key=self.aws_secret_access_key.get_secret_value() if self.aws_secret_access_key else None,
            region=self.aws_default_region,
            bucket=self.s3_bucket,
        )


@lru_cache
def get_settings() -> Settings:
    return Settings()
