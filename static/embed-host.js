// Host-page side of the widget: size each iframe to the height its widget reports.
// (The same few lines a tenant puts on its own site; see the README.)
window.addEventListener("message", function (event) {
  var data = event.data;
  if (!data || data.type !== "usage-embed:height") return;
  document.querySelectorAll("iframe.usage-widget").forEach(function (frame) {
    if (frame.contentWindow === event.source) frame.style.height = data.height + "px";
  });
});
