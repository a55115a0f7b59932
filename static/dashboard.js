// Draw every Plotly chart from its JSON block: on load, after each htmx swap and after a
// history restore, the charts in view first; follow the colour scheme. A swap keeps each
// chart's element and redraws it with Plotly.react, rather than purging and drawing anew.
(function () {
  "use strict";

  var darkScheme = window.matchMedia("(prefers-color-scheme: dark)");
  var CONFIG = { responsive: true, displaylogo: false, displayModeBar: false };

  // Read once per batch of charts: each read of a computed style after the DOM changed
  // costs a style recalculation.
  function theme() {
    var root = getComputedStyle(document.documentElement);
    var value = function (name) { return root.getPropertyValue(name).trim(); };
    return {
      fg: value("--fg"),
      line: value("--line"),
      accent: value("--accent"),
      card: value("--card"),
      family: getComputedStyle(document.body).fontFamily
    };
  }

  function themed(layout, colours) {
    var fg = colours.fg;
    var line = colours.line;
    var axis = { gridcolor: line, linecolor: line, zerolinecolor: line, color: fg };
    return Object.assign({}, layout, {
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: fg, family: colours.family },
      colorway: [colours.accent, colours.accent],
      hoverlabel: { bgcolor: colours.card, bordercolor: line, font: { color: fg } },
      xaxis: Object.assign({}, layout.xaxis, axis),
      yaxis: Object.assign({}, layout.yaxis, axis)
    });
  }

  function charts(root) {
    return Array.prototype.slice.call((root || document).querySelectorAll("[data-chart]"));
  }

  function foldTable(element, fold) {
    var chart = element.closest(".chart");
    var table = chart && chart.querySelector("details[data-chart-table]");
    if (table) table.open = !fold;
  }

  function draw(element, colours) {
    if (!element.isConnected) return;
    var source = document.getElementById(element.getAttribute("data-chart"));
    if (!source) return;
    var figure = JSON.parse(source.textContent);
    try {
      window.Plotly.react(element, figure.data, themed(figure.layout || {}, colours), CONFIG);
    } catch (error) {
      foldTable(element, false); // no chart: the numbers stay in sight
      throw error;
    }
    // The table is open for readers without JavaScript; with a chart drawn, it folds away
    // once (the mark goes), so a redraw never closes a table the reader opened.
    var chart = element.closest(".chart");
    var table = chart && chart.querySelector("details[data-chart-table]");
    if (table) { table.removeAttribute("data-chart-table"); table.open = false; }
    // Plotly measures text in a hidden SVG of its own: not an image to announce.
    var tester = document.getElementById("js-plotly-tester");
    if (tester) tester.setAttribute("aria-hidden", "true");
  }

  function inView(element) {
    var box = element.getBoundingClientRect();
    return box.bottom > 0 && box.top < window.innerHeight && box.width > 0;
  }

  // Charts in view (and charts kept from before a swap, which still show the old data) are
  // drawn at once; the others one a task after that, so the first paint does not wait for
  // them. A newer batch (another swap, the colour scheme) takes over what is left.
  var batch = 0;

  function drawAll(root, first) {
    if (!window.Plotly) return;
    var elements = charts(root);
    if (!elements.length) return;
    var mine = ++batch;
    // Fold the tables first: open ones push every chart below them out of view.
    elements.forEach(function (element) {
      if (document.getElementById(element.getAttribute("data-chart"))) foldTable(element, true);
    });
    var colours = theme();
    var later = elements.filter(function (element) {
      if (!(first && first.indexOf(element) !== -1) && !inView(element)) return true;
      draw(element, colours);
      return false;
    });
    (function next() {
      if (mine !== batch || !later.length) return;
      window.setTimeout(function () {
        if (mine !== batch) return;
        try { draw(later.shift(), colours); } finally { next(); }
      }, 0);
    })();
  }

  // Before a swap, the charts in view leave the old content, to go back in the place of the
  // new placeholder with the same data-chart and be redrawn there with Plotly.react (which
  // reuses their SVG); the others leave it too, so htmx does not walk their SVG, and are
  // purged once the new charts are drawn. A chart not kept starts as an empty box (the
  // skeleton) until drawn, never as stale data out of view.
  var kept = new Map(); // data-chart -> chart element
  var dropped = [];

  function keepCharts(target) {
    kept = new Map();
    if (!window.Plotly) return;
    charts(target).forEach(function (element) {
      if (!element.classList.contains("js-plotly-plot")) return;
      if (inView(element)) kept.set(element.getAttribute("data-chart"), element);
      else dropped.push(element);
      element.remove();
    });
  }

  // The kept element takes the placeholder's attributes (label, role, marks), keeping only
  // Plotly's own classes of its past.
  function adopt(element, placeholder) {
    var plotly = Array.prototype.filter.call(element.classList, function (name) {
      return name.indexOf("js-plotly") === 0;
    });
    Array.prototype.slice.call(element.attributes).forEach(function (attribute) {
      if (!placeholder.hasAttribute(attribute.name)) element.removeAttribute(attribute.name);
    });
    Array.prototype.slice.call(placeholder.attributes).forEach(function (attribute) {
      element.setAttribute(attribute.name, attribute.value);
    });
    plotly.forEach(function (name) { element.classList.add(name); });
    placeholder.replaceWith(element);
  }

  function reuseCharts(target) {
    var reused = [];
    charts(target).forEach(function (placeholder) {
      var key = placeholder.getAttribute("data-chart");
      var element = kept.get(key);
      if (!element) return;
      kept.delete(key);
      adopt(element, placeholder);
      reused.push(element);
    });
    kept.forEach(function (element) { dropped.push(element); });
    kept = new Map();
    return reused;
  }

  function purgeDropped() {
    var gone = dropped;
    dropped = [];
    if (gone.length) {
      window.setTimeout(function () {
        gone.forEach(function (element) { window.Plotly.purge(element); });
      }, 0);
    }
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSwap", function (event) {
    drawAll(event.detail.target, reuseCharts(event.detail.target));
    purgeDropped();
  });
  document.addEventListener("htmx:historyRestore", function () { drawAll(document); });
  darkScheme.addEventListener("change", function () { drawAll(document); });
  // Back and Forward put an earlier view back without a page load: the keyboard starts from
  // the page's heading, as after a load, not from the body.
  document.addEventListener("htmx:historyRestore", function () {
    var active = document.activeElement;
    if (active && active !== document.body && document.contains(active)) return;
    var heading = document.querySelector("main h1");
    if (!heading) return;
    heading.setAttribute("tabindex", "-1");
    // Where the browser restored the scroll: the heading is brought into view only if it is
    // out of it, so a keyboard user sees where focus is.
    heading.focus({ preventScroll: true });
    heading.scrollIntoView({ block: "nearest" });
  });

  // Picking dates means a custom range: switch the preset first (capture phase), so the
  // request sent for this change already carries it. Picking a preset means its own range:
  // clear the dates, so neither the request nor the pushed URL carries stale ones (the
  // results fill them in again).
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!target.matches || !target.form || target.form.id !== "filters") return;
    if (target.matches("input[type=date]")) {
      var preset = target.form.querySelector("[name=preset]");
      if (preset) preset.value = "custom";
    } else if (target.matches("[name=preset]") && target.value !== "custom") {
      target.form.querySelectorAll("input[type=date]").forEach(function (input) {
        input.value = "";
      });
    }
  }, true);

  // When the filter form is sent. A date input fires `change` for every segment typed (and
  // a half-typed date is a real one: 0002-09-01, or the 1st of a month whose day is still
  // being typed), a closed select for every arrow key; a request per keystroke would flood
  // the upstreams and the history. So a change made with the mouse (or the calendar)
  // applies at once; a date typed on the keyboard applies when the field is left or on
  // Enter, if complete and within min/max; a select changed with the keys once they rest.
  // Each apply is one request and so one history entry.
  var SELECT_REST_MS = 400;
  var KEYBOARD_MS = 1000; // a change this soon after a key on the same control came from it
  var lastKey = { target: null, time: 0, key: "" };
  var pending = null;
  var sent = new WeakMap(); // form -> its dates as last sent, loaded or filled in

  function filterForm(element) {
    var form = element && element.form;
    return form && form.id === "filters" ? form : null;
  }

  function dates(form) {
    var values = {};
    form.querySelectorAll("input[type=date]").forEach(function (input) {
      values[input.name] = input.value;
    });
    return values;
  }

  function remember() {
    var form = document.getElementById("filters");
    if (form && form.tagName === "FORM") sent.set(form, dates(form));
  }

  function cancelPending() {
    if (pending) window.clearTimeout(pending.timer);
    pending = null;
  }

  function apply(form) {
    cancelPending();
    form.requestSubmit(); // the browser says what is wrong with a field; htmx sends the rest
  }

  function later(control, delay) {
    var form = control.form;
    cancelPending();
    pending = {
      form: form,
      control: control,
      timer: window.setTimeout(function () { apply(form); }, delay)
    };
  }

  function completeDate(input) {
    var value = input.value;
    return /^\d{4}-\d{2}-\d{2}$/.test(value) &&
      (!input.min || value >= input.min) && (!input.max || value <= input.max);
  }

  document.addEventListener("keydown", function (event) {
    if (!filterForm(event.target)) return;
    lastKey = { target: event.target, time: Date.now(), key: event.key };
    // Another key on the control that is waiting: it is not at rest yet.
    if (pending && pending.control === event.target && event.key !== "Enter" &&
        event.key !== "Tab") {
      cancelPending();
    }
  }, true);

  document.addEventListener("change", function (event) {
    var target = event.target;
    var form = filterForm(target);
    if (!form) return;
    var typed = lastKey.target === target && Date.now() - lastKey.time < KEYBOARD_MS;
    // Enter in a field submits the form by itself: applying here too would send it twice.
    if (typed && lastKey.key === "Enter") return;
    if (target.matches("input[type=date]")) {
      if (!typed && completeDate(target)) apply(form);
    } else if (target.tagName === "SELECT" && typed) {
      later(target, SELECT_REST_MS);
    } else {
      apply(form);
    }
  });

  document.addEventListener("focusout", function (event) {
    var target = event.target;
    var form = filterForm(target);
    if (!form) return;
    // Leaving a field for the form's own button: its click sends the form anyway.
    if (event.relatedTarget && event.relatedTarget.form === form &&
        event.relatedTarget.type === "submit") {
      cancelPending();
      return;
    }
    var waiting = pending && pending.form === form;
    var dateEdited = target.matches("input[type=date]") &&
      (sent.get(form) || {})[target.name] !== target.value;
    if (!waiting && !dateEdited) return;
    cancelPending();
    // A date left half-typed or out of bounds stays marked (:invalid) and is not sent.
    if (form.checkValidity()) apply(form);
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id !== "filters") return;
    cancelPending();
    sent.set(form, dates(form));
  }, true);

  document.addEventListener("DOMContentLoaded", remember);
  document.addEventListener("htmx:historyRestore", remember);

  // The form's empty dates (after a preset was picked) stay out of the request and the URL.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.elt.id !== "filters" || event.detail.verb !== "get") return;
    ["start", "end"].forEach(function (name) {
      if (event.detail.parameters[name] === "") delete event.detail.parameters[name];
    });
  });

  // The form shows the range the results show: a preset's dates, or the server's reading of
  // the dates it was sent. The results say it on #results-range (data-range-start/-end) or,
  // failing that, in their "Showing <strong>start</strong> to <strong>end</strong>" line.
  function shownRange(results) {
    var marked = results.querySelector("#results-range[data-range-start][data-range-end]");
    if (marked) {
      return [marked.getAttribute("data-range-start"), marked.getAttribute("data-range-end")];
    }
    var strong = results.querySelectorAll(".freshness p strong");
    if (strong.length < 2) return null;
    var range = [strong[0].textContent.trim(), strong[1].textContent.trim()];
    return range.every(function (text) { return /^\d{4}-\d{2}-\d{2}$/.test(text); })
      ? range : null;
  }

  function showRange() {
    var form = document.getElementById("filters");
    var results = document.getElementById("results");
    if (!form || !results || form.tagName !== "FORM") return;
    var range = shownRange(results);
    if (!range) return;
    var values = sent.get(form) || dates(form);
    [form.elements.start, form.elements.end].forEach(function (input, index) {
      // Never overwrite a date the user is typing right now.
      if (!input || (input === document.activeElement && (pending || input.validity.badInput))) {
        return;
      }
      input.value = values[input.name] = range[index];
    });
    sent.set(form, values);
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.target && event.detail.target.id === "results") showRange();
  });

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

  // Results links (sort headers, pager, ids) are replaced by the swap they start, and focus
  // would fall to <body>, back at the top of the page for a keyboard user. Put it on the
  // same control in the new results (same id, link or label), else on the results heading.
  var focusedBeforeSwap = null;

  document.addEventListener("htmx:beforeSwap", function (event) {
    var active = document.activeElement;
    var target = event.detail.target;
    focusedBeforeSwap = target && active && active !== document.body && target.contains(active)
      ? {
          id: active.id,
          tag: active.tagName,
          href: active.getAttribute("href"),
          label: active.getAttribute("aria-label"),
          text: active.textContent.trim(),
          top: active.getBoundingClientRect().top
        }
      : null;
  });

  function sameControl(root, was) {
    var found = was.id && document.getElementById(was.id);
    if (found && root.contains(found)) return found;
    var candidates = Array.prototype.slice.call(root.querySelectorAll(was.tag));
    var match = function (test) { return candidates.filter(test)[0]; };
    return (was.href && match(function (el) { return el.getAttribute("href") === was.href; })) ||
      (was.label && match(function (el) { return el.getAttribute("aria-label") === was.label; })) ||
      (was.text && match(function (el) { return el.textContent.trim() === was.text; })) ||
      null;
  }

  function focusable(element) {
    return element && !element.disabled && element.getClientRects().length > 0;
  }

  // A screen reader hears one line per new set of results, not the whole region read out.
  document.addEventListener("htmx:afterSettle", function (event) {
    var root = event.detail.target;
    var status = document.getElementById("results-status");
    if (!status || !root || root.id !== "results") return;
    var range = root.querySelector("#results-range");
    var refused = root.querySelector("[role=alert]");
    status.textContent = "Results updated. " + ((refused || range || root).textContent || "")
      .replace(/\s+/g, " ").trim();
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var was = focusedBeforeSwap;
    var root = event.detail.target;
    focusedBeforeSwap = null;
    if (!was || !root || root.id !== "results") return;
    var active = document.activeElement;
    if (active && active !== document.body && document.contains(active)) return;
    var control = sameControl(root, was);
    if (!focusable(control)) {
      control = root.querySelector("h2[id]") || root;
      control.setAttribute("tabindex", "-1");
      control.focus({ preventScroll: true });
      control.scrollIntoView({ block: "nearest" });
      return;
    }
    // The same control goes back where it was on screen (a sort link over its rows), however
    // the new results' heights moved it during the swap.
    control.focus({ preventScroll: true });
    window.scrollBy(0, control.getBoundingClientRect().top - was.top);
  });

  // While the results are being replaced they say so: dimmed (CSS) and aria-busy, from the
  // moment the request starts until its answer is swapped in (or it fails or is replaced).
  var inFlight = 0;

  function busy(results, on) {
    inFlight = Math.max(0, inFlight + (on ? 1 : -1));
    if (inFlight > 0) results.setAttribute("aria-busy", "true");
    else results.removeAttribute("aria-busy");
  }

  document.addEventListener("htmx:beforeSend", function (event) {
    var results = event.detail.target;
    if (!results || results.id !== "results") return;
    busy(results, true);
    event.detail.xhr.addEventListener("loadend", function () {
      // After htmx's own load handler, which swaps the answer in.
      window.setTimeout(function () { busy(results, false); }, 0);
    });
  });

  // A refused refresh comes back with the button disabled and data-refresh-wait="N": count
  // it down each second and let it be pressed again at 0.
  var refreshDeadlines = new WeakMap();
  var refreshTimer = null;

  function tickRefresh() {
    var waiting = document.querySelectorAll("button[data-refresh-wait]");
    waiting.forEach(function (button) {
      if (!refreshDeadlines.has(button)) {
        var wait = parseInt(button.getAttribute("data-refresh-wait"), 10);
        refreshDeadlines.set(button, Date.now() + (isNaN(wait) ? 0 : wait) * 1000);
      }
      var left = Math.ceil((refreshDeadlines.get(button) - Date.now()) / 1000);
      if (left > 0) {
        button.textContent = "Refresh again in " + left + " s";
        return;
      }
      button.removeAttribute("data-refresh-wait");
      button.disabled = false;
      button.textContent = "Refresh";
    });
    if (waiting.length && !refreshTimer) refreshTimer = window.setInterval(tickRefresh, 250);
    if (!document.querySelector("button[data-refresh-wait]") && refreshTimer) {
      window.clearInterval(refreshTimer);
      refreshTimer = null;
    }
  }

  document.addEventListener("DOMContentLoaded", tickRefresh);
  document.addEventListener("htmx:afterSettle", tickRefresh);

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

  // Last of the beforeSwap listeners, once it is known whether the answer is swapped in.
  // New results go in at once, with no settle delay: nothing here animates on settling.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!event.detail.shouldSwap || !target) return;
    if (target.id === "results" && !event.detail.swapOverride) {
      event.detail.swapOverride = "innerHTML swap:0ms settle:0ms";
    }
    keepCharts(target);
  });
})();

