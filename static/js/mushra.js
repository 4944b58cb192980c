// MUSHRA pages (ITU-R BS.1534): several samples of one sentence, a 0-100 slider each, and the
// labelled reference when the test has one. One sample plays at a time; a slider unlocks once its
// sample has played to the end and starts unset (no value is sent until the listener moves it: no
// silent default). The answer goes once every sample has been heard and scored (answer.js). Keys: a
// sample's number (1-9, 0 for the tenth) plays it and selects its slider, R plays the reference, the
// arrows move the selected slider, Enter goes on.
(() => {
  "use strict";
  const form = document.querySelector("[data-mushra-form]");
  if (!form) return;
  let stimuli = [];
  let selected = null;

  const select = (each) => {
    stimuli.forEach((other) => other.box.classList.toggle("selected", other === each));
    selected = each;
    (each.slider.disabled ? each.button : each.slider).focus();
  };
  const setScore = (each) => {
    // Chromium sends pointer events to a disabled slider: a tap on a locked one must not score it.
    if (each.slider.disabled) return;
    each.slider.removeAttribute("data-unset");
    each.score.value = each.slider.value;
    each.value.textContent = each.slider.value;
    each.slider.setAttribute("aria-valuetext", each.slider.value);
    page.showError("");
    page.refresh();
  };

  const page = window.answerPage(form, {
    stop: true,
    answerMessage: form.dataset.msgRate,
    complete: () => stimuli.every((each) => each.score.value !== ""),
    heard: (each) => {
      if (!each.slider) return; // the labelled reference
      each.slider.disabled = false;
      if (selected === each) each.slider.focus();
    },
    // The focused slider moves by itself; otherwise the selected one is moved here.
    key: (key, target) => {
      if (!/^Arrow/.test(key) || !selected || target === selected.slider || selected.slider.disabled) {
        return false;
      }
      if (key === "ArrowUp" || key === "ArrowRight") selected.slider.stepUp();
      else selected.slider.stepDown();
      setScore(selected);
      return true;
    },
  });

  const referenceBox = form.querySelector("[data-reference]");
  if (referenceBox) page.player(referenceBox, { key: "R", counts: false });
  stimuli = Array.from(form.querySelectorAll("[data-stimulus]"), (box) =>
    Object.assign(page.player(box, { key: box.dataset.key || "" }), {
      slider: box.querySelector("[data-slider]"),
      score: box.querySelector("[data-score]"),
      value: box.querySelector("[data-value]"),
    }),
  );
  stimuli.forEach((each) => {
    each.button.addEventListener("click", () => select(each));
    // A click on the track at the value the slider already holds changes nothing, so the input
    // event would not come: the end of any touch or drag sets the score too.
    each.slider.addEventListener("input", () => setScore(each));
    each.slider.addEventListener("pointerup", () => setScore(each));
    each.slider.addEventListener("focus", () => {
      stimuli.forEach((other) => other.box.classList.toggle("selected", other === each));
      selected = each;
    });
  });
})();
