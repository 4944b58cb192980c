// Posting an answer, shared by every rating page: JSON first, retried on network errors; the plain
// form when the reply is not the app's JSON (an expired CSRF cookie, a proxy page).
window.sendAnswer = async (form, { showError, onRefused }) => {
  const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  for (let attempt = 0; attempt < 3; attempt += 1) {
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
      if (data && data.error) {
        onRefused(data);
        return;
      }
      break;
    } catch (error) {
      showError(form.dataset.msgNetwork);
      await wait(800 * (attempt + 1));
    }
  }
  // The server treats a repeated answer as the same answer, so posting again is safe.
  HTMLFormElement.prototype.submit.call(form);
};
