// Intelligibility pages: one clip, the listener types what they heard. Every play from the start asks
// the server for the file afresh (preload none, a new address each time; answer.js), so the plays the
// server counts are the plays heard; the server refuses the request after the last one allowed, and
// the page disables its button when none are left. The text box unlocks once the clip has played to
// the end (or, on a reloaded page, when the server says it was sent whole).
// Keys: P plays (outside the text box), M marks a problem (where the test asks for marks), Enter sends.
(() => {
  "use strict";
  const form = document.querySelector("[data-transcribe-form]");
  if (!form) return;
  const box = form.querySelector("[data-player]");
  const playButton = box.querySelector("[data-play]");
  const leftText = form.querySelector("[data-plays-left-text]");
  const answers = Array.from(form.querySelectorAll("[data-answer]"));
  const limited = playButton.dataset.playsLeft !== undefined;
  let left = limited ? Number(playButton.dataset.playsLeft) : Infinity;

  const outOfPlays = () => {
    playButton.disabled = true;
    playButton.textContent = playButton.dataset.labelNone || playButton.textContent;
  };
  const focusAnswer = () => {
    if (answers[0]) answers[0].focus();
  };
  const page = window.answerPage(form, {
    answerMessage: form.dataset.msgType,
    complete: () => answers.every((input) => input.value.trim() !== ""),
    unlock: () => {
      answers.forEach((input) => {
        input.disabled = false;
      });
      focusAnswer();
    },
    mayPlay: () => {
      if (left > 0) return true;
      outOfPlays();
      page.showError(form.dataset.msgLimit);
      return false;
    },
    played: () => {
      left -= 1;
      if (leftText) leftText.textContent = form.dataset.msgLeft.replace("{n}", String(left));
    },
  });
  const player = page.player(box, { key: "P", marks: true });
  player.audio.addEventListener("ended", () => {
    if (left <= 0) outOfPlays();
    focusAnswer();
  });
  player.audio.addEventListener("error", () => {
    // The server refused the request: every play allowed has been used (in this tab or another).
    outOfPlays();
    page.showError(form.dataset.msgLimit);
  });

  // A page reloaded after the clip was heard: the server says so, and the answer may be typed.
  if (player.audio.hasAttribute("data-heard")) page.heard(player);
  if (limited && left <= 0) outOfPlays();
})();
