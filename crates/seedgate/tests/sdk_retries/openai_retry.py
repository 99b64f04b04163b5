#!/usr/bin/env python3
"""One `client.videos.create(...)` through the official `openai` Python SDK, with its default retries.

Used by seedgate's retry tests (issue 14): a proxy in front of seedgate answers the first create
with a fault, the SDK retries by itself (max_retries=2, `x-stainless-retry-count: 0, 1, 2`, no
Idempotency-Key), and the test counts the tasks seedgate made.

Environment:
    SDK_BASE_URL         server root, e.g. http://127.0.0.1:8080 (`/v1` is added unless present)
    SDK_API_KEY          seedgate API key
    SDK_IDEMPOTENCY_KEY  optional: sent as `Idempotency-Key` on every try (extra_headers)
    SDK_PROMPT           optional prompt (default below)
    SDK_TIMEOUT          optional client timeout in seconds (default: the SDK's, 600 s)
    SDK_DEBUG=1          the SDK's retry log on stderr

Prints one JSON line on stdout: {"id": "<task id>"} and exits 0, or {"error": "..."} and exits 1.
Exit 3: the `openai` package is missing (`pip install "openai>=2.2,<4"`).
"""

import json
import logging
import os
import sys
import warnings

warnings.simplefilter("ignore", DeprecationWarning)  # the SDK marks the videos API deprecated

try:
    import openai
except ImportError:
    print(json.dumps({"error": "the `openai` Python package is not installed"}))
    sys.exit(3)


def base_url():
    url = os.environ["SDK_BASE_URL"].rstrip("/")
    return url if url.endswith("/v1") else url + "/v1"


def main():
    if os.environ.get("SDK_DEBUG"):
        logging.basicConfig(stream=sys.stderr, level=logging.DEBUG)
    kwargs = {"base_url": base_url(), "api_key": os.environ["SDK_API_KEY"]}  # max_retries: SDK default (2)
    if os.environ.get("SDK_TIMEOUT"):
        kwargs["timeout"] = float(os.environ["SDK_TIMEOUT"])
    client = openai.OpenAI(**kwargs)
    extra_headers = None
    if os.environ.get("SDK_IDEMPOTENCY_KEY"):
        extra_headers = {"Idempotency-Key": os.environ["SDK_IDEMPOTENCY_KEY"]}
    try:
        video = client.videos.create(
            model="seedance-2.0-mini",
            prompt=os.environ.get("SDK_PROMPT", "a paper boat drifting down a rain gutter"),
            seconds="4",
            size="1280x720",
            extra_headers=extra_headers,
        )
    except openai.APIError as e:
        status = getattr(e, "status_code", None)
        print(json.dumps({"error": f"{type(e).__name__}: {e}", "status": status}))
        return 1
    print(json.dumps({"id": video.id}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
