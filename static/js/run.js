// Run page: poll the persisted progress and refresh the samples table when it changes.
(() => {
  const section = document.getElementById("progress");
  const samples = document.getElementById("samples");
  const retry = document.getElementById("retry-form");
  let lastKey = null;

  function render(p) {
    const total = Math.max(p.total, 1);
    section.querySelector(".bar.done").style.width = `${(100 * p.done) / total}%`;
    section.querySelector(".bar.failed").style.width = `${(100 * p.failed) / total}%`;
    section.querySelector(".progress").setAttribute("aria-valuenow", String(p.done + p.failed));
    const set = (name, text) => { section.querySelector(`[data-field="${name}"]`).textContent = text; };
    set("status_label", p.status_label);
    set("done", p.done);
    set("failed", p.failed);
    set("total", p.total);
    set("elapsed", `${p.elapsed_s} s`);
    set("eta", p.eta_s === null ? "–" : `${p.eta_s} s`);
    if (retry) retry.hidden = !(p.failed > 0 || p.status === "cancelled");
    const cancel = document.getElementById("cancel-form");
    if (cancel) cancel.hidden = p.finished;
  }

  async function refreshSamples() {
    const response = await fetch(section.dataset.samplesUrl, { credentials: "same-origin" });
    if (response.ok) samples.innerHTML = await response.text();
  }

  async function poll() {
    let progress = null;
    try {
      const response = await fetch(section.dataset.url, { credentials: "same-origin" });
      if (response.ok) progress = await response.json();
    } catch (error) { /* the server may be restarting: try again later */ }
    if (progress) {
      render(progress);
      const key = `${progress.done}/${progress.failed}/${progress.status}`;
      if (key !== lastKey) { lastKey = key; await refreshSamples(); }
      if (progress.finished) return;
    }
    setTimeout(poll, 2000);
  }

  render(JSON.parse(document.getElementById("progress-data").textContent));
  poll();
})();
