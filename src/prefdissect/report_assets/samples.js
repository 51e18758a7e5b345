/* prefdissect report, part 4 of 6: the sample browser.
   A filterable list of pairs (rows are focusable; Enter or Space opens one) beside, or on
   narrow screens above, the open pair: its query and both responses (Markdown rendered
   inert, or plain text), every judge's choice, the annotations with how each property is
   compared, and a Shapley waterfall of a judge's predicted choice. */
var TEXTS = null, LOWER = null;
var P = DATA.pairs;
var CHOICE_JUDGES = Object.keys(DATA.choices);
var samples = {group: "all", disagree: false, search: "", page: 0, size: 25, selected: null,
               judge: STUDY_JUDGES.filter(function (j) { return PROFILE[j]; })[0],
               listJudges: CHOICE_JUDGES.slice(0, 4), plain: false, matches: []};
var MEMBERS = {};

function loadTexts() {
  if (TEXTS) { return Promise.resolve(TEXTS); }
  var b64 = document.getElementById("report-texts").textContent.trim();
  var binary = atob(b64), bytes = new Uint8Array(binary.length);
  for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
  var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Response(stream).text().then(function (text) { TEXTS = JSON.parse(text); return TEXTS; });
}
function inGroup(name, i) {
  if (name === "all" || !P.members[name]) { return true; }
  if (!MEMBERS[name]) { MEMBERS[name] = {}; P.members[name].forEach(function (k) { MEMBERS[name][k] = true; }); }
  return !!MEMBERS[name][i];
}
function modelName(index) { return index === null || index === undefined ? "" : P.models[index]; }
function filterPairs() {
  var needle = samples.search.toLowerCase(), out = [];
  if (needle && !LOWER) { LOWER = TEXTS.map(function (t) { return t.toLowerCase(); }); }
  for (var i = 0; i < P.id.length; i++) {
    if (!inGroup(samples.group, i)) { continue; }
    if (samples.disagree) {
      var seen = {};
      CHOICE_JUDGES.forEach(function (j) { var c = DATA.choices[j][i]; if (c === "A" || c === "B") { seen[c] = true; } });
      if (!(seen.A && seen.B)) { continue; }
    }
    if (needle && P.id[i].toLowerCase().indexOf(needle) < 0 && LOWER[P.query[i]].indexOf(needle) < 0 &&
        LOWER[P.a[i]].indexOf(needle) < 0 && LOWER[P.b[i]].indexOf(needle) < 0 &&
        modelName(P.model_a[i]).toLowerCase().indexOf(needle) < 0 && modelName(P.model_b[i]).toLowerCase().indexOf(needle) < 0) { continue; }
    out.push(i);
  }
  return out;
}
function pill(choice) {
  var kind = choice === "A" || choice === "B" || choice === "T" ? choice : "n";
  return el("span", {class: "pill pill-" + kind, text: choice === "T" ? "tie" : (kind === "n" ? "\u2013" : choice),
                     title: kind === "n" ? "no label" : (choice === "T" ? "tie" : "chose " + choice)});
}
function snippet(text, needle) {
  var at = needle ? text.toLowerCase().indexOf(needle.toLowerCase()) : -1, start = 0;
  if (at > 60) { start = at - 40; }
  var cut = text.slice(start, start + 120);
  return (start ? "\u2026" : "") + cut + (start + 120 < text.length ? "\u2026" : "");
}

