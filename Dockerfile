# The recognition API (and, with another command, the webapp) on CPU. Build: docker build -t facerec-api .   Run: see docker-compose-api.yaml
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl libgomp1 \
    && rm -rf /var/lib/apt/lists/*

COPY requirements.txt requirements-nodeps.txt ./
# CPU-only torch (the default wheel carries CUDA: several GB more); 2.14.1+cpu satisfies the torch==2.14.1 pin.
# Test and tooling packages (the end of requirements.txt) stay out of the image.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.14.1 torchvision==0.29.1 \
    && sed '/^# tests and tooling/,$d' requirements.txt > /tmp/runtime.txt \
    && pip install -r /tmp/runtime.txt \
    && pip install --no-deps -r requirements-nodeps.txt

COPY pyproject.toml ./
COPY facerec ./facerec
COPY api ./api
COPY streamlit_webapp.py ./

RUN useradd --create-home facerec && mkdir -p /app/artifacts && chown facerec /app/artifacts
USER facerec
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s CMD curl -fsS http://localhost:8000/health || exit 1
CMD ["python", "-m", "api", "--host", "0.0.0.0", "--port", "8000"]
