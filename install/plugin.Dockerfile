# A plugin image: the base image, the plugin's libraries (pinned in requirements.txt), and the
# harness and plugin code. The code's hash is the image's label filterbench.code_hash, so an image
# alone reproduces a result. Plugins with `native: true` get native/ compiled here; one that needs more brings
# install/<plugin>.Dockerfile.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG PIP_OFFLINE=0
USER root
COPY requirements.txt /tmp/plugin-requirements.txt
RUN if [ "$PIP_OFFLINE" = 1 ]; then pip install --no-index --find-links /wheels -r /tmp/plugin-requirements.txt; \
    else pip install -r /tmp/plugin-requirements.txt; fi
COPY app/ /app/
# Plugins with `native: true` bring native/: compile it for the image's MARCH (set in the base).
RUN if [ -f /app/native/setup.py ]; then pip install --no-build-isolation /app/native && rm -rf /app/native/build; fi
USER bench
