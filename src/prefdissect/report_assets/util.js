/* prefdissect report, part 1 of 6: data and DOM helpers.
   The six script files are concatenated, in the order report.SCRIPTS gives, into one
   strict-mode closure. Untrusted text (queries, responses, names, notes) only ever
   enters the page through textContent, createTextNode and attribute setters: no HTML
   parser is ever handed data, and no element is ever given an event-handler attribute. */
var DATA = JSON.parse(document.getElementById("report-data").textContent);
var SVG_NS = "http://www.w3.org/2000/svg";
// Okabe-Ito (colour-blind safe) for the study's judges; Paul Tol's muted hues for the
// paper's judges, so that a paper judge never borrows a study judge's colour.
var STUDY_COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"];
var REFERENCE_COLORS = ["#332288", "#882255", "#999933", "#44AA99", "#AA4499", "#DDCC77",
                        "#88CCEE", "#CC6677"];
var TOWARD_A = "#3a6ea5", TOWARD_B = "#c0722b";
var nextId = 0;

function el(tag, attrs) {
  var node = document.createElement(tag);
  var key;
  for (key in attrs || {}) {
    if (!Object.prototype.hasOwnProperty.call(attrs, key) || attrs[key] === undefined || attrs[key] === null) { continue; }
    if (key === "text") { node.textContent = attrs[key]; }
    else if (key === "class") { node.className = attrs[key]; }
    else if (key.slice(0, 2) === "on") { node.addEventListener(key.slice(2), attrs[key]); }
    else { node.setAttribute(key, attrs[key]); }
  }
  for (var i = 2; i < arguments.length; i++) { append(node, arguments[i]); }
  return node;
}
function append(node, child) {
  if (child === null || child === undefined || child === false) { return node; }
  if (Array.isArray(child)) { child.forEach(function (c) { append(node, c); }); return node; }
  node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  return node;
}
function svg(tag, attrs, text) {
  var node = document.createElementNS(SVG_NS, tag);
  for (var key in attrs || {}) {
    if (Object.prototype.hasOwnProperty.call(attrs, key) && attrs[key] !== undefined) { node.setAttribute(key, attrs[key]); }
  }
  if (text !== undefined) { node.textContent = text; }
  return node;
}
function tip(node, text) { node.appendChild(svg("title", {}, text)); return node; }
function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } return node; }
function uid(prefix) { nextId += 1; return prefix + "-" + nextId; }
function sigmoid(x) { return 1 / (1 + Math.exp(-x)); }
function missing(x) { return x === null || x === undefined || (typeof x === "number" && isNaN(x)); }
function pct(p, digits) { return missing(p) ? "" : (100 * p).toFixed(digits === undefined ? 1 : digits) + "%"; }
function num(x, digits) { return missing(x) ? "" : Number(x).toFixed(digits); }
function signed(x, digits) { return missing(x) ? "" : (x >= 0 ? "+" : "\u2212") + Math.abs(x).toFixed(digits); }
function plural(n, word, many) { return n + " " + (n === 1 ? word : (many || word + "s")); }
function debounce(fn, ms) {
  var timer = null;
  return function () { clearTimeout(timer); timer = setTimeout(fn, ms); };
}

// ---- data indices ------------------------------------------------------------------------
var PROPS = DATA.properties;
var PROP_BY_NAME = {};
PROPS.forEach(function (p) { PROP_BY_NAME[p.name] = p; });
function label(name) { return PROP_BY_NAME[name] ? PROP_BY_NAME[name].label : name; }
var JUDGES = DATA.judges;  // {key, name, source, origin}
var STUDY_JUDGES = JUDGES.filter(function (j) { return j.source === "study"; }).map(function (j) { return j.key; });
var REFERENCE_JUDGES = JUDGES.filter(function (j) { return j.source === "reference"; }).map(function (j) { return j.key; });
function isReference(key) { return REFERENCE_JUDGES.indexOf(key) >= 0; }
// A study judge's colour is fixed by its place among the study's judges; the paper's 33
// share 8 hues, so they take them in the order they were chosen (`chosen`).
function judgeColor(key, chosen) {
  var i = STUDY_JUDGES.indexOf(key);
  if (i >= 0) { return STUDY_COLORS[i % STUDY_COLORS.length]; }
  i = (chosen || []).indexOf(key);
  return i < 0 ? "#9aa3b0" : REFERENCE_COLORS[i % REFERENCE_COLORS.length];
}
// PROFILE[judge key][group][property] = {mean, sd, lower, upper, n}
var PROFILE = (function () {
  var out = {}, P = DATA.profiles;
  for (var i = 0; i < P.judge.length; i++) {
    var judge = JUDGES[P.judge[i]].key, group = DATA.group_names[P.group[i]], prop = PROPS[P.property[i]].name;
    out[judge] = out[judge] || {};
    out[judge][group] = out[judge][group] || {};
    out[judge][group][prop] = {mean: P.mean[i], sd: P.sd[i], lower: P.lower[i], upper: P.upper[i], n: P.n_pairs[i]};
  }
  return out;
}());
function profileRow(judge, group, prop) {
  return PROFILE[judge] && PROFILE[judge][group] ? PROFILE[judge][group][prop] : undefined;
}

