// One experiment: variants side by side, schedule, metrics, paired comparison and charts.
// Reads /api/experiments/{name}/report (the same JSON as `shadowserve report --json`) and
// refreshes every 5 s while the experiment is active.
"use strict";

const name = params.get("name");
// Verdict thresholds in the page's address are passed on (see docs/report.md).
const THRESHOLDS = ["min_pairs", "min_output_agreement", "max_error_rate_increase",
                    "max_latency_increase", "confidence"];
const thresholdQuery = THRESHOLDS.filter((key) => params.has(key))
  .map((key) => `&${key}=${encodeURIComponent(params.get(key))}`).join("");
const ACTIVE = ["Creating", "Created", "Starting", "Running", "Updating", "Stopping"];
const COLORS = { production: "#2563eb", shadow: "#d97706", agreement: "#15803d" };
const VERDICTS = { promote: "promote", dont_promote: "don't promote",
                   not_enough_data: "not enough data yet" };
const charts = {};
let timer = null;

function variantCard(role, variant, stats) {
  const card = document.getElementById(`card-${role}`);
  card.replaceChildren(
    el("b", { text: role === "production" ? "Production" : "Shadow" }),
    el("dl", {},
      el("dt", { text: "Variant" }), el("dd", { text: variant.variant }),
      el("dt", { text: "Model" }), el("dd", { text: variant.model }),
      el("dt", { text: "Instances" }),
      el("dd", { text: `${variant.instance_count} × ${variant.instance_type}` }),
      el("dt", { text: "Status" }), el("dd", {}, badge(variant.status || "—")),
      el("dt", { text: "Invocations" }),
      el("dd", { "data-testid": `${role}-card-invocations`,
                 text: stats ? stats.invocations : 0 })));
}

function metricRows(variants) {
  const rows = [
    ["invocations", "Invocations", (v) => v.invocations],
    ["error-rate", "Error rate", (v) => pct(v.error_rate.rate, 2)],
    ["4xx", "4xx errors", (v) => v.invocation_4xx_errors],
    ["5xx", "5xx errors", (v) => v.invocation_5xx_errors],
    ["p50", "Latency p50", (v) => ms(v.model_latency_ms.p50.value)],
    ["p90", "Latency p90", (v) => ms(v.model_latency_ms.p90.value)],
    ["p99", "Latency p99", (v) => ms(v.model_latency_ms.p99.value)],
    ["timeouts", "Timeouts", (v) => v.timeouts],
    ["dropped", "Copies dropped", (v) => v.dropped],
  ];
  return rows.map(([key, label, cell]) => el("tr", {},
    el("th", { text: label }),
    ...["production", "shadow"].map((role) => el("td", {
      class: "num", "data-testid": `${role}-${key}`,
      text: variants[role] ? cell(variants[role]) : "—" }))));
}

function comparisonRows(comparison) {
  const difference = comparison.latency_difference_ms;
  const ratio = comparison.latency_ratio;
  const interval = (p) => (p.rate === null ? "—"
    : `${pct(p.rate)} [${pct(p.ci[0])}, ${pct(p.ci[1])}] of ${p.of}`);
  const rows = [
    ["pairs", "Pairs (unpaired)", `${comparison.pairs} (${comparison.unpaired})`],
    ["output-agreement", "Output agreement", interval(comparison.output_agreement)],
    ["status-agreement", "Status agreement", interval(comparison.status_agreement)],
    ["label-agreement", "Label agreement", interval(comparison.label_agreement)],
    ["latency-difference", "Latency shadow − production", difference === null ? "—"
      : `${difference.mean.toFixed(2)} ms (p = ${difference.p_value.toPrecision(2)})`],
    ["latency-ratio", "Latency shadow / production", ratio === null ? "—"
      : `${ratio.geometric_mean.toFixed(2)}×`],
  ];
  return rows.map(([key, label, text]) => el("tr", {},
    el("th", { text: label }), el("td", { class: "num", "data-testid": key, text })));
}

function series(timeline, role, pick) {
  return timeline.map((point) => (point[role] ? pick(point[role]) : null));
}

function drawChart(id, labels, datasets, options = {}) {
  const data = { labels, datasets };
  if (charts[id]) {
    charts[id].data = data;
    charts[id].update("none");
    return;
  }
  charts[id] = new Chart(document.getElementById(id), {
    type: "line", data,
    options: { animation: false, responsive: true, maintainAspectRatio: false,
               spanGaps: true, scales: { y: { beginAtZero: true, ...options } } },
  });
}

