#!/usr/bin/env node
// One `client.videos.create(...)` through the official `openai` Node SDK, with its default retries.
//
// Used by seedgate's retry tests (issue 14): the SDK retries a create twice by itself (maxRetries=2,
// `X-Stainless-Retry-Count: 0, 1, 2`, no Idempotency-Key).
//
// The SDK is loaded from SDK_NODE_MODULES (a node_modules folder holding `openai`, e.g. after
// `npm install --prefix /tmp/seedgate-sdknode openai@6` it is /tmp/seedgate-sdknode/node_modules),
// else by a plain `import('openai')` (a node_modules beside or above this file).
//
// Environment: SDK_BASE_URL (server root; `/v1` is added unless present), SDK_API_KEY,
// optional SDK_IDEMPOTENCY_KEY (sent as `Idempotency-Key` on every try), SDK_PROMPT,
// SDK_TIMEOUT (seconds; default the SDK's, 600 s), SDK_DEBUG=1 (the SDK's retry log on stderr).
//
// Prints one JSON line on stdout: {"id": "<task id>"} and exits 0, or {"error": "..."} and exits 1.
// Exit 3: the `openai` package could not be loaded.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

async function loadOpenAI() {
  const dir = process.env.SDK_NODE_MODULES;
  if (dir) return (await import(pathToFileURL(join(dir, 'openai', 'index.mjs')).href)).default;
  return (await import('openai')).default;
}

let OpenAI;
try {
  OpenAI = await loadOpenAI();
} catch (e) {
  console.log(JSON.stringify({ error: `the openai Node package could not be loaded: ${e.message}` }));
  process.exit(3);
}

let baseURL = process.env.SDK_BASE_URL.replace(/\/+$/, '');
if (!baseURL.endsWith('/v1')) baseURL += '/v1';
const options = { baseURL, apiKey: process.env.SDK_API_KEY }; // maxRetries: SDK default (2)
if (process.env.SDK_TIMEOUT) options.timeout = Math.round(Number(process.env.SDK_TIMEOUT) * 1000);
if (process.env.SDK_DEBUG) {
  // The default logger writes debug lines to stdout; keep stdout for the one JSON line.
  const toStderr = (...args) => console.error(...args);
  options.logLevel = 'debug';
  options.logger = { debug: toStderr, info: toStderr, warn: toStderr, error: toStderr };
}
const client = new OpenAI(options);

const requestOptions = {};
if (process.env.SDK_IDEMPOTENCY_KEY) {
  requestOptions.headers = { 'Idempotency-Key': process.env.SDK_IDEMPOTENCY_KEY };
}

try {
  const video = await client.videos.create(
    {
      model: 'seedance-2.0-mini',
      prompt: process.env.SDK_PROMPT ?? 'a paper boat drifting down a rain gutter',
      seconds: '4',
      size: '1280x720',
    },
    requestOptions,
  );
  console.log(JSON.stringify({ id: video.id }));
  process.exit(0);
} catch (e) {
  console.log(JSON.stringify({ error: `${e.constructor?.name ?? 'Error'}: ${e.message}`, status: e.status ?? null }));
  process.exit(1);
}
