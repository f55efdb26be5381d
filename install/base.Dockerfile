# The base of every plugin image: Debian bookworm's Python 3.11 in a venv, the harness's own
# dependencies, and a non-root user. BASE_IMAGE is a registry image (debian:bookworm-slim) where
# one is reachable, else filterbench-rootfs:bookworm, made by debootstrap (python -m install).
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python3-dev g++ \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Native code compiled here targets an explicit, portable CPU level, never the build host's
# (-march=native): hnswlib and annoy would otherwise add it themselves. Results record it.
ARG MARCH=x86-64-v3
ENV FILTERBENCH_MARCH=${MARCH} HNSWLIB_NO_NATIVE=1 \
    CFLAGS="-O3 -march=${MARCH}" CXXFLAGS="-O3 -march=${MARCH}" \
    ANNOY_COMPILER_ARGS="-march=${MARCH},-O3,-ffast-math,-fno-associative-math,-DANNOYLIB_MULTITHREADED_BUILD,-std=c++14,-fpermissive"
# The host's CA bundle, so pip works behind a TLS-intercepting proxy; wheels/ may hold wheels for
# a fully offline install (PIP_OFFLINE=1).
COPY ca-bundle.crt /etc/filterbench/ca-bundle.crt
COPY wheels/ /wheels/
ENV PIP_CERT=/etc/filterbench/ca-bundle.crt
ARG PIP_OFFLINE=0
COPY requirements.txt /tmp/requirements.txt
RUN if [ "$PIP_OFFLINE" = 1 ]; then pip install --no-index --find-links /wheels -r /tmp/requirements.txt; \
    else pip install -r /tmp/requirements.txt; fi
RUN useradd --uid 1000 --create-home bench
WORKDIR /app
