// seedgate console: behaviour shared by every page. No framework, no build step.
"use strict";
(function () {
  const csrf = () => document.body.dataset.csrf || "";

  // The console's JSON endpoints: the session cookie goes by itself; the CSRF token travels in
  // a header on every state change. Resolves to the parsed body; rejects with the server's error.
  async function api(method, path, body) {
    const init = { method, headers: { "x-csrf-token": csrf() }, credentials: "same-origin" };
    if (body instanceof FormData || body instanceof Blob) {
      init.body = body;
    } else if (body !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = { error: { message: text } }; }
    if (!response.ok) {
      const error = new Error((data && data.error && data.error.message) || response.statusText);
      error.status = response.status;
      error.body = data;
      throw error;
    }
    return data;
  }

  // Forms marked data-confirm ask first (cancel, refund, revoke, rotate).
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });

  // Buttons marked data-copy copy the text of the element they name.
  document.addEventListener("click", async (event) => {
    const button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (!button) return;
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    try {
      await navigator.clipboard.writeText(source.textContent);
      button.textContent = "Copied";
    } catch (_) {
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      button.textContent = "Selected: press Ctrl+C";
    }
  });

  window.seedgate = { api, csrf };
})();

// Sections marked data-fragment="<url>" are filled with that page fragment once the page has
// painted (reports that read a long history come after the page, never before it). The fragment
// is markup this server rendered and escaped; it carries no scripts.
(function () {
  async function load(el) {
    try {
      const response = await fetch(el.dataset.fragment, { credentials: "same-origin" });
      const text = await response.text();
      // A refusal the fragment explains itself (a bad range) is shown as it came; a whole error
      // page (signed out, a failure) is reduced to its words.
      const fragment = !/<html[\s>]/i.test(text);
      if (!response.ok && !fragment) {
        throw new Error(text.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim() || response.statusText);
      }
      el.innerHTML = text;
      el.dataset.loaded = response.ok ? "true" : "error";
    } catch (error) {
      el.textContent = "";
      const p = document.createElement("p");
      p.className = "error";
      p.setAttribute("role", "alert");
      p.textContent = "The report could not be loaded: " + error.message;
      el.appendChild(p);
      el.dataset.loaded = "error";
    }
  }
  const start = () => document.querySelectorAll("[data-fragment]").forEach(load);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