function samplesView(panel) {
  var controls = el("div", {class: "controls", id: "samples-controls"});
  var count = el("p", {id: "sample-count", class: "count", role: "status", "aria-live": "polite", text: "unpacking texts\u2026"});
  var list = el("div", {id: "samples-list", class: "card"});
  var detail = el("div", {id: "samples-detail", class: "card", tabindex: "-1"},
    el("p", {class: "muted", text: "Open a pair (click it, or focus it and press Enter) to read the query and both responses, " +
      "every judge's choice, the annotations and why a judge's profile predicts what it does."}));
  append(panel, [controls, count, el("div", {class: "samples-layout"}, list, detail)]);

  function renderControls() {
    var groups = DATA.groups.filter(function (g) { return g.source === "study"; });
    append(controls, field("Group", select(groups.map(function (g) { return {value: g.name, text: g.name + " (" + g.pairs + ")"}; }),
      samples.group, function (v) { samples.group = v; samples.page = 0; renderList(); }, "sample-group")));
    var search = el("input", {type: "search", id: "sample-search", placeholder: "query, responses, models, id", autocomplete: "off"});
    search.addEventListener("input", debounce(function () { samples.search = search.value; samples.page = 0; renderList(); if (samples.selected !== null) { renderDetail(samples.selected, false); } }, 200));
    append(controls, field("Search", search));
    if (STUDY_JUDGES.some(function (j) { return PROFILE[j]; })) {
      append(controls, field("Explain with", select(STUDY_JUDGES.filter(function (j) { return PROFILE[j]; }).map(function (j) { return {value: j, text: j}; }),
        samples.judge, function (v) { samples.judge = v; if (samples.selected !== null) { renderDetail(samples.selected, false); } }, "explain-judge")));
    }
    append(controls, el("div", {class: "field"}, el("span", {class: "field-caption", text: "Show"}),
      checkbox(" only pairs where judges disagree (A vs B)", samples.disagree, function (on) { samples.disagree = on; samples.page = 0; renderList(); }, {id: "sample-disagree"}),
      checkbox(" texts as plain text (no Markdown)", samples.plain, function (on) { samples.plain = on; if (samples.selected !== null) { renderDetail(samples.selected, false); } }, {id: "sample-plain"})));
    if (CHOICE_JUDGES.length) {
      var box = el("div", {class: "checks"});
      var summary = el("summary", {text: ""});
      var note = function () { summary.textContent = "Judges in the list: " + samples.listJudges.length + " of " + CHOICE_JUDGES.length; };
      CHOICE_JUDGES.forEach(function (judge) {
        append(box, checkbox(" " + judge, samples.listJudges.indexOf(judge) >= 0, function (on) {
          samples.listJudges = CHOICE_JUDGES.filter(function (j) { return j === judge ? on : samples.listJudges.indexOf(j) >= 0; });
          note(); renderList();
        }, {"data-judge": judge}));
      });
      note();
      append(controls, el("details", {class: "disclosure", id: "list-judges"}, summary, box));
    }
  }

  function open(i) {
    samples.selected = i;
    Array.prototype.forEach.call(list.querySelectorAll("tbody tr"), function (tr) {
      var on = Number(tr.getAttribute("data-pair")) === i;
      tr.classList.toggle("active", on);
      tr.setAttribute("aria-current", on ? "true" : "false");
    });
    renderDetail(i, true);
  }

  function renderList() {
    clear(list);
    var matches = filterPairs();
    samples.matches = matches;
    count.textContent = plural(matches.length, "pair") + " match" + (matches.length === 1 ? "es" : "");
    var pages = Math.max(1, Math.ceil(matches.length / samples.size));
    samples.page = Math.min(samples.page, pages - 1);
    var shown = matches.slice(samples.page * samples.size, (samples.page + 1) * samples.size);
    var columns = [
      {title: "pair", value: function (i) {
        var models = modelName(P.model_a[i]) || modelName(P.model_b[i]) ?
          el("span", {class: "models", text: (modelName(P.model_a[i]) || "?") + " vs " + (modelName(P.model_b[i]) || "?")}) : null;
        return el("span", {class: "pair-cell"}, el("span", {class: "pair-id", text: P.id[i]}), models);
      }},
      {title: "query", value: function (i) {
        var node = el("span", {class: "query-snippet", text: snippet(TEXTS[P.query[i]], samples.search)});
        highlight(node, samples.search);
        return node;
      }}
    ];
    samples.listJudges.forEach(function (j) { columns.push({title: j, value: function (i) { return pill(DATA.choices[j][i]); }}); });
    var wrap = table(columns, shown, "Pairs, page " + (samples.page + 1) + " of " + pages + "; focus a row and press Enter to open it");
    var rows = wrap.querySelectorAll("tbody tr");
    Array.prototype.forEach.call(rows, function (tr, k) {
      var i = shown[k];
      tr.className = "pair-row" + (i === samples.selected ? " active" : "");
      tr.setAttribute("tabindex", "0");
      tr.setAttribute("data-pair", String(i));
      tr.setAttribute("aria-label", "Pair " + P.id[i] + ": open");
      Array.prototype.forEach.call(tr.children, function (td, c) { td.setAttribute("data-label", columns[c].title); });
      tr.addEventListener("click", function () { open(i); });
      tr.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); open(i); }
        else if (event.key === "ArrowDown" && tr.nextElementSibling) { event.preventDefault(); tr.nextElementSibling.focus(); }
        else if (event.key === "ArrowUp" && tr.previousElementSibling) { event.preventDefault(); tr.previousElementSibling.focus(); }
      });
    });
    append(list, shown.length ? wrap : emptyNote("No pair matches."));
    append(list, el("div", {class: "pager"},
      el("button", {type: "button", text: "\u2190 previous", disabled: samples.page > 0 ? null : "disabled",
                    onclick: function () { samples.page--; renderList(); }}),
      el("span", {text: "page " + (samples.page + 1) + " of " + pages}),
      el("button", {type: "button", text: "next \u2192", disabled: samples.page < pages - 1 ? null : "disabled",
                    onclick: function () { samples.page++; renderList(); }})));
  }

  function textBlock(text, className) {
    var box = el("div", {class: "text " + className});
    if (samples.plain) { box.appendChild(el("pre", {class: "plain", text: text})); }
    else { box.appendChild(renderMarkdown(text)); }
    highlight(box, samples.search);
    return box;
  }

  function renderDetail(i, moved) {
    clear(detail);
    var title = el("h2", {id: "pair-title", tabindex: "-1", class: "pair-title"}, "Pair ", el("span", {class: "pair-id", text: P.id[i]}));
    var facts = [];
    if (P.scenario[i]) { facts.push("scenario: " + P.scenario[i]); }
    if (modelName(P.model_a[i])) { facts.push("A: " + modelName(P.model_a[i])); }
    if (modelName(P.model_b[i])) { facts.push("B: " + modelName(P.model_b[i])); }
    append(detail, [title, facts.length ? el("p", {class: "muted small", text: facts.join(" \u00b7 ")}) : null,
      el("h3", {text: "Query"}), textBlock(TEXTS[P.query[i]], "query"),
      el("div", {class: "responses"},
        el("section", {}, el("h3", {}, el("span", {class: "side side-A", text: "A"}), " Response A",
                                    modelName(P.model_a[i]) ? el("span", {class: "model", text: " \u2014 " + modelName(P.model_a[i])}) : null),
           textBlock(TEXTS[P.a[i]], "response-a")),
        el("section", {}, el("h3", {}, el("span", {class: "side side-B", text: "B"}), " Response B",
                                    modelName(P.model_b[i]) ? el("span", {class: "model", text: " \u2014 " + modelName(P.model_b[i])}) : null),
           textBlock(TEXTS[P.b[i]], "response-b")))]);
    append(detail, el("h3", {text: "Every judge's choice"}));
    var columns = [{title: "judge", value: function (j) { return j; }},
                   {title: "choice", value: function (j) { return pill(DATA.choices[j][i]); }}];
    if (Object.keys(DATA.p_a).length) {
      columns.push({title: "P(A)", num: true, value: function (j) { var p = DATA.p_a[j]; return p && p[i] !== null ? pct(p[i]) : ""; }});
    }
    append(detail, table(columns, CHOICE_JUDGES)).lastChild.id = "pair-judges";
    renderAnnotations(i);
    renderExplanation(i);
    if (moved) {
      detail.scrollIntoView({block: "start"});
      title.focus({preventScroll: true});
    }
  }

  function renderAnnotations(i) {
    var props = DATA.comparison_properties;
    if (!props.length) { return; }
    append(detail, el("h3", {text: "Annotations"}));
    append(detail, el("p", {class: "muted small", text: "\u201cbetter\u201d is the comparison the model is fitted on; \u201chow compared\u201d says how the two values become it. Open \u201cWhat the properties mean\u201d in the Dissection view for each property's description."}));
    append(detail, table([
      {title: "property", value: function (p) { return el("span", {title: (PROP_BY_NAME[p] || {}).description || "", text: label(p)}); }},
      {title: "A", num: true, value: function (p) { var v = DATA.annotations[p] && DATA.annotations[p][i]; return v ? value(v[0]) : ""; }},
      {title: "B", num: true, value: function (p) { var v = DATA.annotations[p] && DATA.annotations[p][i]; return v ? value(v[1]) : ""; }},
      {title: "better", value: function (p) { var c = DATA.comparisons[i][props.indexOf(p)]; return c === null ? "missing" : (c > 0 ? "A" : (c < 0 ? "B" : "equal")); }},
      {title: "how compared", value: function (p) { var v = DATA.annotations[p] && DATA.annotations[p][i]; return compareText(p, v); }}
    ], props)).lastChild.id = "pair-annotations";
  }

  function renderExplanation(i) {
    var judge = samples.judge, profile = PROFILE[judge];
    if (!profile) { return; }
    var candidates = [samples.group, P.scenario[i], "all"];
    var group = candidates.filter(function (g) { return g && profile[g]; })[0];
    if (!group) { return; }
    var props = DATA.comparison_properties, items = [];
    props.forEach(function (p, k) {
      var c = DATA.comparisons[i][k], r = profile[group][p];
      if (c && r && !missing(r.mean)) { items.push({label: label(p) + " (" + (c > 0 ? "A" : "B") + " better)", contribution: c * r.mean, kind: "property"}); }
    });
    explanationTerms(judge, group, i).forEach(function (t) { items.push(t); });
    var result = shapley(items.map(function (it) { return it.contribution; }));
    items.forEach(function (it, k) { it.value = result.values[k]; });
    items.sort(function (a, b) { return Math.abs(b.value) - Math.abs(a.value); });
    var predicted = sigmoid(items.reduce(function (s, it) { return s + it.contribution; }, 0));
    var actual = DATA.choices[judge] ? DATA.choices[judge][i] : "-";
    append(detail, el("h3", {text: "Why " + judge + "'s profile (" + group + ") predicts " + pct(predicted) + " for A"}));
    append(detail, el("p", {class: "muted small", text: "Shapley values on the probability scale, from 50% (the two responses equal on everything)" +
      (result.exact ? ", exact" : ", estimated from 4,000 permutations") + ". " + judge + " chose: " +
      (actual === "T" ? "tie" : (actual === "-" ? "no label" : actual)) + "."}));
    if (!items.length) { append(detail, emptyNote("The two responses are equal on every fitted property.")); return; }
    var host = el("div", {class: "chart-host"});
    append(detail, host);
    host.appendChild(waterfall(items, predicted, chartWidth(host)));
    append(detail, disclosure("Values (table)", table([
      {title: "term", value: function (it) { return it.label; }},
      {title: "weight \u00d7 comparison", num: true, value: function (it) { return signed(it.contribution, 3); }},
      {title: "Shapley (percentage points)", num: true, value: function (it) { return signed(100 * it.value, 2); }}
    ], items)));
  }

  return {
    ready: loadTexts().then(function () { renderControls(); renderList(); }),
    resize: function () { if (samples.selected !== null && TEXTS) { renderDetail(samples.selected, false); } }
  };
}

