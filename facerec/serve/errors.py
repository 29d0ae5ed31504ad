"""What the serving pipeline raises for the client or the operator to act on."""

from __future__ import annotations


class RecognitionError(ValueError):
    """The request cannot be served as asked (no face, several faces, ...); the message is for the client."""


class StaleIndexError(RuntimeError):
    """The index holds faces embedded by another model version."""
