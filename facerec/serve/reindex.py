"""Re-embed every stored face with the configured model: `python -m facerec.serve.reindex [--source originals]`.

Needed after deploying a new model: vectors of different models are not comparable, so the service refuses to
search an index holding another model's vectors. Faces are re-embedded from the crops stored at enrolment, or, with
``--source originals``, detected and aligned again in the original photos kept under ORIGINALS_URI.
"""

from __future__ import annotations

import argparse
import sys

from facerec.index import IndexBackendError
from facerec.serve.build import StartupError, build_recognizer
from facerec.serve.errors import RecognitionError
from facerec.serve.settings import Settings
from facerec.storage import StorageError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", choices=["crops", "originals"], default="crops", help="what to re-embed from")
    args = parser.parse_args(argv)
    try:
        recognizer = build_recognizer(Settings())
    except StartupError as exc:
        print(f"reindex failed: {exc}", file=sys.stderr)
        return 1
    try:
        before = recognizer.index.model_versions()
        updated = recognizer.reindex(args.source)
    except (IndexBackendError, RecognitionError, StorageError) as exc:
        print(f"reindex failed: {exc}", file=sys.stderr)
        return 1
    finally:
        recognizer.index.close()
    print(f"re-embedded {updated} faces with {recognizer.model_version} (before: {before})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
