// The public map with no connection (docs/web.md "With no connection"): the service worker at
// ./sw.js keeps the page, its files and what it has shown. It is registered once the map has
// drawn its hazards (or 20 s after the page loaded), so that its install, which reads the
// page's files again (from the browser's cache where it can), never competes with a first
// visit on a slow link. A browser without service workers (or a private window that refuses
// them) gets the page as before, online only.
function register() {
  if (register.done) return;
  register.done = true;
  navigator.serviceWorker.register(new URL("sw.js", document.baseURI).href).catch(() => {});
}

if ("serviceWorker" in navigator) {
  if (navigator.serviceWorker.controller) register(); // installed before: check for an update
  else {
    new MutationObserver((_, obs) => {
      if (document.documentElement.dataset.hazards === "drawn") {
        obs.disconnect();
        register();
      }
    }).observe(document.documentElement, { attributes: true, attributeFilter: ["data-hazards"] });
    addEventListener("load", () => setTimeout(register, 20_000));
  }
}
