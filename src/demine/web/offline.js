// The public map with no connection (docs/web.md "With no connection"): the service worker at
// ./sw.js keeps the page, its files and what it has shown. A browser without service workers
// (or a private window that refuses them) gets the page as before, online only.
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register(new URL("sw.js", document.baseURI).href).catch(() => {});
}
