"""The compose files parse (docker-compose validates them without an engine) and use only documented variables."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from facerec.testing import REPO_ROOT as ROOT

COMPOSE_FILES = ["docker-compose-infra.yaml", "docker-compose-api.yaml"]
REQUIRED = {
    "S3_BUCKET": "facerec",
    "AWS_ACCESS_KEY_ID": "minioadmin",
    "AWS_SECRET_ACCESS_KEY": "minioadmin",
    "ES_PASSWORD": "pw",
    "API_KEY": "a-long-random-api-key",
}


def documented_variables() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def compose(env_file, *files: str) -> subprocess.CompletedProcess:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose (Debian package) validates the compose files; `make test` installs it"
    args = [binary, "--env-file", str(env_file)] + [a for f in files for a in ("-f", str(ROOT / f))] + ["config"]
    return subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=ROOT)


@pytest.fixture
def filled_env(tmp_path):
    lines = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        key = line.split("=", 1)[0]
        lines.append(f"{key}={REQUIRED[key]}" if key in REQUIRED and not line.startswith("#") else line)
    path = tmp_path / ".env"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("files", [[f] for f in COMPOSE_FILES] + [COMPOSE_FILES])
def test_compose_files_are_valid(filled_env, files):
    result = compose(filled_env, *files)
    assert result.returncode == 0, result.stderr
    assert "services:" in result.stdout


def test_missing_secrets_are_named_not_defaulted(filled_env, tmp_path):
    result = compose(ROOT / ".env.example", "docker-compose-infra.yaml")
    assert result.returncode != 0 and "set AWS_ACCESS_KEY_ID in .env" in result.stderr
    # the API listens on every address of its container: it never starts without a key
    without_key = tmp_path / "no-key.env"
    without_key.write_text(filled_env.read_text().replace("API_KEY=a-long-random-api-key", "API_KEY="))
    result = compose(without_key, *COMPOSE_FILES)
    assert result.returncode != 0 and "set API_KEY in .env" in result.stderr


def test_every_variable_the_compose_files_use_is_documented():
    used = set()
    for name in COMPOSE_FILES:
        text = (ROOT / name).read_text().replace("$$", "")  # $$VAR is the container's own shell variable
        used |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))
    assert used, "no variables found: the pattern is wrong"
    assert used - documented_variables() == set()


def test_the_compose_api_serves_the_models_own_threshold_unless_told(filled_env, monkeypatch):
    import yaml

    from facerec.serve.settings import Settings

    result = compose(filled_env, *COMPOSE_FILES)
    assert result.returncode == 0, result.stderr
    environment = yaml.safe_load(result.stdout)["services"]["api"]["environment"]
    for name, value in environment.items():
        monkeypatch.setenv(name, str(value))
    # a number here would replace the threshold chosen on dev people (1% of strangers named) in every deployment
    assert Settings(_env_file=None).unknown_threshold is None
    assert Settings(_env_file=None).stranger_share is None  # the share the model was calibrated at
    monkeypatch.setenv("UNKNOWN_THRESHOLD", "0.9")
    assert Settings(_env_file=None).unknown_threshold == 0.9
