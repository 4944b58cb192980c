// Run form: until the name is edited, keep it as the synthesize command would name the run
// ("demo-en × neutral,warm"). Left empty, the server names it the same way.
(() => {
  const form = document.querySelector("form[data-run-form]");
  if (!form) return;
  const name = form.elements.namedItem("name");
  const checked = (field) =>
    [...form.querySelectorAll(`input[name="${field}"]:checked`)].map((box) => box.parentElement.textContent.trim());
  const suggestion = () => {
    const sets = checked("sentence_sets");
    return sets.length ? `${sets.join(",")} × ${checked("styles").join(",")}` : "";
  };
  let edited = name.value !== "" && name.value !== suggestion();
  name.addEventListener("input", () => { edited = name.value !== ""; });
  form.addEventListener("change", (event) => {
    if (!edited && event.target !== name) name.value = suggestion();
  });
})();
