// What every answer page shares (rate.js, pair.js, mushra.js, transcribe.js): its players, the rule that
// an answer goes only once every clip has been heard to the end, the keys, and sending the answer.
// No framework, no network but this site.

// Posting an answer: JSON first; the plain form when the reply is not the app's JSON (an expired CSRF
// cookie, a proxy page) or the server stays away too long.
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

// answerPage(form, method) runs an answer page; method holds what its test method adds, all optional:
//   complete()          every answer is given (default: each fieldset[data-group] has a checked input)
//   unlock()            every clip has been heard: let the answers be given (default: enable the
//                       fieldsets and focus the first choice)
//   heard(player)       a clip was heard to the end for the first time
//   mayPlay(player)     before a play from the start: false refuses it (a play limit)
//   played(player)      a play from the start has begun
//   key(key, target)    a key of the method's own (a letter upper-cased): true when it was used
//   answerMessage       why an answer cannot go once every clip was heard (default: data-msg-choose)
//   stop                true: a click on a playing clip stops it, and every play starts from the beginning
// It returns the page: player(box, { key, counts, marks }) adds the player in box (an audio[data-clip] and
// a [data-play] button): key plays it, counts=false leaves it out of what must be heard (a labelled
// reference), marks attaches marks.js to it. Also choose(input), heard(player), showError(message),
// refresh(), groups and answered(group).
// The answer is sent with fetch where the form has data-fetch (the server then checks the listening,
// so every replay is a new request); if fetch keeps failing the form is posted the ordinary way, which
// the server accepts too. Without data-fetch (the sound check) the form is posted the ordinary way.
// Keys, outside text boxes: a player's key plays it, M marks a problem (with marks), the method's own
// keys, Enter goes on (or says what is missing).
window.answerPage = (form, method) => {
  "use strict";
  const submitButton = form.querySelector("[data-submit]");
  const errorBox = form.querySelector("[data-error]");
  const hint = form.querySelector("[data-hint]");
  const hidden = (name) => form.querySelector(`[data-${name}]`);
  const groups = Array.from(form.querySelectorAll("fieldset[data-group]"));
  const listeningChecked = form.hasAttribute("data-fetch");
  const labels = method.stop
    ? { playing: "labelStop", paused: "labelPlay", ended: "labelPlay" }
    : { playing: "labelPlaying", paused: "labelResume", ended: "labelReplay" };
  const players = [];
  const state = { heardAt: null, sending: false };
  let addMark = null;

  const answered = (group) => group.querySelector("input:checked") !== null;
  const complete = method.complete || (() => groups.every(answered));
  const unlock =
    method.unlock ||
    (() => {
      groups.forEach((group) => {
        group.disabled = false;
      });
      const first = groups[0] && groups[0].querySelector("input");
      if (first) first.focus();
    });
  const showError = (message) => {
    errorBox.textContent = message || "";
  };
  const heardAll = () => players.every((each) => each.ended || !each.counts);
  const refresh = () => {
    submitButton.disabled = !heardAll() || !complete() || state.sending;
  };
  const notYet = () => (heardAll() ? method.answerMessage || form.dataset.msgChoose : form.dataset.msgPlay);
  const label = (each, name) => each.button.dataset[labels[name]] || each.button.textContent;

  const pause = (each) => {
    each.audio.pause();
    if (method.stop) each.audio.currentTime = 0;
  };
  const toggle = (each) => {
    const { audio } = each;
    if (!audio.paused) {
      pause(each);
      return;
    }
    players.forEach((other) => {
      if (other !== each && !other.audio.paused) pause(other);
    });
    // A paused clip resumes from the browser's copy; that is the same play, not a new one. A play from
    // the start is the page's preloaded copy the first time; each later one, and every one of a clip
    // not preloaded, comes from a new address: a fetch the server counts.
    const fromStart = method.stop || audio.ended || audio.currentTime === 0;
    if (fromStart && method.mayPlay && !method.mayPlay(each)) return;
    if (fromStart && listeningChecked && (each.plays > 0 || audio.preload === "none")) {
      audio.src = window.playAddress(each.source);
    } else if (method.stop || audio.ended) {
      audio.currentTime = 0;
    }
    audio.play().catch(() => showError(form.dataset.msgPlay));
  };

  const heard = (each) => {
    if (each.ended) return;
    each.ended = true;
    if (each.heard) {
      each.heard.textContent = each.heard.dataset.labelHeard || each.heard.textContent;
      each.heard.setAttribute("data-done", "");
    }
    if (method.heard) method.heard(each);
    if (each.counts && heardAll()) {
      // The time to answer is measured from here.
      state.heardAt = performance.now();
      if (hint && form.dataset.msgEnded) hint.textContent = form.dataset.msgEnded;
      unlock();
    }
  };

  const player = (box, { key = "", counts = true, marks = false } = {}) => {
    const audio = box.querySelector("audio[data-clip]");
    const button = box.querySelector("[data-play]");
    const each = {
      box,
      audio,
      button,
      key: key.toUpperCase(),
      counts,
      heard: box.querySelector("[data-heard]:not(audio)"),
      source: audio.getAttribute("src"),
      plays: 0,
      ended: false,
    };
    players.push(each);
    button.addEventListener("click", () => toggle(each));
    audio.addEventListener("play", () => {
      // "Listen to the end first" and the like no longer hold once a clip plays.
      showError("");
      // Never two at once, whatever started this one.
      players.forEach((other) => {
        if (other !== each && !other.audio.paused) pause(other);
      });
      // A play from the start counts; resuming after a pause does not.
      if (audio.currentTime < 0.05) {
        each.plays += 1;
        if (method.played) method.played(each);
      }
      button.textContent = label(each, "playing");
      button.setAttribute("aria-pressed", "true");
    });
    audio.addEventListener("pause", () => {
      button.setAttribute("aria-pressed", "false");
      if (!audio.ended) button.textContent = label(each, "paused");
    });
    audio.addEventListener("ended", () => {
      button.textContent = label(each, "ended");
      button.setAttribute("aria-pressed", "false");
      heard(each);
      showError("");
      refresh();
    });
    // Marks read the time from this same <audio> element, whatever address the current play has.
    if (marks && window.attachMarks) addMark = window.attachMarks(form, audio);
    return each;
  };

  // An answer chosen by its key, as a click would choose it; not before every clip was heard.
  const choose = (input) => {
    if (!heardAll()) {
      showError(form.dataset.msgPlay);
      return;
    }
    if (!input) return;
    input.checked = true;
    input.focus();
    input.dispatchEvent(new Event("change", { bubbles: true }));
  };

  const changed = () => {
    showError("");
    refresh();
  };
  form.addEventListener("change", changed);
  form.addEventListener("input", changed);

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const { target } = event;
    if (target.matches && target.matches("textarea, input[type=text], select")) return;
    const key = event.key.length === 1 ? event.key.toUpperCase() : event.key;
    const playing = players.find((each) => each.key !== "" && each.key === key);
    if (playing) {
      event.preventDefault();
      if (!playing.button.disabled) playing.button.click();
    } else if (key === "M" && addMark) {
      event.preventDefault();
      addMark();
    } else if (method.key && method.key(key, target)) {
      event.preventDefault();
    } else if (key === "Enter" && !players.some((each) => each.button === target)) {
      event.preventDefault();
      if (!submitButton.disabled) form.requestSubmit(submitButton);
      else if (!state.sending) showError(notYet());
    }
  });

  const send = () =>
    window.sendAnswer(form, {
      showError,
      onRefused: (data) => {
        // The answer stays; with listen_again the person plays the clips again, and those plays come
        // from new addresses: fetches the server counts. Nothing reloads: with plays limited, a new
        // request would cost the listener a play.
        showError(data.error);
        state.sending = false;
        refresh();
      },
    });

  form.addEventListener("submit", (event) => {
    if (state.sending || !heardAll() || !complete()) {
      event.preventDefault();
      if (!state.sending) showError(notYet());
      return;
    }
    if (hidden("played")) {
      const counted = players.filter((each) => each.counts);
      hidden("played").value = "true";
      // The most plays of any clip: 1 when each was heard once, more when one was replayed.
      hidden("plays").value = String(Math.max(1, ...counted.map((each) => each.plays)));
      hidden("time").value = String(Math.round(performance.now() - state.heardAt));
    }
    state.sending = true;
    if (!listeningChecked) {
      setTimeout(refresh, 0); // disabling the button before the browser reads the form would drop it
      return;
    }
    event.preventDefault();
    refresh();
    send();
  });

  return {
    player,
    choose,
    heard: (each) => {
      heard(each);
      refresh();
    },
    showError,
    refresh,
    groups,
    answered,
  };
};
