/* prefdissect report, part 3 of 6: charts drawn as SVG at the width of their container.
   Every chart has an accessible name, and every value it shows is also in a table
   beneath it (a disclosure any keyboard or touch reader can open), not only in
   hover tooltips. */

function chartWidth(host) { return Math.max(280, Math.floor(host.getBoundingClientRect().width) || 900); }
var measurer = null;
// The rendered width of a label (a canvas measures text without touching the page).
function textWidth(text, size, weight) {
  measurer = measurer || document.createElement("canvas").getContext("2d");
  measurer.font = (weight || 400) + " " + size + "px " + getComputedStyle(document.body).fontFamily;
  return Math.ceil(measurer.measureText(String(text)).width);
}

function marker(shape, color, x, y, size) {
  if (shape === "diamond") {
    var s = size + 1;
    return svg("path", {d: "M" + x + " " + (y - s) + "L" + (x + s) + " " + y + "L" + x + " " + (y + s) + "L" + (x - s) + " " + y + "Z",
                        fill: "#fff", stroke: color, "stroke-width": 2, "class": "mark reference-mark"});
  }
  return svg("circle", {cx: x, cy: y, r: size, fill: color, stroke: "#fff", "stroke-width": 1, "class": "mark dot"});
}
function swatch(shape, color) {
  var icon = svg("svg", {width: 14, height: 14, viewBox: "0 0 14 14", "aria-hidden": "true", "class": "swatch"});
  if (shape !== "diamond") { icon.appendChild(svg("line", {x1: 0, x2: 14, y1: 7, y2: 7, stroke: color, "stroke-width": 3})); }
  icon.appendChild(marker(shape, color, 7, 7, 4));
  return icon;
}

/* Forest plot (ArviZ style): one band per property, one mark per judge.
   spec: {rows: [{id, label, title}], series: [{key, label, color, shape, points: {id: {mean, lower, upper, n}}}],
          domain: [lo, hi] on the probability scale, caption, width} */
