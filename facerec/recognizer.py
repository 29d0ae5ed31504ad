"""detect -> align -> encode -> search -> calibrate: the one pipeline behind enrolment, recognition and verification."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from .bundle import ModelBundle
from .detection import DetectedFace, FaceDetector, as_face_crop
from .index import FaceIndex, FaceRecord
from .runtime import EmbeddingRuntime, TorchRuntime
from .transforms import preprocess

UNKNOWN = "unknown"


class RecognitionError(ValueError):
    """The request cannot be served as asked (no face, several faces, ...); the message is for the client."""


class StaleIndexError(RuntimeError):
    """The index holds faces embedded by another model version."""


@dataclass
class Candidate:
    name: str
    face_id: str
    similarity: float
    probability: float


@dataclass
class FaceResult:
    box: tuple[float, float, float, float]
    detection_probability: float
    name: str  # the best candidate's name, or "unknown"
    probability: float  # calibrated P(same person) of the best candidate (0 when the index is empty)
    candidates: list[Candidate] = field(default_factory=list)


def crop_to_jpeg(crop: Image.Image) -> bytes:
    buffer = io.BytesIO()
    crop.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


class Recognizer:
    def __init__(
        self,
        bundle: ModelBundle,
        index: FaceIndex,
        detector: FaceDetector,
        keep_face_crops: bool = True,
        runtime: EmbeddingRuntime | None = None,
    ):
        self.bundle = bundle
        self.runtime = runtime or TorchRuntime(bundle.encoder)
        self.index = index
        self.detector = detector
        self.keep_face_crops = keep_face_crops
        # one encoder call at a time: parallel calls would only oversubscribe the cores torch already uses
        self._encode_lock = threading.Lock()

    @property
    def model_version(self) -> str:
        return self.bundle.model_version

    def check_index(self) -> None:
        """Refuse to search an index that holds vectors of another model (they are not comparable)."""
        stale = {v: n for v, n in self.index.model_versions().items() if v != self.model_version}
        if stale:
            described = ", ".join(f"{n} faces by {v}" for v, n in stale.items())
            raise StaleIndexError(
                f"the index holds {described}, but this service embeds with {self.model_version}; "
                "re-embed them with `python -m facerec.reindex` (uses the stored face crops), or delete those people"
            )

    def faces(self, image: Image.Image, detect: bool = True) -> list[DetectedFace]:
        return self.detector.detect(image) if detect else [as_face_crop(image)]

    def embed(self, faces: list[DetectedFace]) -> np.ndarray:
        """All faces of a request in one batch."""
        if not faces:
            return np.zeros((0, self.bundle.encoder.config.embedding_dim), dtype=np.float32)
        batch = preprocess([face.crop for face in faces], self.bundle.preprocess)
        with self._encode_lock:
            return self.runtime.embed(batch)

    def enroll(self, image: Image.Image, name: str, detect: bool = True, face: int | None = None) -> FaceRecord:
        """Add one face of ``name``; with several faces in the photo, ``face`` (0 = largest) picks one."""
        return self.enroll_detected(self.faces(image, detect), name, face)[0]

    def enroll_detected(
        self, faces: list[DetectedFace], name: str, face: int | None = None
    ) -> tuple[FaceRecord, tuple[float, float, float, float]]:
        """Enrol one of already detected ``faces``; returns the record and the chosen face's box."""
        if not faces:
            raise RecognitionError("no face found in the image (send a clearer photo, or detect=false for a face crop)")
        if face is None and len(faces) > 1:
            raise RecognitionError(
                f"{len(faces)} faces found; enrol one at a time by passing face=<0..{len(faces) - 1}> "
                "(faces are numbered largest first)"
            )
        if face is not None and not 0 <= face < len(faces):
            raise RecognitionError(f"face={face} is out of range: {len(faces)} face(s) found")
        chosen = faces[face or 0]
        record = FaceRecord(
            name=name,
            vector=self.embed([chosen])[0],
            model_version=self.model_version,
            crop_jpeg=crop_to_jpeg(chosen.crop) if self.keep_face_crops else None,
        )
        self.index.add([record])
        return record, chosen.box

    def recognize(
        self, image: Image.Image, k: int = 5, threshold: float = 0.5, detect: bool = True
    ) -> list[FaceResult]:
        faces = self.faces(image, detect)
        if not faces:
            return []
        vectors = self.embed(faces)
        matches = self.index.search(vectors, k, self.model_version)
        results = []
        for face, face_matches in zip(faces, matches, strict=True):
            similarities = np.array([m.similarity for m in face_matches])
            probabilities = self.bundle.calibrator(similarities) if len(similarities) else np.array([])
            candidates = [
                Candidate(m.name, m.face_id, float(s), float(p))
                for m, s, p in zip(face_matches, similarities, probabilities, strict=True)
            ]
            best = candidates[0] if candidates else None
            known = best is not None and best.probability >= threshold
            results.append(
                FaceResult(
                    box=face.box,
                    detection_probability=face.probability,
                    name=best.name if known else UNKNOWN,
                    probability=best.probability if best else 0.0,
                    candidates=candidates,
                )
            )
        return results

    def verify(self, first: Image.Image, second: Image.Image, detect: bool = True) -> tuple[float, float]:
        """(cosine similarity, calibrated P(same person)) of the main face of each image."""
        faces = []
        for i, image in enumerate((first, second), 1):
            found = self.faces(image, detect)
            if not found:
                raise RecognitionError(f"no face found in image {i}")
            faces.append(found[0])
        a, b = self.embed(faces)
        similarity = float(np.dot(a, b))
        return similarity, float(self.bundle.calibrator(similarity))

    def reindex(self, batch_size: int = 32) -> int:
        """Re-embed every stored face crop with this model; returns the number of faces updated."""
        pending = [r for r in self.index.records() if r.model_version != self.model_version]
        missing = [r.face_id for r in pending if r.crop_jpeg is None]
        if missing:
            raise RecognitionError(f"{len(missing)} faces have no stored crop to re-embed (KEEP_FACE_CROPS was off)")
        updated = 0
        for start in range(0, len(pending), batch_size):
            chunk = pending[start : start + batch_size]
            crops = [DetectedFace((0, 0, 0, 0), 1.0, Image.open(io.BytesIO(r.crop_jpeg)).convert("RGB")) for r in chunk]
            vectors = self.embed(crops)
            self.index.update_vectors([(r.face_id, v, self.model_version) for r, v in zip(chunk, vectors, strict=True)])
            updated += len(chunk)
        return updated
