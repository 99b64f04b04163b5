#!/usr/bin/env python3
"""One `client.content_generation.tasks.create(...)` through a stock Ark SDK, with its default retries.

    python3 ark_retry.py --sdk volcengine   # volcenginesdkarkruntime (pip: volcengine-ark-runtime)
    python3 ark_retry.py --sdk byteplus     # byteplussdkarkruntime   (pip: byteplus-python-sdk-v2[ark])

Used by seedgate's retry tests (issue 14). Both SDKs retry a create twice (max_retries=2) on
connection errors, timeouts, 408/409/429 and 5xx, with a fresh `X-Client-Request-Id` per try and no
Idempotency-Key, so nothing marks a retry: only SDK_IDEMPOTENCY_KEY makes the tries one task.

Environment:
    SDK_BASE_URL         server root, e.g. http://127.0.0.1:8080 (`/api/v3` is added unless present)
    SDK_API_KEY          seedgate API key
    SDK_IDEMPOTENCY_KEY  optional: sent as `Idempotency-Key` on every try (extra_headers)
    SDK_PROMPT           optional prompt (default below)
    SDK_TIMEOUT          optional client timeout in seconds (default: the SDK's, 600 s)
    SDK_DEBUG=1          the SDK's retry log on stderr

Prints one JSON line on stdout: {"id": "<task id>"} and exits 0, or {"error": "..."} and exits 1.
Exit 3: the SDK is not installed.
"""

import argparse
import importlib
import json
import logging
import os
import sys
import warnings

warnings.simplefilter("ignore")

MODULES = {"volcengine": "volcenginesdkarkruntime", "byteplus": "byteplussdkarkruntime"}
PIP = {"volcengine": "volcengine-ark-runtime", "byteplus": "byteplus-python-sdk-v2[ark]"}


def base_url():
    url = os.environ["SDK_BASE_URL"].rstrip("/")
    return url if url.endswith("/api/v3") else url + "/api/v3"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sdk", choices=sorted(MODULES), required=True)
    sdk = parser.parse_args().sdk
    try:
        ark = importlib.import_module(MODULES[sdk])
    except ImportError as e:
        print(json.dumps({"error": f"{MODULES[sdk]} is not installed (pip install '{PIP[sdk]}'): {e}"}))
        return 3
    if os.environ.get("SDK_DEBUG"):
        logging.basicConfig(stream=sys.stderr, level=logging.DEBUG)
    kwargs = {"base_url": base_url(), "api_key": os.environ["SDK_API_KEY"]}  # max_retries: SDK default (2)
    if os.environ.get("SDK_TIMEOUT"):
        kwargs["timeout"] = float(os.environ["SDK_TIMEOUT"])
    client = ark.Ark(**kwargs)
    extra_headers = None
    if os.environ.get("SDK_IDEMPOTENCY_KEY"):
        extra_headers = {"Idempotency-Key": os.environ["SDK_IDEMPOTENCY_KEY"]}
    prompt = os.environ.get("SDK_PROMPT", "a paper boat drifting down a rain gutter")
    try:
        task = client.content_generation.tasks.create(
            model="seedance-2.0-mini",
            content=[{"type": "text", "text": prompt}],
            extra_headers=extra_headers,
        )
    except Exception as e:  # ArkAPIError and subclasses, or anything the SDK raises
        status = getattr(e, "status_code", None)
        print(json.dumps({"error": f"{type(e).__name__}: {e}", "status": status}))
        return 1
    print(json.dumps({"id": task.id}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
