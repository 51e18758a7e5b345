/* prefdissect report, part 6 of 6: the views and the tabs.
   Each view is one function that builds everything inside its own panel and may return
   {resize, ready}; VIEWS lists them in tab order, so a new tab is one more entry. */

var GROUPS = DATA.groups;
function studyGroup(name) { return GROUPS.filter(function (g) { return g.source === "study" && g.name === name; })[0]; }
function paperGroup(name) { return GROUPS.filter(function (g) { return g.source === "reference" && g.name === name; })[0]; }
function defaultPaperJudges() {
  var byName = {};
  JUDGES.forEach(function (j) { if (j.source === "reference") { byName[j.name] = j.key; } });
  var chosen = ["human", "gpt-4-1106-preview", "gpt-3.5-turbo-1106"].filter(function (n) { return byName[n]; })
    .map(function (n) { return byName[n]; });
  return chosen.length ? chosen : REFERENCE_JUDGES.slice(0, 3);
}
function judgeName(key) { return JUDGES.filter(function (j) { return j.key === key; })[0] || {key: key, name: key, source: "study"}; }

// ---- left out, per judge ------------------------------------------------------------------
function leftOut(judge) {
  return DATA.exclusions.filter(function (r) { return r.judge === judge; });
}
function leftOutText(rows) {
  return rows.map(function (r) { return r.count + " " + r.reason + (r.stage === "import" ? " (at import)" : ""); }).join(", ");
}

// ---- how much does this explain -------------------------------------------------------------
var QUALITY_COLUMNS = [
  ["model_accuracy", "properties: accuracy", "pct"], ["model_log_loss", "log-loss", "num"],
  ["length_accuracy", "length alone", "pct"], ["length_log_loss", "log-loss", "num"],
  ["terms_accuracy", "model terms alone", "pct"], ["terms_log_loss", "log-loss", "num"],
  ["always_a_accuracy", "always A", "pct"], ["majority_accuracy", "majority label", "pct"],
  ["base_rate_log_loss", "base rate log-loss", "num"]];
function qualityRow(judge, group) {
  return DATA.quality.rows.filter(function (r) { return r.judge === judge && r.group === group; })[0];
}
function explainsText(judge, group) {
  var q = qualityRow(judge, group);
  if (!q || missing(q.model_accuracy)) { return "no held-out folds in this group (fit with --folds 10)"; }
  var parts = [];
  if (!missing(q.length_accuracy)) { parts.push("length alone " + pct(q.length_accuracy)); }
  if (!missing(q.terms_accuracy)) { parts.push("model terms alone " + pct(q.terms_accuracy)); }
  if (!missing(q.majority_accuracy)) { parts.push("base rate " + pct(q.majority_accuracy)); }
  return "held-out accuracy " + pct(q.model_accuracy) + (parts.length ? " vs " + parts.join(", ") : "") +
    (q.n_pairs ? " (" + q.n_pairs + " pairs)" : "");
}

// ---- model terms -----------------------------------------------------------------------------
function termRows(judge, group) {
  return DATA.terms.rows.filter(function (r) { return r.judge === judge && r.group === group; });
}
function termsText(judge, group) {
  var rows = termRows(judge, group);
  if (!rows.length) { return ""; }
  if (rows[0].kind === "baseline") {
    var t = rows[0];
    return "; model term " + t.term + " " + signed(t.mean, 2) + " [" + signed(t.lower, 2) + ", " + signed(t.upper, 2) +
      "] (with the responses equal on every property, " + (t.term === "side A" ? "side A" : "the baseline") +
      " wins " + pct(sigmoid(t.mean)) + ")";
  }
  var sorted = rows.slice().sort(function (a, b) { return b.mean - a.mean; });
  return "; " + rows.length + " model strengths beside the properties (vs " + rows[0].anchor + "; strongest " +
    sorted[0].term + " " + signed(sorted[0].mean, 2) + ", weakest " + sorted[sorted.length - 1].term + " " +
    signed(sorted[sorted.length - 1].mean, 2) + ")";
}

