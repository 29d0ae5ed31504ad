"""Service settings: one pydantic-settings object with nested groups, read from the environment and `.env`.

Each group's variables share its prefix: ``INDEX_BACKEND`` is ``settings.index.backend``, ``ES_URL`` is
``settings.es.url``, ``DETECTION_MAX_SIDE`` is ``settings.detection.max_side``. S3 has one reader,
:class:`facerec.storage.S3Config` (``S3_*`` and ``AWS_*``), shared with training.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..storage import S3Config
from .quality import QualityRules


class IndexSettings(BaseModel):
    """``INDEX_*``: where enrolled faces live."""

    backend: Literal["embedded", "elasticsearch"] = "embedded"
    path: str = Field("artifacts/faces.sqlite3", description="SQLite file of the embedded index")
    ivf_min_vectors: int = Field(200_000, ge=1, description="embedded index: approximate (IVF) search from this size")
    ivf_nprobe: int = Field(32, ge=1, description="embedded index: IVF cells searched per query")


class ElasticsearchSettings(BaseModel):
    """``ES_*``: the Elasticsearch backend (``INDEX_BACKEND=elasticsearch``)."""

    url: str = "http://localhost:9200"
    index: str = "faces"
    username: str | None = None
    password: SecretStr | None = None
    verify_certs: bool = True
    num_candidates: int = Field(100, ge=1, le=10_000, description="kNN candidates per shard")


class DetectionSettings(BaseModel):
    """``DETECTION_*``: MTCNN."""

    min_probability: float = Field(0.9, ge=0.0, le=1.0, description="MTCNN face score to accept a detection")
    min_face_size: int = Field(40, ge=10, description="smallest face side in pixels MTCNN looks for")
    max_side: int = Field(1024, ge=160, description="photos are downscaled to this side before detection")
    main_face_margin: float = Field(
        2.0, ge=1.0, description="face=main enrols the largest face when its area is this many times the next one's"
    )
    alignment: Literal["box", "landmarks"] = Field(
        "landmarks",
        description="how a detected face is warped into the encoder's crop: its five landmarks onto LFW's mean "
        "positions, or its box (before 2026-12-04); docs/experiments.md 'Detection and alignment'",
    )


class QualitySettings(BaseModel):
    """``QUALITY_*``: what a face must meet to be enrolled (recognition answers for any face, with its quality)."""

    min_size: float = Field(40.0, ge=0, description="the face box's shorter side, pixels")
    min_sharpness: float = Field(25.0, ge=0, description="variance of the Laplacian of the aligned face")
    min_detection: float = Field(0.95, ge=0, le=1, description="MTCNN's face probability")
    max_yaw: float = Field(0.4, gt=0, description="nose offset from the eyes' midpoint / eye distance (0 = frontal)")

    def rules(self) -> QualityRules:
        return QualityRules(self.min_size, self.min_sharpness, self.min_detection, self.max_yaw)


class LimitsSettings(BaseModel):
    """``LIMITS_*``: what a request may carry, checked before anything is parsed."""

    upload_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="largest accepted image")
    request_bytes: int = Field(
        0, ge=0, description="largest request body; 0 = two images plus 1 MiB of form fields (/verify sends two)"
    )
    image_pixels: int = Field(40_000_000, ge=10_000, description="refuse images with more pixels (bombs)")
    name_length: int = Field(128, ge=1, le=1024, description="longest person name")
    requests_per_minute: int = Field(0, ge=0, description="per API key (or client address); 0 = no rate limit")

    @property
    def body_bytes(self) -> int:
        return self.request_bytes or 2 * self.upload_bytes + 1024 * 1024


class FetchSettings(BaseModel):
    """``FETCH_*``: how the server fetches ``image_url`` (the JSON form of /index and /recognize)."""

    timeout_s: float = Field(10.0, gt=0, le=120, description="connect and read timeout per request")
    max_redirects: int = Field(3, ge=0, le=10, description="redirects followed, each target checked again")
    allowed_networks: str = Field(
        "", description="comma-separated CIDRs exempt from the private-address refusal (your own image store)"
    )


class InferenceSettings(BaseModel):
    """``INFERENCE_*``: where and how wide the networks run."""

    runtime: Literal["onnx", "torch"] = Field(
        "onnx", description="runs the encoder and MTCNN's networks: ONNX Runtime (exported at start-up) or torch"
    )
    workers: int = Field(1, ge=1, le=64, description="requests decoded/detected/embedded in parallel")
    # 0 = cores / workers. Measured on 2 cores with ONNX Runtime, 1 worker: 2 threads answered a crop in 18.3 ms (p50)
    # and served 63.7 requests/s, 1 thread 22.4 ms and 55.9/s. (With the torch runtime, 1 thread per worker was
    # faster: 38 ms against 62 ms, torch's OpenMP teams in worker threads compete.)
    threads: int = Field(0, ge=0, description="torch / ONNX Runtime threads per inference worker (0 = auto)")

    def threads_per_worker(self, cores: int) -> int:
        return self.threads or max(1, cores // self.workers)


class ServerSettings(BaseModel):
    """``SERVER_*``: the HTTP server itself (uvicorn)."""

    # uvicorn's own default is 5 s, the same as httpx's pool expiry: a client reusing a connection at the moment the
    # server closes it gets a reset instead of an answer (CI saw one in 200 concurrent requests). The server must
    # outlast its clients' and proxies' idle pools (httpx 5 s, nginx upstream 60 s, AWS ALB 60 s), so they always
    # close first; 75 s is nginx's own keepalive_timeout.
    keep_alive_s: int = Field(75, ge=1, le=3600, description="seconds an idle client connection is kept open")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        env_ignore_empty=True,
        # INDEX_BACKEND -> index.backend; only the first "_" separates the group from the field
        env_nested_delimiter="_",
        env_nested_max_split=1,
    )

    # a bundle folder, s3://bucket/prefix/, s3://bucket/models/latest.json, or FacialRecognitionTrainFlow/<id>
    model_uri: str = Field("FacialRecognitionTrainFlow/latest", description="where the model bundle comes from")
    unknown_threshold: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="probability needed to name a face; empty = the model's own default (chosen on dev people)",
    )
    stranger_share: float | None = Field(
        None,
        gt=0.0,
        lt=1.0,
        description="share of the faces sent to /recognize that belong to nobody enrolled (e.g. 0.9 for a camera "
        "in a public place); the probabilities are restated for it; empty = the share the model was calibrated at",
    )
    top_k: int = Field(5, ge=1, le=100, description="candidates per face")
    api_key: SecretStr | None = Field(None, description="the key clients send as X-API-Key (named 'default')")
    api_keys: SecretStr | None = Field(None, description="more named keys: 'name=key,name=key' (e.g. one per client)")
    allow_unauthenticated: bool = Field(
        False, description="serve without a key on other addresses than loopback (only behind your own auth proxy)"
    )
    metrics_require_key: bool = Field(False, description="ask /metrics for a key too")
    cors_origins: str = Field("", description="comma-separated origins allowed to call the API from a browser")
    allow_private_image_urls: bool = Field(
        False, description="let image_url point at loopback, private, link-local or multicast addresses"
    )
    originals_uri: str | None = Field(
        None, description="s3://bucket/prefix: keep every enrolled photo there, so `reindex --source originals` works"
    )
    keep_face_crops: bool = Field(True, description="store each enrolled face crop so `reindex` can re-embed")

    index: IndexSettings = IndexSettings()
    es: ElasticsearchSettings = ElasticsearchSettings()
    s3: S3Config = Field(default_factory=S3Config)
    detection: DetectionSettings = DetectionSettings()
    quality: QualitySettings = QualitySettings()
    limits: LimitsSettings = LimitsSettings()
    fetch: FetchSettings = FetchSettings()
    inference: InferenceSettings = InferenceSettings()
    server: ServerSettings = ServerSettings()

    def keys(self) -> dict[str, str]:
        """Key name -> secret: ``API_KEY`` as "default", then every ``name=key`` of ``API_KEYS``."""
        keys = {"default": self.api_key.get_secret_value()} if self.api_key else {}
        if self.api_keys:
            for entry in filter(None, (e.strip() for e in self.api_keys.get_secret_value().split(","))):
                name, sep, secret = entry.partition("=")
                if not sep or not name.strip() or not secret.strip():
                    raise ValueError("API_KEYS must read 'name=key,name=key'")
                keys[name.strip()] = secret.strip()
        return keys

    @model_validator(mode="after")
    def _keys_are_usable(self) -> Settings:
        for name, secret in self.keys().items():
            if len(secret) < 16:
                raise ValueError(f"API key {name!r} is {len(secret)} characters long; use at least 16 (random)")
        return self

    @property
    def origins(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]