function forestPlot(spec) {
  var width = spec.width, n = spec.series.length, small = width < 560;
  var labelSize = small ? 11 : 12;
  var labelW = Math.min(Math.max.apply(null, spec.rows.map(function (r) { return textWidth(r.label, labelSize); }).concat([40])) + 14,
                        Math.round(width * (small ? 0.34 : 0.26)));
  var left = labelW, right = width - (small ? 18 : 26), plotW = right - left;
  var rowH = Math.max(small ? 20 : 24, 8 + (small ? 8 : 10) * n);
  var tall = 34 + spec.rows.length * rowH > 520;
  var top = tall ? 34 : 10, height = top + spec.rows.length * rowH, bottom = height + 34;
  var lo = spec.domain[0], hi = spec.domain[1];
  var x = function (p) { return left + (Math.max(lo, Math.min(hi, p)) - lo) / (hi - lo) * plotW; };
  var chart = svg("svg", {width: width, height: bottom, viewBox: "0 0 " + width + " " + bottom, role: "img",
                          "aria-label": spec.caption, "class": "chart forest", id: spec.id});
  var span = hi - lo, step = span > 0.6 ? (small ? 0.25 : 0.1) : (span > 0.3 ? 0.1 : 0.05);
  function axis(y, below) {  // tick labels above (y is the top edge) or below the plot
    for (var t = Math.ceil(lo / step - 1e-9) * step; t <= hi + 1e-9; t += step) {
      chart.appendChild(svg("text", {x: x(t), y: below ? y + 14 : y - 6, "text-anchor": "middle", "font-size": 11,
                                     fill: "#4b5565", "class": "tick"}, pct(t, 0)));
    }
  }
  for (var t = Math.ceil(lo / step - 1e-9) * step; t <= hi + 1e-9; t += step) {
    chart.appendChild(svg("line", {x1: x(t), x2: x(t), y1: top - 4, y2: height, stroke: "#e6e9ee"}));
  }
  if (tall) { axis(top - 4, false); }  // a tall chart: the axis at the top too
  axis(height, true);
  spec.rows.forEach(function (row, i) {
    var y0 = top + i * rowH;
    if (i % 2 === 0) { chart.appendChild(svg("rect", {x: 0, y: y0, width: width, height: rowH, fill: "#f6f7f9"})); }
    var named = tip(svg("g"), row.title || row.label);  // the tooltip beside the label, not inside its text
    named.appendChild(svg("text", {x: left - 8, y: y0 + rowH / 2, "text-anchor": "end", "font-size": labelSize,
                                   "dominant-baseline": "middle", "class": "row-label"}, row.label));
    chart.appendChild(named);
  });
  chart.appendChild(svg("line", {x1: x(0.5), x2: x(0.5), y1: top - 4, y2: height, stroke: "#5b6472", "stroke-dasharray": "4 3"}));
  spec.rows.forEach(function (row, i) {
    var y0 = top + i * rowH;
    spec.series.forEach(function (s, k) {
      var r = s.points[row.id];
      if (!r || missing(r.mean)) { return; }
      var y = y0 + 4 + (k + 0.5) * (rowH - 8) / n;
      var group = svg("g", {"class": "mark-group", "data-judge": s.key, "data-property": row.id,
                            "data-p": sigmoid(r.mean).toFixed(6)});
      if (!missing(r.lower) && !missing(r.upper)) {
        group.appendChild(svg("line", {x1: x(sigmoid(r.lower)), x2: x(sigmoid(r.upper)), y1: y, y2: y, stroke: s.color,
                                       "stroke-width": 3.5, "stroke-linecap": "round", opacity: 0.85, "class": "interval"}));
      }
      group.appendChild(marker(s.shape, s.color, x(sigmoid(r.mean)), y, small ? 4 : 4.5));
      tip(group, s.label + ", " + row.label + ": " + pct(sigmoid(r.mean)) +
          (!missing(r.lower) ? " [" + pct(sigmoid(r.lower)) + ", " + pct(sigmoid(r.upper)) + "]" : " (published mean, no interval)") +
          ", weight " + signed(r.mean, 3) + (r.n ? ", " + r.n + " pairs" : ""));
      chart.appendChild(group);
    });
  });
  chart.appendChild(svg("text", {x: left + plotW / 2, y: bottom - 4, "text-anchor": "middle", "font-size": 11, fill: "#4b5565"},
                        "probability of preferred"));
  return chart;
}

function forestLegend(series) {
  var box = el("div", {class: "legend"});
  var study = series.filter(function (s) { return s.shape !== "diamond"; });
  var paper = series.filter(function (s) { return s.shape === "diamond"; });
  if (study.length) {
    box.appendChild(el("div", {class: "legend-row"}, el("span", {class: "legend-title", text: "This study (posterior mean, 95% interval):"}),
      study.map(function (s) { return el("span", {class: "legend-item"}, swatch("dot", s.color), s.label); })));
  }
  if (paper.length) {
    box.appendChild(el("div", {class: "legend-row"}, el("span", {class: "legend-title", text: "The paper (\u25c7 published posterior mean; no interval was published):"}),
      paper.map(function (s) { return el("span", {class: "legend-item"}, swatch("diamond", s.color), s.label); })));
  }
  return box;
}