// The phone's range chip says the range the form holds ("Last 30 days · compare"), and the
// "Copy link" button copies the view's address (htmx keeps location at the view shown).
(function () {
  "use strict";

  function chipWords(form) {
    var preset = form.elements.preset;
    var start = form.elements.start;
    var end = form.elements.end;
    var compare = form.elements.compare;
    var words = "";
    if (preset && preset.value !== "custom" && preset.selectedOptions.length) {
      words = preset.selectedOptions[0].textContent.trim();
    } else if (start && end && start.value && end.value) {
      words = start.value + " – " + end.value;
    } else {
      return null;
    }
    return compare && compare.checked ? words + " · compare" : words;
  }

  function updateChip() {
    var form = document.getElementById("filters");
    var chip = document.querySelector("[data-range-chip]");
    if (!form || !chip || form.tagName !== "FORM") return;
    var words = chipWords(form);
    if (words) chip.textContent = words;
  }

  document.addEventListener("change", function (event) {
    if (event.target.form && event.target.form.id === "filters") updateChip();
  });
  document.addEventListener("htmx:afterSettle", updateChip);
  document.addEventListener("htmx:historyRestore", updateChip);

  function say(box, words) {
    var status = box.querySelector("[data-copy-status]");
    if (status) status.textContent = words;
  }

  // Where the clipboard refuses (no permission, not a secure context), show the address in
  // a read-only field, selected, to copy by hand.
  function showField(box) {
    var field = box.querySelector("[data-copy-field]");
    if (!field) return;
    field.value = window.location.href;
    field.hidden = false;
    field.focus();
    field.select();
    say(box, "Press Ctrl+C (⌘C) to copy the link.");
  }

  function copyLink(box) {
    var href = window.location.href;
    var field = box.querySelector("[data-copy-field]");
    if (field) field.hidden = true;
    if (!navigator.clipboard || !navigator.clipboard.writeText) {
      showField(box);
      return;
    }
    navigator.clipboard.writeText(href).then(
      function () { say(box, "Link copied."); },
      function () { showField(box); }
    );
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy-button]");
    if (!button) return;
    var box = button.closest("[data-copy-link]");
    if (box) copyLink(box);
  });

  function showCopyLinks() {
    document.querySelectorAll("[data-copy-link][hidden]").forEach(function (box) {
      box.hidden = false;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    showCopyLinks();
    updateChip();
  });
  document.addEventListener("htmx:historyRestore", showCopyLinks);
  // A new view: "Link copied" spoke of the previous address.
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("[data-copy-link]").forEach(function (box) {
      say(box, "");
      var field = box.querySelector("[data-copy-field]");
      if (field) field.hidden = true;
    });
  });
})();
