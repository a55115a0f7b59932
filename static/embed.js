// The widget's own behaviour, inside its iframe. Loaded after htmx, Plotly and dashboard.js.
(function () {
  "use strict";

  // Tell the host page how tall the widget is, so it can size the iframe without scrollbars.
  if (window.parent !== window) {
    var last = 0;
    var report = function () {
      var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
      if (height === last) return;
      last = height;
      window.parent.postMessage({ type: "usage-embed:height", height: height }, "*");
    };
    window.addEventListener("load", report);
    document.addEventListener("htmx:afterSettle", report);
    if (window.ResizeObserver) new ResizeObserver(report).observe(document.documentElement);
  }

  function statusLine(element) {
    return element && element.id === "widget-status";
  }

  // A refused click (token expired, revoked or its key rotated away; too many updates) is
  // answered with a message aimed at the status line (HX-Retarget), so the chart stays.
  // dashboard.js leaves 401 answers unswapped: swap these, since they carry no data.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (!statusLine(event.detail.target)) return;
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  });

  function ended() {
    return document.querySelector("#widget-status [data-widget-ended]") !== null;
  }

  // Once the view has ended no click can succeed: the range links stop being links, and no
  // further request is sent.
  function disableControls() {
    document.querySelectorAll("#widget nav.ranges a").forEach(function (link) {
      link.removeAttribute("href");
      link.setAttribute("aria-disabled", "true");
    });
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (statusLine(target)) {
      if (ended()) disableControls();
    } else if (target && target.id === "widget") {
      // A successful update: any earlier "try again" message no longer applies.
      var line = document.getElementById("widget-status");
      if (line) line.textContent = "";
      var said = document.getElementById("widget-announce");
      var shown = target.querySelector(".freshness");
      if (said && shown) said.textContent = "Showing " + shown.textContent.replace(/\s+/g, " ").trim();
      // The range link that was used went with the old content: keep the keyboard on the
      // range now shown, not on the page's body.
      var active = document.activeElement;
      if (!active || active === document.body || !document.contains(active)) {
        var current = target.querySelector("nav.ranges a[aria-current]");
        if (current) current.focus();
      }
    }
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (ended()) event.preventDefault();
  });
})();
