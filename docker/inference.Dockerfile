# syntax=docker/dockerfile:1.7
# mlplatform inference image for SageMaker (processing jobs: batch inference).
# Build from the repository root:  docker build -f docker/inference.Dockerfile --build-arg GIT_COMMIT=$(git rev-parse HEAD) .
# A SageMaker managed MLflow server pins an MLflow version: --build-arg MLFLOW_VERSION=3.0.1 matches the client to it.
# The jobs run as uid 1000. SageMaker mounts /opt/ml/* owned by root: if the entrypoint reports that it
# cannot write there, rebuild with --build-arg APP_UID=0 (run as root; the job's instance is the boundary).

FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

FROM python:3.11.11-slim-bookworm AS build
COPY --from=uv /uv /uvx /bin/
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first (cached while only the source changes), exactly as locked in uv.lock.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --extra aws --no-install-project
COPY src ./src
RUN uv sync --frozen --no-dev --extra aws --no-editable
ARG MLFLOW_VERSION=""
RUN if [ -n "$MLFLOW_VERSION" ]; then uv pip install --python /app/.venv/bin/python "mlflow==$MLFLOW_VERSION"; fi

FROM python:3.11.11-slim-bookworm AS runtime
ARG GIT_COMMIT=unknown
ARG APP_UID=1000
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MLPLATFORM_CONFIG_DIR=/app/config \
    MLPLATFORM_GIT_COMMIT=${GIT_COMMIT} \
    MLFLOW_DISABLE_TELEMETRY=true
RUN groupadd --system --gid 1000 mlplatform \
    && useradd --system --uid 1000 --gid mlplatform --create-home --home-dir /home/mlplatform mlplatform \
    && mkdir -p /opt/ml \
    && chown mlplatform:mlplatform /opt/ml
COPY --from=build /app/.venv /app/.venv
COPY config /app/config
LABEL org.opencontainers.image.source="mlplatform" org.opencontainers.image.revision=${GIT_COMMIT}
USER ${APP_UID}:${APP_UID}
WORKDIR /home/mlplatform
# Batch jobs, not services: SageMaker watches the process exit code, there is nothing to probe.
HEALTHCHECK NONE
ENTRYPOINT ["mlplatform-sagemaker-score"]
