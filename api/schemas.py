"""Response bodies. Every answer carries "error"; failures add "msg" (the seed's shapes)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErrorResponse(BaseModel):
    error: bool = True
    msg: str


class IndexResponse(BaseModel):
    error: bool = False
    msg: str = "Created"
    face_id: str
    name: str
    model_version: str
    created_at: str
    box: list[float] = Field(description="x1, y1, x2, y2 of the enrolled face in the uploaded image")
    faces_detected: int
    quality: QualityOut


class CandidateOut(BaseModel):
    name: str
    face_id: str = Field(description="the person's best matching enrolled face")
    similarity: float = Field(description="the person's score: cosine similarity aggregated over their faces")
    probability: float = Field(description="P(this face is this person): open-set calibrated")
    photos: int = Field(description="the person's enrolled faces")


class QualityOut(BaseModel):
    size: float = Field(description="the face box's shorter side, pixels")
    sharpness: float = Field(description="variance of the Laplacian over the aligned face; low = blurred")
    detection: float = Field(description="the detector's face probability")
    yaw: float | None = Field(description="head turn from the landmarks: 0 frontal, ~0.5 profile")


class FaceOut(BaseModel):
    box: list[float]
    detection_probability: float
    quality: QualityOut
    pred: str = Field(description='the person named for this face, or "unknown"')
    proba: float = Field(description="P(the named person, or the best candidate, is right)")
    candidates: list[CandidateOut]


class Prediction(BaseModel):
    pred: str
    proba: float


class RecognizeResponse(BaseModel):
    error: bool = False
    results: Prediction = Field(description="the main (largest) face")
    faces: list[FaceOut]
    threshold: float
    model_version: str


class PersonOut(BaseModel):
    name: str
    faces: int


class PeopleResponse(BaseModel):
    error: bool = False
    people: list[PersonOut]
    total_people: int
    total_faces: int


class DeleteResponse(BaseModel):
    error: bool = False
    msg: str = "Deleted"
    deleted: int


class VerifyResponse(BaseModel):
    error: bool = False
    similarity: float
    probability: float
    same_person: bool
    threshold: float
    model_version: str


class HealthResponse(BaseModel):
    status: str


class ReadyResponse(BaseModel):
    status: str
    model_version: str | None = None
    index_backend: str | None = None
    faces: int | None = None
    detail: str | None = None


class ModelResponse(BaseModel):
    error: bool = False
    model_version: str
    created_at: str
    run_id: str | None
    encoder: dict = Field(description="backbone, embedding size, flip averaging")
    preprocess: dict = Field(description="the input the encoder was evaluated and is served with")
    metrics: dict = Field(description="test metrics measured by the training flow")
    train: dict = Field(description="how the model was trained (without the per-evaluation history)")
    split_people: dict[str, int] = Field(description="people per split part")
    unknown_threshold: float = Field(description="the threshold /recognize applies unless asked otherwise")
    calibration: str = Field(description="open-set, or pair (fallback for bundles without the open-set calibrator)")
    open_set: dict | None = Field(
        description="the open-set calibrator: aggregate, the evidence it reads, default threshold and its target, "
        "and the share of strangers its probabilities assume (stranger_share; stranger_share_fitted: its dev "
        "simulations')"
    )
    runtime: str = Field(description="onnx or torch")
