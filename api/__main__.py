"""`python -m api`: load the model and connect the index first, so a bad configuration ends with one clear line."""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

from facerec.serve.build import StartupError
from facerec.serve.settings import Settings

from .main import create_app
from .service import Service


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the facerec API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # the client logs each retry with a traceback; failures reach the operator as one message from the index instead
    logging.getLogger("elastic_transport").setLevel(logging.ERROR)
    try:
        service = Service.start(Settings())
    except StartupError as exc:
        print(f"facerec API cannot start: {exc}", file=sys.stderr)
        return 1
    try:
        uvicorn.run(create_app(service=service), host=args.host, port=args.port, log_level="info")
    finally:
        service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
