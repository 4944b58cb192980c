// Copy buttons: <button data-copy="ID" data-copied="Copied" hidden> copies the text of element ID.
// They stay hidden without JavaScript, where the text can still be selected by hand.
document.querySelectorAll("button[data-copy]").forEach((button) => {
  const target = document.getElementById(button.dataset.copy);
  if (!target) return;
  const label = button.textContent;
  button.hidden = false;
  button.addEventListener("click", async () => {
    const text = target.textContent.trim();
    try {
      await navigator.clipboard.writeText(text);
    } catch (error) {
      // Pages served over plain http have no Clipboard API: select the text and use the old command.
      const range = document.createRange();
      range.selectNodeContents(target);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      document.execCommand("copy");
    }
    button.textContent = button.dataset.copied || label;
    setTimeout(() => { button.textContent = label; }, 2000);
  });
});
