"""Re-embed every stored face with the configured model: `python -m facerec.reindex`.

Needed after deploying a new model: vectors of different models are not comparable, so the service refuses to
search an index holding another model's vectors. Faces are re-embedded from the crops stored at enrolment.
"""

from __future__ import annotations

import sys

from facerec.bundle import BundleError, load_bundle
from facerec.detection import FaceDetector
from facerec.index import IndexBackendError, create_index
from facerec.recognizer import RecognitionError, Recognizer
from facerec.settings import Settings


def main() -> int:
    settings = Settings()
    try:
        bundle = load_bundle(settings.model_uri, settings.s3())
        index = create_index(settings, bundle.encoder.config.embedding_dim, bundle.model_version)
        index.connect()
        before = index.model_versions()
        updated = Recognizer(bundle, index, FaceDetector()).reindex()
    except (BundleError, IndexBackendError, RecognitionError) as exc:
        print(f"reindex failed: {exc}", file=sys.stderr)
        return 1
    print(f"re-embedded {updated} faces with {bundle.model_version} (before: {before})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
