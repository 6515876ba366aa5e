// provgraph's only hand-written script: niceties over pages that work
// without it. "/" focuses the search box; a "copy" button copies the
// link beside it.
"use strict";
document.addEventListener("keydown", function (event) {
  var box = document.querySelector("input[type=search]");
  if (event.key === "/" && box && document.activeElement !== box &&
      !(document.activeElement && /INPUT|TEXTAREA/.test(document.activeElement.tagName))) {
    event.preventDefault();
    box.focus();
    box.select();
  }
});
document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-copy]");
  if (!button || !navigator.clipboard) return;
  navigator.clipboard.writeText(new URL(button.dataset.copy, window.location.href).href).then(function () {
    button.textContent = "copied";
    setTimeout(function () { button.textContent = "copy link"; }, 1500);
  });
});
