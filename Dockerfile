# SMART service image: `smart serve` with any role. Build: docker build -t kodeks-smart .
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY kodeks_smart ./kodeks_smart
RUN pip install --no-cache-dir --upgrade pip \
 && pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/smart --create-home --uid 10001 smart
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER smart
WORKDIR /var/lib/smart
ENV SMART_DATA_DIR=/var/lib/smart/data \
    SMART_SECRET_KEY_FILE=/var/lib/smart/secret/secret.key \
    SMART_HOST=0.0.0.0 \
    SMART_PORT=8080 \
    SMART_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["smart"]
CMD ["serve", "--role", "all"]
