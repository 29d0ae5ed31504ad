"""What model is serving: version, configuration and its measured test metrics."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import ServiceDep

router = APIRouter(prefix="/api/v1", tags=["model"])


@router.get("/model")
async def model_info(service: ServiceDep) -> dict:
    bundle = service.recognizer.bundle
    metrics = {k: v for k, v in bundle.metrics.items() if k != "train"}
    train = bundle.metrics.get("train") or {}
    return {
        "error": False,
        "model_version": bundle.model_version,
        "created_at": bundle.created_at,
        "run_id": bundle.run_id,
        "encoder": bundle.encoder.config.to_dict(),
        "preprocess": bundle.preprocess.to_dict(),
        "metrics": metrics,
        "train": {k: v for k, v in train.items() if k != "history"},
        "split_people": {p: len(bundle.split.part(p)) for p in ("train", "dev", "test")},
        "unknown_threshold": service.settings.unknown_threshold,
        "runtime": service.recognizer.runtime.name,
    }