/* Heatmap of a similarity block: {judges, matrix, lower, upper}; bold: the study's judges. */
function heatmap(block, width, bold, id) {
  var names = block.judges, n = names.length, size = 11;
  var labelW = Math.min(Math.max.apply(null, names.map(function (s) { return textWidth(s, size, 700); })) + 12, Math.round(width * 0.3));
  // Column labels run up and to the right at 55 degrees: leave room for the last one.
  var pad = Math.round(labelW * Math.cos(55 * Math.PI / 180)) + 4;
  var cell = Math.max(3, Math.min(46, Math.floor((width - labelW - pad) / n)));
  var topH = Math.round(labelW * Math.sin(55 * Math.PI / 180)) + 10;
  var w = labelW + n * cell + pad, h = topH + n * cell + 6;
  var showValues = cell >= 24;
  var chart = svg("svg", {width: w, height: h, viewBox: "0 0 " + w + " " + h, role: "img", id: id, "class": "chart heatmap",
                          "aria-label": "Judge similarity heatmap of " + plural(n, "judge") + "; the values are in the table below."});
  function clip(name) {
    if (textWidth(name, size, 700) <= labelW - 10) { return name; }
    var cut = name;
    while (cut.length > 1 && textWidth(cut + "\u2026", size, 700) > labelW - 10) { cut = cut.slice(0, -1); }
    return cut + "\u2026";
  }
  names.forEach(function (name, i) {
    var weight = bold.indexOf(name) >= 0 ? 700 : 400;
    var rowName = tip(svg("g"), name), columnName = tip(svg("g"), name);
    rowName.appendChild(svg("text", {x: labelW - 6, y: topH + i * cell + cell / 2, "text-anchor": "end", "dominant-baseline": "middle",
                                     "font-size": size, "font-weight": weight, "class": "judge-label"}, clip(name)));
    columnName.appendChild(svg("text", {x: 0, y: 0, "font-size": size, "font-weight": weight, "class": "judge-label",
      transform: "translate(" + (labelW + i * cell + cell / 2 + 4) + "," + (topH - 6) + ") rotate(-55)"}, clip(name)));
    chart.appendChild(rowName);
    chart.appendChild(columnName);
    names.forEach(function (other, j) {
      var v = block.matrix[i][j];
      var rect = svg("rect", {x: labelW + j * cell, y: topH + i * cell, width: cell - 1, height: cell - 1, fill: divergingColor(v), "class": "cell"});
      tip(rect, name + " ~ " + other + ": " + num(v, 3) + (i !== j ? " [" + num(block.lower[i][j], 3) + ", " + num(block.upper[i][j], 3) + "]" : ""));
      chart.appendChild(rect);
      if (showValues) {
        chart.appendChild(svg("text", {x: labelW + j * cell + cell / 2, y: topH + i * cell + cell / 2, "text-anchor": "middle",
          "dominant-baseline": "middle", "font-size": cell >= 36 ? 11 : 9, fill: inkOn(v), "class": "cell-value"}, num(v, 2)));
      }
    });
  });
  return chart;
}

function colorLegend(width, caption) {
  var w = Math.min(360, width - 20), h = 46, x0 = 10, barW = w - 20;
  var chart = svg("svg", {width: w, height: h, viewBox: "0 0 " + w + " " + h, role: "img", "class": "color-legend",
                          "aria-label": "Colour scale: " + caption + " from \u22121 (blue) through 0 (white) to 1 (orange)"});
  for (var k = 0; k < 60; k++) {
    var v = -1 + 2 * (k + 0.5) / 60;
    chart.appendChild(svg("rect", {x: x0 + k * barW / 60, y: 4, width: barW / 60 + 0.6, height: 12, fill: divergingColor(v)}));
  }
  [-1, -0.5, 0, 0.5, 1].forEach(function (v) {
    var x = x0 + (v + 1) / 2 * barW;
    chart.appendChild(svg("line", {x1: x, x2: x, y1: 16, y2: 20, stroke: "#4b5565"}));
    chart.appendChild(svg("text", {x: x, y: 31, "text-anchor": "middle", "font-size": 10, fill: "#4b5565"}, v === 0 ? "0" : signed(v, v % 1 ? 1 : 0)));
  });
  chart.appendChild(svg("text", {x: w / 2, y: 44, "text-anchor": "middle", "font-size": 10, fill: "#4b5565"}, caption));
  return chart;
}

