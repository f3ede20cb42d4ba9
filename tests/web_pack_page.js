// tests/test_web_pack.py: opens the pack named by ?pack=, exposes it as window.demoPack, and
// draws its hazards with MapLibre from the PMTiles archive (window.packMap).
import * as maplibregl from "./web/vendor/maplibre-gl/maplibre-gl.mjs";
import { openPack, distanceM } from "./web/pack.js";

const url = new URLSearchParams(location.search).get("pack") || "pack/";
const pack = await openPack(url);
window.demoPack = pack;
window.distanceM = distanceM;
const tiles = await pack.registerProtocol(maplibregl);
const [w, s, e, n] = pack.meta.bbox;
const map = new maplibregl.Map({
  container: "map",
  style: {
    version: 8,
    sources: { pack: { type: "vector", url: tiles } },
    layers: [
      { id: "hazards", type: "fill", source: "pack", "source-layer": "hazards", paint: { "fill-color": "#c00", "fill-opacity": 0.5 } },
      { id: "hazard-points", type: "circle", source: "pack", "source-layer": "hazards", filter: ["==", ["geometry-type"], "Point"], paint: { "circle-color": "#c00", "circle-radius": 4 } },
      { id: "reports", type: "circle", source: "pack", "source-layer": "unverified_reports", paint: { "circle-color": "#f90", "circle-radius": 5 } },
    ],
  },
  bounds: [[w, s], [e, n]],
  attributionControl: false,
});
window.packMap = map;
map.on("idle", () => { document.documentElement.dataset.map = "idle"; });
