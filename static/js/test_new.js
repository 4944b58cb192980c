// Create-test page: after a refused submit, the focus goes to the summary of what to fix at the top
// (the page reloads scrolled to the top; without this a screen reader starts at the page's beginning).
(() => {
  const summary = document.getElementById("error-summary");
  if (summary) summary.focus();
})();

// The settings that only some methods read (sections with data-methods) show while one of those
// methods is chosen; the server ignores them for the others.
(() => {
  const method = document.getElementById("id_method");
  if (!method) return;
  const show = () => {
    for (const group of document.querySelectorAll("[data-methods]")) {
      group.hidden = !group.dataset.methods.split(" ").includes(method.value);
    }
  };
  method.addEventListener("change", show);
  show();
})();
