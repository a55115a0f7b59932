// Draw every Plotly chart from its JSON block: on load, after each htmx swap and after a
// history restore; purge charts before htmx replaces them; follow the colour scheme.
(function () {
  "use strict";

  var darkScheme = window.matchMedia("(prefers-color-scheme: dark)");

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function themed(layout) {
    var fg = cssVar("--fg");
    var line = cssVar("--line");
    var accent = cssVar("--accent");
    var axis = { gridcolor: line, linecolor: line, zerolinecolor: line, color: fg };
    return Object.assign({}, layout, {
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: fg, family: getComputedStyle(document.body).fontFamily },
      colorway: [accent, accent],
      hoverlabel: { bgcolor: cssVar("--card"), bordercolor: line, font: { color: fg } },
      xaxis: Object.assign({}, layout.xaxis, axis),
      yaxis: Object.assign({}, layout.yaxis, axis)
    });
  }

  function charts(root) {
    return (root || document).querySelectorAll("[data-chart]");
  }

  function draw(root) {
    if (!window.Plotly) return;
    charts(root).forEach(function (element) {
      var source = document.getElementById(element.getAttribute("data-chart"));
      if (!source) return;
      var figure = JSON.parse(source.textContent);
      window.Plotly.react(element, figure.data, themed(figure.layout || {}), {
        responsive: true,
        displaylogo: false,
        displayModeBar: false
      });
    });
  }

  function purge(root) {
    if (!window.Plotly) return;
    charts(root).forEach(function (element) {
      if (element.classList.contains("js-plotly-plot")) window.Plotly.purge(element);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:beforeSwap", function (event) { purge(event.detail.target); });
  document.addEventListener("htmx:afterSettle", function (event) { draw(event.detail.target); });
  document.addEventListener("htmx:historyRestore", function () { draw(document); });
  darkScheme.addEventListener("change", function () { draw(document); });

  // Picking dates means a custom range: switch the preset first (capture phase), so the
  // request htmx sends for this change already carries it.
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("#filters input[type=date]")) {
      var preset = target.form.querySelector("[name=preset]");
      if (preset) preset.value = "custom";
    }
  }, true);

  // The staff pickers: a new account clears the customer and the search, which belonged
  // to the old one (capture phase, before htmx sends the form), and each picker asks for
  // options matching what is typed (as `q`), without inline JavaScript.
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.id === "account-picker" && target.form) {
      target.form.elements.customer.value = "";
      target.form.elements.q.value = "";
    }
  }, true);
  document.addEventListener("htmx:configRequest", function (event) {
    var element = event.detail.elt;
    if (element.hasAttribute && element.hasAttribute("data-options-query")) {
      event.detail.parameters.q = element.value;
    }
  });

  // State-changing htmx requests carry the CSRF token as a header, as forms carry a field.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.verb === "get") return;
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) event.detail.headers["X-CSRFToken"] = meta.getAttribute("content");
  });

  // htmx swaps 4xx/5xx answers too: they carry the page's own error or stale message.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status >= 400 && status !== 401) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