// The model terms of a judge's prediction for pair i (a fixed baseline's edge, the two
// models' strengths): each {label, contribution (logit), kind}, one bar per term.
function explanationTerms(judge, group, i) {
  var out = [];
  termRows(judge, group).forEach(function (t) {
    var x = t.kind === "baseline" ? (t.anchor && modelName(P.model_b[i]) === t.anchor ? -1 : 1) :
      (modelName(P.model_a[i]) === t.term ? 1 : 0) - (modelName(P.model_b[i]) === t.term ? 1 : 0);
    if (x && !missing(t.mean)) { out.push({label: "model term: " + t.term, contribution: x * t.mean, kind: "model term"}); }
  });
  return out;
}

function value(x) { return missing(x) ? "" : (Number.isInteger(x) ? String(x) : num(x, 2)); }
function compareText(name, values) {
  var prop = PROP_BY_NAME[name] || {}, scale = prop.scale || "";
  var of = /\(of ([^)]+)\)/.exec(scale);
  if (prop.rule === "higher_better") { return "higher wins" + (scale ? " (" + scale + ")" : ""); }
  if (prop.rule === "lower_better") {
    return of ? "rated as " + of[1] + " (" + scale.replace(of[0], "").trim() + "); lower wins" : "lower wins" + (scale ? " (" + scale + ")" : "");
  }
  if (prop.rule === "nonzero_better") { return "wins when only this side is non-zero" + (scale ? " (" + scale + ")" : ""); }
  if (prop.rule === "length_thresholds") { return lengthRule(values); }
  return "";
}
function lengthRule(values) {
  var rules = DATA.rules && DATA.rules.length_thresholds;
  if (!rules) { return "word counts with thresholds"; }
  if (!values || missing(values[0]) || missing(values[1])) { return "word counts with thresholds: the shorter loses only when clearly shorter"; }
  var s = Math.min(values[0], values[1]), l = Math.max(values[0], values[1]);
  var need = rules.short_table[String(s)];
  if (need !== undefined) {
    return "word counts: the shorter (" + s + ") loses only when the longer has at least " + need + " words";
  }
  return "word counts: the shorter loses only at " + rules.ratio_steps.map(function (r) {
    return "\u2264" + Math.round(100 * r[0]) + "% of the longer and \u2265" + r[1] + " words fewer";
  }).join(", or ") + " (here " + s + " vs " + l + ")";
}

