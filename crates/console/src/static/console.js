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
