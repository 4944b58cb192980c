// Results dashboards: poll the live feed and swap in the sections it re-rendered. No framework, no CDN.
// The feed answers {"changed": false} when nothing moved, so an idle dashboard costs one small query.
(() => {
  const root = document.querySelector("[data-live-url]");
  if (!root) return;
  const every = Number(root.dataset.interval || 5000);
  let version = root.dataset.version;

  function liveUrl() {
    const url = new URL(root.dataset.liveUrl, window.location.href);
    // Keep the page's own query (screening thresholds, normalisation) so the sections match the page.
    new URLSearchParams(window.location.search).forEach((value, key) => url.searchParams.set(key, value));
    url.searchParams.set("version", version);
    return url;
  }

  function swap(sections) {
    for (const [name, html] of Object.entries(sections)) {
      const target = root.querySelector(`[data-live-section="${name}"]`);
      if (target) target.innerHTML = html;
    }
    const stamp = root.querySelector("[data-live-stamp]");
    if (stamp) stamp.textContent = new Date().toLocaleTimeString();
  }

  async function poll() {
    if (!document.hidden) {
      try {
        const response = await fetch(liveUrl(), { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (response.ok) {
          const data = await response.json();
          if (data.changed) swap(data.sections);
          version = data.version;
        }
      } catch (error) { /* the server may be restarting: try again later */ }
    }
    setTimeout(poll, every);
  }

  setTimeout(poll, every);
})();