function line(label, data, color, dashed = false) {
  return { label, data, borderColor: color, backgroundColor: color, pointRadius: 3,
           borderDash: dashed ? [6, 4] : [] };
}

function drawCharts(timeline) {
  const labels = timeline.map((p) => new Date(p.start * 1000).toLocaleTimeString(
    [], { hour: "2-digit", minute: "2-digit", second: "2-digit" }));
  drawChart("chart-invocations", labels, [
    line("production", series(timeline, "production", (v) => v.invocations), COLORS.production),
    line("shadow", series(timeline, "shadow", (v) => v.invocations), COLORS.shadow, true)]);
  drawChart("chart-latency", labels, [
    line("production p50", series(timeline, "production", (v) => v.p50_ms), COLORS.production),
    line("production p99", series(timeline, "production", (v) => v.p99_ms),
         COLORS.production, true),
    line("shadow p50", series(timeline, "shadow", (v) => v.p50_ms), COLORS.shadow),
    line("shadow p99", series(timeline, "shadow", (v) => v.p99_ms), COLORS.shadow, true)]);
  drawChart("chart-errors", labels, [
    line("production", series(timeline, "production", (v) => v.error_rate), COLORS.production),
    line("shadow", series(timeline, "shadow", (v) => v.error_rate), COLORS.shadow)]);
  drawChart("chart-agreement", labels, [
    line("outputs agree", timeline.map((p) => p.output_agreement ?? null), COLORS.agreement)],
    { max: 1 });
  drawChart("chart-drops", labels, [
    line("dropped", series(timeline, "shadow", (v) => v.dropped), COLORS.shadow)]);
}

function drawSchedule(experiment) {
  const start = experiment.start_time ? new Date(experiment.start_time) : null;
  const end = experiment.end_time ? new Date(experiment.end_time) : null;
  const stop = experiment.completion_time ? new Date(experiment.completion_time) : new Date();
  let share = 0;
  if (start && end && end > start) {
    share = Math.min(1, Math.max(0, (stop - start) / (end - start)));
  }
  document.getElementById("progress").style.width = `${(share * 100).toFixed(1)}%`;
  document.getElementById("start").textContent = `start ${when(experiment.start_time)}`;
  document.getElementById("end").textContent = `end ${when(experiment.end_time)}`;
  document.getElementById("progress-text").textContent = experiment.completion_time
    ? `ended ${when(experiment.completion_time)}` : `${(share * 100).toFixed(1)}% of schedule`;
}

function render(report) {
  const { experiment, variants, comparison, verdict } = report;
  document.title = `shadowserve — ${experiment.name}`;
  document.getElementById("name").textContent = experiment.name;
  document.getElementById("status").replaceChildren(badge(experiment.status));
  document.getElementById("endpoint").textContent = experiment.endpoint;
  document.getElementById("sampling").textContent = `${experiment.sampling_percentage}%`;
  const verdictBox = document.getElementById("verdict");
  verdictBox.textContent = VERDICTS[verdict.decision];
  verdictBox.className = `verdict ${verdict.decision}`;
  verdictBox.dataset.decision = verdict.decision;
  document.getElementById("reasons").replaceChildren(
    ...verdict.reasons.map((reason) => el("li", { text: reason })));
  drawSchedule(experiment);
  variantCard("production", experiment.production, variants.production);
  variantCard("shadow", experiment.shadow, variants.shadow);
  document.querySelector("#metrics tbody").replaceChildren(...metricRows(variants));
  document.querySelector("#comparison tbody").replaceChildren(...comparisonRows(comparison));
  drawCharts(report.timeline);
  document.getElementById("resolution").textContent =
    `(per ${report.timeline_resolution_seconds} s)`;
  document.body.dataset.loaded = "true";
  return ACTIVE.includes(experiment.status);
}

async function refresh() {
  try {
    const report = await getJSON(
      `/api/experiments/${encodeURIComponent(name)}/report?region=${region}${thresholdQuery}`);
    document.getElementById("error").textContent = "";
    if (!render(report) && timer !== null) {
      clearInterval(timer);  // ended: the page stays as it is, readable
      timer = null;
    }
  } catch (error) {
    showError(error);
  }
}

refresh();
timer = setInterval(refresh, 5000);
