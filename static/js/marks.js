// Artifact marks on one-clip pages (rate.js, transcribe.js), only where the test has labels: a
// region of ±0.25 s around the moment the button (or M) was pressed, clipped to the clip, posted as
// hidden inputs mark-<n>=start,end,label. Times come from the page's own <audio> element as it is
// now (the intelligibility page gives it a new address for every play); nothing is fetched for a
// mark, so the server's count of fetches for listening verification is unchanged.
// attachMarks(form, audio) returns the function that adds a mark, or null without marking.
window.attachMarks = (form, audio) => {
  "use strict";
  const marksBox = form.querySelector("[data-marks]");
  if (!marksBox) return null;
  const markButton = marksBox.querySelector("[data-mark]");
  const list = marksBox.querySelector("[data-mark-list]");
  const timeline = marksBox.querySelector("[data-timeline]");

  const renumber = () => {
    timeline.querySelectorAll(".region").forEach((region) => region.remove());
    const total = Number.isFinite(audio.duration) && audio.duration > 0 ? audio.duration : null;
    list.querySelectorAll(":scope > li").forEach((item, index) => {
      const input = item.querySelector("[data-mark-value]");
      input.name = `mark-${index}`;
      input.value = `${item.dataset.start},${item.dataset.end},${item.querySelector("[data-mark-label]").value}`;
      if (total) {
        const region = document.createElement("span");
        region.className = "region";
        region.style.left = `${(100 * item.dataset.start) / total}%`;
        region.style.width = `${(100 * (item.dataset.end - item.dataset.start)) / total}%`;
        timeline.appendChild(region);
      }
    });
  };
  const add = () => {
    if (markButton.disabled) return;
    if (list.children.length >= Number(marksBox.dataset.max || 50)) return;
    const now = audio.currentTime;
    const end = Number.isFinite(audio.duration) ? audio.duration : now + 0.25;
    const item = marksBox.querySelector("[data-mark-template]").content.firstElementChild.cloneNode(true);
    item.dataset.start = Math.max(0, now - 0.25).toFixed(2);
    item.dataset.end = Math.min(end, now + 0.25).toFixed(2);
    item.querySelector("[data-mark-time]").textContent = `${now.toFixed(1)} s`;
    list.appendChild(item);
    renumber();
  };

  markButton.addEventListener("click", add);
  marksBox.addEventListener("change", renumber);
  marksBox.addEventListener("click", (event) => {
    const remove = event.target.closest("[data-mark-remove]");
    if (!remove) return;
    remove.closest("li").remove();
    renumber();
  });
  audio.addEventListener("play", () => {
    markButton.disabled = false;
  });
  // The regions need the clip's length, which a freshly addressed clip knows only once loaded.
  audio.addEventListener("loadedmetadata", renumber);
  audio.addEventListener("timeupdate", () => {
    const head = marksBox.querySelector("[data-playhead]");
    if (audio.duration > 0) head.style.left = `${(100 * audio.currentTime) / audio.duration}%`;
  });
  return add;
};
