// The output comparison of one experiment, field by field: a table of every field (noise and
// ignored fields marked), and for the most seen ones a picture by kind — for scores the two
// distributions and a production × shadow heat map, for labels the confusion matrix.
"use strict";

const MAX_PICTURES = 3;  // per kind; the rest are in the table (and the JSON)

function fieldName(field) {
  const pointer = field.pointer || "(whole answer)";
  return field.derived ? `${pointer} (${field.derived})` : pointer;
}

function fieldFigures(field) {
  const g = (v, digits = 3) => (v === null || v === undefined ? "—" : Number(v).toPrecision(digits));
  if (field.kind === "score") {
    const parts = [`|diff| p50 ${g(field.abs_diff.p50)} · p99 ${g(field.abs_diff.p99)}`,
                   `Spearman ${g(field.spearman)}`, `Pearson ${g(field.pearson)}`];
    if (field.ks) parts.push(`KS D ${g(field.ks.statistic)} (p ${g(field.ks.p_value, 2)})`);
    if (field.psi !== null) parts.push(`PSI ${g(field.psi)}`);
    if (field.mean_shift) parts.push(`mean shift ${g(field.mean_shift.mean)}`);
    return parts.join(" · ");
  }
  if (field.kind === "label") {
    const parts = [`kappa ${g(field.kappa)}`];
    for (const d of field.directional || []) parts.push(`${d.text}: ${pct(d.share.rate)}`);
    return parts.join(" · ");
  }
  if (field.kind === "text") {
    return `normalized match ${pct(field.normalized_match.rate)} · similarity p50 ` +
      `${g(field.similarity.p50)} · length ratio ${g(field.length_ratio)}`;
  }
  return `mean bytes ${g(field.mean_bytes.production)} / ${g(field.mean_bytes.shadow)}`;
}

function fieldRows(outputs) {
  return outputs.fields.map((field) => el("tr", {
      "data-field": field.field, class: field.excluded ? "excluded" : "" },
    el("td", { text: fieldName(field) }),
    el("td", { text: field.kind }),
    el("td", { class: "num", text: field.pairs }),
    el("td", { class: "num", "data-testid": `agreement-${field.field}`,
               text: pct(field.agreement.rate) }),
    el("td", { text: fieldFigures(field) }),
    el("td", {}, field.noise ? el("span", { class: "badge noise", text: "noise" })
      : field.ignored ? el("span", { class: "badge", text: "ignored" }) : "")));
}

function noiseList(outputs) {
  if (!outputs.noise.length) {
    return [el("li", { class: "muted",
      text: `No noise found (${outputs.noise_probes} repeat probes of the shadow).` })];
  }
  return outputs.noise.map((noise) => el("li", {},
    el("b", { text: noise.field }), ` (${noise.kind}): ${noise.found_by}.`));
}

function confusionTable(field) {
  const header = el("tr", {}, el("th", { text: "production \\ shadow" }),
    ...field.labels.map((label) => el("th", { text: label })));
  const rows = field.labels.map((label, i) => el("tr", {}, el("th", { text: label }),
    ...field.confusion[i].map((count, j) => el("td", {
      class: `num ${i === j ? "diagonal" : count ? "off" : ""}`, text: count }))));
  return el("div", { class: "chart", "data-confusion": field.field },
    el("h3", { text: `Confusion: ${fieldName(field)}` }),
    el("table", { class: "confusion" }, el("thead", {}, header), el("tbody", {}, ...rows)));
}

function edgeLabel(edge) {
  return `${Number(edge[0]).toPrecision(2)}–${Number(edge[1]).toPrecision(2)}`;
}

function scorePanel(field, index) {
  const histogramId = `histogram-${index}`;
  const heatmapId = `heatmap-${index}`;
  const panel = el("div", { class: "chart wide", "data-score": field.field },
    el("h3", { text: `Scores: ${fieldName(field)}` }),
    el("div", { class: "pair" },
      el("div", { class: "plot" }, el("canvas", { id: histogramId })),
      el("div", { class: "heat" }, el("canvas", { id: heatmapId, width: 260, height: 260 }))),
    el("div", { class: "muted",
      text: "left: the two distributions; right: production (across) × shadow (up)" }));
  return { panel, draw: () => {
    const h = field.histogram;
    drawBars(histogramId, h.edges.map(edgeLabel), [
      { label: "production", data: h.production, backgroundColor: COLORS.production },
      { label: "shadow", data: h.shadow, backgroundColor: COLORS.shadow }]);
    drawHeatmap(document.getElementById(heatmapId), field.heatmap);
  } };
}

function drawBars(id, labels, datasets) {
  if (charts[id]) charts[id].destroy();
  charts[id] = new Chart(document.getElementById(id), {
    type: "bar", data: { labels, datasets },
    options: { animation: false, responsive: true, maintainAspectRatio: false,
               scales: { y: { beginAtZero: true } } },
  });
}

// A heat map on a plain canvas: cell (i, j) holds the pairs whose production score fell in
// bin i and the shadow's in bin j; darker is more. The diagonal is where they agree.
function drawHeatmap(canvas, heatmap) {
  const context = canvas.getContext("2d");
  const size = canvas.width;
  const bins = Math.max(1, heatmap.edges.length);
  const cell = size / bins;
  const most = Math.max(1, ...heatmap.cells.map((c) => c[2]));
  context.clearRect(0, 0, size, size);
  context.fillStyle = "#f8fafc";
  context.fillRect(0, 0, size, size);
  for (const [x, y, count] of heatmap.cells) {
    const strength = Math.log1p(count) / Math.log1p(most);
    context.fillStyle = `rgba(37, 99, 235, ${0.12 + 0.88 * strength})`;
    context.fillRect(x * cell, size - (y + 1) * cell, cell, cell);
  }
  context.strokeStyle = "#94a3b8";
  context.setLineDash([4, 4]);
  context.beginPath();
  context.moveTo(0, size);
  context.lineTo(size, 0);
  context.stroke();
  canvas.dataset.cells = String(heatmap.cells.length);
}

function renderFields(outputs) {
  document.querySelector("#fields tbody").replaceChildren(...fieldRows(outputs));
  document.getElementById("noise").replaceChildren(...noiseList(outputs));
  const shown = outputs.fields.filter((field) => !field.excluded && field.pairs > 0);
  const scores = shown.filter((field) => field.kind === "score").slice(0, MAX_PICTURES);
  const labels = shown.filter((field) => field.kind === "label" && field.labels.length <= 12)
    .slice(0, MAX_PICTURES);
  const panels = scores.map(scorePanel);
  document.getElementById("field-pictures").replaceChildren(
    ...panels.map((p) => p.panel), ...labels.map(confusionTable));
  panels.forEach((p) => p.draw());
}
