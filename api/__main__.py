"""`python -m api`: load the model and connect the index first, so a bad configuration ends with one clear line.

Without an API key the service listens on loopback only: another address needs API_KEY (or API_KEYS), or
ALLOW_UNAUTHENTICATED=true for a deployment behind its own authentication, said at start-up.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys

import uvicorn
from pydantic import ValidationError

from facerec.serve.build import StartupError
from facerec.serve.settings import Settings

from .main import create_app
from .service import Service

logger = logging.getLogger("facerec.api")


def listens_on_loopback_only(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the facerec API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # the client logs each retry with a traceback; failures reach the operator as one message from the index instead
    logging.getLogger("elastic_transport").setLevel(logging.ERROR)
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        print(f"facerec API cannot start: invalid settings: {problems}", file=sys.stderr)
        return 1
    if not settings.keys() and not listens_on_loopback_only(args.host):
        if not settings.allow_unauthenticated:
            print(
                f"facerec API cannot start: refusing to listen on {args.host} without an API key. Set API_KEY "
                "(clients send it as X-API-Key), or ALLOW_UNAUTHENTICATED=true if your own proxy authenticates.",
                file=sys.stderr,
            )
            return 1
        logger.warning("serving WITHOUT authentication on %s (ALLOW_UNAUTHENTICATED=true)", args.host)
    try:
        service = Service.start(settings)
    except StartupError as exc:
        print(f"facerec API cannot start: {exc}", file=sys.stderr)
        return 1
    logger.info("API keys: %s", ", ".join(settings.keys()) or "none (loopback clients only)")
    try:
        uvicorn.run(
            create_app(service=service),
            host=args.host,
            port=args.port,
            log_level="info",
            timeout_keep_alive=settings.server.keep_alive_s,
        )
    finally:
        service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
