# The image that trains the fashion study's ResNet (datasets/resnet.py): Debian's CPU builds of
# torch 1.13 and torchvision 0.14, which work together (PyPI's torchvision does not load beside
# the CPU torch wheel). BASE_IMAGE is chosen as for the base image (install.base_image_source).
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
RUN apt-get update && apt-get install -y --no-install-recommends python3-torch python3-torchvision python3-numpy \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --uid 1000 --create-home bench
