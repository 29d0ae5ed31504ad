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
from ..model.openset import centroid_people, cohort_statistics, evidence, normalised_centroids, person_scores
from ..model.preprocess import preprocess_views
from ..model.runtime import EmbeddingRuntime, TorchRuntime
from .detection import Box, DetectedFace, FaceDetector, as_face_crop
from .errors import RecognitionError, StaleIndexError
from .images import decode_image
from .originals import OriginalsStore
from .quality import FaceQuality, QualityRules, measure

UNKNOWN = "unknown"
SEARCH_FACES = 50  # faces fetched per query before grouping them into people
NO_FACE = "no face found in the image (send a clearer photo, or detect=false for a face crop)"


@dataclass
class Candidate:
    """One enrolled person for a face: their best matching face, their score, and P(this person is the face's)."""

    name: str
    face_id: str
    similarity: float  # the person's score: cosine similarity aggregated over their enrolled faces
    probability: float
    photos: int = 1  # the person's enrolled faces


@dataclass
class FaceResult:
    box: Box
    detection_probability: float
    name: str  # the person assigned to this face, or "unknown"
    quality: FaceQuality
    probability: float  # P(the best candidate is this face's person) (0 when nobody is enrolled)
    candidates: list[Candidate] = field(default_factory=list)  # distinct people, most probable first


