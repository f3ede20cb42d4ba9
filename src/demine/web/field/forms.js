// demine field app: forms made from the server's form specification (GET /api/v1/forms/{kind},
// services/forms.py), checked in the browser with the same words as the server's write path
// (model/schema.py coerce and validate_properties, services/record_rules.py).
//
// Exports (docs/field.md "Forms on the device"):
//   renderForm(spec, {lang, values, references, idPrefix}) -> HTMLFormElement
//   readForm(form, spec) -> values (typed; empty -> absent)
//   validate(spec, values, lang) -> [{field, message}]
//   showFaults(form, faults) -> the faults no control of the form could show
//   clearFaults(form)
// To change the language of a form being filled: renderForm(spec, {lang, values:
// readForm(form, spec)}) in its place.
// Plain ES module: no dependency, no inline handler, no eval, no inline style.

// the module's own words; the form's labels, hints, choices and messages come from the spec
const WORDS = {
  en: {
    required: "required",
    recommended: "recommended",
    restricted: "not public",
    choose: "— choose —",
    unset: "— not given —",
    yes: "Yes",
    no: "No",
    faults: "Please correct:",
    local: "In this phone's time (UTC{offset}); sent in UTC.",
  },
  uk: {
    required: "обов'язкове",
    recommended: "рекомендоване",
    restricted: "не публічне",
    choose: "— оберіть —",
    unset: "— не вказано —",
    yes: "Так",
    no: "Ні",
    faults: "Виправте, будь ласка:",
    local: "За часом цього телефона (UTC{offset}); надсилається в UTC.",
  },
};

function words(lang) {
  return WORDS[lang] || WORDS.en;
}

function say(text, lang) {
  // a {en, uk} text of the spec in ``lang`` (English when it has none)
  if (text == null) return "";
  if (typeof text === "string") return text;
  return text[lang] || text.en || "";
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "className") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c);
  }
  return node;
}

// --- Python's way of showing a value (the server's messages use repr) -----------------------

const NOT_PRINTABLE = /^[\p{C}\p{Z}]$/u;

function pyString(s) {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (ch === "\\") out += "\\\\";
    else if (ch === quote) out += "\\" + quote;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch !== " " && NOT_PRINTABLE.test(ch)) {
      // as Python's str.isprintable: other (C*) and separator (Z*) characters but the space
      if (c < 0x100) out += "\\x" + c.toString(16).padStart(2, "0");
      else if (c < 0x10000) out += "\\u" + c.toString(16).padStart(4, "0");
      else out += "\\U" + c.toString(16).padStart(8, "0");
    } else out += ch;
  }
  return out + quote;
}

// Python's repr of a float: the shortest digits that read back, fixed between 1e-4 and 1e16
export function pyFloat(x) {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const sign = x < 0 ? "-" : "";
  const [mant, e] = Math.abs(x).toExponential().split("e");
  const exp = Number(e);
  const digits = mant.replace(".", "");
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return sign + "0." + "0".repeat(-exp - 1) + digits;
    const whole = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
    const frac = digits.slice(exp + 1) || "0";
    return sign + whole + "." + frac;
  }
  const m = digits.length > 1 ? digits[0] + "." + digits.slice(1) : digits;
  return sign + m + "e" + (exp < 0 ? "-" : "+") + String(Math.abs(exp)).padStart(2, "0");
}

// Python's format(x, "g"): six significant digits, trailing zeros dropped
export function pyG(x) {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  const [mant, e] = x.toExponential(5).split("e");
  const exp = Number(e);
  const strip = (s) => (s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s);
  if (exp >= -4 && exp < 6) return strip(x.toFixed(Math.max(0, 5 - exp)));
  return strip(mant) + "e" + (exp < 0 ? "-" : "+") + String(Math.abs(exp)).padStart(2, "0");
}

