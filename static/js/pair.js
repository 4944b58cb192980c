// Pair pages (CMOS, A/B preference): two players, "A" and "B", one playing at a time. The answers
// unlock only after both clips have played to the end (answer.js). Keys: each play button's data-key
// plays it, each answer's data-key chooses it, Enter goes on.
(() => {
  "use strict";
  const form = document.querySelector("[data-pair-form]");
  if (!form) return;
  const answers = Array.from(form.querySelectorAll("input[data-key]"));
  const page = window.answerPage(form, {
    key: (key) => {
      const answer = answers.find((input) => input.dataset.key.toUpperCase() === key);
      if (answer) page.choose(answer);
      return answer !== undefined;
    },
  });
  form.querySelectorAll("[data-player]").forEach((box) => {
    page.player(box, { key: box.querySelector("[data-play]").dataset.key || "" });
  });
})();
