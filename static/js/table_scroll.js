// Wide tables (.table-scroll): a second horizontal scroll bar above the table, moving with the one the
// browser draws below it, so the last columns are in reach without first scrolling to the foot of a
// long table. It shows only while the table is wider than its box. Tables that pages swap in later
// (the run page's samples, the live dashboards) get theirs too.
(() => {
  const attach = (box) => {
    if (box.dataset.scrollTop) return;
    box.dataset.scrollTop = "1";
    const bar = document.createElement("div");
    bar.className = "scroll-top";
    bar.setAttribute("aria-hidden", "true"); // the box below scrolls the same; keyboards use that one
    const width = document.createElement("div");
    bar.append(width);
    box.before(bar);
    const size = () => {
      width.style.width = `${box.scrollWidth}px`;
      bar.hidden = box.scrollWidth <= box.clientWidth + 1;
      bar.scrollLeft = box.scrollLeft;
    };
    bar.addEventListener("scroll", () => {
      box.scrollLeft = bar.scrollLeft;
    });
    box.addEventListener("scroll", () => {
      bar.scrollLeft = box.scrollLeft;
    });
    const observer = new ResizeObserver(size);
    observer.observe(box);
    if (box.firstElementChild) observer.observe(box.firstElementChild);
    size();
  };
  const attachAll = () => document.querySelectorAll(".table-scroll").forEach(attach);
  new MutationObserver(attachAll).observe(document.body, { childList: true, subtree: true });
  attachAll();
})();