// ---- dissection view --------------------------------------------------------------------------
function dissectionView(panel) {
  var state = {group: (GROUPS.filter(function (g) { return g.source === "study"; })[0] || GROUPS[0] || {name: "all"}).name,
               judges: STUDY_JUDGES.filter(function (j) { return PROFILE[j]; }).slice(0, 6), paper: [],
               sort: "weight", axis: "full", allProperties: false};
  var controls = el("div", {class: "controls", id: "dissection-controls"});
  var explains = el("div", {class: "explains", id: "dissection-explains"});
  var host = el("div", {class: "card chart-host", id: "dissection-plot"});
  var below = el("div", {id: "dissection-below"});
  append(panel, [el("p", {class: "lede", text: "Probability of preferred: the chance a response wins when it is better than the " +
    "other on that property alone (the sigmoid of its weight). 50% (dashed) is no effect."}), controls, explains, host, below]);

  function groupOptions() {
    var study = GROUPS.filter(function (g) { return g.source === "study"; }).map(function (g) {
      var paper = paperGroup(g.name), extra = "";
      if (paper) { extra = g.name === "all" ? "; the paper's all: " + paper.note : "; also in the paper"; }
      return {value: g.name, text: g.name + " (" + (g.pairs === null ? "?" : g.pairs) + " pairs" + extra + ")"};
    });
    var paperOnly = GROUPS.filter(function (g) { return g.source === "reference" && !studyGroup(g.name); }).map(function (g) {
      return {value: g.name, text: g.name + " (the paper's " + g.note + ")"};
    });
    var out = [{group: "This study", options: study}];
    if (paperOnly.length) { out.push({group: "The paper's groups (Chatbot Arena; published means)", options: paperOnly}); }
    return out;
  }

  function renderControls() {
    clear(controls);
    append(controls, field("Group", select(groupOptions(), state.group, function (v) {
      state.group = v;
      // Choosing one of the paper's groups (a scenario or trait) brings its judges in.
      if (v !== "all" && paperGroup(v) && !state.paper.length) { state.paper = defaultPaperJudges(); renderControls(); }
      render();
    }, "group-select")));
    append(controls, field("Sort by", select([
      {value: "weight", text: "weight (first judge)"}, {value: "schema", text: "property order"},
      {value: "spread", text: "disagreement between judges"}], state.sort, function (v) { state.sort = v; render(); }, "sort-select")));
    append(controls, field("Axis", select([{value: "full", text: "0\u2013100%"}, {value: "zoom", text: "zoom to the values"}],
      state.axis, function (v) { state.axis = v; render(); }, "axis-select")));
    var checks = el("div", {class: "checks", id: "judge-checks", role: "group", "aria-label": "This study's judges"});
    STUDY_JUDGES.filter(function (j) { return PROFILE[j]; }).forEach(function (judge) {
      append(checks, el("label", {class: "check"}, (function () {
        var input = el("input", {type: "checkbox", value: judge});
        input.checked = state.judges.indexOf(judge) >= 0;
        input.addEventListener("change", function () {
          state.judges = STUDY_JUDGES.filter(function (j) { return j === judge ? input.checked : state.judges.indexOf(j) >= 0; });
          render();
        });
        return input;
      }()), swatch("dot", judgeColor(judge)), judge));
    });
    append(controls, el("div", {class: "field wide"}, el("span", {class: "field-caption", text: "This study's judges"}), checks));
    if (REFERENCE_JUDGES.length) {
      var paperChecks = el("div", {class: "checks", id: "reference-checks", role: "group", "aria-label": "The paper's judges"});
      var swatches = {};
      var recolour = function () {
        REFERENCE_JUDGES.forEach(function (j) {
          var next = swatch("diamond", judgeColor(j, state.paper));
          swatches[j].parentNode.replaceChild(next, swatches[j]);
          swatches[j] = next;
        });
      };
      REFERENCE_JUDGES.forEach(function (judge) {
        var input = el("input", {type: "checkbox", value: judge});
        input.checked = state.paper.indexOf(judge) >= 0;
        input.addEventListener("change", function () {
          // in the order chosen, so that each newly chosen judge takes the next free hue
          state.paper = input.checked ? state.paper.concat([judge]) : state.paper.filter(function (j) { return j !== judge; });
          summary.textContent = paperSummary();
          recolour();
          render();
        });
        swatches[judge] = swatch("diamond", judgeColor(judge, state.paper));
        append(paperChecks, el("label", {class: "check"}, input, swatches[judge], judge));
      });
      var paperSummary = function () { return "The paper's judges (" + state.paper.length + " of " + REFERENCE_JUDGES.length + " shown; published means)"; };
      var summary = el("summary", {text: paperSummary()});
      var box = el("details", {class: "disclosure wide", id: "reference-judges"}, summary, paperChecks);
      box.open = state.paper.length > 0;
      append(controls, box);
    }
  }

  function shown() { return state.judges.concat(state.paper); }
  function renderExplains() {
    clear(explains);
    var lines = state.judges.filter(function (j) { return PROFILE[j] && PROFILE[j][state.group]; }).map(function (j) {
      var out = leftOut(j);
      return el("span", {}, el("strong", {text: j + ": "}), explainsText(j, state.group),
                termsText(j, state.group), out.length ? "; left out: " + leftOutText(out) : "");
    });
    var every = leftOut(null);
    if (every.length) { lines.push(el("span", {}, "Left out for every judge: " + leftOutText(every) + ".")); }
    if (lines.length) {
      append(explains, [el("h2", {class: "small-heading", text: "How much does this explain?"}), bulletList(lines, "explain-lines"),
        el("p", {class: "muted small", text: "Accuracy on held-out folds of the dissection's predicted choice, beside length alone and the base rate (always the more frequent label); more in Diagnostics."})]);
    }
  }

  function draw() {
    clear(host); clear(below);
    var group = state.group, judges = shown().filter(function (j) { return PROFILE[j] && PROFILE[j][group]; });
    var absent = shown().filter(function (j) { return judges.indexOf(j) < 0 && (studyGroup(group) || isReference(j)); });
    var notes = [];
    if (!studyGroup(group)) { notes.push("This study has no group \u201c" + group + "\u201d; showing the paper's judges."); }
    if (group === "all" && judges.some(isReference) && paperGroup("all")) { notes.push("The paper's \u201call\u201d is the " + paperGroup("all").note + ", not a fit on all its pairs."); }
    if (absent.length) { notes.push("No profile in \u201c" + group + "\u201d for: " + absent.join(", ") + "."); }
    if (!judges.length) {
      host.appendChild(emptyNote("No profile for this selection: choose judges above."));
      if (notes.length) { below.appendChild(bulletList(notes)); }
      return;
    }
    var fitted = judges.filter(function (j) { return !isReference(j); });
    var rows = PROPS.map(function (p) { return p.name; }).filter(function (p) {
      return judges.some(function (j) { return PROFILE[j][group][p]; });
    });
    var hidden = [];
    if (fitted.length && !state.allProperties) {
      hidden = rows.filter(function (p) { return !fitted.some(function (j) { return PROFILE[j][group][p]; }); });
      rows = rows.filter(function (p) { return hidden.indexOf(p) < 0; });
    }
    var value = function (j, p) { var r = PROFILE[j][group][p]; return r && !missing(r.mean) ? r.mean : null; };
    if (state.sort === "weight") {
      rows.sort(function (a, b) { var va = value(judges[0], a), vb = value(judges[0], b); return (vb === null ? -9 : vb) - (va === null ? -9 : va); });
    } else if (state.sort === "spread") {
      var spread = function (p) {
        var m = judges.map(function (j) { return value(j, p); }).filter(function (v) { return v !== null; });
        return m.length ? Math.max.apply(null, m) - Math.min.apply(null, m) : 0;
      };
      rows.sort(function (a, b) { return spread(b) - spread(a); });
    }
    var domain = [0, 1];
    if (state.axis === "zoom") {
      var lo = 0.5, hi = 0.5;
      judges.forEach(function (j) {
        rows.forEach(function (p) {
          var r = PROFILE[j][group][p];
          if (!r || missing(r.mean)) { return; }
          lo = Math.min(lo, sigmoid(missing(r.lower) ? r.mean : r.lower)); hi = Math.max(hi, sigmoid(missing(r.upper) ? r.mean : r.upper));
        });
      });
      domain = [Math.max(0, Math.floor((lo - 0.02) * 20) / 20), Math.min(1, Math.ceil((hi + 0.02) * 20) / 20)];
    }
    var series = judges.map(function (j) {
      var points = {};
      rows.forEach(function (p) { points[p] = PROFILE[j][group][p]; });
      return {key: j, label: j, color: judgeColor(j, state.paper), shape: isReference(j) ? "diamond" : "dot", points: points};
    });
    host.appendChild(forestPlot({
      id: "dissection-svg", width: chartWidth(host) - 2, domain: domain, series: series,
      rows: rows.map(function (p) { return {id: p, label: label(p), title: label(p) + ": " + ((PROP_BY_NAME[p] || {}).description || "")}; }),
      caption: "Forest plot of the probability of preferred in group " + group + " for " + plural(rows.length, "property", "properties") +
        " and " + plural(judges.length, "judge") + " (" + judges.join(", ") + "); the exact values are in the table below the chart."}));
    host.appendChild(forestLegend(series));
    if (hidden.length) {
      notes.push(plural(hidden.length, "property", "properties") + " only the paper's judges have (this study did not measure them) " +
                 (hidden.length === 1 ? "is" : "are") + " hidden.");
    }
    if (notes.length) { below.appendChild(bulletList(notes)); }
    if (hidden.length || state.allProperties) {
      below.appendChild(checkbox(" show properties this study did not measure", state.allProperties,
                                 function (on) { state.allProperties = on; draw(); }, {id: "all-properties"}));
    }
    var values = [];
    rows.forEach(function (p) { judges.forEach(function (j) { if (PROFILE[j][group][p]) { values.push({judge: j, property: p, r: PROFILE[j][group][p]}); } }); });
    below.appendChild(disclosure("Values (table)", table([
      {title: "property", value: function (v) { return label(v.property); }},
      {title: "judge", value: function (v) { return v.judge + (isReference(v.judge) ? " (paper)" : ""); }},
      {title: "P(preferred)", num: true, value: function (v) { return pct(sigmoid(v.r.mean)); }},
      {title: "95% interval", num: true, value: function (v) { return missing(v.r.lower) ? "not published" : pct(sigmoid(v.r.lower)) + " \u2013 " + pct(sigmoid(v.r.upper)); }},
      {title: "weight", num: true, value: function (v) { return signed(v.r.mean, 3); }},
      {title: "pairs", num: true, value: function (v) { return missing(v.r.n) ? "" : String(v.r.n); }}
    ], values, "Probability of preferred in group " + group)));
    below.appendChild(disclosure("What the properties mean and how A and B are compared", propertyTable(rows)));
  }

  function render() { renderExplains(); draw(); }
  renderControls();
  render();
  return {resize: draw};
}