// ---- controls ------------------------------------------------------------------------------
function field(caption, control, hint) {
  var id = control.id || uid("control");
  control.id = id;
  return el("div", {class: "field"}, el("label", {for: id, text: caption}), control,
            hint ? el("span", {class: "hint", text: hint}) : null);
}
// options: [{value, text}] or [{group: "caption", options: [...]}]
function select(options, value, onchange, id) {
  var node = el("select", {id: id});
  function add(parent, o) {
    var option = el("option", {value: o.value, text: o.text});
    if (o.value === value) { option.selected = true; }
    parent.appendChild(option);
  }
  options.forEach(function (o) {
    if (o.group) {
      var group = el("optgroup", {label: o.group});
      o.options.forEach(function (x) { add(group, x); });
      node.appendChild(group);
    } else { add(node, o); }
  });
  node.addEventListener("change", function () { onchange(node.value); });
  return node;
}
function checkbox(text, checked, onchange, attrs) {
  var input = el("input", Object.assign({type: "checkbox"}, attrs || {}));
  input.checked = !!checked;
  input.addEventListener("change", function () { onchange(input.checked); });
  return el("label", {class: "check"}, input, text);
}
// columns: [{title, value(row) -> string | Node, num}]
function table(columns, rows, caption) {
  var head = el("tr");
  columns.forEach(function (c) { head.appendChild(el("th", {scope: "col", text: c.title, class: c.num ? "num" : null})); });
  var body = el("tbody");
  rows.forEach(function (row) {
    var tr = el("tr");
    columns.forEach(function (c) {
      var value = c.value(row);
      var td = el("td", {class: c.num ? "num" : null, "data-label": c.title});
      if (value instanceof Node) { td.appendChild(value); } else { td.textContent = value === undefined ? "" : value; }
      tr.appendChild(td);
    });
    body.appendChild(tr);
  });
  // Wide tables become one card per row on a phone (each value beside its column's name).
  return el("div", {class: "table-wrap" + (columns.length > 5 ? " stackable" : "")},
            el("table", {}, caption ? el("caption", {text: caption}) : null,
                                              el("thead", {}, head), body));
}
function disclosure(summary, content, open) {
  var node = el("details", {class: "disclosure"}, el("summary", {text: summary}), content);
  node.open = !!open;
  return node;
}
function bulletList(items, className) {
  var list = el("ul", {class: className || "notes"});
  items.forEach(function (item) { list.appendChild(el("li", {}, item)); });
  return list;
}
function emptyNote(text) { return el("p", {class: "empty", text: text}); }

// ---- colour ----------------------------------------------------------------------------------
// The diverging scale of figures.diverging_colors: OKLab lightness falls linearly from 0.97
// (value 0) to 0.42 (|value| 1), chroma rises, blue for negative and orange for positive.
function divergingColor(value) {
  if (missing(value)) { return "#d9dde3"; }
  var v = Math.max(-1, Math.min(1, value)), t = Math.abs(v);
  var L = 0.97 - 0.55 * t, C = 0.105 * (1 - (1 - t) * (1 - t));
  var h = (v < 0 ? 250 : 60) * Math.PI / 180;
  var a = C * Math.cos(h), b = C * Math.sin(h);
  var l_ = Math.pow(L + 0.3963377774 * a + 0.2158037573 * b, 3);
  var m_ = Math.pow(L - 0.1055613458 * a - 0.0638541728 * b, 3);
  var s_ = Math.pow(L - 0.0894841775 * a - 1.2914855480 * b, 3);
  var rgb = [4.0767416621 * l_ - 3.3077115913 * m_ + 0.2309699292 * s_,
             -1.2684380046 * l_ + 2.6097574011 * m_ - 0.3413193965 * s_,
             -0.0041960863 * l_ - 0.7034186147 * m_ + 1.7076147010 * s_];
  return "rgb(" + rgb.map(function (c) {
    c = Math.max(0, Math.min(1, c));
    c = c <= 0.0031308 ? 12.92 * c : 1.055 * Math.pow(c, 1 / 2.4) - 0.055;
    return Math.round(255 * c);
  }).join(",") + ")";
}
function inkOn(value) { return !missing(value) && Math.abs(value) > 0.55 ? "#fff" : "#1d2430"; }
