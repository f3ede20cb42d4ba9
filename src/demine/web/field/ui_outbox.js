// demine field app: the outbox — every item recorded on the device with its state, "Sync now"
// (F2's sync(): photos in chunks, the outbox, then the pull of what reviewers decided) and the
// count in the header.
import { listItems } from "./db.js";
import { sync } from "./sync.js";
import { $, BASE, announce, el, fmtNumber, fmtTime, formTitle, state, syncSummary, t } from "./ui_common.js";

const UNSENT = ["draft", "pending", "invalid"];
const ORDER = ["invalid", "returned", "conflict", "pending", "draft", "sent", "approved", "rejected"];
let onEdit = () => {};
let onSynced = () => {};

export function initOutbox({ edit, synced }) {
  onEdit = edit;
  onSynced = synced;
  $("sync-now").addEventListener("click", () => runSync(true));
}

export const unsent = () => state.items.filter((i) => UNSENT.includes(i.state));

export async function refreshOutbox() {
  state.items = await listItems(state.db);
  state.items.sort((a, b) => ORDER.indexOf(a.state) - ORDER.indexOf(b.state)
    || String(b.created_at).localeCompare(String(a.created_at)));
  renderOutbox();
}

export function renderOutbox() {
  const waiting = unsent().length;
  const attention = state.items.filter((i) => i.state === "invalid" || i.state === "returned").length;
  $("outbox-count").textContent = fmtNumber(waiting);
  $("outbox-badge").dataset.count = String(waiting);
  $("outbox-badge").setAttribute("aria-label", t("outbox_badge_label", { n: waiting, m: attention }));
  $("outbox-badge").classList.toggle("fd-attention", attention > 0);
  const list = $("outbox-list");
  if (!state.items.length) {
    list.replaceChildren(el("li", { class: "help" }, t("outbox_empty")));
  } else {
    list.replaceChildren(...state.items.map(itemRow));
  }
  $("outbox-info").textContent = t("outbox_info", { n: state.items.length, waiting });
  $("sync-now").disabled = state.syncing;
}

function itemRow(item) {
  const photos = (item.photos || []).length;
  const row = el("li", { class: `fd-item fd-state-${item.state}`, "data-cid": item.client_id, "data-state": item.state },
    el("div", { class: "fd-item-head" },
      el("span", { class: "fd-chip" }, t(`state_${item.state}`)),
      el("strong", {}, formTitle(item.kind)),
      item.action !== "create" ? el("span", {}, t(`action_${item.action}`)) : null,
      nameOf(item) ? el("span", { class: "fd-item-name" }, nameOf(item)) : null),
    el("p", { class: "help" }, [
      fmtTime(item.captured_at || item.created_at),
      t("outbox_photos", { n: photos }),
      item.accuracy_m && item.accuracy_m.some((a) => typeof a === "number")
        ? t("geom_worst", { m: fmtNumber(Math.max(...item.accuracy_m.filter((a) => typeof a === "number")), 1) }) : null,
    ].filter(Boolean).join(" · ")));
  if (item.state === "conflict") row.append(el("p", { class: "fd-note" }, t("outbox_conflict")));
  if (item.state === "returned" || item.state === "rejected") {
    row.append(el("p", { class: "fd-note" }, t(`outbox_${item.state}_reason`, { reason: item.reason || "—" })));
  }
  if (item.state === "invalid") {
    row.append(el("p", { class: "fd-note" }, t("outbox_invalid")));
    const faults = (item.faults || []).map((f) => [shortField(f.field), f.reason || f.message].filter(Boolean).join(": "));
    if (faults.length) row.append(el("ul", { class: "fd-faults" }, faults.map((f) => el("li", {}, f))));
  }
  if (["pending", "draft", "invalid", "returned"].includes(item.state)) {
    const label = item.state === "returned" ? t("outbox_edit_again") : t("outbox_edit");
    row.append(el("div", { class: "buttons" },
      el("button", { type: "button", class: "fd-edit", onclick: () => onEdit(item) }, label)));
  }
  return row;
}

// what tells the team which record it is: its name or reference, if the item gives one
const nameOf = (item) => {
  const p = item.properties || {};
  return ["name", "reference", "local_id", "device_type"].map((k) => p[k]).find((v) => v) || "";
};

const shortField = (f) => String(f || "").replace(/^items\[\d+\]\./, "").replace(/^properties\./, "");

function progress(p) {
  const bar = $("sync-progress");
  bar.hidden = false;
  bar.max = Math.max(1, p.total || 1);
  bar.value = Math.min(p.done || 0, bar.max);
  $("sync-phase").textContent = t(`sync_phase_${p.phase}`, { done: p.done || 0, total: p.total || 0 });
}

// one sync; `manual`: asked for by the team (an offline device says so)
export async function runSync(manual) {
  if (state.syncing || !state.token) return null;
  if (!navigator.onLine) {
    state.syncFailed = true;
    document.dispatchEvent(new Event("field-net"));
    if (manual) announce(t("sync_offline"));
    return null;
  }
  state.syncing = true;
  document.body.dataset.syncing = "true";
  renderOutbox();
  let summary;
  try {
    summary = await sync({ db: state.db, base: BASE, token: state.token, onProgress: progress });
  } catch (err) {
    summary = { error: err.message || String(err) };
  }
  state.syncing = false;
  state.syncFailed = Boolean(summary.offline);
  document.body.dataset.syncing = "false";
  $("sync-progress").hidden = true;
  $("sync-phase").textContent = "";
  await refreshOutbox();
  const text = syncSummary(summary);
  $("sync-result").textContent = text;
  // an automatic sync that found nothing to do is not announced
  const news = (summary.sent || 0) + (summary.already || 0) + (summary.conflicts || 0) + (summary.invalid || 0)
    + (summary.pulled || 0);
  if (manual || news || summary.offline || summary.auth_failed || summary.error) announce(text);
  document.dispatchEvent(new Event("field-net"));
  document.body.dataset.syncs = String(Number(document.body.dataset.syncs || 0) + 1);
  await onSynced(summary);
  return summary;
}
