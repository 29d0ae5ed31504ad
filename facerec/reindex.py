"""Re-embed every stored face with the configured model: `python -m facerec.reindex [--source originals]`.

Needed after deploying a new model: vectors of different models are not comparable, so the service refuses to
search an index holding another model's vectors. Faces are re-embedded from the crops stored at enrolment, or, with
``--source originals``, detected and aligned again in the original photos kept under ORIGINALS_URI.
"""

from __future__ import annotations

import argparse
import sys

from facerec.bundle import BundleError, load_bundle
from facerec.detection import FaceDetector
from facerec.index import IndexBackendError, create_index
from facerec.originals import OriginalsStore
from facerec.recognizer import RecognitionError, Recognizer
from facerec.settings import Settings
from facerec.storage import StorageError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", choices=["crops", "originals"], default="crops", help="what to re-embed from")
    args = parser.parse_args(argv)
    settings = Settings()
    try:
        bundle = load_bundle(settings.model_uri, settings.s3())
        index = create_index(settings, bundle.encoder.config.embedding_dim, bundle.model_version)
        index.connect()
        originals = OriginalsStore(settings.s3(), settings.originals_uri) if settings.originals_uri else None
        detector = FaceDetector.from_settings(settings)
        before = index.model_versions()
        updated = Recognizer(bundle, index, detector, originals=originals).reindex(args.source)
    except (BundleError, IndexBackendError, RecognitionError, StorageError) as exc:
        print(f"reindex failed: {exc}", file=sys.stderr)
        return 1
    print(f"re-embedded {updated} faces with {bundle.model_version} (before: {before})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
