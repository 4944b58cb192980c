// Disable a submit button after the first click so a double click sends one request.
document.addEventListener("submit", (event) => {
  if (event.defaultPrevented) return; // e.g. a confirm() the user declined
  const button = event.target.querySelector("[data-once]");
  if (!button) return;
  if (button.dataset.sent) { event.preventDefault(); return; }
  button.dataset.sent = "1";
  setTimeout(() => { button.disabled = true; }, 0);
});
