// One experiment: variants side by side, schedule, metrics, paired comparison and charts.
// Reads /api/experiments/{name}/report (the same JSON as `shadowserve report --json`) and
// refreshes every 5 s while the experiment is active.
"use strict";

const name = params.get("name");
// Report settings in the page's address are passed on (see docs/report.md).
const THRESHOLDS = ["min_pairs", "min_output_agreement", "max_error_rate_increase",
                    "max_latency_increase", "min_label_agreement", "min_score_correlation",
                    "max_score_psi", "confidence", "compare_mode", "ignore"];
const thresholdQuery = THRESHOLDS.filter((key) => params.has(key))
  .map((key) => `&${key}=${encodeURIComponent(params.get(key))}`).join("");
const ACTIVE = ["Creating", "Created", "Starting", "Running", "Updating", "Stopping"];
const COLORS = { production: "#2563eb", shadow: "#d97706", agreement: "#15803d" };
const OUTCOMES = { promoted: "shadow promoted", removed: "shadow removed",
                   retained: "shadow retained" };
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
  const median = comparison.latency_ratio_median;
  const label = comparison.label_agreement;
  const interval = (p) => (p.rate === null ? "—"
    : `${pct(p.rate)} [${pct(p.ci[0])}, ${pct(p.ci[1])}] of ${p.of}`);
  const rows = [
    ["pairs", "Pairs (unpaired)", `${comparison.pairs} (${comparison.unpaired})`],
    ["output-agreement", "Output agreement (noise and ignored fields left out)",
     interval(comparison.output_agreement)],
    ["raw-output-agreement", "Output agreement, every field",
     interval(comparison.outputs.raw_output_agreement)],
    ["status-agreement", "Status agreement", interval(comparison.status_agreement)],
    ["label-agreement", `Label agreement${label.field === null ? "" : ` (${label.field || "answer"}` +
      `${label.derived ? `, ${label.derived}` : ""})`}`, interval(label)],
    ["latency-ratio", "Latency shadow / production, per request", median === null ? "—"
      : `median ${median.median.toFixed(2)}× [${median.ci[0].toFixed(2)}, ` +
        `${median.ci[1].toFixed(2)}] of ${median.pairs}`],
    ["latency-difference", "Latency shadow − production, per request", difference === null
      ? "—" : `${difference.mean.toFixed(2)} ms (p = ${difference.p_value.toPrecision(2)})`],
  ];
  return rows.map(([key, text, value]) => el("tr", {},
    el("th", { text }), el("td", { class: "num", "data-testid": key, text: value })));
}

function series(timeline, role, pick) {
  return timeline.map((point) => (point[role] ? pick(point[role]) : null));
}

// Points on a real time axis: x is the interval's start in ms; an interval with no traffic
// is a gap in the line, not a bridge between its neighbours.
function points(timeline, width, pick) {
  const found = [];
  let previous = null;
  for (const point of timeline) {
    if (previous !== null && point.start - previous > width) {
      found.push({ x: (previous + width) * 1000, y: null });
    }
    found.push({ x: point.start * 1000, y: pick(point) });
    previous = point.start;
  }
  return found;
}

function clock(value) {
  return new Date(value).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit",
                                                  second: "2-digit" });
}

// The time axis spans the experiment's traffic, one interval either side, so a lone
// point sits in the middle rather than at an edge of an arbitrary range.
let span = { min: undefined, max: undefined };

function drawChart(id, datasets, options = {}) {
  if (charts[id]) {
    charts[id].data.datasets = datasets;
    Object.assign(charts[id].options.scales.x, span);
    charts[id].update("none");
    return;
  }
  charts[id] = new Chart(document.getElementById(id), {
    type: "line", data: { datasets },
    options: { animation: false, responsive: true, maintainAspectRatio: false, spanGaps: false,
               parsing: false,
               scales: { x: { type: "linear", ...span,
                              ticks: { callback: clock, maxTicksLimit: 6 } },
                         y: { beginAtZero: true, ...options } },
               plugins: { tooltip: { callbacks: { title: (items) => clock(items[0].parsed.x) } } } },
  });
}

function line(label, data, color, dashed = false) {
  return { label, data, borderColor: color, backgroundColor: color, pointRadius: 3,
           borderDash: dashed ? [6, 4] : [] };
}

function drawCharts(timeline, width) {
  if (timeline.length) {
    span = { min: (timeline[0].start - width) * 1000,
             max: (timeline[timeline.length - 1].start + 2 * width) * 1000 };
  }
  const of = (role, pick) => points(timeline, width, (p) => (p[role] ? pick(p[role]) : null));
  drawChart("chart-invocations", [
    line("production", of("production", (v) => v.invocations), COLORS.production),
    line("shadow", of("shadow", (v) => v.invocations), COLORS.shadow, true)]);
  drawChart("chart-latency", [
    line("production p50", of("production", (v) => v.p50_ms), COLORS.production),
    line("production p99", of("production", (v) => v.p99_ms), COLORS.production, true),
    line("shadow p50", of("shadow", (v) => v.p50_ms), COLORS.shadow),
    line("shadow p99", of("shadow", (v) => v.p99_ms), COLORS.shadow, true)]);
  drawChart("chart-errors", [
    line("production", of("production", (v) => v.error_rate), COLORS.production),
    line("shadow", of("shadow", (v) => v.error_rate), COLORS.shadow)]);
  drawChart("chart-agreement", [
    line("outputs agree", points(timeline, width, (p) => p.output_agreement ?? null),
         COLORS.agreement)], { max: 1 });
  drawChart("chart-drops", [
    line("dropped", of("shadow", (v) => v.dropped), COLORS.shadow)]);
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
  document.getElementById("ended").textContent = experiment.completion_time
    ? `ended ${when(experiment.completion_time)}` : "";
  document.getElementById("outcome").textContent = experiment.outcome
    ? OUTCOMES[experiment.outcome] : "";
  document.getElementById("status-reason").textContent = experiment.status_reason || "";
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
  document.getElementById("mode").textContent = `${verdict.mode} mode`;
  document.getElementById("reasons").replaceChildren(
    ...verdict.reasons.map((reason) => el("li", { text: reason })),
    ...(verdict.notes || []).map((note) => el("li", { class: "muted", text: note })),
    ...report.warnings.map((warning) => el("li", { class: "warning", text: warning })));
  drawSchedule(experiment);
  variantCard("production", experiment.production, variants.production);
  variantCard("shadow", experiment.shadow, variants.shadow);
  document.querySelector("#metrics tbody").replaceChildren(...metricRows(variants));
  document.querySelector("#comparison tbody").replaceChildren(...comparisonRows(comparison));
  renderFields(comparison.outputs);
  drawCharts(report.timeline, report.timeline_resolution_seconds);
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
