"""detect -> align -> encode -> search -> calibrate: the one pipeline behind enrolment, recognition and verification."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from ..index import FaceIndex, FaceRecord
from ..model.bundle import ModelBundle
from ..model.preprocess import preprocess
from ..model.runtime import EmbeddingRuntime, TorchRuntime
from .detection import Box, DetectedFace, FaceDetector, as_face_crop
from .images import decode_image
from .originals import OriginalsStore

UNKNOWN = "unknown"
NO_FACE = "no face found in the image (send a clearer photo, or detect=false for a face crop)"


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
    box: Box
    detection_probability: float
    name: str  # the best candidate's name, or "unknown"
    probability: float  # calibrated P(same person) of the best candidate (0 when the index is empty)
    candidates: list[Candidate] = field(default_factory=list)


@dataclass
class Enrolment:
    record: FaceRecord
    box: Box  # the enrolled face in the uploaded image
    faces_detected: int


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
        originals: OriginalsStore | None = None,
    ):
        self.bundle = bundle
        self.originals = originals
        self.runtime = runtime or TorchRuntime(bundle.encoder)
        self.index = index
        self.detector = detector
        self.keep_face_crops = keep_face_crops
        # one encoder call at a time: parallel calls would only oversubscribe the cores torch already uses
        self._encode_lock = threading.Lock()

    @property
    def model_version(self) -> str:
        return self.bundle.model_version

    def _check_index(self) -> None:
        """Refuse to search an index that holds vectors of another model (they are not comparable)."""
        stale = {v: n for v, n in self.index.model_versions().items() if v != self.model_version}
        if stale:
            described = ", ".join(f"{n} faces by {v}" for v, n in stale.items())
            raise StaleIndexError(
                f"the index holds {described}, but this service embeds with {self.model_version}; "
                "re-embed them with `python -m facerec.serve.reindex` (uses the stored face crops), "
                "or delete those people"
            )

    def find_faces(self, image: Image.Image, detect: bool = True) -> list[DetectedFace]:
        """The faces of a photo, largest first; ``detect=False``: the image already is a face crop."""
        return self.detector.detect(image) if detect else [as_face_crop(image)]

    def embed_faces(self, faces: list[DetectedFace]) -> np.ndarray:
        """All faces of a request in one batch."""
        if not faces:
            return np.zeros((0, self.bundle.encoder.config.embedding_dim), dtype=np.float32)
        batch = preprocess([face.crop for face in faces], self.bundle.preprocess)
        with self._encode_lock:
            return self.runtime.embed_batch(batch)

    def enroll(
        self,
        image: Image.Image,
        name: str,
        detect: bool = True,
        face: int | None = None,
        original: bytes | None = None,
    ) -> Enrolment:
        """Add one face of ``name``; with several faces in the photo, ``face`` (0 = largest) picks one.

        ``original``: the uploaded photo, kept in the originals store (when configured) under the new face's id.
        """
        faces = self.find_faces(image, detect)
        if not faces:
            raise RecognitionError(NO_FACE)
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
            vector=self.embed_faces([chosen])[0],
            model_version=self.model_version,
            crop_jpeg=crop_to_jpeg(chosen.crop) if self.keep_face_crops else None,
        )
        keep_original = self.originals is not None and original is not None
        if keep_original:  # first: a face in the index always has its original
            self.originals.put(record.face_id, original, chosen.box, detect)
        try:
            self.index.add([record])
        except Exception:
            if keep_original:
                self.originals.delete([record.face_id])
            raise
        return Enrolment(record, chosen.box, len(faces))

    def delete_person(self, name: str) -> int:
        """Remove every face of ``name`` (and their originals); returns how many faces were removed."""
        face_ids = self.index.face_ids(name) if self.originals is not None else []
        deleted = self.index.delete_person(name)
        if face_ids:
            self.originals.delete(face_ids)
        return deleted

    def delete_face(self, face_id: str) -> bool:
        deleted = self.index.delete_face(face_id)
        if deleted and self.originals is not None:
            self.originals.delete([face_id])
        return deleted

    def recognize(
        self, image: Image.Image, k: int = 5, threshold: float = 0.5, detect: bool = True
    ) -> list[FaceResult]:
        """Every face of the photo (largest first) with its top-``k`` candidates; raises when there is none."""
        self._check_index()
        faces = self.find_faces(image, detect)
        if not faces:
            raise RecognitionError(NO_FACE)
        vectors = self.embed_faces(faces)
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
            found = self.find_faces(image, detect)
            if not found:
                raise RecognitionError(f"image{i}: {NO_FACE}")
            faces.append(found[0])
        a, b = self.embed_faces(faces)
        similarity = float(np.dot(a, b))
        return similarity, float(self.bundle.calibrator(similarity))

    def reindex(self, source: str = "crops", batch_size: int = 32) -> int:
        """Re-embed every face of another model version; returns the number of faces updated.

        ``source``: ``crops`` (the aligned crops stored at enrolment) or ``originals`` (the photos kept in S3,
        detected and aligned again: use it after changing the detector or the alignment too).
        """
        if source not in ("crops", "originals"):
            raise ValueError(f"source must be 'crops' or 'originals', got {source!r}")
        if source == "originals" and self.originals is None:
            raise RecognitionError("no originals store is configured (ORIGINALS_URI)")
        pending = [r for r in self.index.records() if r.model_version != self.model_version]
        if source == "crops":
            missing = [r.face_id for r in pending if r.crop_jpeg is None]
            if missing:
                raise RecognitionError(
                    f"{len(missing)} faces have no stored crop to re-embed (KEEP_FACE_CROPS was off)"
                )
        updated = 0
        for start in range(0, len(pending), batch_size):
            chunk = pending[start : start + batch_size]
            if source == "crops":
                crops = [
                    DetectedFace((0, 0, 0, 0), 1.0, Image.open(io.BytesIO(r.crop_jpeg)).convert("RGB")) for r in chunk
                ]
            else:
                crops = [self._face_from_original(r.face_id) for r in chunk]
            vectors = self.embed_faces(crops)
            self.index.update_vectors([(r.face_id, v, self.model_version) for r, v in zip(chunk, vectors, strict=True)])
            updated += len(chunk)
        return updated

    def _face_from_original(self, face_id: str) -> DetectedFace:
        """Detect the enrolled face again in its original photo: the face that overlaps the enrolled box most."""
        original = self.originals.get(face_id)
        if original is None:
            raise RecognitionError(f"no original photo is kept for face {face_id}")
        # the upload passed the size limits at enrolment; only corrupt storage can fail here
        image = decode_image(original.data, max_bytes=len(original.data), max_pixels=Image.MAX_IMAGE_PIXELS or 10**9)
        if not original.detect:
            return as_face_crop(image)
        faces = self.detector.detect(image)
        if not faces:
            raise RecognitionError(f"the detector finds no face in the original photo of face {face_id}")
        return max(faces, key=lambda f: box_iou(f.box, original.box))


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
