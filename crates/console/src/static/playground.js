// The playground page (see member/playground.rs): files dropped or picked are uploaded as
// assets, the price is asked again whenever a field changes, a submit is followed until it
// ends, and "copy as code" shows the same request in every dialect.
"use strict";
(function () {
  const form = document.getElementById("playground");
  const optionsScript = document.getElementById("playground-models");
  if (!form || !optionsScript) return;
  const models = JSON.parse(optionsScript.textContent);
  const $ = (id) => document.getElementById(id);
  const SINGLE = ["first_frame_url", "last_frame_url"];
  const LISTS = ["reference_image_urls", "reference_video_urls", "reference_audio_urls"];
  const MODE_FIELDS = { t2v: [], i2v: SINGLE, r2v: LISTS };
  // Uploaded files by field: [{reference, url, name, kind, facts}].
  const uploads = {};
  for (const field of SINGLE.concat(LISTS)) uploads[field] = [];
  let uploading = 0;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // A request to the console's API with extra headers (seedgate.api sends none of its own).
  async function send(method, path, body, headers) {
    const init = { method, credentials: "same-origin", headers: Object.assign({ "x-csrf-token": window.seedgate.csrf() }, headers || {}) };
    if (body instanceof Blob) {
      init.body = body;
    } else if (body !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = { error: { message: text || response.statusText } }; }
    if (!response.ok) {
      const error = new Error((data && data.error && data.error.message) || response.statusText);
      error.status = response.status;
      error.body = data;
      throw error;
    }
    return data;
  }

  // ---- the form ------------------------------------------------------------------------

  function currentModel() {
    return models.find((m) => m.id === $("model").value) || models[0];
  }

  function mode() {
    const checked = form.querySelector("input[name=mode]:checked");
    return checked ? checked.value : "t2v";
  }

  function fillSelect(select, values, fallback) {
    const keep = values.includes(select.value) ? select.value : fallback;
    select.replaceChildren(...values.map((v) => el("option", { value: v, selected: v === keep }, v)));
    select.value = keep;
  }

  function applyModel() {
    const m = currentModel();
    if (!m) return;
    fillSelect($("resolution"), m.resolutions, m.default_resolution);
    fillSelect($("aspect_ratio"), m.aspect_ratios, m.default_aspect_ratio);
    const duration = $("duration");
    duration.min = m.duration.min;
    duration.max = m.duration.max;
    $("prompt").maxLength = m.max_prompt_chars;
    $("model-facts").textContent =
      `${m.duration.min}–${m.duration.max} s (default ${m.duration.default}) · ` +
      `${m.resolutions.join(", ")} · up to ${m.limits.reference_image_urls} reference images, ` +
      `${m.limits.reference_video_urls} videos, ${m.limits.reference_audio_urls} audio files`;
  }

  function showMode() {
    const current = mode();
    for (const panel of form.querySelectorAll(".mode-panel")) {
      panel.hidden = panel.dataset.mode !== current;
    }
  }

  function urlsOf(field) {
    const input = $("url-" + field);
    if (!input) return [];
    return input.value.split(/\s*\n\s*/).map((v) => v.trim()).filter(Boolean);
  }

  // The form as the console's endpoints read it.
  function values() {
    const raw = $("duration").value.trim();
    const n = Number(raw);
    const body = {
      model: $("model").value,
      prompt: $("prompt").value,
      mode: mode(),
      resolution: $("resolution").value,
      aspect_ratio: $("aspect_ratio").value,
      duration: raw === "" || !Number.isFinite(n) ? null : n,
      generate_audio: $("generate_audio").checked,
      return_last_frame: $("return_last_frame").checked,
    };
    for (const field of MODE_FIELDS[body.mode] || []) {
      const all = uploads[field].map((u) => u.reference).concat(urlsOf(field));
      if (SINGLE.includes(field)) body[field] = all.length ? all[0] : null;
      else body[field] = all;
    }
    return body;
  }

  // ---- errors --------------------------------------------------------------------------

  function clearErrors() {
    // A refused upload's message stays until the next file for that zone.
    for (const p of form.querySelectorAll(".field-error:not([data-upload])")) { p.hidden = true; p.textContent = ""; }
    for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
    $("form-error").hidden = true;
    $("form-error").textContent = "";
  }

  // Fields the member has changed: an automatic estimate names errors only in those (a blank
  // form's missing prompt is not an error yet); a submit or "copy as code" names them all.
  const touched = new Set();
  let allTouched = false;

  function fieldOf(error, fallbackField) {
    const detail = (error.body && error.body.error) || {};
    return String(detail.field || fallbackField || "").split(/[[.]/)[0];
  }

  function messageOf(error) {
    const detail = (error.body && error.body.error) || {};
    return detail.message || error.message || "That did not work.";
  }

  function showError(error, fallbackField) {
    const message = messageOf(error);
    const field = fieldOf(error, fallbackField);
    const target = field && $("error-" + field);
    if (target) {
      target.textContent = message;
      target.hidden = false;
      const input = $(field) || $("url-" + field) || $("file-" + field);
      if (input) input.setAttribute("aria-invalid", "true");
    } else {
      $("form-error").textContent = message;
      $("form-error").hidden = false;
    }
  }

  // ---- files ---------------------------------------------------------------------------

  function describe(facts) {
    if (!facts) return "";
    const parts = [facts.format];
    if (facts.width && facts.height) parts.push(`${facts.width}×${facts.height}`);
    if (facts.duration_seconds) parts.push(`${Number(facts.duration_seconds).toFixed(2)} s`);
    if (facts.fps) parts.push(`${Number(facts.fps).toFixed(2)} fps`);
    if (facts.codec) parts.push(facts.codec);
    if (facts.size_bytes !== undefined) parts.push(size(facts.size_bytes));
    return parts.join(" · ");
  }

  function size(bytes) {
    if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
    if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KB`;
    return `${bytes} B`;
  }

  function renderFiles(field) {
    const list = $("files-" + field);
    if (!list) return;
    list.replaceChildren(...uploads[field].map((u, i) => {
      const remove = el("button", { type: "button", class: "secondary small", "aria-label": `Remove ${u.name}` }, "Remove");
      remove.addEventListener("click", () => {
        uploads[field].splice(i, 1);
        renderFiles(field);
        scheduleEstimate();
      });
      return el("li", { class: "file", "data-reference": u.reference, "data-url": u.url },
        el("strong", {}, u.name), " ", el("span", { class: "probe" }, describe(u.facts)), " ", remove);
    }));
  }

  async function uploadFiles(field, files) {
    touched.add(field);
    const zoneError = $("error-" + field);
    if (zoneError) { zoneError.hidden = true; zoneError.textContent = ""; delete zoneError.dataset.upload; }
    const list = Array.from(files || []);
    if (!list.length) return;
    const chosen = SINGLE.includes(field) ? list.slice(0, 1) : list;
    const pending = $("files-" + field);
    for (const file of chosen) {
      const note = el("li", { class: "file uploading" }, `Uploading ${file.name}…`);
      if (pending) pending.append(note);
      uploading += 1;
      try {
        const asset = await send("POST", "/console/api/assets", file, {
          "content-type": file.type || "application/octet-stream",
          "x-file-name": encodeURIComponent(file.name || "file"),
        });
        const entry = { reference: asset.reference, url: asset.url, name: asset.name || file.name, kind: asset.kind, facts: asset.facts };
        if (SINGLE.includes(field)) uploads[field] = [entry];
        else uploads[field].push(entry);
      } catch (error) {
        // The upload's error names `file`: it belongs beside this drop zone.
        if (zoneError) {
          zoneError.textContent = `${file.name}: ${messageOf(error)}`;
          zoneError.dataset.upload = "refused";
          zoneError.hidden = false;
        } else {
          showError(error);
        }
      } finally {
        uploading -= 1;
        note.remove();
      }
      renderFiles(field);
    }
    scheduleEstimate();
  }

  for (const zone of form.querySelectorAll(".dropzone")) {
    const field = zone.dataset.field;
    zone.addEventListener("dragenter", (event) => { event.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", (event) => {
      if (!zone.contains(event.relatedTarget)) zone.classList.remove("over");
    });
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      if (event.dataTransfer) uploadFiles(field, event.dataTransfer.files);
    });
    const input = zone.querySelector("input[type=file]");
    if (input) {
      input.addEventListener("change", () => {
        uploadFiles(field, input.files).then(() => { input.value = ""; });
      });
    }
  }

  // ---- the estimate --------------------------------------------------------------------

  let estimateTimer = null;
  let estimateSeq = 0;

  function scheduleEstimate() {
    clearTimeout(estimateTimer);
    estimateTimer = setTimeout(() => {
      estimate();
      if (!$("code").hidden) showCode(false);
    }, 300);
  }

  function fact(label, value, id) {
    return [el("dt", {}, label), el("dd", { id }, value)];
  }

  async function estimate() {
    const seq = ++estimateSeq;
    const body = $("estimate-body");
    body.setAttribute("aria-busy", "true");
    try {
      const quote = await send("POST", "/console/api/estimate", values());
      if (seq !== estimateSeq) return;
      clearErrors();
      const dl = el("dl", { class: "facts" },
        ...fact("Credits", quote.credits.toLocaleString("en-US"), "estimate-credits"),
        ...fact("Price", `$${quote.dollars}`, "estimate-dollars"),
        ...fact("Output", `${quote.output.width}×${quote.output.height}, ${quote.duration} s`, "estimate-output"),
        ...fact("Billable seconds", quote.billable_seconds, "estimate-seconds"),
        ...fact("Mode", quote.mode, "estimate-mode"));
      if (quote.price_plan) dl.append(...fact("Price plan", quote.price_plan));
      const media = quote.media.length
        ? el("ul", { class: "media-facts" }, ...quote.media.map((m) =>
            el("li", {}, el("code", {}, m.field), ` ${m.kind}: ${describe(m.facts)}`)))
        : null;
      body.replaceChildren(dl, media);
      body.dataset.credits = String(quote.credits);
    } catch (error) {
      if (seq !== estimateSeq) return;
      clearErrors();
      const field = fieldOf(error);
      const named = allTouched || !field || touched.has(field) || error.status !== 400;
      if (named) showError(error);
      delete body.dataset.credits;
      body.replaceChildren(el("p", { class: "muted" },
        named ? "No estimate until the form is valid." : `No estimate yet: ${messageOf(error)}.`));
    } finally {
      if (seq === estimateSeq) body.removeAttribute("aria-busy");
    }
  }

  function touch(target) {
    if (!target) return;
    const name = target.dataset && target.dataset.field ? target.dataset.field : (target.name || target.id);
    if (name) touched.add(name);
  }

  form.addEventListener("input", (event) => {
    if (event.target && event.target.type === "file") return;
    touch(event.target);
    scheduleEstimate();
  });
  form.addEventListener("change", (event) => {
    const target = event.target;
    if (target && target.type === "file") return;
    touch(target);
    if (target && target.id === "model") applyModel();
    if (target && target.name === "mode") showMode();
    scheduleEstimate();
  });

  // ---- submit and follow ---------------------------------------------------------------

  let pollTimer = null;

  function renderStatus(task) {
    const status = $("task-status");
    const link = el("a", { href: "/console/tasks/" + encodeURIComponent(task.id) }, el("code", {}, task.id));
    status.replaceChildren("Task ", link, " ",
      el("span", { class: `badge ${task.status}`, id: "task-state" }, task.status),
      task.terminal ? ` · ${task.credits.toLocaleString("en-US")} credits` : "");
    status.dataset.state = task.status;
  }

  function renderOutput(task) {
    const out = $("task-output");
    if (task.status === "completed" && task.video_url) {
      const video = el("video", { id: "result-video", controls: true, preload: "auto", playsinline: true, src: task.video_url });
      const download = el("a", { id: "download", class: "button", href: task.video_url, download: `${task.id}.mp4` }, "Download the video");
      const parts = [video, el("div", { class: "actions" }, download)];
      if (task.last_frame_url) {
        parts.push(el("h3", {}, "Last frame"),
          el("img", { id: "last-frame", class: "frame", src: task.last_frame_url, alt: "The video's last frame" }));
      }
      out.replaceChildren(...parts);
    } else if (task.status === "failed" && task.error) {
      out.replaceChildren(el("p", { class: "error", role: "alert" }, `${task.error.kind}: ${task.error.message}`));
    } else if (task.terminal) {
      out.replaceChildren(el("p", { class: "muted" }, `The task ended ${task.status}.`));
    } else {
      out.replaceChildren();
    }
  }

  function follow(id) {
    clearTimeout(pollTimer);
    const tick = async () => {
      try {
        const task = await send("GET", "/console/api/tasks/" + encodeURIComponent(id));
        renderStatus(task);
        if (task.terminal) {
          renderOutput(task);
          return;
        }
      } catch (error) {
        if (error.status === 404 || error.status === 401 || error.status === 403) {
          $("task-status").replaceChildren(el("span", { class: "error" }, error.message));
          return;
        }
      }
      pollTimer = setTimeout(tick, 700);
    };
    tick();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (uploading > 0) {
      $("form-error").textContent = "Wait for the files to finish uploading.";
      $("form-error").hidden = false;
      return;
    }
    allTouched = true;
    const button = $("generate");
    button.disabled = true;
    clearErrors();
    try {
      const task = await send("POST", "/console/api/tasks", values(), { "idempotency-key": uuid() });
      renderStatus(task);
      renderOutput(task);
      follow(task.id);
    } catch (error) {
      showError(error);
    } finally {
      button.disabled = false;
    }
  });

  // ---- copy as code --------------------------------------------------------------------

  let selectedDialect = "reapi";

  function selectTab(dialect, focus) {
    selectedDialect = dialect;
    for (const tab of $("code-tabs").querySelectorAll("[role=tab]")) {
      const on = tab.dataset.dialect === dialect;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
      if (on && focus) tab.focus();
    }
    for (const panel of $("code-panels").querySelectorAll("[role=tabpanel]")) {
      panel.hidden = panel.dataset.dialect !== dialect;
    }
  }

  function codeBlock(dialect, language, label, text) {
    const id = `code-${dialect}-${language}`;
    return [
      el("div", { class: "code-head" }, el("h3", {}, label),
        el("button", { type: "button", class: "secondary", "data-copy": id }, `Copy ${label}`)),
      el("pre", { id, tabindex: 0 }, el("code", {}, text)),
    ];
  }

  async function showCode(reveal) {
    if (reveal) allTouched = true;
    let answer;
    try {
      answer = await send("POST", "/console/api/code", values());
    } catch (error) {
      clearErrors();
      showError(error);
      // Snippets of an earlier, valid form would no longer be this request.
      $("code-tabs").replaceChildren();
      $("code-panels").replaceChildren(el("p", { class: "muted" }, "No code until the form is valid."));
      return;
    }
    const snippets = answer.snippets;
    if (!snippets.some((s) => s.dialect === selectedDialect)) selectedDialect = snippets[0].dialect;
    $("code-tabs").replaceChildren(...snippets.map((s) => {
      const tab = el("button", {
        type: "button", role: "tab", id: `tab-${s.dialect}`, "data-dialect": s.dialect,
        "aria-controls": `panel-${s.dialect}`, "aria-selected": "false", class: "secondary",
      }, s.label);
      tab.addEventListener("click", () => selectTab(s.dialect, false));
      return tab;
    }));
    $("code-panels").replaceChildren(...snippets.map((s) => el("div", {
      role: "tabpanel", id: `panel-${s.dialect}`, "data-dialect": s.dialect, "aria-labelledby": `tab-${s.dialect}`,
    }, ...(s.unavailable
      ? [el("p", { class: "muted" }, `${s.label} cannot express this request: ${s.unavailable}`)]
      : [el("p", { class: "hint" }, el("code", {}, `${s.method} ${s.url}`)),
         ...codeBlock(s.dialect, "curl", "curl", s.curl),
         ...codeBlock(s.dialect, "python", "Python", s.python)]))));
    selectTab(selectedDialect, false);
    const section = $("code");
    section.hidden = false;
    if (reveal) section.scrollIntoView({ block: "start" });
  }

  $("code-tabs").addEventListener("keydown", (event) => {
    const tabs = Array.from($("code-tabs").querySelectorAll("[role=tab]"));
    const at = tabs.findIndex((t) => t.dataset.dialect === selectedDialect);
    let next = -1;
    if (event.key === "ArrowRight") next = (at + 1) % tabs.length;
    else if (event.key === "ArrowLeft") next = (at - 1 + tabs.length) % tabs.length;
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = tabs.length - 1;
    if (next >= 0 && tabs[next]) {
      event.preventDefault();
      selectTab(tabs[next].dataset.dialect, true);
    }
  });

  $("show-code").addEventListener("click", () => showCode(true));

  applyModel();
  showMode();
  estimate();
})();
