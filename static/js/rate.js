// Blind rating pages (sound check, practice, rating). No framework, no network but this site.
// The answers unlock only after the clip has played to the end; plays are counted and the time
// from the end of the first playback to the answer is measured. Keys: P plays, a digit answers,
// Enter goes on, M marks a problem (where the test asks for marks). With data-fetch the answer is
// sent with fetch and the next page is loaded;
// if fetch keeps failing the form is posted the ordinary way, which the server accepts too.
(() => {
  "use strict";
  const form = document.querySelector("[data-rating-form]");
  if (!form) return;
  const audio = form.querySelector("audio[data-clip]");
  const playButton = form.querySelector("[data-play]");
  const groups = Array.from(form.querySelectorAll("fieldset[data-group]"));
  const submitButton = form.querySelector("[data-submit]");
  const errorBox = form.querySelector("[data-error]");
  const hint = form.querySelector("[data-hint]");
  const hidden = (name) => form.querySelector(`[data-${name}]`);
  const state = { plays: 0, playedToEnd: false, endedAt: null, sending: false };

  const answered = (group) => group.querySelector("input:checked") !== null;
  const complete = () => groups.every(answered);
  const refresh = () => {
    submitButton.disabled = !state.playedToEnd || !complete() || state.sending;
  };
  const showError = (message) => {
    errorBox.textContent = message || "";
  };
  const label = (name) => playButton.dataset[name] || playButton.textContent;
  // Where the server checks listening (pages that send answers with fetch), every play from the
  // start after the first, which the page's preloaded copy serves, is loaded from a new address.
  const source = audio.getAttribute("src");
  const newFetchPerPlay = form.hasAttribute("data-fetch");

  playButton.addEventListener("click", () => {
    if (!audio.paused) {
      audio.pause();
      return;
    }
    // A paused clip resumes from the browser's copy; that is the same play, not a new one.
    const fromStart = audio.ended || audio.currentTime === 0;
    if (fromStart && newFetchPerPlay && state.plays > 0) audio.src = window.playAddress(source);
    else if (audio.ended) audio.currentTime = 0;
    audio.play().catch(() => showError(form.dataset.msgPlay));
  });
  audio.addEventListener("play", () => {
    // A play from the start counts; resuming after a pause does not.
    if (audio.currentTime < 0.05) state.plays += 1;
    playButton.textContent = label("labelPlaying");
    playButton.setAttribute("aria-pressed", "true");
  });
  audio.addEventListener("pause", () => {
    playButton.setAttribute("aria-pressed", "false");
    if (!audio.ended) playButton.textContent = label("labelResume");
  });
  audio.addEventListener("ended", () => {
    playButton.textContent = label("labelReplay");
    playButton.setAttribute("aria-pressed", "false");
    if (!state.playedToEnd) {
      state.playedToEnd = true;
      state.endedAt = performance.now();
      groups.forEach((group) => {
        group.disabled = false;
      });
      if (hint && form.dataset.msgEnded) hint.textContent = form.dataset.msgEnded;
      const first = groups[0] && groups[0].querySelector("input");
      if (first) first.focus();
    }
    showError("");
    refresh();
  });
  form.addEventListener("change", () => {
    showError("");
    refresh();
  });

  const choose = (digit) => {
    if (!state.playedToEnd) {
      showError(form.dataset.msgPlay);
      return;
    }
    const focused = groups.find((group) => group.contains(document.activeElement));
    const group = groups.find((g) => !answered(g)) || focused || groups[groups.length - 1];
    const input = group && group.querySelector(`input[value="${digit}"]`);
    if (!input) return;
    input.checked = true;
    input.focus();
    input.dispatchEvent(new Event("change", { bubbles: true }));
  };

  const addMark = window.attachMarks ? window.attachMarks(form, audio) : null;

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.matches && target.matches("textarea, input[type=text], select")) return;
    if (/^[0-9]$/.test(event.key)) {
      event.preventDefault();
      choose(event.key);
    } else if (event.key === "p" || event.key === "P") {
      event.preventDefault();
      playButton.click();
    } else if ((event.key === "m" || event.key === "M") && addMark) {
      event.preventDefault();
      addMark();
    } else if (event.key === "Enter" && target !== playButton) {
      event.preventDefault();
      if (!submitButton.disabled) form.requestSubmit(submitButton);
      else showError(state.playedToEnd ? form.dataset.msgChoose : form.dataset.msgPlay);
    }
  });

  const send = () =>
    window.sendAnswer(form, {
      showError,
      onRefused: (data) => {
        // The answer stays chosen; with listen_again the person plays the clip again, and that play
        // comes from a new address: a fetch the server counts.
        showError(data.error);
        state.sending = false;
        refresh();
      },
    });

  form.addEventListener("submit", (event) => {
    if (state.sending || !state.playedToEnd || !complete()) {
      event.preventDefault();
      if (!state.sending) showError(state.playedToEnd ? form.dataset.msgChoose : form.dataset.msgPlay);
      return;
    }
    if (hidden("played")) {
      hidden("played").value = "true";
      hidden("plays").value = String(Math.max(state.plays, 1));
      hidden("time").value = String(Math.round(performance.now() - state.endedAt));
    }
    state.sending = true;
    if (!form.hasAttribute("data-fetch")) {
      setTimeout(refresh, 0); // disabling the button before the browser reads the form would drop it
      return;
    }
    event.preventDefault();
    refresh();
    send();
  });
})();