function shapley(contributions) {
  var m = contributions.length, phi = new Array(m).fill(0), i, j, k;
  if (!m) { return {values: phi, exact: true}; }
  if (m <= 18) {
    var size = 1 << m, sums = new Float64Array(size), count = new Uint8Array(size);
    for (i = 1; i < size; i++) {
      var low = i & -i, bit = 31 - Math.clz32(low);
      sums[i] = sums[i ^ low] + contributions[bit]; count[i] = count[i ^ low] + 1;
    }
    var fact = [1]; for (i = 1; i <= m; i++) { fact.push(fact[i - 1] * i); }
    for (j = 0; j < m; j++) {
      var mask = 1 << j, total = 0;
      for (i = 0; i < size; i++) {
        if (i & mask) { continue; }
        var s = count[i];
        total += fact[s] * fact[m - s - 1] / fact[m] * (sigmoid(sums[i] + contributions[j]) - sigmoid(sums[i]));
      }
      phi[j] = total;
    }
    return {values: phi, exact: true};
  }
  var draws = 4000, order = [];  // permutation estimate for very many terms
  for (k = 0; k < m; k++) { order.push(k); }
  for (var t = 0; t < draws; t++) {
    for (k = m - 1; k > 0; k--) { var r = Math.floor(Math.random() * (k + 1)); var tmp = order[k]; order[k] = order[r]; order[r] = tmp; }
    var acc = 0;
    for (k = 0; k < m; k++) { var before = sigmoid(acc); acc += contributions[order[k]]; phi[order[k]] += (sigmoid(acc) - before) / draws; }
  }
  return {values: phi, exact: false};
}
