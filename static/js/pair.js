// Pair pages (CMOS, A/B preference). No framework, no network but this site.
// Two players, "A" and "B"; one plays at a time. The answers unlock only after both clips have
// played to the end; plays are counted and the time from that moment to the answer is measured.
// Keys: each play button's data-key plays it, each answer's data-key chooses it, Enter goes on.
// The answer is sent with fetch and the next page is loaded; if fetch keeps failing the form is
// posted the ordinary way, which the server accepts too.
(() => {
  "use strict";
  const form = document.querySelector("[data-pair-form]");
  if (!form) return;
  const players = Array.from(form.querySelectorAll("[data-player]")).map((box) => ({
    audio: box.querySelector("audio[data-clip]"),
    button: box.querySelector("[data-play]"),
    heard: box.querySelector("[data-heard]"),
    source: box.querySelector("audio[data-clip]").getAttribute("src"),
    plays: 0,
    ended: false,
  }));
  const groups = Array.from(form.querySelectorAll("fieldset[data-group]"));
  const answers = Array.from(form.querySelectorAll("input[data-key]"));
  const submitButton = form.querySelector("[data-submit]");
  const errorBox = form.querySelector("[data-error]");
  const hint = form.querySelector("[data-hint]");
  const hidden = (name) => form.querySelector(`[data-${name}]`);
  const state = { unlocked: false, unlockedAt: null, sending: false };

  const complete = () => groups.every((group) => group.querySelector("input:checked") !== null);
  const refresh = () => {
    submitButton.disabled = !state.unlocked || !complete() || state.sending;
  };
  const showError = (message) => {
    errorBox.textContent = message || "";
  };
  const label = (player, name) => player.button.dataset[name] || player.button.textContent;

  const toggle = (player) => {
    if (!player.audio.paused) {
      player.audio.pause();
      return;
    }
    players.forEach((other) => {
      if (other !== player && !other.audio.paused) other.audio.pause();
    });
    const { audio } = player;
    // The first play is the page's preloaded copy; each later one from the start comes from a new
    // address, so a fetch the server counts (see answer.js). Resuming after a pause is the same play.
    const fromStart = audio.ended || audio.currentTime === 0;
    if (fromStart && player.plays > 0) audio.src = window.playAddress(player.source);
    else if (audio.ended) audio.currentTime = 0;
    audio.play().catch(() => showError(form.dataset.msgPlay));
  };

  const unlock = () => {
    state.unlocked = true;
    state.unlockedAt = performance.now();
    groups.forEach((group) => {
      group.disabled = false;
    });
    if (hint && form.dataset.msgEnded) hint.textContent = form.dataset.msgEnded;
    if (answers[0]) answers[0].focus();
  };

  players.forEach((player) => {
    const { audio, button } = player;
    button.addEventListener("click", () => toggle(player));
    audio.addEventListener("play", () => {
      // Never two at once, whatever started this one.
      players.forEach((other) => {
        if (other !== player && !other.audio.paused) other.audio.pause();
      });
      // A play from the start counts; resuming after a pause does not.
      if (audio.currentTime < 0.05) player.plays += 1;
      button.textContent = label(player, "labelPlaying");
      button.setAttribute("aria-pressed", "true");
    });
    audio.addEventListener("pause", () => {
      button.setAttribute("aria-pressed", "false");
      if (!audio.ended) button.textContent = label(player, "labelResume");
    });
    audio.addEventListener("ended", () => {
      button.textContent = label(player, "labelReplay");
      button.setAttribute("aria-pressed", "false");
      if (!player.ended) {
        player.ended = true;
        if (player.heard) {
          player.heard.textContent = player.heard.dataset.labelHeard || player.heard.textContent;
          player.heard.setAttribute("data-done", "");
        }
      }
      if (!state.unlocked && players.every((each) => each.ended)) unlock();
      showError("");
      refresh();
    });
  });

  form.addEventListener("change", () => {
    showError("");
    refresh();
  });

  const choose = (input) => {
    if (!state.unlocked) {
      showError(form.dataset.msgPlay);
      return;
    }
    input.checked = true;
    input.focus();
    input.dispatchEvent(new Event("change", { bubbles: true }));
  };

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.matches && target.matches("textarea, input[type=text], select")) return;
    const key = event.key.length === 1 ? event.key.toUpperCase() : event.key;
    const player = players.find((each) => (each.button.dataset.key || "").toUpperCase() === key);
    const answer = answers.find((input) => input.dataset.key.toUpperCase() === key);
    if (player) {
      event.preventDefault();
      toggle(player);
    } else if (answer) {
      event.preventDefault();
      choose(answer);
    } else if (key === "Enter" && !players.some((each) => each.button === target)) {
      event.preventDefault();
      if (!submitButton.disabled) form.requestSubmit(submitButton);
      else showError(state.unlocked ? form.dataset.msgChoose : form.dataset.msgPlay);
    }
  });

  const send = () =>
    window.sendAnswer(form, {
      showError,
      onRefused: (data) => {
        // The answer stays chosen; with listen_again the person plays the clips again, and those
        // plays come from new addresses: fetches the server counts.
        showError(data.error);
        state.sending = false;
        refresh();
      },
    });

  form.addEventListener("submit", (event) => {
    if (state.sending || !state.unlocked || !complete()) {
      event.preventDefault();
      if (!state.sending) showError(state.unlocked ? form.dataset.msgChoose : form.dataset.msgPlay);
      return;
    }
    hidden("played").value = "true";
    // The most plays of either clip: 1 when each was heard once, more when one was replayed.
    hidden("plays").value = String(Math.max(1, ...players.map((player) => player.plays)));
    hidden("time").value = String(Math.round(performance.now() - state.unlockedAt));
    state.sending = true;
    event.preventDefault();
    refresh();
    send();
  });
})();
