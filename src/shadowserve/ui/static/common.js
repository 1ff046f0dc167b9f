// Shared helpers of the dashboard pages.
"use strict";

const params = new URLSearchParams(window.location.search);
const region = params.get("region") || "us-east-1";

async function getJSON(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json();
  if (!response.ok) {
    throw new Error(body.message || response.statusText);
  }
  return body;
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function badge(status) {
  return el("span", { class: `badge ${status}`, text: status });
}

function pct(value, digits = 1) {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(digits)}%`;
}

function ms(value) {
  return value === null || value === undefined ? "—" : `${value.toFixed(2)} ms`;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}

function showError(error) {
  const box = document.getElementById("error");
  if (box) box.textContent = `Could not load: ${error.message}`;
}

document.addEventListener("DOMContentLoaded", () => {
  const where = document.getElementById("region");
  if (where) where.textContent = `region ${region}`;
});
