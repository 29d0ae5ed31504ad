"""What model is serving: version, configuration and its measured test metrics."""

from __future__ import annotations

from fastapi import APIRouter, Security

from ..deps import ServiceDep, api_key_header
from ..schemas import ModelResponse

router = APIRouter(prefix="/api/v1", tags=["model"], dependencies=[Security(api_key_header)])


@router.get("/model", response_model=ModelResponse, operation_id="model_info")
async def model_info(service: ServiceDep) -> ModelResponse:
    bundle = service.recognizer.bundle
    train = bundle.metrics.get("train") or {}
    return ModelResponse(
        model_version=bundle.model_version,
        created_at=bundle.created_at,
        run_id=bundle.run_id,
        encoder=bundle.encoder.config.to_dict(),
        preprocess=bundle.preprocess.to_dict(),
        metrics={k: v for k, v in bundle.metrics.items() if k != "train"},
        train={k: v for k, v in train.items() if k != "history"},
        split_people={part: len(bundle.split.part(part)) for part in ("train", "dev", "test")},
        unknown_threshold=service.settings.unknown_threshold,
        runtime=service.recognizer.runtime.name,
    )