// a JSON number as Python reads it: an int when written without a point or exponent
function isPyInt(v) {
  return typeof v === "number" && Number.isInteger(v) && Math.abs(v) < 1e21;
}

export function pyRepr(v) {
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "number") return isPyInt(v) ? String(v) : pyFloat(v);
  if (typeof v === "string") return pyString(v);
  if (Array.isArray(v)) return "[" + v.map(pyRepr).join(", ") + "]";
  if (typeof v === "object") {
    return "{" + Object.entries(v).map(([k, x]) => pyString(k) + ": " + pyRepr(x)).join(", ") + "}";
  }
  return pyString(String(v));
}

function pyStr(v) {
  // Python's str() of a JSON value
  if (typeof v === "string") return v;
  return pyRepr(v);
}

// Python's float() of a text: None when it is not a number
const FLOAT_RE = /^[+-]?(?:(?:\d(?:_?\d)*)?\.?\d(?:_?\d)*(?:[eE][+-]?\d(?:_?\d)*)?|\d(?:_?\d)*\.|inf|infinity|nan)$/i;

function pyFloatOf(text) {
  const t = text.trim();
  if (!FLOAT_RE.test(t)) return null;
  const low = t.toLowerCase().replace(/^[+-]/, "");
  const neg = t.startsWith("-");
  if (low === "inf" || low === "infinity") return neg ? -Infinity : Infinity;
  if (low === "nan") return NaN;
  return Number(t.replace(/_/g, ""));
}

// --- the server's coercion, field by field ---------------------------------------------------

class Bad {
  constructor(key, params) {
    this.key = key;
    this.params = params;
  }
}

const TRUE = new Set(["true", "yes", "y", "1", "t", "так"]);
const FALSE = new Set(["false", "no", "n", "0", "f", "ні"]);
const UUID_HEX = /^[0-9a-fA-F]{32}$/;
const PARTIAL = /^([0-9]{4})(?:-([0-9]{2}))?$/;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$|^(\d{4})(\d{2})(\d{2})$/;
const TIME_RE = /^(\d{2})(?::?(\d{2})(?::?(\d{2})(?:[.,](\d+))?)?)?$/;
const TZ_RE = /^[+-](\d{2})(?::?(\d{2})(?::?(\d{2})(?:[.,]\d+)?)?)?$/;

function normChoice(value) {
  return value.trim().toLowerCase().replace(/-/g, "_").replace(/ /g, "_");
}

function choiceValues(f) {
  return (f.choices || []).map((c) => c.value);
}

function typeFault(f, value) {
  return new Bad("type", { type: f.expects || null, value: pyRepr(value) });
}

function checkRange(f, v, shown) {
  if (f.min !== null && f.min !== undefined && v < f.min) {
    throw new Bad("range", { value: shown, min: pyG(f.min) });
  }
  if (f.max !== null && f.max !== undefined && v > f.max) {
    throw new Bad("range_max", { value: shown, max: pyG(f.max) });
  }
}

function validDate(y, m, d) {
  const dt = new Date(Date.UTC(y, m - 1, d));
  return y >= 1 && m >= 1 && m <= 12 && dt.getUTCMonth() === m - 1 && dt.getUTCDate() === d;
}

function pyDate(text) {
  // date.fromisoformat (the forms a device sends: YYYY-MM-DD, YYYYMMDD)
  const m = DATE_RE.exec(text);
  if (!m) return null;
  const [y, mo, d] = m[1] ? [m[1], m[2], m[3]] : [m[4], m[5], m[6]];
  if (!validDate(Number(y), Number(mo), Number(d))) return null;
  return `${y}-${mo}-${d}`;
}

