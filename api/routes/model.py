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
        unknown_threshold=next(
            t for t in (service.settings.unknown_threshold, service.recognizer.default_threshold) if t is not None
        ),
        calibration="open-set" if bundle.open_set else "pair (fallback: this bundle has no open-set calibrator)",
        open_set={
            "aggregate": bundle.open_set.aggregate,
            "evidence": list(bundle.open_set.features),
            "threshold": bundle.open_set.threshold,
            "fpir_target": bundle.open_set.fpir_target,
            "cohort_faces": len(bundle.cohort),
            "stranger_share_fitted": bundle.open_set.stranger_share,
            "stranger_share": service.recognizer.assumed_stranger_share,
        }
        if bundle.open_set
        else None,
        runtime=service.recognizer.runtime.name,
    )
