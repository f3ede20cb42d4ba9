// demine field app: the map (MapLibre, vendored) — the cached work area's layers from
// IndexedDB, the base map when the server has one and the device is online, and the geometry
// being captured (a point, or the vertices of an area with their accuracy).
import * as maplibregl from "../vendor/maplibre-gl/maplibre-gl.mjs";
import { $, state, t } from "./ui_common.js";

const COLORS = {
  hazards: "#7a0019", activities: "#1f4e99", releases: "#2b8a3e", finds: "#e65100",
  eo_reports: "#6a3d9a", accidents: "#212121", eore_sessions: "#00838f",
};
const REFERENCE = "#78909c";
const DRAFT = "#d81b60";
const POLY = ["in", ["geometry-type"], ["literal", ["Polygon", "MultiPolygon"]]];
const LINE = ["in", ["geometry-type"], ["literal", ["LineString", "MultiLineString"]]];
const POINT = ["in", ["geometry-type"], ["literal", ["Point", "MultiPoint"]]];
const emptyFC = () => ({ type: "FeatureCollection", features: [] });

let map = null;
let ready = null;
let areaLayerIds = [];
let areaSources = [];
let hasBaseMap = false;

// the map, made once; onTap({lngLat, features}) on every tap
export function initMap({ config, onTap }) {
  if (ready) return ready;
  const sources = { draft: { type: "geojson", data: emptyFC() } };
  const layers = [{ id: "background", type: "background", paint: { "background-color": "#eef2f3" } }];
  hasBaseMap = Boolean(config && config.tile_url && navigator.onLine);
  if (hasBaseMap) {
    sources.basemap = { type: "raster", tiles: [config.tile_url], tileSize: 256, attribution: config.tile_attribution || "" };
    layers.push({ id: "basemap", type: "raster", source: "basemap" });
  }
  layers.push(
    { id: "draft-fill", type: "fill", source: "draft", filter: POLY, paint: { "fill-color": DRAFT, "fill-opacity": 0.2 } },
    { id: "draft-line", type: "line", source: "draft", filter: ["any", POLY, LINE], paint: { "line-color": DRAFT, "line-width": 2.5 } },
    { id: "draft-point", type: "circle", source: "draft", filter: POINT,
      paint: { "circle-radius": 6, "circle-color": DRAFT, "circle-stroke-color": "#fff", "circle-stroke-width": 2 } },
  );
  map = new maplibregl.Map({
    container: "map",
    style: { version: 8, sources, layers },
    center: [31, 49],
    zoom: 5,
    attributionControl: { compact: true },
    dragRotate: false,
    pitchWithRotate: false,
    maxZoom: 20,
  });
  map.touchZoomRotate.disableRotation();
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
  map.getCanvas().setAttribute("aria-label", t("map_label"));
  map.on("click", (e) => {
    const pad = 10;
    const box = [[e.point.x - pad, e.point.y - pad], [e.point.x + pad, e.point.y + pad]];
    const features = areaLayerIds.length ? map.queryRenderedFeatures(box, { layers: areaLayerIds }) : [];
    onTap({ lngLat: [e.lngLat.lng, e.lngLat.lat], features });
  });
  window.field = { map };
  ready = new Promise((resolve) => map.once("load", () => resolve(map)));
  return ready;
}

export function mapNote() {
  // what the base map is, now
  if (!hasBaseMap) return t("map_no_basemap");
  return state.online ? "" : t("map_offline_basemap");
}

export function relabel() {
  if (map) map.getCanvas().setAttribute("aria-label", t("map_label"));
}

export function resize() {
  if (map) map.resize();
}

// the view as a work area box, rounded outwards to 5 decimals
export function viewBbox() {
  const b = map.getBounds();
  const out = (v, f) => f(v * 1e5) / 1e5;
  return [out(b.getWest(), Math.floor), out(b.getSouth(), Math.floor), out(b.getEast(), Math.ceil), out(b.getNorth(), Math.ceil)];
}

export function fitBbox(bbox) {
  if (map && bbox) map.fitBounds([[bbox[0], bbox[1]], [bbox[2], bbox[3]]], { padding: 10, animate: false });
}

// the cached work area: one source a layer, drawn by its geometry
export async function showArea(entries) {
  await ready;
  for (const id of areaLayerIds) if (map.getLayer(id)) map.removeLayer(id);
  for (const id of areaSources) if (map.getSource(id)) map.removeSource(id);
  areaLayerIds = [];
  areaSources = [];
  const kinds = new Set(state.forms.map((f) => f.kind));
  // reference layers under the records, hazards on top of other areas
  const order = [...entries].sort((a, b) => rank(a.layer, kinds) - rank(b.layer, kinds));
  for (const entry of order) {
    const src = `area-${entry.layer}`;
    const features = (entry.collection.features || []).map((f) => ({
      ...f,
      properties: { ...f.properties, _layer: entry.layer, _id: f.id === undefined ? null : String(f.id) },
    }));
    map.addSource(src, { type: "geojson", data: { type: "FeatureCollection", features } });
    areaSources.push(src);
    const color = COLORS[entry.layer] || REFERENCE;
    const ref = !COLORS[entry.layer];
    const add = (suffix, spec) => {
      const id = `${src}-${suffix}`;
      map.addLayer({ id, source: src, ...spec }, "draft-fill");
      areaLayerIds.push(id);
    };
    add("fill", { type: "fill", filter: POLY, paint: { "fill-color": color, "fill-opacity": ref ? 0.08 : 0.25 } });
    add("line", { type: "line", filter: ["any", POLY, LINE], paint: { "line-color": color, "line-width": ref ? 1 : 2 } });
    add("point", { type: "circle", filter: POINT,
      paint: { "circle-radius": ref ? 3 : 5, "circle-color": color, "circle-stroke-color": "#fff", "circle-stroke-width": 1 } });
  }
}

function rank(layer, kinds) {
  if (!kinds.has(layer) && !COLORS[layer]) return 0;
  return layer === "hazards" ? 1 : 2;
}

// the geometry being captured: {type, coords: [[lon, lat]], closed}
export async function showDraft(capture) {
  await ready;
  const features = [];
  if (capture && capture.coords.length) {
    for (const c of capture.coords) features.push({ type: "Feature", properties: {}, geometry: { type: "Point", coordinates: c } });
    if (capture.type === "Polygon" && capture.coords.length >= 2) {
      const ring = [...capture.coords, capture.coords[0]];
      features.push(capture.closed && capture.coords.length >= 3
        ? { type: "Feature", properties: {}, geometry: { type: "Polygon", coordinates: [ring] } }
        : { type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: capture.coords } });
    }
  }
  map.getSource("draft").setData({ type: "FeatureCollection", features });
}

export function showMapNote() {
  const note = mapNote();
  $("map-note").textContent = note;
  $("map-note").hidden = !note;
}
