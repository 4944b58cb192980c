// Blind rating pages (sound check, practice, rating): one clip and a row of scores per question. The
// answers unlock once the clip has played to the end (answer.js). Keys: P plays, a digit answers,
// Enter goes on, M marks a problem (where the test asks for marks).
(() => {
  "use strict";
  const form = document.querySelector("[data-rating-form]");
  if (!form) return;
  const page = window.answerPage(form, {
    // A digit answers the first question still open, else the focused one, else the last.
    key: (key) => {
      if (!/^[0-9]$/.test(key)) return false;
      const { groups, answered } = page;
      const focused = groups.find((group) => group.contains(document.activeElement));
      const group = groups.find((each) => !answered(each)) || focused || groups[groups.length - 1];
      page.choose(group && group.querySelector(`input[value="${key}"]`));
      return true;
    },
  });
  page.player(form.querySelector("[data-player]"), { key: "P", marks: true });
})();
