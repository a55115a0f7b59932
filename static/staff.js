// The staff page: a click on a bar of a top-N chart opens that account or customer, as its
// link in the chart's table of numbers does (keyboard users have those links). Each bar's
// URL is the second item of its customdata; the bar of every other row has none.
// Loaded after dashboard.js, which draws the charts on the same events, so a chart is
// drawn (and has Plotly's `on`) by the time its click handler is added.
(function () {
  "use strict";

  var wired = new WeakSet();

  function follow(url) {
    if (window.htmx) {
      // Swapped like the table's links: the answer carries the address to push (HX-Push-Url).
      window.htmx.ajax("GET", url, { target: "#results", swap: "innerHTML" });
    } else {
      window.location.assign(url);
    }
  }

  function wire(root) {
    (root || document).querySelectorAll("[data-drill]").forEach(function (element) {
      if (wired.has(element) || typeof element.on !== "function") return;
      wired.add(element);
      element.on("plotly_click", function (event) {
        var point = event && event.points && event.points[0];
        var data = point && point.customdata;
        var url = Array.isArray(data) ? data[1] : null;
        // Only the app's own paths: a URL is never taken from anywhere else.
        if (typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/") {
          follow(url);
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { wire(document); });
  document.addEventListener("htmx:afterSettle", function (event) { wire(event.detail.target); });
  document.addEventListener("htmx:historyRestore", function () { wire(document); });
})();
