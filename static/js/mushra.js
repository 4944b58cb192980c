// MUSHRA pages (ITU-R BS.1534): several samples of one sentence, a 0-100 slider each, and the
// labelled reference when the test has one. No framework, no network but this site. One sample
// plays at a time; a slider unlocks once its sample has played to the end and starts unset (no value
// is sent until the listener moves it: no silent default). The answer goes once every sample has
// been heard and scored. Keys: a sample's number (1-9, 0 for the tenth) plays it and selects its
// slider, R plays the reference, the arrows move the selected slider, Enter goes on. The answer is
// sent with fetch; if fetch keeps failing the form is posted the ordinary way.
(() => {
  "use strict";
  const form = document.querySelector("[data-mushra-form]");
  if (!form) return;
  const player = (box) => ({
    box,
    audio: box.querySelector("audio[data-clip]"),
    button: box.querySelector("[data-play]"),
    heard: box.querySelector("[data-heard]"),
    source: box.querySelector("audio[data-clip]").getAttribute("src"),
    slider: box.querySelector("[data-slider]"),
    score: box.querySelector("[data-score]"),
    value: box.querySelector("[data-value]"),
    key: box.dataset.key || "",
    plays: 0,
    ended: false,
  });
  const stimuli = Array.from(form.querySelectorAll("[data-stimulus]")).map(player);
  const referenceBox = form.querySelector("[data-reference]");
  const reference = referenceBox ? player(referenceBox) : null;
  const players = reference ? [reference, ...stimuli] : stimuli;
  const submitButton = form.querySelector("[data-submit]");
  const errorBox = form.querySelector("[data-error]");
  const hint = form.querySelector("[data-hint]");
  const hidden = (name) => form.querySelector(`[data-${name}]`);
  const state = { selected: null, heardAllAt: null, sending: false };

  const heardAll = () => stimuli.every((each) => each.ended);
  const scored = (each) => each.score.value !== "";
  const complete = () => heardAll() && stimuli.every(scored);
  const refresh = () => {
    submitButton.disabled = !complete() || state.sending;
  };
  const showError = (message) => {
    errorBox.textContent = message || "";
  };
  const label = (each, name) => each.button.dataset[name] || each.button.textContent;

  const stop = (each) => {
    each.audio.pause();
    each.audio.currentTime = 0;
    each.button.textContent = label(each, "labelPlay");
    each.button.setAttribute("aria-pressed", "false");
  };
  const toggle = (each) => {
    if (!each.audio.paused) {
      stop(each);
      return;
    }
    players.forEach((other) => {
      if (other !== each && !other.audio.paused) stop(other);
    });
    // Every play starts from the beginning. The first is the page's preloaded copy; each later one
    // a new address, so a fetch the server counts (see answer.js).
    if (each.plays > 0) each.audio.src = window.playAddress(each.source);
    else each.audio.currentTime = 0;
    each.audio.play().catch(() => showError(form.dataset.msgPlay));
  };
  const select = (each) => {
    stimuli.forEach((other) => other.box.classList.toggle("selected", other === each));
    state.selected = each;
    (each.slider.disabled ? each.button : each.slider).focus();
  };
  const setScore = (each) => {
    // Chromium sends pointer events to a disabled slider: a tap on a locked one must not score it.
    if (each.slider.disabled) return;
    each.slider.removeAttribute("data-unset");
    each.score.value = each.slider.value;
    each.value.textContent = each.slider.value;
    each.slider.setAttribute("aria-valuetext", each.slider.value);
    showError("");
    refresh();
  };

  players.forEach((each) => {
    const { audio, button } = each;
    button.addEventListener("click", () => {
      if (each !== reference) select(each);
      toggle(each);
    });
    audio.addEventListener("play", () => {
      players.forEach((other) => {
        if (other !== each && !other.audio.paused) stop(other);
      });
      if (audio.currentTime < 0.05) each.plays += 1;
      button.textContent = label(each, "labelStop");
      button.setAttribute("aria-pressed", "true");
    });
    audio.addEventListener("ended", () => {
      button.textContent = label(each, "labelPlay");
      button.setAttribute("aria-pressed", "false");
      if (each.ended || each === reference) return;
      each.ended = true;
      each.slider.disabled = false;
      each.heard.textContent = each.heard.dataset.labelHeard || each.heard.textContent;
      each.heard.setAttribute("data-done", "");
      if (heardAll()) {
        state.heardAllAt = performance.now();
        if (hint && form.dataset.msgEnded) hint.textContent = form.dataset.msgEnded;
      }
      if (state.selected === each) each.slider.focus();
      refresh();
    });
    if (!each.slider) return;
    // A click on the track at the value the slider already holds changes nothing, so the input
    // event would not come: the end of any touch or drag sets the score too.
    each.slider.addEventListener("input", () => setScore(each));
    each.slider.addEventListener("pointerup", () => setScore(each));
    each.slider.addEventListener("focus", () => {
      stimuli.forEach((other) => other.box.classList.toggle("selected", other === each));
      state.selected = each;
    });
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key.length === 1 ? event.key.toUpperCase() : event.key;
    const stimulus = stimuli.find((each) => each.key === key);
    if (stimulus) {
      event.preventDefault();
      select(stimulus);
      toggle(stimulus);
    } else if (key === "R" && reference) {
      event.preventDefault();
      toggle(reference);
    } else if (/^Arrow/.test(key) && state.selected && event.target !== state.selected.slider) {
      // The focused slider moves by itself; otherwise the selected one is moved here.
      const { slider } = state.selected;
      if (slider.disabled) return;
      event.preventDefault();
      if (key === "ArrowUp" || key === "ArrowRight") slider.stepUp();
      else slider.stepDown();
      setScore(state.selected);
    } else if (key === "Enter" && !players.some((each) => each.button === event.target)) {
      event.preventDefault();
      if (!submitButton.disabled) form.requestSubmit(submitButton);
      else showError(heardAll() ? form.dataset.msgRate : form.dataset.msgPlay);
    }
  });

  const send = () =>
    window.sendAnswer(form, {
      showError,
      onRefused: (data) => {
        // The scores stay; with listen_again the person plays the samples again, and those plays
        // come from new addresses: fetches the server counts.
        showError(data.error);
        state.sending = false;
        refresh();
      },
    });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (state.sending) return;
    if (!complete()) {
      showError(heardAll() ? form.dataset.msgRate : form.dataset.msgPlay);
      return;
    }
    hidden("played").value = "true";
    // The most plays of any sample: 1 when each was heard once, more when one was replayed.
    hidden("plays").value = String(Math.max(1, ...stimuli.map((each) => each.plays)));
    hidden("time").value = String(Math.round(performance.now() - state.heardAllAt));
    state.sending = true;
    refresh();
    send();
  });
})();
