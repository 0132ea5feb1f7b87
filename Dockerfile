# Image for the mloop worker and API (docker-compose.yml). Model code runs in the venv.
FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends git python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/mloop
COPY python/requirements.txt python/requirements.txt
RUN python3 -m venv /opt/mloop-venv && /opt/mloop-venv/bin/pip install --no-cache-dir -r python/requirements.txt
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
RUN useradd --system --uid 10001 mloop && mkdir -p /var/lib/mloop && chown mloop /var/lib/mloop
USER mloop
ENV MLOOP_CACHE=/var/lib/mloop/cache
