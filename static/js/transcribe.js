// Intelligibility pages: one clip, the listener types what they heard. No framework, no network but
// this site. Every play from the start asks the server for the file afresh (preload none, a new
// address each time), so the plays the server counts are the plays heard; the server refuses the
// request after the last one allowed, and the page disables its button when none are left. The
// text box unlocks once the clip has played to the end (or, on a reloaded page, when the server
// says it was sent whole).
// Keys: P plays (outside the text box), M marks a problem (where the test asks for marks), Enter
// sends. The answer is sent with fetch; if fetch keeps failing the form is posted the ordinary way,
// which the server accepts too.
(() => {
  "use strict";
  const form = document.querySelector("[data-transcribe-form]");
  if (!form) return;
  const audio = form.querySelector("audio[data-clip]");
  const source = audio.getAttribute("src");
  const playButton = form.querySelector("[data-play]");
  const leftText = form.querySelector("[data-plays-left-text]");
  const answers = Array.from(form.querySelectorAll("[data-answer]"));
  const submitButton = form.querySelector("[data-submit]");
  const errorBox = form.querySelector("[data-error]");
  const hint = form.querySelector("[data-hint]");
  const hidden = (name) => form.querySelector(`[data-${name}]`);
  const limited = playButton.dataset.playsLeft !== undefined;
  const state = {
    plays: 0,
    left: limited ? Number(playButton.dataset.playsLeft) : Infinity,
    playedToEnd: false,
    endedAt: null,
    sending: false,
  };

  const complete = () => answers.every((input) => input.value.trim() !== "");
  const refresh = () => {
    submitButton.disabled = !state.playedToEnd || !complete() || state.sending;
  };
  const showError = (message) => {
    errorBox.textContent = message || "";
  };
  const label = (name) => playButton.dataset[name] || playButton.textContent;
  const showLeft = () => {
    if (leftText) leftText.textContent = form.dataset.msgLeft.replace("{n}", String(state.left));
  };
  const outOfPlays = () => {
    playButton.disabled = true;
    playButton.textContent = label("labelNone");
  };
  const unlock = () => {
    if (!state.playedToEnd) {
      state.playedToEnd = true;
      state.endedAt = performance.now();
    }
    answers.forEach((input) => {
      input.disabled = false;
    });
    if (hint && form.dataset.msgEnded) hint.textContent = form.dataset.msgEnded;
    if (answers[0]) answers[0].focus();
    refresh();
  };

  playButton.addEventListener("click", () => {
    if (!audio.paused) {
      audio.pause();
      return;
    }
    // A paused clip resumes from the browser's copy; that is the same play, not a new one.
    const resuming = audio.currentTime > 0 && !audio.ended;
    if (!resuming) {
      if (state.left <= 0) {
        outOfPlays();
        showError(form.dataset.msgLimit);
        return;
      }
      // A new address for every play: Chromium replays a clip it has loaded from its own media
      // cache, no-store and load() notwithstanding, and the server would not see that play.
      audio.src = `${source}?play=${Date.now()}`;
    }
    audio.play().catch(() => showError(form.dataset.msgPlay));
  });
  audio.addEventListener("play", () => {
    if (audio.currentTime < 0.05) {
      state.plays += 1;
      state.left -= 1;
      showLeft();
    }
    playButton.textContent = label("labelPlaying");
    playButton.setAttribute("aria-pressed", "true");
  });
  audio.addEventListener("pause", () => {
    playButton.setAttribute("aria-pressed", "false");
    if (!audio.ended) playButton.textContent = label("labelResume");
  });
  audio.addEventListener("ended", () => {
    playButton.setAttribute("aria-pressed", "false");
    if (state.left <= 0) outOfPlays();
    else playButton.textContent = label("labelReplay");
    showError("");
    unlock();
  });
  audio.addEventListener("error", () => {
    // The server refused the request: every play allowed has been used (in this tab or another).
    outOfPlays();
    showError(form.dataset.msgLimit);
  });
  form.addEventListener("input", () => {
    showError("");
    refresh();
  });

  // Marks read the time from this same <audio> element, whatever address the current play has.
  const addMark = window.attachMarks ? window.attachMarks(form, audio) : null;

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.matches && target.matches("textarea, input[type=text], select")) return;
    if (event.key === "p" || event.key === "P") {
      event.preventDefault();
      if (!playButton.disabled) playButton.click();
    } else if ((event.key === "m" || event.key === "M") && addMark) {
      event.preventDefault();
      addMark();
    } else if (event.key === "Enter" && target !== playButton) {
      event.preventDefault();
      form.requestSubmit(submitButton);
    }
  });

  const send = () =>
    window.sendAnswer(form, {
      showError,
      onRefused: (data) => {
        // No reload here: with plays limited, a new request would cost the listener a play.
        showError(data.error);
        state.sending = false;
        refresh();
      },
    });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (state.sending) return;
    if (!state.playedToEnd || !complete()) {
      showError(state.playedToEnd ? form.dataset.msgType : form.dataset.msgPlay);
      return;
    }
    hidden("played").value = "true";
    hidden("plays").value = String(Math.max(state.plays, 1));
    hidden("time").value = String(Math.round(performance.now() - state.endedAt));
    state.sending = true;
    refresh();
    send();
  });

  // A page reloaded after the clip was heard: the server says so, and the answer may be typed.
  if (audio.hasAttribute("data-heard")) unlock();
  if (limited && state.left <= 0) outOfPlays();
})();
