# The production shape: one image for the API (gunicorn) and Dagster (webserver + daemon).
# Not built in CI here (no Docker engine on the build machines); kept deliberately plain.
FROM python:3.11-slim
WORKDIR /app
RUN pip install --no-cache-dir uv==0.13.8
COPY pyproject.toml uv.lock README.md ./
COPY mbuzz mbuzz
COPY ingest_api ingest_api
COPY dsl dsl
COPY attribution attribution
COPY orchestration orchestration
COPY dbt_project dbt_project
COPY dbt_project.yml workspace.yaml ./
COPY docs/api docs/api
# the dbt manifest the Dagster definitions load, built with the image (no database needed)
RUN uv sync --frozen --no-dev && .venv/bin/mbuzz warehouse parse \
    && useradd --create-home mbuzz && chown -R mbuzz /app
USER mbuzz
ENV PATH="/app/.venv/bin:$PATH" DAGSTER_HOME=/app/.dagster
RUN mkdir -p /app/.dagster && printf 'telemetry:\n  enabled: false\n' > /app/.dagster/dagster.yaml
EXPOSE 8000 3000
CMD ["mbuzz", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "4"]