function pyDateTime(text) {
  // datetime.fromisoformat of Python 3.11 (the forms a device sends): a date, and a time
  // after any one character, and an offset; true when it reads
  const date = pyDate(text.slice(0, 10)) || pyDate(text.slice(0, 8));
  if (!date) return false;
  const rest = text.slice(pyDate(text.slice(0, 10)) ? 10 : 8);
  if (rest === "") return true;
  const body = rest.slice(1);
  const at = body.search(/[+-]/);
  const time = at < 0 ? body : body.slice(0, at);
  const tz = at < 0 ? "" : body.slice(at);
  const t = TIME_RE.exec(time);
  if (!t || Number(t[1]) > 23 || Number(t[2] || 0) > 59 || Number(t[3] || 0) > 59) return false;
  if (tz === "") return true;
  const z = TZ_RE.exec(tz);
  return Boolean(z) && Number(z[1]) < 24 && Number(z[2] || 0) < 60 && Number(z[3] || 0) < 60;
}

function dateForms(f, time = true) {
  const forms = time ? ["YYYY-MM-DD"] : [];
  if (f.partial) forms.push("YYYY-MM", "YYYY");
  if (f.unknown) forms.push("unknown");
  if (!time) return forms.join(", ");
  return forms.length === 1 ? forms[0] : forms.slice(0, -1).join(", ") + " or " + forms.at(-1);
}

function partialDate(f, value) {
  // a year, a year-month or "unknown" kept as such; null: not one (read as a full date)
  if (!(typeof value === "string" || isPyInt(value))) return null;
  const text = String(value).trim();
  if (text.toLowerCase() === "unknown") {
    if (f.unknown) return "unknown";
    throw new Bad("type", {
      raw: `${f.name} cannot be unknown: expected ${dateForms(f)}, got ${pyRepr(value)}`,
      type: f.expects || null,
      value: pyRepr(value),
    });
  }
  const m = PARTIAL.exec(text);
  if (!m) return null;
  const year = Number(m[1]);
  let why = null;
  if (year < 1) why = `year ${year} is out of range`;
  else if (m[2] !== undefined && !(Number(m[2]) >= 1 && Number(m[2]) <= 12)) {
    why = `month ${m[2]} is not a month (01 to 12)`;
  }
  if (why) {
    throw new Bad("type", {
      raw: `expected ${dateForms(f)}, got ${pyRepr(value)}: ${why}`,
      type: f.expects || null,
      value: pyRepr(value),
    });
  }
  return text;
}

