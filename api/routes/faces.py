"""/api/v1: enrol, recognise, verify, list and delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, UploadFile

from ..deps import ServiceDep, read_image, read_upload, require_api_key, validate_name
from ..schemas import (
    CandidateOut,
    DeleteResponse,
    ErrorResponse,
    FaceOut,
    IndexResponse,
    PeopleResponse,
    PersonOut,
    Prediction,
    RecognizeResponse,
    VerifyResponse,
)

router = APIRouter(prefix="/api/v1", tags=["faces"], responses={422: {"model": ErrorResponse}})
Protected = [Depends(require_api_key)]
DetectQuery = Annotated[bool, Query(description="false: the image already is a face crop (skip detection)")]


@router.post("/index", status_code=201, response_model=IndexResponse, dependencies=Protected)
async def index_face(
    service: ServiceDep,
    image: Annotated[UploadFile, File(description="a photo with one face (or choose one with face=)")],
    name: Annotated[str, Form(description="the person's name")],
    detect: DetectQuery = True,
    face: Annotated[int | None, Query(ge=0, description="which face to enrol when several are found")] = None,
) -> IndexResponse:
    person = validate_name(name, service.settings.limits.name_length)
    data, picture = await read_upload(image, service)
    enrolment = await service.run(service.recognizer.enroll, picture, person, detect, face, original=data)
    record = enrolment.record
    return IndexResponse(
        face_id=record.face_id,
        name=record.name,
        model_version=record.model_version,
        created_at=record.created_at,
        box=list(enrolment.box),
        faces_detected=enrolment.faces_detected,
    )


@router.post("/recognize", response_model=RecognizeResponse, dependencies=Protected)
async def recognize(
    service: ServiceDep,
    image: Annotated[UploadFile, File()],
    k: Annotated[int | None, Query(ge=1, le=100, description="candidates per face")] = None,
    threshold: Annotated[float | None, Query(ge=0, le=1, description="P(same) needed to name a face")] = None,
    detect: DetectQuery = True,
) -> RecognizeResponse:
    settings = service.settings
    threshold = settings.unknown_threshold if threshold is None else threshold
    picture = await read_image(image, service)
    results = await service.run(service.recognizer.recognize, picture, k or settings.top_k, threshold, detect)
    faces = [
        FaceOut(
            box=list(r.box),
            detection_probability=r.detection_probability,
            pred=r.name,
            proba=r.probability,
            candidates=[CandidateOut(**vars(c)) for c in r.candidates],
        )
        for r in results
    ]
    main = results[0]
    return RecognizeResponse(
        results=Prediction(pred=main.name, proba=main.probability),
        faces=faces,
        threshold=threshold,
        model_version=service.recognizer.model_version,
    )


@router.post("/verify", response_model=VerifyResponse, dependencies=Protected)
async def verify(
    service: ServiceDep,
    image1: Annotated[UploadFile, File()],
    image2: Annotated[UploadFile, File()],
    threshold: Annotated[float | None, Query(ge=0, le=1)] = None,
    detect: DetectQuery = True,
) -> VerifyResponse:
    threshold = service.settings.unknown_threshold if threshold is None else threshold
    first = await read_image(image1, service, "image1")
    second = await read_image(image2, service, "image2")
    similarity, probability = await service.run(service.recognizer.verify, first, second, detect)
    return VerifyResponse(
        similarity=similarity,
        probability=probability,
        same_person=probability >= threshold,
        threshold=threshold,
        model_version=service.recognizer.model_version,
    )


@router.get("/people", response_model=PeopleResponse)
async def people(service: ServiceDep) -> PeopleResponse:
    counts = await service.run(service.recognizer.index.people)
    return PeopleResponse(
        people=[PersonOut(name=n, faces=c) for n, c in counts.items()],
        total_people=len(counts),
        total_faces=sum(counts.values()),
    )


@router.delete("/people/{name}", response_model=DeleteResponse, dependencies=Protected)
async def delete_person(service: ServiceDep, name: str) -> DeleteResponse:
    person = validate_name(name, service.settings.limits.name_length)
    deleted = await service.run(service.recognizer.delete_person, person)
    if not deleted:
        raise HTTPException(404, f"no person named {person!r} is enrolled")
    return DeleteResponse(deleted=deleted)


@router.delete("/faces/{face_id}", response_model=DeleteResponse, dependencies=Protected)
async def delete_face(service: ServiceDep, face_id: str) -> DeleteResponse:
    if not await service.run(service.recognizer.delete_face, face_id):
        raise HTTPException(404, f"no face with id {face_id!r}")
    return DeleteResponse(deleted=1)
