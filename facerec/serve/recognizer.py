"""detect -> align -> encode -> search -> calibrate: the one pipeline behind enrolment, recognition and verification."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice

import numpy as np
from PIL import Image

from ..index import FaceIndex, FaceRecord
from ..model.bundle import ModelBundle
from ..model.preprocess import preprocess
from ..model.runtime import EmbeddingRuntime, TorchRuntime
from .detection import Box, DetectedFace, FaceDetector, as_face_crop
from .errors import RecognitionError, StaleIndexError
from .images import decode_image
from .originals import OriginalsStore

UNKNOWN = "unknown"
NO_FACE = "no face found in the image (send a clearer photo, or detect=false for a face crop)"


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
        main_face_margin: float = 2.0,
    ):
        self.bundle = bundle
        self.main_face_margin = main_face_margin
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
        face: int | str | None = None,
        original: bytes | None = None,
    ) -> Enrolment:
        """Add one face of ``name``. With several faces in the photo, ``face`` picks one: a number (0 = largest), or
        ``"main"``: the largest face when it is at least ``main_face_margin`` times the area of the next (a portrait
        with people in the background), else a refusal that lists the faces.

        ``original``: the uploaded photo, kept in the originals store (when configured) under the new face's id.
        """
        faces = self.find_faces(image, detect)
        if not faces:
            raise RecognitionError(NO_FACE)
        chosen = faces[self._face_index(faces, face)]
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

    def _face_index(self, faces: list[DetectedFace], face: int | str | None) -> int:
        if len(faces) == 1 and face in (None, "main", 0):
            return 0
        sizes = ", ".join(f"{i}: {round(f.box[2] - f.box[0])} px" for i, f in enumerate(faces))
        if face == "main":
            if faces[0].area >= self.main_face_margin * faces[1].area:
                return 0
            raise RecognitionError(
                f"{len(faces)} faces found and none is clearly the main one (the largest is not "
                f"{self.main_face_margin:g}x the area of the next; widths {sizes}); pass face=<0..{len(faces) - 1}>"
            )
        if face is None:
            raise RecognitionError(
                f"{len(faces)} faces found; enrol one at a time by passing face=<0..{len(faces) - 1}> "
                f"(numbered largest first: {sizes}), or face=main for the clearly largest one"
            )
        if not isinstance(face, int) or not 0 <= face < len(faces):
            raise RecognitionError(f"face={face} is out of range: {len(faces)} face(s) found")
        return face

    def delete_person(self, name: str) -> int:
        """Remove every face of exactly ``name``, and their original photos; returns how many faces were removed."""
        return self._delete_faces(self.index.face_ids(name))

    def delete_face(self, face_id: str) -> bool:
        return self._delete_faces([face_id]) == 1

    def _delete_faces(self, face_ids: list[str]) -> int:
        # the photos first: when S3 is down the request fails with nothing deleted, and a face never outlives its
        # deletion as a photo nobody can find any more (the model card promises both go)
        if self.originals is not None and face_ids:
            self.originals.delete(face_ids)
        return self.index.delete_faces(face_ids)

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
        if source == "crops":  # a first pass refuses before anything changes (records are streamed, not held)
            missing = sum(r.crop_jpeg is None for r in self._stale_records())
            if missing:
                raise RecognitionError(f"{missing} faces have no stored crop to re-embed (KEEP_FACE_CROPS was off)")
        updated = 0
        for chunk in batched(self._stale_records(), batch_size):
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

    def _stale_records(self) -> Iterator[FaceRecord]:
        return (r for r in self.index.records() if r.model_version != self.model_version)

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


def batched(items: Iterator, size: int) -> Iterator[list]:
    """Lists of ``size`` consecutive items (the last one shorter); itertools.batched from Python 3.12."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