function coerce(f, value) {
  // the value as the server keeps it (null: none), or throws Bad
  const t = f.type;
  if (typeof value === "string" && value && t === "text") return value;
  if (value === null || value === undefined) return null;
  if (typeof value === "string" && value.trim() === "" && t !== "text") return null;
  if (t === "text" || (t === "choice" && f.catalogue)) {
    const text = pyStr(value);
    if (text === "") return null;
    if (t === "choice" && !choiceValues(f).includes(text)) {
      // a catalogue's code (device_type): the store's rule, after the field checks
      throw new Bad("catalogue", { value: pyRepr(text), choices: choiceValues(f).join(", ") });
    }
    return text;
  }
  if (t === "integer") {
    if (typeof value === "boolean") throw new Bad("type", { type: f.expects, value: "a boolean" });
    let n;
    if (typeof value === "number") {
      if (!isPyInt(value)) {
        if (Number.isInteger(value)) n = value;
        else throw typeFault(f, value);
      } else n = value;
    } else if (typeof value === "string") {
      const x = pyFloatOf(value);
      if (x === null || !Number.isInteger(x)) throw typeFault(f, value);
      n = x;
    } else throw typeFault(f, value);
    checkRange(f, n, String(n));
    return n;
  }
  if (t === "number") {
    if (typeof value === "boolean") throw new Bad("type", { type: f.expects, value: "a boolean" });
    let x;
    if (typeof value === "number") x = value;
    else if (typeof value === "string") x = pyFloatOf(value);
    else x = null;
    if (x === null) throw typeFault(f, value);
    if (!Number.isFinite(x)) {
      throw new Bad("type", {
        raw: `expected a finite number, got ${pyRepr(value)}`,
        type: f.expects,
        value: pyRepr(value),
      });
    }
    checkRange(f, x, pyFloat(x));
    return x;
  }
  if (t === "boolean") {
    if (typeof value === "boolean") return value;
    if (isPyInt(value) && (value === 0 || value === 1)) return value === 1;
    if (typeof value === "string") {
      const s = value.trim().toLowerCase();
      if (TRUE.has(s)) return true;
      if (FALSE.has(s)) return false;
    }
    throw typeFault(f, value);
  }
  if (t === "date" || t === "datetime") {
    if (f.partial) {
      const kept = partialDate(f, value);
      if (kept !== null) return kept;
    }
    const text = pyStr(value).trim();
    if (t === "date") {
      const d = pyDate(text.includes("T") ? text.slice(0, 10) : text);
      if (d === null) throw typeFault(f, value);
      return d;
    }
    if (!pyDateTime(text.replace(/[Zz]/g, "+00:00"))) {
      throw typeFault(f, value);
    }
    return text;
  }
  if (t === "choice" && f.multiple) {
    const items = Array.isArray(value) ? value : pyStr(value).split(",");
    const out = [];
    const choices = choiceValues(f);
    for (const item of items) {
      if (typeof item !== "string") {
        throw new Bad("choice", { value: pyRepr(item), choices: choices.join(", ") });
      }
      const n = normChoice(item);
      if (!n) continue;
      const match = choices.find((c) => c.toLowerCase() === n);
      if (match === undefined) {
        throw new Bad("choice", { value: pyRepr(item), choices: choices.join(", ") });
      }
      if (!out.includes(match)) out.push(match);
    }
    return out.length ? out.join(",") : null;
  }
  if (t === "choice") {
    const choices = choiceValues(f);
    if (typeof value === "string") {
      if (choices.includes(value)) return value;
      const n = normChoice(value);
      const match = choices.find((c) => c.toLowerCase() === n);
      if (match !== undefined) return match;
    }
    throw new Bad("choice", { value: pyRepr(value), choices: choices.join(", ") });
  }
  if (t === "reference") {
    const hex = pyStr(value).trim().replace(/urn:/g, "").replace(/uuid:/g, "")
      .replace(/^[{}]+|[{}]+$/g, "").replace(/-/g, "");
    if (!UUID_HEX.test(hex)) throw typeFault(f, value);
    const h = hex.toLowerCase();
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  return value;
}

function fill(template, params) {
  return template.replace(/\{(\w+)\}/g, (m, k) => (params[k] !== undefined ? params[k] : m));
}

function message(spec, f, key, params, lang) {
  const own = (f && f.messages) || {};
  const all = spec.messages || {};
  const m = own[key] || all[key] || all.type || {};
  const expects = params.type && typeof params.type === "object" ? say(params.type, lang) : "";
  // the server's own words for a case the spec has no template for (English)
  if (params.raw && (lang === "en" || !m[lang])) return params.raw;
  return fill(m[lang] || m.en || "", { ...params, type: expects });
}

/** The faults of ``values`` (a field name -> value object, as readForm gives) as the server
 * would find them: [{field, message}] in the form's order, in ``lang`` (en, uk). */
export function validate(spec, values, lang = "en") {
  const out = [];
  const later = []; // the store's rules (a catalogue's code): only when no field fault
  for (const f of spec.fields) {
    const has = Object.prototype.hasOwnProperty.call(values, f.name) && values[f.name] !== undefined;
    if (!has) {
      if (f.required) out.push({ field: f.name, message: message(spec, f, "required", { field: f.name }, lang) });
      continue;
    }
    let v;
    try {
      v = coerce(f, values[f.name]);
    } catch (e) {
      if (!(e instanceof Bad)) throw e;
      const fault = { field: f.name, message: message(spec, f, e.key, e.params, lang) };
      (e.key === "catalogue" ? later : out).push(fault);
      continue;
    }
    if (v === null && f.required) {
      out.push({ field: f.name, message: message(spec, f, "required", { field: f.name }, lang) });
    }
  }
  return out.length ? out : later;
}

// --- the form ----------------------------------------------------------------------------------

const UUID_PATTERN = "[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}";

function pad(n, w = 2) {
  return String(n).padStart(w, "0");
}

function localDateTime(value) {
  // a stored instant as the value of a datetime-local control (the device's time), or null
  if (typeof value !== "string" || !/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(value)) return null;
  const d = new Date(/([Zz]|[+-]\d{2}:?\d{2})$/.test(value) ? value : value + "Z");
  if (Number.isNaN(d.getTime())) return null;
  let out = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (d.getSeconds() || d.getMilliseconds()) out += `:${pad(d.getSeconds())}`;
  if (d.getMilliseconds()) out += `.${pad(d.getMilliseconds(), 3)}`;
  return out;
}

function instant(local) {
  // a datetime-local value (the device's time) as the server keeps it: UTC, Z
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/.exec(local);
  if (!m) return local;
  const d = new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0), +((m[7] || "0").padEnd(3, "0")));
  if (Number.isNaN(d.getTime())) return local;
  return d.toISOString().replace(".000Z", "Z");
}

