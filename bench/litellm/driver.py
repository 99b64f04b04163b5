#!/usr/bin/env python3
"""seedgate beside LiteLLM, both fronting one upstream: the driver behind side_by_side.sh.

It starts the upstream (a seedgate on the local renderer), front A (a LiteLLM proxy whose one
model is an OpenAI-compatible deployment at the upstream's /v1) and front B (a second seedgate
with the upstream as its one account), drives both with the same client through the OpenAI
videos API (`POST /v1/videos`, `GET /v1/videos/{id}`), and prints one markdown table.

Standard library only, plus uvloop when the venv has it. Every process it starts is its own
process group, ended by its id when the run ends. See README.md beside this file.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field

MODEL = "seedance-2.0-mini"
CREATE_BODY = {"model": MODEL, "prompt": "a lighthouse at dusk", "seconds": "4", "size": "864x496"}
# The upstream honours prompt directives (development mode): this task runs for a minute.
RUNNING_PROMPT = "a lighthouse at dusk, held [[seedgate:delay:60000]]"
LITELLM_KEY = "sk-bench-litellm-front"
TERMINAL = {"completed", "failed"}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Processes


class Proc:
    """A child in its own process group (so LiteLLM's workers go with it)."""

    def __init__(self, name: str, argv: list[str], logfile: str, env: dict | None = None):
        self.name, self.argv, self.logfile, self.env = name, argv, logfile, env
        self.popen: subprocess.Popen | None = None

    def start(self) -> "Proc":
        out = open(self.logfile, "ab")
        self.popen = subprocess.Popen(
            self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=self.env, start_new_session=True,
        )
        out.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill9(self) -> None:
        """A crash: SIGKILL to the group, nothing flushed."""
        if self.alive():
            os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait()

    def stop(self) -> None:
        if not self.alive():
            return
        try:
            os.killpg(self.pid, signal.SIGTERM)
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait()
        except ProcessLookupError:
            pass


def tree_pids(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_seconds(root: int) -> float:
    """User + system CPU time of the live processes of the tree."""
    ticks = 0
    for pid in tree_pids(root):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


def memory_kb(root: int) -> tuple[int, int, int]:
    """(RSS summed over the process tree, PSS summed over it, processes), in kB."""
    rss = pss = n = 0
    for pid in tree_pids(root):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
            n += 1
        except OSError:
            pass
    return rss, pss, n


# ---------------------------------------------------------------------------------------------
# Blocking HTTP for set-up and checks


def http(method: str, url: str, key: str | None = None, body: dict | None = None,
         timeout: float = 30.0) -> tuple[int, dict | str]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw, status = r.read(), r.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def wait_http(url: str, key: str | None, ok: set[int], proc: Proc, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not proc.alive():
            raise SystemExit(f"{proc.name} exited during start-up; see {proc.logfile}")
        try:
            status, _ = http("GET", url, key, timeout=2)
            if status in ok:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{proc.name} did not answer {url} within {seconds:.0f} s; see {proc.logfile}")


# ---------------------------------------------------------------------------------------------
# The load client: raw HTTP/1.1 keep-alive over asyncio, one request in flight per connection.


class Conn(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport = None
        self.buf = bytearray()
        self.waiter: asyncio.Future | None = None
        self.closed = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.closed = True
        if self.waiter and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._try_finish()

    def _try_finish(self) -> None:
        if self.waiter is None or self.waiter.done():
            return
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = bytes(self.buf[:head_end]).decode("latin-1")
        lines = head.split("\r\n")
        status = int(lines[0].split()[1])
        length, chunked = None, False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        start = head_end + 4
        if chunked:
            body = bytearray()
            pos = start
            while True:
                eol = self.buf.find(b"\r\n", pos)
                if eol < 0:
                    return
                size = int(bytes(self.buf[pos:eol]).split(b";")[0], 16)
                if size == 0:
                    end = self.buf.find(b"\r\n\r\n", eol)
                    if end < 0:
                        if len(self.buf) >= eol + 4:
                            end = eol
                        else:
                            return
                    del self.buf[: end + 4]
                    self.waiter.set_result((status, bytes(body)))
                    return
                if len(self.buf) < eol + 2 + size + 2:
                    return
                body += self.buf[eol + 2: eol + 2 + size]
                pos = eol + 2 + size + 2
        length = length or 0
        if len(self.buf) < start + length:
            return
        body = bytes(self.buf[start: start + length])
        del self.buf[: start + length]
        self.waiter.set_result((status, body))

    async def request(self, raw: bytes, timeout: float) -> tuple[int, bytes]:
        if self.closed:
            raise ConnectionError("connection closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        self._try_finish()
        return await asyncio.wait_for(self.waiter, timeout)


class Client:
    """One keep-alive connection that reconnects after an error."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port, self.conn = host, port, None

    async def send(self, raw: bytes, timeout: float = 30.0) -> tuple[int, bytes]:
        if self.conn is None or self.conn.closed:
            loop = asyncio.get_running_loop()
            _, self.conn = await asyncio.wait_for(
                loop.create_connection(Conn, self.host, self.port), timeout)
        try:
            return await self.conn.request(raw, timeout)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.conn is not None and self.conn.transport is not None:
            self.conn.transport.close()
        self.conn = None


def raw_get(port: int, path: str, key: str) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n"
            f"Accept: application/json\r\n\r\n").encode()


def raw_post(port: int, path: str, key: str, body: dict) -> bytes:
    data = json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nAccept: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode() + data


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


@dataclass
class LoadResult:
    ok: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies_ms: list = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    bodies: list = field(default_factory=list)
    cpu_ms_per_request: float = float("nan")

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


async def closed_loop(port: int, raw: bytes, connections: int, seconds: float, warmup: float,
                      keep_bodies: bool = False, ok_status: int = 200) -> LoadResult:
    """`connections` clients, each sending the next request as soon as the last is answered.
    Only requests started inside the measured window (after the warm-up) count."""
    res = LoadResult(seconds=seconds)
    t_start = time.perf_counter() + warmup
    t_end = t_start + seconds

    async def one() -> None:
        client = Client("127.0.0.1", port)
        while True:
            t0 = time.perf_counter()
            if t0 >= t_end:
                break
            try:
                status, body = await client.send(raw, timeout=max(1.0, t_end - t0 + 30))
                failed = status != ok_status
            except (OSError, asyncio.TimeoutError, ValueError, IndexError):
                status, body, failed = 0, b"", True
            t1 = time.perf_counter()
            if t0 >= t_start:
                res.statuses[status] += 1
                if failed:
                    res.errors += 1
                else:
                    res.ok += 1
                    res.latencies_ms.append((t1 - t0) * 1000)
                    if keep_bodies:
                        res.bodies.append(body)
            elif failed:
                await asyncio.sleep(0.01)
        client.close()

    await asyncio.gather(*(one() for _ in range(connections)))
    return res


# ---------------------------------------------------------------------------------------------
# The fronts


@dataclass
class Front:
    name: str
    port: int
    key: str
    proc: Proc
    # Finds the upstream task id behind one of this front's video ids.
    upstream_key: str = ""

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def litellm_upstream_id(video_id: str) -> str:
    """LiteLLM's video id is `video_` + base64 of `litellm:…;video_id:<upstream id>;…`."""
    encoded = video_id[len("video_"):]
    decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    m = re.search(r"video_id:([^;]+)", decoded)
    if not m:
        raise ValueError(f"no upstream id in LiteLLM's video id {video_id}: {decoded}")
    return m.group(1)


def seedgate_upstream_id(front: Front, video_id: str) -> str:
    status, timeline = http("GET", front.url(f"/api/v1/tasks/{video_id}/timeline"), front.key)
    if status != 200:
        raise RuntimeError(f"timeline of {video_id}: {status} {timeline}")
    for event in timeline["data"]:
        if event.get("kind") == "upstream_accepted":
            return event["upstream_task_id"]
    raise RuntimeError(f"{video_id} has no upstream_accepted event: {timeline}")


def upstream_id_of(front: Front, video_id: str) -> str:
    if front.name == "LiteLLM":
        return litellm_upstream_id(video_id)
    return seedgate_upstream_id(front, video_id)


def upstream_finished_ms(upstream_port: int, key: str, task_id: str) -> int:
    status, timeline = http("GET", f"http://127.0.0.1:{upstream_port}/api/v1/tasks/{task_id}/timeline", key)
    if status != 200:
        raise RuntimeError(f"upstream timeline of {task_id}: {status} {timeline}")
    for event in timeline["data"]:
        if event.get("kind") == "succeeded":
            return int(event["at_ms"])
    raise RuntimeError(f"upstream task {task_id} has not succeeded: {timeline}")


def create_one(front: Front, prompt: str | None = None) -> str:
    body = dict(CREATE_BODY)
    if prompt:
        body["prompt"] = prompt
    status, video = http("POST", front.url("/v1/videos"), front.key, body)
    if status != 200 or not isinstance(video, dict) or "id" not in video:
        raise RuntimeError(f"{front.name}: create answered {status}: {video}")
    return video["id"]


def wait_status(front: Front, video_id: str, wanted: set[str], seconds: float) -> dict:
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        status, video = http("GET", front.url(f"/v1/videos/{video_id}"), front.key)
        last = (status, video)
        if status == 200 and video.get("status") in wanted:
            return video
        time.sleep(0.1)
    raise RuntimeError(f"{front.name}: {video_id} not {wanted} within {seconds:.0f} s: {last}")


# ---------------------------------------------------------------------------------------------
# Phases


async def phase_polls(front: Front, args) -> dict:
    out = {}
    done_id = create_one(front)
    wait_status(front, done_id, {"completed"}, 60)
    running_id = create_one(front, RUNNING_PROMPT)
    wait_status(front, running_id, {"in_progress"}, 30)
    for label, vid in (("completed", done_id), ("running", running_id)):
        raw = raw_get(front.port, f"/v1/videos/{vid}", front.key)
        cpu0 = cpu_seconds(front.proc.pid)
        res = await closed_loop(front.port, raw, args.connections, args.seconds, args.warmup,
                                keep_bodies=False)
        # CPU per request over the whole scenario, warm-up included.
        res.cpu_ms_per_request = (cpu_seconds(front.proc.pid) - cpu0) * 1000 / max(
            1, sum(res.statuses.values()) * (args.seconds + args.warmup) / args.seconds)
        out[label] = res
        log(f"  {front.name} poll {label}: {res.rps:.0f} req/s, p50 {pct(res.latencies_ms, 50):.2f} ms, "
            f"p99 {pct(res.latencies_ms, 99):.2f} ms, errors {res.errors} {dict(res.statuses)}, "
            f"CPU {res.cpu_ms_per_request:.3f} ms per request")
    # The running task must still have been running throughout.
    status, video = http("GET", front.url(f"/v1/videos/{running_id}"), front.key)
    if video.get("status") != "in_progress":
        log(f"  warning: {front.name}'s running task is {video.get('status')} after the poll phase")
    return out


async def phase_creates(front: Front, args) -> tuple[LoadResult, list[str]]:
    raw = raw_post(front.port, "/v1/videos", front.key, CREATE_BODY)
    res = await closed_loop(front.port, raw, args.create_connections, args.seconds, args.warmup,
                            keep_bodies=True)
    ids = []
    for body in res.bodies:
        try:
            ids.append(json.loads(body)["id"])
        except (ValueError, KeyError):
            pass
    res.bodies = []
    log(f"  {front.name} create: {res.rps:.0f} req/s, p50 {pct(res.latencies_ms, 50):.2f} ms, "
        f"p99 {pct(res.latencies_ms, 99):.2f} ms, errors {res.errors} {dict(res.statuses)}")
    return res, ids


async def sweep(front: Front, ids: list[str], seconds: float, concurrency: int = 8
                ) -> tuple[Counter, float | None]:
    """Polls every id (at most `concurrency` at once, one pass every second) until each is
    finished or `seconds` have passed; counts the final statuses, and says how long it took
    until every one was finished (None: not within `seconds`)."""
    t0 = time.monotonic()
    final: dict[str, str] = {}
    why_failed: list[str] = []
    pending = list(ids)
    deadline = time.monotonic() + seconds
    clients = [Client("127.0.0.1", front.port) for _ in range(concurrency)]
    while pending and time.monotonic() < deadline:
        queue = list(pending)
        still: list[str] = []

        async def worker(client: Client) -> None:
            while queue:
                vid = queue.pop()
                try:
                    status, body = await client.send(raw_get(front.port, f"/v1/videos/{vid}", front.key), 30)
                    video = json.loads(body) if status == 200 else {}
                    st = video.get("status") if status == 200 else f"http {status}"
                    if st == "failed" and len(why_failed) < 3:
                        why_failed.append(f"{vid}: {video.get('error')}")
                except (OSError, asyncio.TimeoutError, ValueError):
                    st = "unreachable"
                if st in TERMINAL:
                    final[vid] = st
                else:
                    final[vid] = st or "?"
                    still.append(vid)

        await asyncio.gather(*(worker(c) for c in clients))
        pending = still
        if pending:
            await asyncio.sleep(1.0)
    for c in clients:
        c.close()
    took = None if pending else time.monotonic() - t0
    for line in why_failed:
        log(f"  {front.name}: failed video {line}")
    return Counter(final.get(v, "unknown") for v in ids), took


async def phase_visible(front: Front, upstream_port: int, args) -> list[float]:
    """Tasks created one every 1/rate s; each polled every 100 ms from creation; the gap from
    the upstream's own completion time to the front's first `completed` answer."""
    results: list[float] = []
    failures: list[str] = []
    rng = random.Random(args.seed)

    async def one(i: int) -> None:
        await asyncio.sleep(i / args.visible_rate)
        client = Client("127.0.0.1", front.port)
        try:
            status, body = await client.send(raw_post(front.port, "/v1/videos", front.key, CREATE_BODY), 30)
            if status != 200:
                failures.append(f"create {status} {body[:200]!r}")
                return
            vid = json.loads(body)["id"]
            raw = raw_get(front.port, f"/v1/videos/{vid}", front.key)
            # The upstream cannot finish sooner than its render delay after the create: polling
            # from a little before that on sees every completion, and keeps the pollers few
            # enough that neither front is measured saturated. The poll schedule's phase is
            # drawn at random: with a fixed render delay, a fixed phase would put every sample
            # at the same point of the 100 ms cycle and measure the phase, not the front.
            next_at = (time.monotonic() + args.visible_poll_after_ms / 1000
                       + rng.uniform(0, args.visible_interval_ms / 1000))
            deadline = next_at + 60
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            while time.monotonic() < deadline:
                status, body = await client.send(raw, 30)
                seen_ms = time.time() * 1000
                if status == 200:
                    st = json.loads(body).get("status")
                    if st == "completed":
                        up_id = await asyncio.to_thread(upstream_id_of, front, vid)
                        done_ms = await asyncio.to_thread(upstream_finished_ms, upstream_port,
                                                          front.upstream_key, up_id)
                        results.append(seen_ms - done_ms)
                        return
                    if st == "failed":
                        failures.append(f"{vid} failed: {body[:200]!r}")
                        return
                next_at += args.visible_interval_ms / 1000
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            failures.append(f"{vid} not completed within 60 s")
        except (OSError, asyncio.TimeoutError, ValueError, RuntimeError) as e:
            failures.append(repr(e))
        finally:
            client.close()

    await asyncio.gather(*(one(i) for i in range(args.visible_samples)))
    if failures:
        log(f"  {front.name} completion → visible: {len(failures)} samples lost: {failures[:3]}")
    log(f"  {front.name} completion → visible: n={len(results)}, p50 {pct(results, 50):.0f} ms, "
        f"p99 {pct(results, 99):.0f} ms")
    return results


async def steady_creates(front: Front, rate: float, seconds: float, accepted: list[str],
                         failed: Counter) -> None:
    """One create every 1/rate s regardless of how long earlier ones take (open loop)."""
    raw = raw_post(front.port, "/v1/videos", front.key, CREATE_BODY)

    async def one() -> None:
        client = Client("127.0.0.1", front.port)
        try:
            status, body = await client.send(raw, 60)
            if status == 200:
                accepted.append(json.loads(body)["id"])
            else:
                failed[f"http {status}"] += 1
        except (OSError, asyncio.TimeoutError, ValueError, KeyError) as e:
            failed[type(e).__name__] += 1
        finally:
            client.close()

    tasks = []
    t0 = time.monotonic()
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)


# ---------------------------------------------------------------------------------------------
# Set-up


def seedgate_key(binary: str, config: str, data_dir: str, name: str) -> str:
    out = subprocess.run(
        [binary, "keys", "create", "--config", config, "--data-dir", data_dir, "--name", name,
         "--credits", "1000000000000"],
        check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def write(path: str, text: str) -> str:
    with open(path, "w") as f:
        f.write(text)
    return path


def upstream_config(work: str, args) -> str:
    return write(f"{work}/upstream.toml", f"""\
# The one upstream both fronts call: a seedgate on its local renderer, standing in for a
# Seedance reseller. Instant mode (a tiny placeholder clip, so the encoder does not take the
# fronts' CPU) plus a fixed render delay.
mode = "development"
[worker]
concurrency = {args.upstream_concurrency}   # delayed renders are sleeps, not CPU
lease_seconds = 10                # a task running at the crash is picked up again after this
[callbacks]
idle_poll_ms = {args.upstream_callback_poll_ms}   # how often the callback dispatcher looks for due callbacks
[local]
instant = true
delay_ms = {args.render_delay_ms}
[log]
filter = "warn"
""")


def front_config(work: str, args, port: int, upstream_port: int, upstream_key: str) -> str:
    kind = args.seedgate_upstream_kind
    base = f"http://127.0.0.1:{upstream_port}"
    model_id = MODEL
    return write(f"{work}/front.toml", f"""\
# Front B: seedgate with the upstream as its only account.
mode = "development"
public_base_url = "http://127.0.0.1:{port}"   # the upstream's callbacks come back here
[worker]
concurrency = {args.front_worker_concurrency}   # submits to the upstream at once
[[providers]]
name = "upstream"
kind = "{kind}"
base_url = "{base}"
api_key = "{upstream_key}"
models = {{ "{MODEL}" = "{model_id}" }}
max_concurrent = 100000
[upstream]
poll_min_ms = {args.front_poll_min_ms}
poll_max_ms = {args.front_poll_max_ms}
breaker_open_seconds = {args.front_breaker_open_seconds}
# Tries per result copy, 1 s apart and doubling. seedgate's default, 3, gives up after 3 s: a
# video the upstream finished just before a 3 s outage can then fail (and be refunded).
rehost_attempts = {args.front_rehost_attempts}
[log]
filter = "warn"
""")


def litellm_config(work: str, upstream_port: int, upstream_key: str) -> tuple[str, str]:
    cfg = write(f"{work}/litellm.yaml", f"""\
# Front A: LiteLLM's proxy, one OpenAI-compatible deployment at the upstream's /v1.
model_list:
  - model_name: {MODEL}
    litellm_params:
      model: openai/{MODEL}
      api_base: http://127.0.0.1:{upstream_port}/v1
      api_key: {upstream_key}
general_settings:
  master_key: {LITELLM_KEY}
""")
    # uvicorn's access log (one line per request) off: seedgate writes none either.
    logcfg = write(f"{work}/litellm-log.json", json.dumps({
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
        "handlers": {"err": {"class": "logging.StreamHandler", "formatter": "plain"}},
        "loggers": {
            "uvicorn": {"handlers": ["err"], "level": "WARNING"},
            "uvicorn.error": {"level": "WARNING"},
            "uvicorn.access": {"handlers": ["err"], "level": "WARNING", "propagate": False},
        },
    }, indent=1))
    return cfg, logcfg


# ---------------------------------------------------------------------------------------------
# The table


def fmt(v: float, unit: str) -> str:
    if v != v:  # nan
        return "n/a"
    if unit == "req/s":
        return f"{v:,.0f} req/s"
    if unit == "ms":
        return f"{v:.1f} ms" if v < 100 else f"{v:,.0f} ms"
    if unit == "MB":
        return f"{v:.1f} MB"
    return f"{v:g}{(' ' + unit) if unit else ''}"


def row(measure: str, sg: float, ll: float, unit: str, higher_better: bool) -> str:
    if sg != sg or ll != ll:
        ratio, better = "n/a", "n/a"
    else:
        if higher_better:
            ratio_v = sg / ll if ll else float("inf")
            better = "yes" if sg > ll else ("equal" if sg == ll else "**no**")
        else:
            ratio_v = ll / sg if sg else float("inf")
            better = "yes" if sg < ll else ("equal" if sg == ll else "**no**")
        if sg == ll:
            ratio = "1×"
        elif ratio_v == float("inf"):
            ratio = "∞ (seedgate 0)"
        else:
            ratio = f"{ratio_v:.2f}×"
    return f"| {measure} | {fmt(sg, unit)} | {fmt(ll, unit)} | {ratio} | {better} |"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# ---------------------------------------------------------------------------------------------


async def run(args) -> int:
    work = tempfile.mkdtemp(prefix="seedgate-litellm-", dir=args.work_root)
    log(f"work dir {work}")
    binary = os.path.abspath(args.seedgate_bin)
    sg_version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
    ll_version = subprocess.run([args.litellm_python, "-c",
                                 "import importlib.metadata as m; print(m.version('litellm'))"],
                                capture_output=True, text=True).stdout.strip()
    procs: list[Proc] = []
    t_run = time.monotonic()
    try:
        # The upstream.
        up_port = free_port()
        up_cfg = upstream_config(work, args)
        up_dir = f"{work}/upstream"
        key_for_litellm = seedgate_key(binary, up_cfg, up_dir, "front-litellm")
        key_for_seedgate = seedgate_key(binary, up_cfg, up_dir, "front-seedgate")
        up_argv = [binary, "serve", "--config", up_cfg, "--data-dir", up_dir,
                   "--listen", f"127.0.0.1:{up_port}"]
        upstream = Proc("upstream", up_argv, f"{work}/upstream.log").start()
        procs.append(upstream)
        wait_http(f"http://127.0.0.1:{up_port}/v1/videos/none", key_for_litellm, {404}, upstream, 30)
        log(f"upstream: {sg_version} on :{up_port}, local renderer, instant, delay {args.render_delay_ms} ms")

        # Front B: seedgate.
        sg_port = free_port()
        sg_cfg = front_config(work, args, sg_port, up_port, key_for_seedgate)
        sg_dir = f"{work}/front-seedgate"
        sg_key = seedgate_key(binary, sg_cfg, sg_dir, "client")
        sg_proc = Proc("seedgate front", [binary, "serve", "--config", sg_cfg, "--data-dir", sg_dir,
                                          "--listen", f"127.0.0.1:{sg_port}"],
                       f"{work}/front-seedgate.log").start()
        procs.append(sg_proc)
        wait_http(f"http://127.0.0.1:{sg_port}/v1/videos/none", sg_key, {404}, sg_proc, 30)

        # Front A: LiteLLM.
        ll_port = free_port()
        ll_cfg, ll_log = litellm_config(work, up_port, key_for_litellm)
        env = dict(os.environ)
        env.update({"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR",
                    "LITELLM_TELEMETRY": "False", "NO_PROXY": "*", "no_proxy": "*"})
        ll_proc = Proc("LiteLLM", [args.litellm_bin, "--config", ll_cfg, "--host", "127.0.0.1",
                                   "--port", str(ll_port), "--num_workers", str(args.litellm_workers),
                                   "--log_config", ll_log],
                       f"{work}/litellm.log", env).start()
        procs.append(ll_proc)
        wait_http(f"http://127.0.0.1:{ll_port}/health/liveliness", None, {200}, ll_proc, 180)
        log(f"fronts up: seedgate :{sg_port}, LiteLLM {ll_version} :{ll_port} ({args.litellm_workers} workers)")

        fronts = {
            "seedgate": Front("seedgate", sg_port, sg_key, sg_proc, key_for_seedgate),
            "LiteLLM": Front("LiteLLM", ll_port, LITELLM_KEY, ll_proc, key_for_litellm),
        }
        # One video end to end through each front first: create, poll to completed, download.
        for f in fronts.values():
            vid = create_one(f)
            wait_status(f, vid, {"completed"}, 60)
            req = urllib.request.Request(f.url(f"/v1/videos/{vid}/content"),
                                         headers={"Authorization": f"Bearer {f.key}"})
            with urllib.request.urlopen(req, timeout=30) as r:
                mp4 = r.read()
            if mp4[4:8] != b"ftyp":
                raise RuntimeError(f"{f.name}: the content is not an MP4")
            log(f"{f.name}: one video end to end ({len(mp4)} bytes of MP4), upstream task "
                f"{upstream_id_of(f, vid)}")
        time.sleep(2)
        mem_idle = {n: memory_kb(f.proc.pid) for n, f in fronts.items()}
        log(f"memory idle: " + ", ".join(f"{n} RSS {m[0]/1024:.1f} MB PSS {m[1]/1024:.1f} MB ({m[2]} procs)"
                                        for n, m in mem_idle.items()))

        polls, creates, create_ids, visible, outage = {}, {}, {}, {}, {}
        for n, f in fronts.items():
            log(f"polls through {n}")
            polls[n] = await phase_polls(f, args)
        for n, f in fronts.items():
            log(f"completion → visible through {n}")
            visible[n] = await phase_visible(f, up_port, args)
        # The outage: a steady stream of creates through both fronts at once; the upstream is
        # killed (SIGKILL) a few seconds in, so that videos it has just finished are being
        # fetched when it goes, and started again on the same data dir 3 s later.
        log(f"outage: {args.outage_rate:g} creates/s through each front for {args.outage_stream_seconds:g} s, "
            f"upstream killed {args.outage_kill_after:g} s in, down {args.outage_seconds:g} s")
        accepted = {n: [] for n in fronts}
        failed = {n: Counter() for n in fronts}
        streams = [asyncio.create_task(steady_creates(f, args.outage_rate, args.outage_stream_seconds,
                                                      accepted[n], failed[n]))
                   for n, f in fronts.items()]
        await asyncio.sleep(args.outage_kill_after)
        upstream.kill9()
        t_down = time.monotonic()
        await asyncio.sleep(args.outage_seconds)
        upstream = Proc("upstream", up_argv, f"{work}/upstream.log").start()
        procs.append(upstream)
        log(f"  upstream down for {time.monotonic() - t_down:.1f} s, restarted")
        await asyncio.gather(*streams)
        await asyncio.to_thread(wait_http, f"http://127.0.0.1:{up_port}/v1/videos/none",
                                key_for_litellm, {404}, upstream, 30)
        swept = await asyncio.gather(*(sweep(f, accepted[n], args.outage_drain_seconds)
                                       for n, f in fronts.items()))
        for (n, f), (counts, took) in zip(fronts.items(), swept):
            outage[n] = counts
            log(f"  {n}: {len(accepted[n])} accepted, refused/lost {sum(failed[n].values())} "
                f"{dict(failed[n])}; accepted videos: {dict(counts)}"
                + (f", all finished {took:.0f} s after the stream" if took is not None else ""))

        for n, f in fronts.items():
            log(f"creates through {n}")
            creates[n], create_ids[n] = await phase_creates(f, args)
        mem_load = {n: memory_kb(f.proc.pid) for n, f in fronts.items()}
        log(f"memory after load: " + ", ".join(f"{n} RSS {m[0]/1024:.1f} MB PSS {m[1]/1024:.1f} MB"
                                              for n, m in mem_load.items()))
        # What the create row accepted, worked through by the one upstream (both fronts' at once).
        drained = {}
        swept = await asyncio.gather(*(sweep(f, create_ids[n], args.drain_seconds)
                                       for n, f in fronts.items()))
        for (n, f), result in zip(fronts.items(), swept):
            drained[n] = result
            counts, took = result
            log(f"  {n}: the create row's {len(create_ids[n])} videos: {dict(counts)}"
                + (f", all finished after {took:.0f} s" if took is not None else
                   f", not all finished within {args.drain_seconds:g} s"))

        # The table.
        S, L = "seedgate", "LiteLLM"
        rows, checks = [], []
        for label, title in (("completed", "poll a finished video"), ("running", "poll a running video")):
            a, b = polls[S][label], polls[L][label]
            rows.append(row(f"{title}, {args.connections} conns: throughput", a.rps, b.rps, "req/s", True))
            rows.append(row(f"{title}: latency p50", pct(a.latencies_ms, 50), pct(b.latencies_ms, 50), "ms", False))
            rows.append(row(f"{title}: latency p99", pct(a.latencies_ms, 99), pct(b.latencies_ms, 99), "ms", False))
            checks.append(f"{title}: errors (non-200 or no answer): seedgate {a.errors}, LiteLLM {b.errors}; "
                          f"the front's CPU time per request (its process tree): seedgate "
                          f"{a.cpu_ms_per_request:.3f} ms, LiteLLM {b.cpu_ms_per_request:.1f} ms")
        a, b = creates[S], creates[L]
        rows.append(row(f"create, {args.create_connections} conns: throughput", a.rps, b.rps, "req/s", True))
        rows.append(row("create: latency p50", pct(a.latencies_ms, 50), pct(b.latencies_ms, 50), "ms", False))
        rows.append(row("create: latency p99", pct(a.latencies_ms, 99), pct(b.latencies_ms, 99), "ms", False))
        rows.append(row("create: errors", a.errors, b.errors, "", False))
        for n in fronts:
            counts, took = drained[n]
            checks.append(
                f"{n}: of the {len(create_ids[n])} videos the create row accepted, {counts['completed']} "
                f"completed" + (f" (all finished {took:.0f} s after the row)" if took is not None else
                                f" within {args.drain_seconds:g} s of the row")
                + "; the one upstream works through both fronts' videos at once, so this is mostly "
                  "its pace")
        rows.append(row("memory idle: RSS of the process tree", mem_idle[S][0] / 1024, mem_idle[L][0] / 1024, "MB", False))
        rows.append(row("memory idle: PSS of the process tree", mem_idle[S][1] / 1024, mem_idle[L][1] / 1024, "MB", False))
        rows.append(row("memory after the load: RSS", mem_load[S][0] / 1024, mem_load[L][0] / 1024, "MB", False))
        rows.append(row("memory after the load: PSS", mem_load[S][1] / 1024, mem_load[L][1] / 1024, "MB", False))
        rows.append(row(f"completion → visible ({args.visible_interval_ms:g} ms polls): p50",
                        pct(visible[S], 50), pct(visible[L], 50), "ms", False))
        rows.append(row("completion → visible: p99", pct(visible[S], 99), pct(visible[L], 99), "ms", False))
        checks.append(f"completion → visible: samples measured (of {args.visible_samples}): "
                      f"seedgate {len(visible[S])}, LiteLLM {len(visible[L])}")
        rows.append(row(f"{args.outage_seconds:g} s upstream outage: creates refused or lost "
                        f"(of {int(args.outage_rate * args.outage_stream_seconds)})",
                        sum(failed[S].values()), sum(failed[L].values()), "", False))
        lost = {n: len(accepted[n]) - outage[n]["completed"] for n in fronts}
        rows.append(row(f"{args.outage_seconds:g} s upstream outage: accepted videos not completed "
                        f"{args.outage_drain_seconds:g} s later", lost[S], lost[L], "", False))

        wins = sum(1 for r in rows if r.endswith("| yes |"))
        elapsed = time.monotonic() - t_run
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        mem = ""
        try:
            with open("/proc/meminfo") as fh:
                mem = fh.readline().split(":", 1)[1].strip()
        except OSError:
            pass
        lines = [
            "# seedgate beside LiteLLM, fronting one upstream",
            "",
            f"- Date: {now}; the run took {elapsed:.0f} s (`bench/litellm/side_by_side.sh`)",
            f"- seedgate: `{sg_version}` (front and upstream); LiteLLM: {ll_version} "
            f"(proxy, {args.litellm_workers} uvicorn workers, Python {args.litellm_python_version})",
            f"- Machine: {cpu_model()}, {os.cpu_count()} cores (nproc), {mem} memory, "
            f"{platform.system()} {platform.release()}",
            f"- Upstream: seedgate on its local renderer (instant clip, {args.render_delay_ms} ms render "
            f"delay, callback dispatcher idle poll {args.upstream_callback_poll_ms} ms); LiteLLM calls its `/v1` as an OpenAI deployment, seedgate as an "
            f"`{args.seedgate_upstream_kind}` account (poll {args.front_poll_min_ms}–{args.front_poll_max_ms} ms, "
            f"`public_base_url` set, `rehost_attempts = {args.front_rehost_attempts}`)",
            f"- Clients speak the OpenAI videos API to both. Load: {args.seconds:g} s measured after "
            f"{args.warmup:g} s warm-up per scenario, one client (raw HTTP/1.1 keep-alive, asyncio) "
            f"on the same machine",
            "",
            "| measure | seedgate | LiteLLM | ratio | seedgate better? |",
            "|---|---|---|---|---|",
            *rows,
            "",
            *(f"- {c}" for c in checks),
            "",
            f"seedgate is better on {wins} of {len(rows)} rows. Ratio: how many times better seedgate's "
            f"figure is (LiteLLM ÷ seedgate for latencies, counts and memory; seedgate ÷ LiteLLM for "
            f"throughput).",
            "",
        ]
        table = "\n".join(lines)
        print(table)
        if args.out:
            with open(args.out, "w") as fh:
                fh.write(table)
            log(f"wrote {args.out}")
        if args.keep:
            log(f"kept {work}")
        return 0
    finally:
        for p in reversed(procs):
            p.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seedgate-bin", default=os.environ.get("SEEDGATE_BIN", "target/release/seedgate"))
    ap.add_argument("--litellm-bin", required=True)
    ap.add_argument("--litellm-python", default=sys.executable)
    ap.add_argument("--litellm-workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seconds", type=float, default=5.0, help="measured seconds per load scenario")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--connections", type=int, default=64, help="poll connections")
    ap.add_argument("--create-connections", type=int, default=16)
    ap.add_argument("--render-delay-ms", type=int, default=3000)
    ap.add_argument("--upstream-concurrency", type=int, default=1024)
    ap.add_argument("--visible-samples", type=int, default=50)
    ap.add_argument("--visible-rate", type=float, default=5.0, help="tasks started per second")
    ap.add_argument("--visible-interval-ms", type=float, default=100.0)
    ap.add_argument("--drain-seconds", type=float, default=150.0)
    ap.add_argument("--visible-poll-after-ms", type=float, default=None,
                    help="when each completion poller starts (default: the render delay - 500)")
    ap.add_argument("--seed", type=int, default=1, help="seeds the completion pollers' phases")
    ap.add_argument("--outage-rate", type=float, default=20.0)
    ap.add_argument("--outage-stream-seconds", type=float, default=12.0)
    ap.add_argument("--outage-kill-after", type=float, default=5.0)
    ap.add_argument("--outage-seconds", type=float, default=3.0)
    ap.add_argument("--outage-drain-seconds", type=float, default=120.0)
    ap.add_argument("--upstream-callback-poll-ms", type=int, default=250,
                    help="the upstream's callbacks.idle_poll_ms (seedgate's default: 250)")
    ap.add_argument("--seedgate-upstream-kind", default="ark")
    ap.add_argument("--front-worker-concurrency", type=int, default=16)
    ap.add_argument("--front-poll-min-ms", type=int, default=2000)
    ap.add_argument("--front-poll-max-ms", type=int, default=15000)
    ap.add_argument("--front-breaker-open-seconds", type=int, default=30)
    ap.add_argument("--front-rehost-attempts", type=int, default=5,
                    help="the front's upstream.rehost_attempts (seedgate's default: 3)")
    ap.add_argument("--work-root", default=os.environ.get("TMPDIR", "/tmp"))
    ap.add_argument("--out", default="")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (configs, logs, data)")
    args = ap.parse_args()
    if args.visible_poll_after_ms is None:
        args.visible_poll_after_ms = max(0.0, args.render_delay_ms - 500.0)
    args.litellm_python_version = subprocess.run(
        [args.litellm_python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True, text=True).stdout.strip()
    try:
        import uvloop  # noqa: F401  (in the venv: a LiteLLM proxy dependency)
        return uvloop.run(run(args))
    except ImportError:
        return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
