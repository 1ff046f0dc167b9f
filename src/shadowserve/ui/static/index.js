// The front page: every experiment and endpoint of the region, refreshed every 5 s.
"use strict";

function experimentRow(experiment) {
  const link = el("a", {
    href: `experiment.html?name=${encodeURIComponent(experiment.name)}&region=${region}`,
    text: experiment.name,
  });
  return el("tr", { "data-experiment": experiment.name },
    el("td", {}, link), el("td", {}, badge(experiment.status)),
    el("td", { text: experiment.endpoint }),
    el("td", { class: "num", text: `${experiment.sampling_percentage}%` }),
    el("td", { text: when(experiment.start_time) }), el("td", { text: when(experiment.end_time) }));
}

// "AllTraffic/0 on 10.0.0.5" per instance, where a cluster runtime placed it; ✗: not answering.
function instancesText(instances) {
  if (!instances.length) return "—";
  return instances.map((i) =>
    `${i.variant}/${i.instance.split("/").pop()} on ${i.node}${i.healthy ? "" : " ✗"}`).join(", ");
}

function endpointRow(endpoint) {
  return el("tr", { "data-endpoint": endpoint.name },
    el("td", { text: endpoint.name }), el("td", {}, badge(endpoint.status)),
    el("td", { text: endpoint.config }),
    el("td", { text: endpoint.production_variants.join(", ") }),
    el("td", { text: endpoint.shadow_variants.join(", ") || "—" }),
    el("td", { class: "instances", text: instancesText(endpoint.instances) }));
}

async function refresh() {
  try {
    const overview = await getJSON(`/api/overview?region=${region}`);
    document.querySelector("#experiments tbody").replaceChildren(
      ...overview.experiments.map(experimentRow));
    document.querySelector("#endpoints tbody").replaceChildren(
      ...overview.endpoints.map(endpointRow));
    document.getElementById("error").textContent = "";
  } catch (error) {
    showError(error);
  }
}

refresh();
setInterval(refresh, 5000);
