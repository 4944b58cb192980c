// Create-test page: after a refused submit, the focus goes to the summary of what to fix at the top
// (the page reloads scrolled to the top; without this a screen reader starts at the page's beginning).
(() => {
  const summary = document.getElementById("error-summary");
  if (summary) summary.focus();
})();
