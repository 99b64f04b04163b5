#!/usr/bin/env python3
"""Drives seedgate's OpenAI-style videos API (/v1/videos) with the official `openai` package.

Run by crates/seedgate/tests/api/openai.rs against a freshly spawned seedgate:

    OPENAI_BASE_URL=http://127.0.0.1:PORT/v1 OPENAI_API_KEY=sg_live_... python3 videos.py

Needs `pip install openai` (a version with `client.videos`: 2.2.0 or later; tested with 3.54.0).
Prints what it does; exits non-zero on the first failure.
"""

import struct
import sys
import warnings
import zlib

# openai-python marks the Sora API deprecated; the shape is what seedgate serves.
warnings.simplefilter("ignore", DeprecationWarning)

try:
    import openai
except ImportError:
    print("the `openai` Python package is not installed: pip install openai", file=sys.stderr)
    sys.exit(3)

MODEL = "seedance-2.0-mini"


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def expect(condition, message):
    if not condition:
        fail(message)


def png(width, height):
    """A gradient PNG, made without any imaging library."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        green = y * 255 // height
        for x in range(width):
            rows += bytes((x * 255 // width, green, 128))

    def chunk(tag, data):
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 6))
        + chunk(b"IEND", b"")
    )


def expect_error(kind, call, code=None, param=None, status=None):
    try:
        call()
    except kind as e:
        expect(code is None or e.code == code, f"{kind.__name__}: code {e.code!r}, expected {code!r}")
        expect(param is None or e.param == param, f"{kind.__name__}: param {e.param!r}, expected {param!r}")
        expect(status is None or e.status_code == status, f"status {e.status_code}, expected {status}")
        expect(e.request_id and e.request_id.startswith("req_"), f"request id {e.request_id!r}")
        print(f"  {kind.__name__} {e.status_code} {e.type}/{e.code} param={e.param}: {e.message}")
        return e
    fail(f"expected {kind.__name__}")


def check_completed(video, size, seconds="4"):
    expect(video.status == "completed", f"status {video.status}: {video.error}")
    expect(video.object == "video", f"object {video.object}")
    expect(video.id.startswith("task_"), f"id {video.id}")
    expect(video.model == MODEL, f"model {video.model}")
    expect(video.progress == 100, f"progress {video.progress}")
    expect(video.size == size, f"size {video.size}, expected {size}")
    expect(video.seconds == seconds, f"seconds {video.seconds!r}")
    expect(video.error is None, f"error {video.error}")
    expect(video.remixed_from_video_id is None, "remixed_from_video_id")
    expect(video.completed_at is not None and video.completed_at >= video.created_at, "completed_at")
    expect(video.expires_at == video.completed_at + 24 * 3600, "expires_at = completed_at + 24 h")


def main():
    print(f"openai {openai.__version__}")
    client = openai.OpenAI(max_retries=0)
    expect(hasattr(client, "videos"), f"openai {openai.__version__} has no client.videos (need >= 2.2.0)")

    print("create_and_poll: text to video, 864x496, 4 s")
    t2v = client.videos.create_and_poll(
        model=MODEL,
        prompt="A lighthouse at dusk, waves rolling in",
        seconds="4",
        size="864x496",
        poll_interval_ms=200,
    )
    check_completed(t2v, "864x496")
    expect(t2v.prompt == "A lighthouse at dusk, waves rolling in", f"prompt {t2v.prompt!r}")

    print("download_content: the MP4 and its thumbnail")
    mp4 = client.videos.download_content(t2v.id).content
    expect(mp4[4:8] == b"ftyp", f"not an MP4: {mp4[:16]!r}")
    expect(len(mp4) > 10_000, f"MP4 of only {len(mp4)} bytes")
    expect(b"moov" in mp4 and b"mdat" in mp4, "MP4 without moov/mdat")
    thumbnail = client.videos.download_content(t2v.id, variant="thumbnail").content
    expect(thumbnail[:8] == b"\x89PNG\r\n\x1a\n", f"thumbnail is not a PNG: {thumbnail[:8]!r}")
    print(f"  {len(mp4)} bytes of MP4, {len(thumbnail)} bytes of PNG")

    print("create with input_reference as a file; poll honouring openai-poll-after-ms")
    raw = client.videos.with_raw_response.create(
        model=MODEL,
        prompt="The picture comes alive",
        seconds="4",
        size="640x640",
        input_reference=("frame.png", png(640, 640), "image/png"),
    )
    expect(raw.headers.get("openai-poll-after-ms") == "1000", f"poll header {raw.headers.get('openai-poll-after-ms')!r}")
    created = raw.parse()
    expect(created.status == "queued" and created.progress == 0, f"{created.status} {created.progress}")
    expect(created.completed_at is None and created.expires_at is None, "unfinished video has no times")
    i2v = client.videos.poll(created.id)
    check_completed(i2v, "640x640")

    print("retrieve")
    again = client.videos.retrieve(t2v.id)
    expect(again.id == t2v.id and again.status == "completed", f"{again}")
    raw = client.videos.with_raw_response.retrieve(t2v.id)
    expect(raw.headers.get("openai-poll-after-ms") is None, "a finished video has no poll header")

    print("list: pages, cursor and order")
    page = client.videos.list(limit=1)
    expect([v.id for v in page.data] == [i2v.id], f"first page {[v.id for v in page.data]}")
    expect(page.has_more is True, "has_more on the first page")
    every = [v.id for v in client.videos.list(limit=1)]  # auto-pagination follows last_id
    expect(every == [i2v.id, t2v.id], f"all pages {every}")
    oldest = [v.id for v in client.videos.list(order="asc")]
    expect(oldest == [t2v.id, i2v.id], f"ascending {oldest}")

    print("errors")
    expect_error(openai.BadRequestError, lambda: client.videos.create(model="sora-2", prompt="x"),
                 code="model_not_found", param="model", status=400)
    expect_error(openai.BadRequestError, lambda: client.videos.create(model=MODEL, prompt="x", size="1792x1024"),
                 code="invalid_value", param="size", status=400)
    expect_error(openai.BadRequestError, lambda: client.videos.create(model=MODEL, prompt="x", seconds="20"),
                 code="invalid_value", param="seconds", status=400)
    expect_error(openai.NotFoundError, lambda: client.videos.retrieve("task_01k9s419324drezfbwnsvxyr6h"),
                 code="not_found", status=404)
    expect_error(openai.BadRequestError,
                 lambda: client.videos.download_content(t2v.id, variant="spritesheet"),
                 code="unsupported_value", param="variant", status=400)
    intruder = openai.OpenAI(api_key="sg_live_not_a_key", max_retries=0)
    expect_error(openai.AuthenticationError, lambda: intruder.videos.list(), code="invalid_api_key", status=401)

    print("delete")
    for video in (t2v, i2v):
        deleted = client.videos.delete(video.id)
        expect(deleted.id == video.id and deleted.deleted is True and deleted.object == "video.deleted", f"{deleted}")
        expect_error(openai.NotFoundError, lambda: client.videos.retrieve(video.id), status=404)
    expect([v.id for v in client.videos.list()] == [], "the list is empty after deleting both")

    print("ok")


if __name__ == "__main__":
    main()