@dataclass
class Enrolment:
    record: FaceRecord
    box: Box  # the enrolled face in the uploaded image
    faces_detected: int
    quality: FaceQuality


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
        quality_rules: QualityRules | None = None,
        stranger_share: float | None = None,
    ):
        self.bundle = bundle
        # the share of strangers among the faces asked about, when the deployment states one (STRANGER_SHARE)
        self.stranger_share = stranger_share
        self.quality_rules = quality_rules or QualityRules()
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
        views = preprocess_views([face.crop for face in faces], self.bundle.preprocess)
        with self._encode_lock:
            return self.runtime.embed_views(views)

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
        chosen = faces[self.face_choice(faces, face)]
        quality = measure(chosen)
        problems = self.quality_rules.problems(quality)
        if problems:
            raise RecognitionError(
                "this face would make a poor enrolment: " + "; ".join(problems) + " (limits: QUALITY_* settings)"
            )
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
        return Enrolment(record, chosen.box, len(faces), quality)

    def face_choice(self, faces: list[DetectedFace], face: int | str | None) -> int:
        """Which of ``faces`` (largest first) an enrolment takes: ``face`` as a number, ``"main"``, or None when the
        photo must hold one face; raises with the reason otherwise."""
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

    @property
    def default_threshold(self) -> float:
        """P needed to name a face unless the caller says otherwise: the open-set calibrator's, chosen on dev for its
        stated share of strangers named; 0.5 with the pair calibrator of older bundles."""
        return self.bundle.open_set.threshold if self.bundle.open_set is not None else 0.5

    @property
    def assumed_stranger_share(self) -> float | None:
        """The share of strangers the open-set probabilities assume: the deployment's (STRANGER_SHARE) where the
        calibrator can restate them, else the share of its dev simulations (None without an open-set calibrator or
        with one fitted as a single map before the share was recorded)."""
        open_set = self.bundle.open_set
        if open_set is None:
            return None
        if open_set.restatable and self.stranger_share is not None:
            return self.stranger_share
        return open_set.stranger_share

    def recognize(
        self, image: Image.Image, k: int = 5, threshold: float | None = None, detect: bool = True
    ) -> list[FaceResult]:
        """Every face of the photo (largest first) with its ``k`` most probable people; raises when there is none."""
        self._check_index()
        faces = self.find_faces(image, detect)
        if not faces:
            raise RecognitionError(NO_FACE)
        return self.identify(faces, self.embed_faces(faces), k, threshold)

    def identify(
        self, faces: list[DetectedFace], vectors: np.ndarray, k: int, threshold: float | None = None
    ) -> list[FaceResult]:
        """People for embedded faces: candidates per face, then one name per person across the photo."""
        threshold = self.default_threshold if threshold is None else threshold
        gallery = self.index.people()
        # enough faces to cover k people even when each has several photos
        matches = self.index.search(vectors, max(SEARCH_FACES, 4 * k), self.model_version)
        faces_of = None
        if self.bundle.open_set is not None and self.bundle.open_set.needs_person_vectors:
            # every face of the people the search found, for all of the photo's faces in one request
            found = {m.name for face_matches in matches for m in face_matches}
            faces_of = self.index.person_vectors(sorted(found), self.model_version)
        candidates = [self._candidates(v, m, gallery, k, faces_of) for v, m in zip(vectors, matches, strict=True)]
        names = assign(candidates, threshold)
        results = []
        for face, options, name in zip(faces, candidates, names, strict=True):
            named = next((c for c in options if c.name == name), options[0] if options else None)
            probability = named.probability if named else 0.0
            results.append(FaceResult(face.box, face.probability, name, measure(face), probability, options))
        return results

    def _candidates(
        self,
        vector: np.ndarray,
        matches: list,
        gallery: dict[str, int],
        k: int,
        faces_of: dict[str, np.ndarray] | None = None,
    ) -> list[Candidate]:
        """The face's ``k`` most probable people among those its ``matches`` found; ``faces_of``: all faces of each
        of them, where the calibrator needs them (:attr:`OpenSetCalibrator.needs_person_vectors`)."""
        open_set = self.bundle.open_set
        if faces_of is not None:
            # people the search found (one deleted since has no faces left, and is no candidate)
            found = {m.name for m in matches}
            faces_of = {n: v for n, v in faces_of.items() if n in found}
        if faces_of is not None and open_set is not None and open_set.aggregate == "centroid":
            people = centroid_people(vector, faces_of)
        else:
            aggregate = open_set.aggregate if open_set is not None else "max"
            people = person_scores([(m.name, m.similarity) for m in matches], aggregate)
            if faces_of is not None:
                people = [p for p in people if p.name in faces_of]
        if not people:
            return []
        best_face = {}
        for m in matches:  # matches come best first: the first face seen per person is their best
            best_face.setdefault(m.name, m.face_id)
        scores = np.array([p.score for p in people])
        if open_set is None:
            probabilities = self.bundle.calibrator(scores)
        else:
            # each person judged as if named: the margin to the best other person (negative for runners-up), so
            # three look-alikes at 0.9 do not all come back at 90%
            others = (
                np.array([scores[1] if i == 0 else scores[0] for i in range(len(scores))])
                if len(scores) > 1
                else np.array([-1.0])
            )
            mean, std = cohort_statistics(vector[None], self.bundle.cohort, open_set.cohort_top)
            photos = np.array([gallery.get(p.name, p.faces) for p in people])
            if faces_of is not None:
                # each person's own side of the cohort normalisation, from the centroid of all their faces
                centroids = normalised_centroids([faces_of[p.name] for p in people])
                person_mean, person_std = cohort_statistics(centroids, self.bundle.cohort, open_set.cohort_top)
            else:  # a calibrator that does not read gallery_z: the column is never looked at
                person_mean, person_std = np.zeros(len(people)), np.ones(len(people))
            features = evidence(
                scores,
                others,
                np.repeat(mean, len(scores)),
                np.repeat(std, len(scores)),
                len(gallery),
                photos,
                person_mean,
                person_std,
            )
            probabilities = open_set(features, self.stranger_share)
        options = [
            Candidate(p.name, best_face[p.name], float(p.score), float(prob), int(gallery.get(p.name, p.faces)))
            for p, prob in zip(people, probabilities, strict=True)
        ]
        options.sort(key=lambda c: (-c.probability, -c.similarity))
        return options[:k]

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


def assign(candidates: list[list[Candidate]], threshold: float) -> list[str]:
    """One name per face and one face per person: the most probable (face, person) pairings first; a face whose
    people are all taken, or under ``threshold``, is unknown (two faces of one photo are two people)."""
    names = [UNKNOWN] * len(candidates)
    taken: set[str] = set()
    pairs = sorted(
        ((c.probability, face, c.name) for face, options in enumerate(candidates) for c in options),
        key=lambda pair: -pair[0],
    )
    for probability, face, name in pairs:
        if probability < threshold:
            break
        if names[face] == UNKNOWN and name not in taken:
            names[face] = name
            taken.add(name)
    return names


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