function propertyTable(names) {
  return table([
    {title: "property", value: function (p) { return label(p.name); }},
    {title: "what it means", value: function (p) { return p.description || ""; }},
    {title: "how A and B are compared", value: function (p) { return compareText(p.name, null); }},
    {title: "applies", value: function (p) { return p.applies_when ? "only when the query has: " + p.applies_when.replace(/_/g, " ") : "always"; }}
  ], names.map(function (n) { return PROP_BY_NAME[n] || {name: n}; }));
}

// ---- judges view ------------------------------------------------------------------------------
function judgesView(panel) {
  // with the paper's judges at hand and too few of the study's own to compare (one judge),
  // open on the comparison with the paper's judges rather than on an empty view
  var alone = !DATA.similarity || !!DATA.similarity.error;
  var state = {reference: !!DATA.similarity_reference && !DATA.similarity_reference.error && alone,
               focus: null};
  var controls = el("div", {class: "controls", id: "judges-controls"});
  var note = el("div", {id: "judges-note"});
  var host = el("div", {class: "card chart-host", id: "judges-plot"});
  var below = el("div", {id: "judges-below"});
  append(panel, [controls, note, host, below]);
  if (DATA.similarity_reference) {
    append(controls, checkbox(" show the paper's " + REFERENCE_JUDGES.length + " judges beside these", state.reference,
                              function (on) { state.reference = on; state.focus = null; draw(); }, {id: "with-reference"}));
  }
  function draw() {
    clear(note); clear(host); clear(below);
    var block = state.reference ? DATA.similarity_reference : DATA.similarity;
    if (!block || block.error) {
      host.appendChild(el("p", {class: "empty error-note", id: "similarity-error",
        text: "No similarity to show: " + (block ? block.error : "no judges") + "."}));
      return;
    }
    var fewer = block.properties.length < block.schema_size;
    note.appendChild(bulletList([
      block.method + " correlation of the judges' weights, averaged over " + plural(block.groups.length, "group") + ": " + block.groups.join(", ") + ".",
      el("span", {class: fewer ? "warn" : null, id: "similarity-properties"}, "Computed on " + block.properties.length + " of " + block.schema_size +
         " properties (those every judge has in every group" + (fewer ? "; the others were never measured for some judge" : "") + ")."),
      "Judges in clustering order; this study's in bold. Intervals from " + block.interval + "."
    ]));
    host.appendChild(heatmap(block, chartWidth(host) - 2, STUDY_JUDGES, "similarity-svg"));
    host.appendChild(colorLegend(chartWidth(host) - 2, block.method + " correlation of weights"));
    var names = block.judges;
    state.focus = state.focus && names.indexOf(state.focus) >= 0 ? state.focus : (names.filter(function (n) { return STUDY_JUDGES.indexOf(n) >= 0; })[0] || names[0]);
    var valuesHost = el("div");
    function values() {
      clear(valuesHost);
      var i = names.indexOf(state.focus);
      var rows = names.map(function (other, j) { return {judge: other, v: block.matrix[i][j], lo: block.lower[i][j], hi: block.upper[i][j]}; })
        .filter(function (r) { return r.judge !== state.focus; }).sort(function (a, b) { return b.v - a.v; });
      valuesHost.appendChild(table([
        {title: "judge", value: function (r) { return r.judge + (isReference(r.judge) ? " (paper)" : ""); }},
        {title: "similarity", num: true, value: function (r) { return num(r.v, 3); }},
        {title: "interval", num: true, value: function (r) { return "[" + num(r.lo, 3) + ", " + num(r.hi, 3) + "]"; }}
      ], rows, "Similarity of " + state.focus + " to every other judge"));
    }
    var pick = select(names.map(function (n) { return {value: n, text: n}; }), state.focus, function (v) { state.focus = v; values(); }, "similarity-judge");
    below.appendChild(disclosure("Values (table)", el("div", {}, field("Judge", pick), valuesHost), names.length > 14));
    values();
    if (state.reference) {
      STUDY_JUDGES.forEach(function (judge) {
        var i = names.indexOf(judge);
        if (i < 0) { return; }
        var near = names.map(function (other, j) { return {judge: other, v: block.matrix[i][j], lo: block.lower[i][j], hi: block.upper[i][j]}; })
          .filter(function (r) { return isReference(r.judge); }).sort(function (a, b) { return b.v - a.v; }).slice(0, 5);
        below.appendChild(el("h2", {text: "Nearest of the paper's judges to " + judge}));
        below.appendChild(table([
          {title: "judge", value: function (r) { return r.judge; }},
          {title: "similarity", num: true, value: function (r) { return num(r.v, 3); }},
          {title: "interval", num: true, value: function (r) { return "[" + num(r.lo, 3) + ", " + num(r.hi, 3) + "]"; }}
        ], near));
      });
    }
  }
  draw();
  return {resize: draw};
}