/* Waterfall of Shapley values from the 50% baseline to the predicted P(A).
   items: [{label, value, kind}] where kind "property" (a comparison) or any other kind
   (e.g. a model term), drawn hatched-grey so that it reads as not a property. */
function waterfall(items, predicted, width) {
  var small = width < 560, rowH = 24, size = small ? 11 : 12;
  var left = Math.min(Math.max.apply(null, items.map(function (it) { return textWidth(it.label, size); }).concat([textWidth("predicted P(A)", size)])) + 14,
                      Math.round(width * 0.4));
  var plotW = width - left - 48, height = 40 + (items.length + 1) * rowH;
  var level = 0.5, lo = 0.5, hi = 0.5;
  items.forEach(function (it) { level += it.value; lo = Math.min(lo, level); hi = Math.max(hi, level); });
  lo = Math.max(0, Math.floor((lo - 0.05) * 20) / 20); hi = Math.min(1, Math.ceil((hi + 0.05) * 20) / 20);
  var x = function (p) { return left + (p - lo) / (hi - lo) * plotW; };
  var chart = svg("svg", {width: width, height: height, viewBox: "0 0 " + width + " " + height, id: "waterfall-svg", role: "img", "class": "chart",
                          "aria-label": "Waterfall of each property's Shapley value, from 50% to the predicted " + pct(predicted) + " for A; the values are in the table below."});
  chart.appendChild(svg("line", {x1: x(0.5), x2: x(0.5), y1: 24, y2: height - 6, stroke: "#5b6472", "stroke-dasharray": "4 3"}));
  chart.appendChild(svg("text", {x: x(0.5) - 6, y: 14, "text-anchor": "end", "font-size": 11, fill: TOWARD_B}, "\u2190 toward B"));
  chart.appendChild(svg("text", {x: x(0.5) + 6, y: 14, "font-size": 11, fill: TOWARD_A}, "toward A \u2192"));
  chart.appendChild(svg("text", {x: left - 8, y: 14, "text-anchor": "end", "font-size": 11, fill: "#4b5565"}, "from 50%"));
  level = 0.5;
  items.forEach(function (it, i) {
    var y = 28 + i * rowH, start = level, end = level + it.value;
    var color = it.kind && it.kind !== "property" ? "#8a94a3" : (it.value >= 0 ? TOWARD_A : TOWARD_B);
    chart.appendChild(svg("text", {x: left - 8, y: y + rowH / 2, "text-anchor": "end", "dominant-baseline": "middle", "font-size": size}, it.label));
    chart.appendChild(tip(svg("rect", {x: Math.min(x(start), x(end)), y: y + 4, width: Math.max(1.5, Math.abs(x(end) - x(start))),
      height: rowH - 8, fill: color, "class": "bar", "data-kind": it.kind || "property"}),
      it.label + ": " + signed(100 * it.value, 2) + " percentage points"));
    chart.appendChild(svg("text", {x: Math.max(x(start), x(end)) + 4, y: y + rowH / 2, "dominant-baseline": "middle", "font-size": 11, fill: "#4b5565"},
      signed(100 * it.value, 1)));
    level = end;
  });
  var yEnd = 28 + items.length * rowH;
  chart.appendChild(svg("text", {x: left - 8, y: yEnd + rowH / 2, "text-anchor": "end", "dominant-baseline": "middle", "font-size": size, "font-weight": 700}, "predicted P(A)"));
  chart.appendChild(svg("circle", {cx: x(predicted), cy: yEnd + rowH / 2, r: 5, fill: "#1d2430"}));
  var label = pct(predicted);
  var right = x(predicted) + 8 + textWidth(label, 12) < width;
  chart.appendChild(svg("text", {x: right ? x(predicted) + 8 : x(predicted) - 8, y: yEnd + rowH / 2, "text-anchor": right ? "start" : "end",
                                 "dominant-baseline": "middle", "font-size": 12, "font-weight": 700}, label));
  return chart;
}
