"""/api/v1: enrol, recognise, verify, list and delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Query, Request, Security, UploadFile

from ..deps import ServiceDep, api_key_header, read_image, validate_name
from ..images import decode, read_request_image, request_body
from ..schemas import (
    CandidateOut,
    DeleteResponse,
    ErrorResponse,
    FaceOut,
    IndexResponse,
    PeopleResponse,
    PersonOut,
    Prediction,
    QualityOut,
    RecognizeResponse,
    VerifyResponse,
)

router = APIRouter(
    prefix="/api/v1",
    tags=["faces"],
    responses={422: {"model": ErrorResponse}, 401: {"model": ErrorResponse}},
    dependencies=[Security(api_key_header)],
)
DetectQuery = Annotated[bool, Query(description="false: the image already is a face crop (skip detection)")]


# the answer of an enrolment names what later requests can address (schemathesis follows these in stateful tests)
ENROLMENT_LINKS = {
    201: {
        "description": "the face was enrolled",
        "links": {
            "DeleteFace": {"operationId": "delete_face", "parameters": {"face_id": "$response.body#/face_id"}},
            "DeletePerson": {"operationId": "delete_person", "parameters": {"name": "$response.body#/name"}},
        },
    }
}


@router.post(
    "/index",
    status_code=201,
    response_model=IndexResponse,
    operation_id="index_face",
    responses=ENROLMENT_LINKS,
    openapi_extra=request_body(with_name=True),
)
async def index_face(
    request: Request,
    service: ServiceDep,
    detect: DetectQuery = True,
    face: Annotated[
        str | None,
        Query(
            pattern=r"^(main|\d{1,3})$",
            description="which face to enrol when several are found: 0 = largest, or main = the clearly largest",
        ),
    ] = None,
) -> IndexResponse:
    """Enrol one face: a photo (multipart ``image``, or JSON ``image_url`` / ``image_base64``) and a ``name``."""
    sent = await read_request_image(request, service)
    if sent.name is None:
        raise HTTPException(422, "name: a name is required")
    person = validate_name(sent.name, service.settings.limits.name_length)
    picture = await decode(sent.data, service, "image")
    choice = int(face) if face is not None and face.isdigit() else face
    enrolment = await service.run(service.recognizer.enroll, picture, person, detect, choice, original=sent.data)
    record = enrolment.record
    return IndexResponse(
        face_id=record.face_id,
        name=record.name,
        model_version=record.model_version,
        created_at=record.created_at,
        box=list(enrolment.box),
        faces_detected=enrolment.faces_detected,
        quality=QualityOut(**enrolment.quality.to_dict()),
    )


@router.post(
    "/recognize",
    response_model=RecognizeResponse,
    operation_id="recognize",
    openapi_extra=request_body(with_name=False),
)
async def recognize(
    request: Request,
    service: ServiceDep,
    k: Annotated[int | None, Query(ge=1, le=100, description="candidates per face")] = None,
    threshold: Annotated[
        float | None, Query(ge=0, le=1, description="P(named person is right) needed to name a face")
    ] = None,
    detect: DetectQuery = True,
) -> RecognizeResponse:
    """Every face in the photo with its most probable enrolled people; a face is named when the probability that
    the person is right reaches the threshold (default: the model's, chosen on dev people), else "unknown"."""
    settings = service.settings
    threshold = service.recognition_threshold(threshold)
    picture = await decode((await read_request_image(request, service)).data, service, "image")
    results = await service.run(service.recognizer.recognize, picture, k or settings.top_k, threshold, detect)
    faces = [
        FaceOut(
            box=list(r.box),
            detection_probability=r.detection_probability,
            quality=QualityOut(**r.quality.to_dict()),
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


@router.post("/verify", response_model=VerifyResponse, operation_id="verify")
async def verify(
    service: ServiceDep,
    image1: Annotated[UploadFile, File()],
    image2: Annotated[UploadFile, File()],
    threshold: Annotated[float | None, Query(ge=0, le=1)] = None,
    detect: DetectQuery = True,
) -> VerifyResponse:
    """Are the main faces of two photos the same person? (The pair calibrator: P(same person) at even odds.)"""
    threshold = 0.5 if threshold is None else threshold
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


@router.get("/people", response_model=PeopleResponse, operation_id="list_people")
async def people(service: ServiceDep) -> PeopleResponse:
    counts = await service.run(service.recognizer.index.people)
    return PeopleResponse(
        people=[PersonOut(name=n, faces=c) for n, c in counts.items()],
        total_people=len(counts),
        total_faces=sum(counts.values()),
    )


@router.delete("/people/{name:path}", response_model=DeleteResponse, operation_id="delete_person")
async def delete_person(service: ServiceDep, name: str) -> DeleteResponse:
    person = validate_name(name, service.settings.limits.name_length)
    deleted = await service.run(service.recognizer.delete_person, person)
    if not deleted:
        raise HTTPException(404, f"no person named {person!r} is enrolled")
    return DeleteResponse(deleted=deleted)


@router.delete("/faces/{face_id}", response_model=DeleteResponse, operation_id="delete_face")
async def delete_face(service: ServiceDep, face_id: str) -> DeleteResponse:
    if not await service.run(service.recognizer.delete_face, face_id):
        raise HTTPException(404, f"no face with id {face_id!r}")
    return DeleteResponse(deleted=1)