function utcOffset() {
  const m = -new Date().getTimezoneOffset();
  if (m === 0) return "";
  const a = Math.abs(m);
  return (m < 0 ? "−" : "+") + pad(Math.floor(a / 60)) + ":" + pad(a % 60);
}

function boolOf(value) {
  if (value === true || value === false) return value;
  if (value === 1 || value === 0) return value === 1;
  if (typeof value === "string") {
    const s = value.trim().toLowerCase();
    if (TRUE.has(s)) return true;
    if (FALSE.has(s)) return false;
  }
  return null;
}

function listOf(value) {
  if (value === null || value === undefined || value === "") return [];
  const items = Array.isArray(value) ? value : String(value).split(",");
  return items.map((s) => String(s).trim()).filter(Boolean);
}

function marks(f, w, lang) {
  const out = [];
  if (f.required) out.push(el("span", { className: "df-mark df-required", text: `(${w.required})` }));
  else if (f.minimum_data) out.push(el("span", { className: "df-mark df-recommended", text: `(${w.recommended})` }));
  if (f.restricted) out.push(el("span", { className: "df-mark df-restricted", text: w.restricted }));
  const label = el("span", { className: "df-label-text", text: say(f.label, lang) });
  return [label, ...out.flatMap((m) => [" ", m])];
}

function option(value, label, selected) {
  const o = el("option", { value, text: label });
  if (selected) o.selected = true;
  return o;
}

