/* prefdissect report, part 2 of 6: Markdown of model text, rendered inert.
   A small block and inline parser for what model answers use (paragraphs, headings,
   lists, block quotes, code fences, tables, rules, emphasis, code spans, links and
   images) that builds DOM nodes with createElement and textContent only. Raw HTML in
   the text stays text; a link shows its text and its address as text (nothing to
   follow); an image shows its description and address as text (nothing is fetched). */
var MD_FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/;
var MD_HEADING = /^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;
var MD_RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
var MD_ITEM = /^( *)([-*+]|\d{1,9}[.)])( +|\t)(.*)$/;
var MD_QUOTE = /^ {0,3}>[ ]?(.*)$/;
var MD_TABLE_RULE = /^ *\|? *:?-+:? *(\| *:?-+:? *)*\|? *$/;
var MD_MAX_DEPTH = 8;
var MD_INLINE = [
  {kind: "escape", re: /\\([!-\/:-@\[-`{-~])/g},
  {kind: "code", re: /(`+)([\s\S]*?[^`])\1(?!`)/g},
  {kind: "image", re: /!\[([^\]\n]*)\]\(\s*<?((?:[^()\s<>]|\([^()\s]*\))*)>?(?:\s+"[^"\n]*")?\s*\)/g},
  {kind: "link", re: /\[([^\]\n]+)\]\(\s*<?((?:[^()\s<>]|\([^()\s]*\))*)>?(?:\s+"[^"\n]*")?\s*\)/g},
  {kind: "autolink", re: /<((?:https?|ftp|mailto):[^>\s]+)>/g},
  {kind: "strong", re: /(\*\*|__)(?=\S)([\s\S]*?\S)\1/g},
  {kind: "em", re: /(\*|_)(?=[^\s*_])([\s\S]*?[^\s\\])\1/g},
  {kind: "strike", re: /~~(?=\S)([\s\S]*?\S)~~/g}
];

function renderMarkdown(text) {
  var lines = String(text).replace(/\r\n?/g, "\n").split("\n");
  return mdBlocks(lines, 0);
}

function mdBlocks(lines, depth) {
  var out = document.createDocumentFragment();
  if (depth > MD_MAX_DEPTH) { out.appendChild(el("p", {class: "md-p", text: lines.join("\n")})); return out; }
  var para = [], i = 0;
  function flush() {
    if (para.length) { out.appendChild(el("p", {class: "md-p"}, mdInline(para.join("\n"), 0))); para = []; }
  }
  while (i < lines.length) {
    var line = lines[i], m;
    if (!line.trim()) { flush(); i++; continue; }
    if ((m = MD_FENCE.exec(line))) {
      flush();
      var fence = m[1], body = [];
      i++;
      while (i < lines.length && !(lines[i].trim().indexOf(fence) === 0 && !lines[i].trim().slice(fence.length).trim())) {
        body.push(lines[i]); i++;
      }
      i++;  // the closing fence (or the end of the text)
      out.appendChild(el("div", {class: "md-fence"}, m[2] ? el("span", {class: "md-lang", text: m[2]}) : null,
                         el("pre", {class: "md-code"}, el("code", {text: body.join("\n")}))));
      continue;
    }
    if ((m = MD_HEADING.exec(line))) {
      flush();
      out.appendChild(el("p", {class: "md-h md-h" + m[1].length}, mdInline(m[2], 0)));
      i++; continue;
    }
    if (MD_RULE.test(line) && !(para.length && /^ {0,3}-+ *$/.test(line))) {
      flush(); out.appendChild(el("hr", {class: "md-rule"})); i++; continue;
    }
    if (MD_QUOTE.test(line)) {
      flush();
      var quoted = [];
      while (i < lines.length && (m = MD_QUOTE.exec(lines[i]))) { quoted.push(m[1]); i++; }
      out.appendChild(el("blockquote", {class: "md-quote"}, mdBlocks(quoted, depth + 1)));
      continue;
    }
    if (line.indexOf("|") >= 0 && i + 1 < lines.length && MD_TABLE_RULE.test(lines[i + 1]) &&
        lines[i + 1].indexOf("-") >= 0 && mdCells(lines[i + 1]).length === mdCells(line).length) {
      flush();
      var result = mdTable(lines, i);
      out.appendChild(result.node); i = result.next; continue;
    }
    if (MD_ITEM.test(line)) {
      flush();
      var list = mdList(lines, i, depth);
      out.appendChild(list.node); i = list.next; continue;
    }
    para.push(line); i++;
  }
  flush();
  return out;
}

function mdCells(line) {
  var s = line.trim();
  if (s.charAt(0) === "|") { s = s.slice(1); }
  if (s.charAt(s.length - 1) === "|" && s.charAt(s.length - 2) !== "\\") { s = s.slice(0, -1); }
  var cells = [], cell = "";
  for (var k = 0; k < s.length; k++) {
    if (s.charAt(k) === "\\" && s.charAt(k + 1) === "|") { cell += "|"; k++; }
    else if (s.charAt(k) === "|") { cells.push(cell.trim()); cell = ""; }
    else { cell += s.charAt(k); }
  }
  cells.push(cell.trim());
  return cells;
}

function mdTable(lines, start) {
  var head = mdCells(lines[start]);
  var align = mdCells(lines[start + 1]).map(function (c) {
    var left = c.charAt(0) === ":", right = c.charAt(c.length - 1) === ":";
    return left && right ? "center" : (right ? "right" : (left ? "left" : null));
  });
  function row(cells, tag) {
    var tr = el("tr");
    for (var k = 0; k < head.length; k++) {
      tr.appendChild(el(tag, {class: align[k] ? "md-" + align[k] : null}, mdInline(cells[k] || "", 0)));
    }
    return tr;
  }
  var body = el("tbody"), i = start + 2;
  while (i < lines.length && lines[i].trim() && lines[i].indexOf("|") >= 0) { body.appendChild(row(mdCells(lines[i]), "td")); i++; }
  return {node: el("table", {class: "md-table"}, el("thead", {}, row(head, "th")), body), next: i};
}

function mdList(lines, start, depth) {
  var first = MD_ITEM.exec(lines[start]);
  var indent = first[1].length, ordered = /\d/.test(first[2]);
  var node = el(ordered ? "ol" : "ul", {class: "md-list"});
  if (ordered && parseInt(first[2], 10) !== 1) { node.setAttribute("start", String(parseInt(first[2], 10))); }
  var i = start;
  while (i < lines.length) {
    var m = MD_ITEM.exec(lines[i]);
    if (!m || m[1].length !== indent || /\d/.test(m[2]) !== ordered) { break; }
    // the item's text starts after the marker and its spaces (more than 4: 1, CommonMark)
    var content = indent + m[2].length + (m[3].length > 4 ? 1 : m[3].length), body = [m[4]];
    i++;
    while (i < lines.length) {
      var line = lines[i], lead = line.length - line.replace(/^ +/, "").length;
      if (!line.trim()) {
        var next = i + 1;
        while (next < lines.length && !lines[next].trim()) { next++; }
        if (next < lines.length && (lines[next].length - lines[next].replace(/^ +/, "").length) > indent) {
          for (; i < next; i++) { body.push(""); }
          continue;
        }
        break;
      }
      if (lead > indent) { body.push(line.slice(Math.min(lead, content))); i++; continue; }
      var blank = body[body.length - 1] === "";
      if (!blank && !MD_ITEM.test(line) && !MD_FENCE.test(line) && !MD_HEADING.test(line) &&
          !MD_QUOTE.test(line) && !MD_RULE.test(line)) {
        body.push(line); i++; continue;  // a lazy continuation of the item's paragraph
      }
      break;
    }
    var item = el("li"), blocks = mdBlocks(body, depth + 1);
    if (blocks.childNodes.length && blocks.firstChild.className === "md-p" && body.indexOf("") < 0) {
      var p = blocks.firstChild;  // a tight item: its first paragraph is the item's text
      blocks.removeChild(p);
      while (p.firstChild) { item.appendChild(p.firstChild); }
    }
    item.appendChild(blocks);
    node.appendChild(item);
    while (i < lines.length && !lines[i].trim()) {
      var after = i + 1;
      while (after < lines.length && !lines[after].trim()) { after++; }
      var again = after < lines.length ? MD_ITEM.exec(lines[after]) : null;
      if (again && again[1].length === indent && /\d/.test(again[2]) === ordered) { i = after; } else { break; }
    }
  }
  return {node: node, next: i};
}

function mdWordChar(ch) { return /[0-9A-Za-z\u00C0-\uFFFF]/.test(ch || ""); }

function mdInline(text, depth) {
  var out = document.createDocumentFragment();
  if (depth > MD_MAX_DEPTH) { out.appendChild(document.createTextNode(text)); return out; }
  var pos = 0, plain = "";
  function emit() { if (plain) { out.appendChild(document.createTextNode(plain)); plain = ""; } }
  while (pos < text.length) {
    var best = null;
    MD_INLINE.forEach(function (rule) {
      rule.re.lastIndex = pos;
      var m = rule.re.exec(text);
      if (m && (!best || m.index < best.m.index)) { best = {kind: rule.kind, m: m}; }
    });
    if (!best) { break; }
    var m = best.m, end = m.index + m[0].length;
    if ((best.kind === "strong" || best.kind === "em") && m[1].charAt(0) === "_" &&
        (mdWordChar(text.charAt(m.index - 1)) || mdWordChar(text.charAt(end)))) {
      plain += text.slice(pos, m.index + 1);  // snake_case and the like: not emphasis
      pos = m.index + 1;
      continue;
    }
    plain += text.slice(pos, m.index);
    if (best.kind === "escape") { plain += m[1]; pos = end; continue; }
    emit();
    if (best.kind === "code") {
      out.appendChild(el("code", {class: "md-inline-code", text: m[2].replace(/^ (.*) $/, "$1")}));
    } else if (best.kind === "image") {
      out.appendChild(el("span", {class: "md-image", title: "image (not loaded)"},
                         "[image: " + (m[1] || "no description") + "]",
                         m[2] ? el("span", {class: "md-url", text: " (" + m[2] + ")"}) : null));
    } else if (best.kind === "link") {
      out.appendChild(el("span", {class: "md-link"}, el("span", {class: "md-link-text"}, mdInline(m[1], depth + 1)),
                         m[2] ? el("span", {class: "md-url", text: " (" + m[2] + ")"}) : null));
    } else if (best.kind === "autolink") {
      out.appendChild(el("span", {class: "md-url", text: m[1]}));
    } else if (best.kind === "strong") {
      out.appendChild(el("strong", {}, mdInline(m[2], depth + 1)));
    } else if (best.kind === "em") {
      out.appendChild(el("em", {}, mdInline(m[2], depth + 1)));
    } else {
      out.appendChild(el("del", {}, mdInline(m[1], depth + 1)));
    }
    pos = end;
  }
  plain += text.slice(pos);
  emit();
  return out;
}

// Wrap every case-insensitive match of `needle` in the text under `root` in a <mark>.
function highlight(root, needle) {
  if (!needle) { return 0; }
  // A case-blind pattern finds matches in the text itself: offsets found in a lower-cased
  // copy can shift ("\u0130" lower-cases to two characters).
  var pattern = new RegExp(needle.replace(/[.*+?^${}()|[\]\\\/]/g, "\\$&"), "iu");
  var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT), nodes = [], count = 0;
  while (walker.nextNode()) { nodes.push(walker.currentNode); }
  nodes.forEach(function (node) {
    var found = pattern.exec(node.nodeValue);
    while (found && found[0].length) {
      var match = node.splitText(found.index);
      node = match.splitText(found[0].length);
      var mark = el("mark", {class: "hit"});
      match.parentNode.replaceChild(mark, match);
      mark.appendChild(match);
      count++;
      found = pattern.exec(node.nodeValue);
    }
  });
  return count;
}
