// Forms with data-confirm ask first; a yes sets their "confirm" field so the server acts at once.
// Without JavaScript the field stays empty and the server shows its own confirmation page.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.dataset.confirm) return;
  if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); return; }
  const field = form.elements.namedItem("confirm");
  if (field) field.value = "yes";
});
