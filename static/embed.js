// Tell the host page how tall the widget is, so it can size the iframe without scrollbars.
(function () {
  "use strict";
  if (window.parent === window) return;
  var last = 0;
  function report() {
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height === last) return;
    last = height;
    window.parent.postMessage({ type: "usage-embed:height", height: height }, "*");
  }
  window.addEventListener("load", report);
  document.addEventListener("htmx:afterSettle", report);
  if (window.ResizeObserver) new ResizeObserver(report).observe(document.documentElement);
})();
