"""Web front end for the recognition API: enrol, recognise, manage people, inspect the model.

    streamlit run streamlit_webapp.py          # API_URL (default http://localhost:8000) and API_KEY from .env / env

It talks to the API over HTTP only, so it runs anywhere the API is reachable.
"""

from __future__ import annotations

import io
from urllib.parse import quote

import httpx
import streamlit as st
from PIL import Image, ImageDraw, ImageOps
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

st.set_page_config(page_title="facerec", page_icon="🙂", layout="wide")


class WebappSettings(BaseSettings):
    """Where the webapp finds the API: ``API_URL`` and ``API_KEY``, from the environment or ``.env``."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    api_url: str = "http://localhost:8000"
    api_key: SecretStr | None = None


@st.cache_resource
def settings() -> WebappSettings:
    return WebappSettings()


class ApiError(RuntimeError):
    pass


def call(method: str, path: str, **kwargs) -> dict:
    """One API call; every failure becomes an ApiError with a message fit for the page."""
    config = settings()
    headers = {"X-API-Key": config.api_key.get_secret_value()} if config.api_key else {}
    try:
        response = httpx.request(method, f"{config.api_url.rstrip('/')}{path}", headers=headers, timeout=60, **kwargs)
    except httpx.HTTPError as exc:
        raise ApiError(
            f"The API at {config.api_url} does not answer ({exc.__class__.__name__}). Is it running?"
        ) from exc
    try:
        body = response.json()
    except ValueError:
        body = {"msg": response.text[:300]}
    if response.status_code >= 400:
        raise ApiError(f"The API refused the request ({response.status_code}): {body.get('msg', body)}")
    return body


def call_or_report(method: str, path: str, **kwargs) -> dict | None:
    """``call``, showing a failure on the page instead of raising it."""
    try:
        return call(method, path, **kwargs)
    except ApiError as exc:
        st.error(str(exc))
        return None


def upright(data: bytes) -> Image.Image:
    return ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")


def annotate(image: Image.Image, faces: list[dict]) -> Image.Image:
    """Draw a box and a label per face: green for a known person, red for unknown."""
    canvas = image.copy()
    draw = ImageDraw.Draw(canvas)
    width = max(2, round(max(canvas.size) / 200))
    for face in faces:
        x1, y1, x2, y2 = face["box"]
        known = face["pred"] != "unknown"
        colour = (40, 180, 70) if known else (220, 40, 40)
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=width)
        label = f"{face['pred']} {face['proba']:.0%}" if known else f"unknown ({face['proba']:.0%})"
        text_box = draw.textbbox((x1, y1), label)
        top = max(0, y1 - (text_box[3] - text_box[1]) - 6)
        draw.rectangle((x1, top, x1 + text_box[2] - text_box[0] + 6, y1), fill=colour)
        draw.text((x1 + 3, top + 2), label, fill=(255, 255, 255))
    return canvas


def enrol_tab() -> None:
    st.subheader("Enrol a person")
    st.caption("Several photos of one person make recognition surer; in a photo with several faces the clearly "
               "largest one is enrolled.")  # fmt: skip
    uploads = st.file_uploader(
        "Photos of one person", type=["jpg", "jpeg", "png", "webp"], key="enrol_file", accept_multiple_files=True
    )
    name = st.text_input("Name", key="enrol_name")
    if st.button("Enrol", type="primary", disabled=not (uploads and name.strip())):
        for upload in uploads:
            body = call_or_report(
                "POST",
                "/api/v1/index",
                files={"image": (upload.name, upload.getvalue())},
                data={"name": name},
                params={"face": "main"},
            )
            if body is None:
                continue
            quality = body["quality"]
            st.success(
                f"Enrolled {body['name']} from {upload.name} (face {body['face_id'][:8]}; sharpness "
                f"{quality['sharpness']:.0f}, {quality['size']:.0f} px)"
            )
            image = upright(upload.getvalue())
            st.image(image.crop(tuple(round(v) for v in body["box"])), caption=upload.name, width=160)


def recognise_tab() -> None:
    st.subheader("Recognise faces in a photo")
    upload = st.file_uploader("Photo", type=["jpg", "jpeg", "png", "webp"], key="recognise_file")
    k = st.slider("Candidates per face", 1, 10, 3)
    if upload is None:
        return
    body = call_or_report(
        "POST", "/api/v1/recognize", files={"image": (upload.name, upload.getvalue())}, params={"k": k}
    )
    if body is None:
        return
    main = body["results"]
    if main["pred"] == "unknown":
        st.warning(f"Main face: unknown (best match {main['proba']:.0%}, threshold {body['threshold']:.0%})")
    else:
        st.success(f"Main face: {main['pred']} ({main['proba']:.0%})")
    left, right = st.columns([3, 2])
    left.image(annotate(upright(upload.getvalue()), body["faces"]), use_container_width=True)
    for i, face in enumerate(body["faces"]):
        right.markdown(f"**Face {i + 1}: {face['pred']}** ({face['proba']:.0%})")
        right.table(
            [
                {
                    "name": c["name"],
                    "P(this person)": f"{c['probability']:.0%}",
                    "score": round(c["similarity"], 3),
                    "photos": c["photos"],
                }
                for c in face["candidates"]
            ]
        )


def people_tab() -> None:
    st.subheader("Enrolled people")
    body = call_or_report("GET", "/api/v1/people")
    if body is None:
        return
    st.caption(f"{body['total_people']} people, {body['total_faces']} faces")
    if not body["people"]:
        st.info("Nobody is enrolled yet.")
        return
    st.table(body["people"])
    name = st.selectbox("Delete a person", [p["name"] for p in body["people"]])
    sure = st.checkbox(f"Yes, delete every face of {name}")
    if st.button("Delete", disabled=not sure):
        body = call_or_report("DELETE", f"/api/v1/people/{quote(name, safe='')}")
        if body is None:
            return
        deleted = body["deleted"]
        st.success(f"Deleted {name} ({deleted} faces)")
        st.rerun()


def model_tab() -> None:
    st.subheader("Model")
    body = call_or_report("GET", "/api/v1/model")
    if body is None:
        return
    st.markdown(f"Version **{body['model_version']}**, created {body['created_at'] or 'unknown'}")
    metrics = body["metrics"]
    shown = {
        "verification accuracy": "verification_accuracy",
        "ROC AUC": "roc_auc",
        "TAR @ FAR 1e-3": "tar_at_far_1e-3",
        "open-set rank-1": "open_set_rank1",
        "ECE (15 bins)": "ece_15_bins",
        "Brier": "brier",
    }
    st.table([{"metric": label, "test": metrics.get(key)} for label, key in shown.items()])
    st.markdown(
        f"Answers: **{body['calibration']}** calibration; a face is named at P >= {body['unknown_threshold']:.2f}."
    )
    open_set = metrics.get("open_set")
    if open_set:
        st.markdown("Open-set identification on test people (strangers among the probes):")
        st.table(
            [
                {
                    "photos per person": gallery.split("_")[0],
                    "rank-1": f"{results['open_set']['rank1']:.1%}",
                    "named right at FPIR 5%": f"{1 - results['open_set']['fnir_at_fpir_0.05']:.1%}",
                    "strangers named at the default": f"{results['open_set']['strangers_named']:.1%}",
                }
                for gallery, results in open_set.items()
            ]
        )
    if metrics.get("reliability"):
        from facerec.train.plots import reliability_diagram

        st.pyplot(reliability_diagram(metrics["reliability"], metrics.get("ece_15_bins")))
    st.json({"encoder": body["encoder"], "preprocess": body["preprocess"], "people per split": body["split_people"]})


st.title("facerec")
st.caption(f"API: {settings().api_url}")
enrol, recognise, people, model = st.tabs(["Enrol", "Recognise", "People", "Model"])
with enrol:
    enrol_tab()
with recognise:
    recognise_tab()
with people:
    people_tab()
with model:
    model_tab()
