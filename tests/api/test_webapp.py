"""The Streamlit webapp in a real browser (Playwright driving Debian's chromium) against the real API process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from facerec.model.bundle import load_bundle
from facerec.model.preprocess import load_rgb
from facerec.serve.detection import FaceDetector
from facerec.serve.quality import QualityRules, measure
from facerec.testing import REPO_ROOT as ROOT
from facerec.testing.servers import UvicornAPI, free_port, stop
from facerec.train.data import split_people

pytestmark = pytest.mark.slow  # real processes: servers, a browser, Metaflow


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip


def start_streamlit(api_url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_webapp.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT,
        env={**os.environ, "API_URL": api_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.3)
    stop(process)
    raise TimeoutError("streamlit did not start")


def pick_people(bundle_path: Path, people: dict[str, list[str]]) -> tuple[str, str, str, str]:
    """A test-split person whose second photo the fixture model matches to the first, and a stranger it does not.

    The fixture model is a 40-step toy (the trained model's accuracy is measured by the flow); this test is about the
    webapp, so it uses a pair the toy model gets right.
    """
    bundle = load_bundle(str(bundle_path))
    detector = FaceDetector()

    def embed(path: str):  # what the page does: detect, align (largest face), embed
        return bundle.embed_crops([detector.detect(load_rgb(path))[0].crop]).numpy()[0]

    def enrollable(path: str) -> bool:  # the service's quality gate would refuse the others
        faces = detector.detect(load_rgb(path))
        return len(faces) == 1 and not QualityRules().problems(measure(faces[0]))

    test_people = [n for n in split_people(people).test if len(people[n]) >= 2]
    for name in test_people[:60]:
        if not enrollable(people[name][0]):
            continue
        first, second = embed(people[name][0]), embed(people[name][1])
        if bundle.calibrator(float(first @ second)) < 0.7:
            continue
        for stranger in test_people:
            if stranger != name and bundle.calibrator(float(first @ embed(people[stranger][0]))) < 0.3:
                return name, people[name][0], people[name][1], people[stranger][0]
    raise AssertionError("no usable pair for the fixture model")


@pytest.fixture(scope="module")
def webapp(tmp_path_factory, bundle_dir):
    tmp = tmp_path_factory.mktemp("webapp")
    api = UvicornAPI({"MODEL_URI": str(bundle_dir), "INDEX_PATH": str(tmp / "faces.sqlite3")}).start()
    process, url = start_streamlit(api.url)
    yield api, url
    stop(process)
    api.stop()


def test_enrol_recognise_and_unknown_in_a_browser(webapp, bundle_dir, lfw_people):
    from playwright.sync_api import expect, sync_playwright

    assert shutil.which(CHROMIUM), "Debian chromium is needed (`make test` installs it)"
    api, url = webapp
    person, enrol_photo, other_photo, stranger_photo = pick_people(bundle_dir, lfw_people)
    name = person.replace("_", " ")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        page = browser.new_page()
        page.goto(url)
        page.get_by_role("tab", name="Enrol").click()
        # Each step waits for Streamlit to have seen the last one: on a loaded machine the upload's rerun can land
        # after the name was typed, and the Enrol button (enabled only with a photo and a name) stayed disabled.
        page.locator("input[type=file]").nth(0).set_input_files(enrol_photo)
        # the uploader lists the file (its name shortened) with a remove button once the upload is done
        expect(page.get_by_role("button", name=f"Remove {Path(enrol_photo).name}")).to_be_visible(timeout=60_000)
        enrol = page.get_by_role("button", name="Enrol")
        for _ in range(3):  # a rerun in flight can swallow the typed name; type it again until the page has it
            page.get_by_label("Name").fill(name)
            page.get_by_label("Name").press("Enter")
            try:
                expect(enrol).to_be_enabled(timeout=20_000)
                break
            except AssertionError:
                continue
        enrol.click()
        expect(page.get_by_text(f"Enrolled {name}")).to_be_visible(timeout=60_000)
        assert httpx.get(f"{api.url}/api/v1/people").json()["people"] == [{"name": name, "faces": 1}]

        page.get_by_role("tab", name="Recognise").click()
        page.locator("input[type=file]").nth(1).set_input_files(other_photo)
        expect(page.get_by_text(f"Main face: {name}")).to_be_visible(timeout=60_000)
        page.locator("input[type=file]").nth(1).set_input_files(stranger_photo)
        expect(page.get_by_text("Main face: unknown")).to_be_visible(timeout=60_000)

        page.get_by_role("tab", name="People").click()
        expect(page.get_by_text("1 people, 1 faces")).to_be_visible(timeout=30_000)
        page.get_by_role("tab", name="Model").click()
        expect(page.get_by_text("verification accuracy")).to_be_visible(timeout=30_000)
        browser.close()


def test_an_api_that_is_down_is_reported_on_the_page(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    process, url = start_streamlit(f"http://127.0.0.1:{free_port()}")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
            page = browser.new_page()
            page.goto(url)
            page.get_by_role("tab", name="People").click()
            expect(page.get_by_text("does not answer").first).to_be_visible(timeout=60_000)
            browser.close()
    finally:
        stop(process)