function controlFor(f, id, describedby, value, references, w, lang) {
  const common = { id, name: f.name, "aria-describedby": describedby, "data-field": f.name };
  if (f.required) common["aria-required"] = "true";
  const given = value !== undefined && value !== null && value !== "";
  const t = f.type;
  if (t === "choice" && !f.multiple) {
    const sel = el("select", { ...common, className: "df-control" });
    sel.append(option("", w.choose, !given));
    const values = choiceValues(f);
    for (const c of f.choices || []) sel.append(option(c.value, say(c.label, lang), given && String(value) === c.value));
    if (given && !values.includes(String(value))) sel.append(option(String(value), String(value), true));
    return sel;
  }
  if (t === "reference" && Array.isArray(references[f.name])) {
    const sel = el("select", { ...common, className: "df-control" });
    sel.append(option("", w.choose, !given));
    const refs = references[f.name];
    for (const r of refs) sel.append(option(r.value, say(r.label, lang) || r.value, given && String(value) === r.value));
    if (given && !refs.some((r) => r.value === String(value))) sel.append(option(String(value), String(value), true));
    return sel;
  }
  if (t === "boolean") {
    const sel = el("select", { ...common, className: "df-control" });
    const b = given ? boolOf(value) : null;
    sel.append(option("", f.required ? w.choose : w.unset, b === null));
    sel.append(option("true", w.yes, b === true));
    sel.append(option("false", w.no, b === false));
    if (given && b === null) sel.append(option(String(value), String(value), true)); // kept: validate says why
    return sel;
  }
  const attrs = { ...common, className: "df-control" };
  let shown = given ? String(value) : "";
  if (t === "integer" || t === "number") {
    // text with a number keypad: the raw text is read (a browser's number control hides what
    // it cannot read), and a decimal comma is taken as a point
    attrs.type = "text";
    attrs.inputmode = t === "integer" && f.min !== null && f.min >= 0 ? "numeric" : "decimal";
    attrs.autocomplete = "off";
    if (f.min !== null && f.min !== undefined) attrs["data-min"] = f.min;
    if (f.max !== null && f.max !== undefined) attrs["data-max"] = f.max;
  } else if (t === "date") {
    const ok = !given || /^\d{4}-\d{2}-\d{2}$/.test(shown);
    attrs.type = ok ? "date" : "text"; // a partial date ("2019-05", "unknown") stays as typed
  } else if (t === "datetime") {
    const local = given ? localDateTime(value) : "";
    if (local === null) attrs.type = "text";
    else {
      attrs.type = "datetime-local";
      shown = local;
      attrs.step = /:\d{2}\.\d/.test(local) ? "0.001" : /T\d{2}:\d{2}:\d{2}/.test(local) ? "1" : null;
    }
  } else if (t === "reference") {
    attrs.type = "text";
    attrs.pattern = UUID_PATTERN;
    attrs.autocomplete = "off";
    attrs.autocapitalize = "off";
    attrs.spellcheck = "false";
    attrs.className = "df-control df-uuid";
  } else {
    attrs.type = "text";
  }
  if (t === "text" && (f.name === "notes" || f.name === "description" || f.name === "evidence")) {
    delete attrs.type;
    const ta = el("textarea", { ...attrs, rows: 3 });
    ta.value = shown;
    return ta;
  }
  const input = el("input", attrs);
  input.value = shown;
  return input;
}

/** The form of ``spec`` (its fields; the geometry is the app's): one labelled control a
 * field, in ``lang``, filled with ``values``; ``references[field]`` = [{value, label}] turns a
 * reference into a choice. */