// ---- diagnostics view -------------------------------------------------------------------------
function diagnosticsView(panel) {
  function section(title, note, node, id) {
    append(panel, el("section", {class: "diagnostic", id: id}, el("h2", {text: title}),
                     note ? el("p", {class: "muted small", text: note}) : null, node));
  }
  function rowsOf(block) { return block.error ? emptyNote(block.error) : null; }
  var meta = DATA.meta;
  section("Data", meta.pairs + " pairs from " + meta.source + " (" + meta.format + (meta.rows_read ? ", " + meta.rows_read + " rows read" : "") + ").",
    el("div", {}, (meta.notes || []).length ? bulletList(meta.notes, "notes") : null,
       table([{title: "group", value: function (g) { return g.name; }},
              {title: "pairs", num: true, value: function (g) { return g.pairs === null ? "" : String(g.pairs); }}],
             GROUPS.filter(function (g) { return g.source === "study"; }))), "diagnostics-data");
  var q = DATA.quality.rows, present = QUALITY_COLUMNS.filter(function (c) { return q.some(function (r) { return c[0] in r; }); });
  section("How much the dissection explains", "Held-out accuracy and log-loss over the folds, beside null baselines (a column appears where the fit wrote it).",
    rowsOf(DATA.quality) || (q.length ? table([
      {title: "judge", value: function (r) { return r.judge; }},
      {title: "group", value: function (r) { return r.group; }},
      {title: "pairs", num: true, value: function (r) { return missing(r.n_pairs) ? "" : String(r.n_pairs); }}
    ].concat(present.map(function (c) {
      return {title: c[1], num: true, value: function (r) { return c[2] === "pct" ? pct(r[c[0]]) : num(r[c[0]], 3); }};
    })), q) : emptyNote("No folds were fitted (--folds 0).")), "diagnostics-quality");
  var reasons = [], byKey = {}, judgesWith = [];
  DATA.exclusions.forEach(function (r) {
    var key = r.stage + "\u0000" + r.reason;
    if (!byKey[key]) { byKey[key] = {stage: r.stage, reason: r.reason, counts: {}}; reasons.push(byKey[key]); }
    var who = r.judge === null ? "" : r.judge;
    byKey[key].counts[who] = r.count;
    if (judgesWith.indexOf(who) < 0) { judgesWith.push(who); }
  });
  var rank = function (who) { var k = STUDY_JUDGES.indexOf(who); return who === "" ? -1 : (k < 0 ? 1e6 : k); };
  judgesWith.sort(function (a, b) { return rank(a) - rank(b) || (a < b ? -1 : 1); });
  section("Left out", "Every item kept out of the import, the judging or a fit, by reason; one column per judge (counts are never added across judges).",
    reasons.length ? table([{title: "stage", value: function (r) { return r.stage; }},
                            {title: "reason", value: function (r) { return r.reason; }}].concat(judgesWith.map(function (who) {
      return {title: who === "" ? "every judge (pair-level)" : who, num: true, value: function (r) { return r.counts[who] === undefined ? "" : String(r.counts[who]); }};
    })), reasons) : emptyNote("Nothing was left out."), "diagnostics-left-out");
  if (DATA.agreement.rows.length || DATA.agreement.error) {
    var kinds = {annotators: "Annotators with each other", judges: "Judges with each other", labels: "Annotations against labels"};
    var box = el("div");
    if (DATA.agreement.error) { box.appendChild(emptyNote(DATA.agreement.error)); }
    Object.keys(kinds).concat(DATA.agreement.rows.map(function (r) { return r.kind; })).filter(function (k, i, all) { return all.indexOf(k) === i; }).forEach(function (kind) {
      var rows = DATA.agreement.rows.filter(function (r) { return r.kind === kind; });
      if (!rows.length) { return; }
      box.appendChild(el("h3", {text: kinds[kind] || kind}));
      box.appendChild(table([
        {title: "first", value: function (r) { return r.first; }},
        {title: "second", value: function (r) { return r.second; }},
        {title: "property", value: function (r) { return missing(r.property) || r.property === "" ? "" : label(r.property); }},
        {title: "pairs", num: true, value: function (r) { return missing(r.pairs) ? "" : String(r.pairs); }},
        {title: "both", num: true, value: function (r) { return missing(r.both) ? "" : String(r.both); }},
        {title: "agreement", num: true, value: function (r) { return pct(r.agreement); }},
        {title: "kappa [95%]", num: true, value: function (r) {
          return num(r.kappa, 3) + (missing(r.kappa_lower) ? "" : " [" + num(r.kappa_lower, 3) + ", " + num(r.kappa_upper, 3) + "]");
        }}
      ], rows));
    });
    section("Agreement", "Raw agreement and Cohen's kappa with its interval, on the pairs both sides labelled.", box, "diagnostics-agreement");
  }
  var stats = DATA.judge_stats.rows;
  section("LLM judges: position bias", "Consistency: share of pairs whose choice survives swapping A and B; first position: how often the response shown first was chosen.",
    rowsOf(DATA.judge_stats) || (stats.length ? table([
      {title: "judge", value: function (r) { return r.judge; }},
      {title: "judged", num: true, value: function (r) { return String(r.judged); }},
      {title: "failed", num: true, value: function (r) { return String(r.failed); }},
      {title: "consistency", num: true, value: function (r) { return pct(r.position_consistency); }},
      {title: "first position", num: true, value: function (r) { return pct(r.first_position_rate); }}
    ], stats) : emptyNote("No LLM judge was run in this study.")), "diagnostics-position");
  var flips = DATA.consistency.rows;
  section("LLM annotator: flip rate under A/B swap", "How often a property's comparison changed when the responses were exchanged.",
    rowsOf(DATA.consistency) || (flips.length ? table([
      {title: "property", value: function (r) { return label(r.property); }},
      {title: "pairs", num: true, value: function (r) { return String(r.pairs); }},
      {title: "flip rate", num: true, value: function (r) { return pct(r.flip_rate); }}
    ], flips) : emptyNote("No swap check was run (annotate --annotator llm --swap-check).")), "diagnostics-flips");
  var fits = DATA.diagnostics.rows, warnings = fits.filter(function (r) { return !r.converged || r.warning; });
  section("Fits", fits.length + " fits; " + warnings.length + " with warnings.",
    rowsOf(DATA.diagnostics) || (warnings.length ? table([
      {title: "judge", value: function (r) { return r.judge; }},
      {title: "group", value: function (r) { return r.group; }},
      {title: "warning", value: function (r) { return r.warning || "did not converge"; }}
    ], warnings) : emptyNote("Every fit converged.")), "diagnostics-fits");
  return {};
}

