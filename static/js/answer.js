// Posting an answer, shared by every rating page: JSON first; the plain form when the reply is not
// the app's JSON (an expired CSRF cookie, a proxy page) or the server stays away too long.
// A network error or a 502/503/504 (the server or its database restarting) is retried with backoff
// (0.5 s doubling to 4 s) for up to 30 s: the server treats a repeated answer as the same answer,
// so nothing is lost or doubled. tests/faults/test_db_blink.py follows the same policy.
window.sendAnswer = async (form, { showError, onRefused }) => {
  const RETRY_STATUSES = [502, 503, 504];
  const RETRY_FOR_MS = 30000;
  const FIRST_DELAY_MS = 500;
  const MAX_DELAY_MS = 4000;
  const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const started = Date.now();
  let delay = FIRST_DELAY_MS;
  for (;;) {
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      const data = await response.json().catch(() => null);
      if (data && data.ok) {
        window.location.assign(data.next);
        return;
      }
      if (!RETRY_STATUSES.includes(response.status)) {
        if (data && data.error) {
          onRefused(data);
          return;
        }
        break;
      }
    } catch (error) {
      // A network error: retried below like a 503.
    }
    if (Date.now() - started + delay > RETRY_FOR_MS) {
      break;
    }
    showError(form.dataset.msgNetwork);
    await wait(delay);
    delay = Math.min(delay * 2, MAX_DELAY_MS);
  }
  HTMLFormElement.prototype.submit.call(form);
};

// Chromium replays a clip it has loaded from its own media cache, no-store and load()
// notwithstanding, and the server, which accepts an answer only on the fetches it saw, would not see
// that play. A new address per play is a new request; its parameter is the time alone, nothing that
// names the clip's system, and the audio view ignores it.
window.playAddress = (source) => {
  const url = new URL(source, window.location.href);
  url.searchParams.set("play", String(Date.now()));
  return url.href;
};