export function renderForm(spec, { lang = "en", values = {}, references = {}, idPrefix = "f" } = {}) {
  const w = words(lang);
  const form = el("form", {
    className: "df-form",
    novalidate: true,
    lang,
    "data-kind": spec.kind,
    "data-version": spec.version,
  });
  const summary = el("div", { className: "df-summary", id: `${idPrefix}-faults`, role: "alert", hidden: true, tabindex: "-1" });
  form.append(summary);
  for (const f of spec.fields) {
    const id = `${idPrefix}-${f.name}`;
    const hintId = `${id}-hint`;
    const errId = `${id}-error`;
    const hintText = say(f.hint, lang);
    const hint = hintText ? el("p", { className: "df-hint", id: hintId, text: hintText }) : null;
    const error = el("p", { className: "df-error", id: errId, hidden: true });
    const value = values[f.name];
    const cls = ["df-field", `df-type-${f.type}`];
    if (f.required) cls.push("df-is-required");
    else if (f.minimum_data) cls.push("df-is-recommended");
    if (f.restricted) cls.push("df-is-restricted");
    if (f.type === "choice" && f.multiple) {
      const fs = el("fieldset", {
        className: [...cls, "df-multiple"].join(" "),
        id,
        "data-field": f.name,
        "aria-describedby": hint ? hintId : null,
      });
      if (f.required) fs.setAttribute("aria-required", "true");
      fs.append(el("legend", {}, ...marks(f, w, lang)));
      if (hint) fs.append(hint);
      const chosen = listOf(value);
      if (chosen.length) fs.setAttribute("data-given", chosen.join(","));
      const known = choiceValues(f);
      const boxes = [...(f.choices || [])];
      for (const v of chosen) if (!known.includes(v)) boxes.push({ value: v, label: { en: v, uk: v } });
      boxes.forEach((c, i) => {
        const box = el("input", { type: "checkbox", id: `${id}-${i}`, name: f.name, value: c.value, "data-field": f.name });
        box.checked = chosen.includes(c.value);
        fs.append(el("label", { className: "df-check", for: `${id}-${i}` }, box, " ", el("span", { text: say(c.label, lang) })));
      });
      fs.append(error);
      form.append(fs);
      continue;
    }
    const control = controlFor(f, id, hint ? hintId : null, value, references, w, lang);
    let local = null;
    if (control.type === "datetime-local") {
      // the control takes the phone's time; the hint of a stored time may say UTC
      const localId = `${id}-local`;
      local = el("p", { className: "df-hint df-local", id: localId, text: fill(w.local, { offset: utcOffset() }) });
      const ids = [control.getAttribute("aria-describedby"), localId].filter(Boolean);
      control.setAttribute("aria-describedby", ids.join(" "));
    }
    const label = el("label", { for: id, className: "df-label", id: `${id}-label` }, ...marks(f, w, lang));
    form.append(el("div", { className: cls.join(" "), "data-field": f.name }, label, control, hint, local, error));
  }
  form.addEventListener("input", clearOne);
  form.addEventListener("change", clearOne);
  return form;
}

function clearOne(event) {
  // a control the team changes is no longer marked (the message stays until checked again)
  const name = event.target && event.target.getAttribute && event.target.getAttribute("data-field");
  if (!name) return;
  const form = event.currentTarget;
  for (const c of controlsOf(form, name)) c.removeAttribute("aria-invalid");
}

function controlsOf(form, name) {
  return [...form.querySelectorAll("[data-field]")].filter(
    (n) => n.getAttribute("data-field") === name && (n.matches("input, select, textarea") || n.matches("fieldset")),
  );
}

function numberOf(text) {
  // the text of a number control: a number when it reads as one (a decimal comma too), else
  // the text as typed (the server says why it is not a number)
  let t = text.trim();
  if (/^[+-]?\d+,\d+$/.test(t)) t = t.replace(",", ".");
  if (/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(t)) {
    const n = Number(t);
    if (Number.isFinite(n)) return n; // 1.5 in a whole-number field: the server says why
  }
  return text;
}

/** The values of ``form`` as the server takes them: numbers, booleans, a multiple choice
 * comma-joined in the spec's order, a date-time in UTC (Z); an empty control gives nothing. */
export function readForm(form, spec) {
  const out = {};
  for (const f of spec.fields) {
    const controls = controlsOf(form, f.name);
    if (!controls.length) continue;
    if (f.type === "choice" && f.multiple) {
      const boxes = [...form.querySelectorAll("input[type=checkbox]")].filter((b) => b.getAttribute("data-field") === f.name);
      const picked = boxes.filter((b) => b.checked).map((b) => b.value);
      // the spec's order; the given value's own order when the same values are picked (so
      // an untouched field reads as it came)
      const fs = controls.find((n) => n.matches("fieldset"));
      const given = fs ? (fs.getAttribute("data-given") || "").split(",").filter(Boolean) : [];
      const same = given.length === picked.length && given.every((v) => picked.includes(v));
      if (picked.length) out[f.name] = same ? given.join(",") : picked.join(",");
      continue;
    }
    const c = controls.find((n) => !n.matches("fieldset"));
    if (!c) continue;
    const raw = c.value;
    if (raw === "" || raw === undefined) continue;
    if (f.type === "boolean") out[f.name] = raw === "true" ? true : raw === "false" ? false : raw;
    else if (f.type === "integer" || f.type === "number") {
      if (raw.trim() === "") continue;
      out[f.name] = numberOf(raw);
    } else if (f.type === "datetime" && c.type === "datetime-local") out[f.name] = instant(raw);
    else if (f.type === "text") out[f.name] = raw;
    else out[f.name] = raw.trim() === "" ? raw : raw.trim();
  }
  return out;
}