// ---- tabs -----------------------------------------------------------------------------------------
var VIEWS = [
  {id: "dissection", title: "Dissection", render: dissectionView},
  {id: "leaderboard", title: "Leaderboard", render: leaderboardView},
  {id: "judges", title: "Judges", render: judgesView},
  {id: "samples", title: "Samples", render: samplesView},
  {id: "probes", title: "Probes", render: probesView},
  {id: "discoveries", title: "Discoveries", render: discoveriesView},
  {id: "diagnostics", title: "Diagnostics", render: diagnosticsView}
];
if (!SCORES.length) { VIEWS = VIEWS.filter(function (v) { return v.id !== "leaderboard"; }); }  // no `scores` run
if (!PROBES.rows.length) { VIEWS = VIEWS.filter(function (v) { return v.id !== "probes"; }); }  // no --probes
if (!DISCOVERIES.length) { VIEWS = VIEWS.filter(function (v) { return v.id !== "discoveries"; }); }  // no `discover` run
var nav = document.getElementById("tabs"), main = document.getElementById("views");
var current = null;
VIEWS.forEach(function (view, k) {
  view.tab = el("button", {type: "button", role: "tab", id: "tab-" + view.id, "aria-controls": "view-" + view.id,
                           "aria-selected": "false", tabindex: k ? "-1" : "0", "data-view": view.id, text: view.title});
  view.panel = el("section", {id: "view-" + view.id, class: "view", role: "tabpanel", "aria-labelledby": "tab-" + view.id, tabindex: "0"});
  view.panel.hidden = true;
  view.tab.addEventListener("click", function () { showView(view.id); });
  view.tab.addEventListener("keydown", function (event) {
    var to = {ArrowRight: k + 1, ArrowLeft: k - 1, Home: 0, End: VIEWS.length - 1}[event.key];
    if (to === undefined) { return; }
    event.preventDefault();
    var next = VIEWS[(to + VIEWS.length) % VIEWS.length];
    showView(next.id);
    next.tab.focus();
  });
  nav.appendChild(view.tab);
  main.appendChild(view.panel);
});
function showView(id) {
  VIEWS.forEach(function (view) {
    var on = view.id === id;
    view.tab.setAttribute("aria-selected", on ? "true" : "false");
    view.tab.setAttribute("tabindex", on ? "0" : "-1");
    view.panel.hidden = !on;
    if (on) {
      current = view;
      if (!view.state) { view.state = view.render(view.panel) || {}; view.width = window.innerWidth; }
      else if (view.state.resize && Math.abs(window.innerWidth - view.width) > 8) { view.width = window.innerWidth; view.state.resize(); }
    }
  });
  return current.state.ready || Promise.resolve();
}
window.addEventListener("resize", debounce(function () {
  if (current && current.state && current.state.resize && Math.abs(window.innerWidth - current.width) > 8) {
    current.width = window.innerWidth;
    current.state.resize();
  }
}, 150));

document.getElementById("subtitle").textContent = DATA.meta.pairs + " pairs from " + DATA.meta.source + " (" + DATA.meta.format +
  "); judges: " + STUDY_JUDGES.join(", ") + (REFERENCE_JUDGES.length ? "; beside the paper's " + REFERENCE_JUDGES.length + " judges" : "") +
  ". prefdissect " + DATA.meta.version + ", " + DATA.meta.created;
showView(VIEWS[0].id);
window.prefdissectReport = {show: showView, ready: true, texts: loadTexts};
document.documentElement.setAttribute("data-ready", "true");
