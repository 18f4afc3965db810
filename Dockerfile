# Steward's image: the locked install in a build stage, then a slim runtime without
# build tools, run as a non-root user. `docker compose up` runs it (compose.yaml).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md requirements.lock ./
COPY ops/install.sh ops/install.sh
COPY bot bot
COPY core core
COPY demo demo
COPY digests digests
COPY handlers handlers
COPY services services
COPY signals signals
COPY sources sources
COPY storage storage
RUN sh ops/install.sh /opt/steward

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 steward
COPY --from=build /opt/steward /opt/steward
ENV PATH=/opt/steward/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000
USER steward
WORKDIR /home/steward
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=3)"]
ENTRYPOINT ["steward"]
CMD ["serve"]