/** Take away every mark of showFaults. */
export function clearFaults(form) {
  for (const n of form.querySelectorAll("[aria-invalid]")) n.removeAttribute("aria-invalid");
  for (const n of form.querySelectorAll(".df-error")) {
    n.textContent = "";
    n.hidden = true;
  }
  for (const n of form.querySelectorAll("[data-error-linked]")) {
    const ids = (n.getAttribute("aria-describedby") || "").split(/\s+/).filter((x) => x && x !== n.getAttribute("data-error-linked"));
    if (ids.length) n.setAttribute("aria-describedby", ids.join(" "));
    else n.removeAttribute("aria-describedby");
    n.removeAttribute("data-error-linked");
  }
  for (const n of form.querySelectorAll(".df-field-faulted")) n.classList.remove("df-field-faulted");
  const summary = form.querySelector(".df-summary");
  if (summary) {
    summary.replaceChildren();
    summary.hidden = true;
  }
}

function fieldOf(name) {
  // "items[3].properties.status" (a sync answer) -> "status"
  const m = /(?:^|\.)properties\.([^.[\]]+)/.exec(name || "");
  return m ? m[1] : name || "";
}

function link(node, errId) {
  const ids = (node.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
  if (!ids.includes(errId)) ids.push(errId);
  node.setAttribute("aria-describedby", ids.join(" "));
  node.setAttribute("data-error-linked", errId);
}

/** Mark each fault's control (aria-invalid, the message next to it, linked by
 * aria-describedby) and focus the first in the form's order. ``faults``: [{field, message}]
 * (validate's) or a sync answer's ({field: "items[i].properties.F", reason}). Faults no
 * control shows (the geometry, a rule across fields) go to the form's summary at its top;
 * they are returned too. */
export function showFaults(form, faults) {
  clearFaults(form);
  const byField = new Map();
  const loose = [];
  for (const fault of faults || []) {
    const name = fieldOf(fault.field);
    const text = fault.message || fault.reason || "";
    const controls = name ? controlsOf(form, name) : [];
    if (!controls.length) {
      loose.push(fault);
      continue;
    }
    if (!byField.has(name)) byField.set(name, []);
    byField.get(name).push(text);
  }
  let first = null;
  for (const box of form.querySelectorAll(".df-field")) {
    const name = box.getAttribute("data-field");
    if (!byField.has(name)) continue;
    const error = box.querySelector(".df-error");
    error.textContent = byField.get(name).join("; ");
    error.hidden = false;
    box.classList.add("df-field-faulted");
    const controls = controlsOf(form, name);
    for (const c of controls) {
      c.setAttribute("aria-invalid", "true");
      if (c.matches("fieldset") || !box.matches("fieldset")) link(c, error.id);
    }
    if (!first) first = controls.find((c) => !c.matches("fieldset")) || controls[0];
  }
  const summary = form.querySelector(".df-summary");
  if (summary && loose.length) {
    const w = words(form.getAttribute("lang") || "en");
    const list = el("ul");
    for (const f of loose) {
      const where = f.field ? `${f.field}: ` : "";
      list.append(el("li", { text: where + (f.message || f.reason || "") }));
    }
    summary.append(el("p", { text: w.faults }), list);
    summary.hidden = false;
    if (!first) first = summary;
  }
  if (first) {
    first.focus();
    if (first.scrollIntoView) first.scrollIntoView({ block: "center" });
  }
  return loose;
}
