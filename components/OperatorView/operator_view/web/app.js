"use strict";
// The operator's page: no framework, no build step. Frames are drawn on a canvas with their boxes;
// charts are inline SVG. Every text from the device goes in through textContent, never as HTML.

const STATE_INTERVAL_MS = 2000;
const SVG = "http://www.w3.org/2000/svg";
const cameraViews = new Map();
let maxFps = 2;
let lastEvents = "";
let lastHealth = "";

// This page's random id on every poll: the device counts the pages open (its PagesOpen metric).
const PAGE_ID = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const visible = () => document.visibilityState === "visible";
const clock = (epochSeconds) => new Date(epochSeconds * 1000).toLocaleTimeString();

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

async function getJson(url) {
  const response = await fetch(url, { cache: "no-store", credentials: "same-origin", headers: { "X-Page-Id": PAGE_ID } });
  if (response.status === 401) {
    location.reload(); // the token changed: the login page again
    throw new Error("token refused");
  }
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

function setStatus(text, problem) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.classList.toggle("problem", Boolean(problem));
}

// cameras ---------------------------------------------------------------------------------------
function cameraView(id) {
  let view = cameraViews.get(id);
  if (view) return view;
  const container = document.getElementById("cameras");
  container.querySelector(".empty")?.remove();
  const figure = element("figure", "camera");
  figure.dataset.camera = id;
  const canvas = element("canvas");
  const caption = element("figcaption");
  figure.append(canvas, caption);
  container.append(figure);
  view = { figure, canvas, caption, frame: null, updates: 0 };
  cameraViews.set(id, view);
  return view;
}

function drawBoxes(context, boxes, width, height) {
  context.lineWidth = Math.max(2, width / 320);
  context.font = `${Math.max(12, Math.round(width / 48))}px sans-serif`;
  context.textBaseline = "bottom";
  for (const [label, score, x1, y1, x2, y2] of boxes) {
    const left = x1 * width, top = y1 * height;
    context.strokeStyle = "#34d399";
    context.strokeRect(left, top, (x2 - x1) * width, (y2 - y1) * height);
    const text = `${label} ${Math.round(score * 100)}%`;
    const textWidth = context.measureText(text).width + 6;
    const textTop = Math.max(top, parseInt(context.font, 10) + 4);
    context.fillStyle = "rgba(6, 78, 59, 0.85)";
    context.fillRect(left, textTop - parseInt(context.font, 10) - 4, textWidth, parseInt(context.font, 10) + 4);
    context.fillStyle = "#ecfdf5";
    context.fillText(text, left + 3, textTop - 1);
  }
}

async function showCamera(camera) {
  const view = cameraView(camera.id);
  if (view.frame === camera.frame) return;
  const image = new Image();
  image.src = `/api/cameras/${encodeURIComponent(camera.id)}/frames/${encodeURIComponent(camera.frame)}.jpg`;
  try {
    await image.decode();
  } catch {
    return; // recycled from the ring meanwhile: the next frame comes
  }
  const { canvas } = view;
  canvas.width = camera.width;
  canvas.height = camera.height;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0, camera.width, camera.height);
  drawBoxes(context, camera.boxes, camera.width, camera.height);
  view.frame = camera.frame;
  view.updates += 1;
  view.figure.dataset.frame = camera.frame;
  view.figure.dataset.updates = String(view.updates);
  view.caption.textContent = `${camera.id} · ${clock(camera.capturedAt)} · ${camera.boxes.length} detected · `
    + `${camera.model} · ${camera.inferMs} ms`;
}

async function liveLoop() {
  for (;;) {
    const started = performance.now();
    if (visible()) {
      try {
        const live = await getJson("/api/live");
        maxFps = live.maxFps;
        await Promise.all(live.cameras.map(showCamera));
        setStatus(`live · updated ${new Date().toLocaleTimeString()}`);
      } catch (error) {
        setStatus(`device not answering: ${error.message}`, true);
      }
    }
    await sleep(Math.max(1000 / maxFps - (performance.now() - started), 100));
  }
}

// events ------------------------------------------------------------------------------------------
function eventItem(event) {
  const item = element("li", `event ${event.kind}`);
  item.dataset.event = event.id;
  if (event.snapshotFrame) {
    const base = `/api/events/${encodeURIComponent(event.id)}/snapshots/${encodeURIComponent(event.snapshotFrame)}`;
    const link = element("a");
    link.href = `${base}/full.jpg`;
    link.target = "_blank";
    link.rel = "noopener";
    const crop = element("img", "snapshot");
    crop.src = `${base}/crop.jpg`;
    crop.alt = `snapshot of ${event.label} ${event.track}`;
    crop.loading = "lazy";
    link.append(crop);
    item.append(link);
  } else {
    item.append(element("div", "snapshot none", "no snapshot"));
  }
  const text = element("div", "event-text");
  text.append(element("strong", "", `${event.label} #${event.track}`));
  text.append(element("span", "", ` on ${event.camera}`));
  const when = event.kind === "end" ? `ended (${event.endReason})` : event.kind === "start" ? "started" : "ongoing";
  text.append(element("div", "", `${clock(event.firstSeen)} · ${event.durationS} s · ${when}`));
  text.append(element("div", "", `best ${Math.round(event.bestScore * 100)}% · ${event.frames} frames`));
  if (event.zones.length) text.append(element("div", "", `zones: ${event.zones.join(", ")}`));
  for (const [line, crossedIn, crossedOut] of event.lines) {
    text.append(element("div", "", `line ${line}: ${crossedIn} in, ${crossedOut} out`));
  }
  item.append(text);
  return item;
}

function showEvents(events) {
  const key = JSON.stringify(events);
  if (key === lastEvents) return;
  lastEvents = key;
  const list = document.getElementById("events");
  list.replaceChildren(...events.map(eventItem));
  if (!events.length) list.append(element("li", "empty", "No event yet."));
}

// health ------------------------------------------------------------------------------------------
function showHealth(health) {
  const key = JSON.stringify(health.map(({ ageS, ...rest }) => rest));
  const body = document.querySelector("#health tbody");
  if (key !== lastHealth) {
    lastHealth = key;
    body.replaceChildren(...health.map((entry) => {
      const row = element("tr");
      row.dataset.component = entry.component;
      row.append(element("td", "", entry.component));
      const state = element("td");
      state.append(element("span", `badge ${entry.state}`, entry.state));
      row.append(state, element("td", "age", ""));
      const detail = element("td", "detail", entry.detail);
      const counters = Object.entries(entry.counters);
      if (counters.length) {
        const more = element("details");
        more.append(element("summary", "", `${counters.length} counters`));
        more.append(element("pre", "", counters.map(([name, value]) => `${name} ${value}`).join("\n")));
        detail.append(more);
      }
      row.append(detail);
      return row;
    }));
  }
  health.forEach((entry, index) => {
    body.rows[index].querySelector(".age").textContent = `${Math.round(entry.ageS)} s`;
  });
}

// metrics -----------------------------------------------------------------------------------------
function chart(series) {
  const width = 240, height = 40, pad = 2;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("preserveAspectRatio", "none");
  const times = series.points.map((p) => p[0]);
  const values = series.points.map((p) => p[1]);
  const t0 = Math.min(...times), t1 = Math.max(...times);
  const v0 = Math.min(0, ...values), v1 = Math.max(...values);
  const x = (t) => pad + (t1 > t0 ? (t - t0) / (t1 - t0) : 1) * (width - 2 * pad);
  const y = (v) => height - pad - (v1 > v0 ? (v - v0) / (v1 - v0) : 0.5) * (height - 2 * pad);
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", series.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" "));
  const [lastT, lastV] = series.points[series.points.length - 1];
  const last = document.createElementNS(SVG, "circle"); // the newest point, visible even when it is the only one
  last.setAttribute("cx", x(lastT).toFixed(1));
  last.setAttribute("cy", y(lastV).toFixed(1));
  last.setAttribute("r", "2");
  svg.append(line, last);
  return svg;
}

// "Component=smartcam.SsdInference, Stage=infer" -> "SsdInference · infer"
function dimensionValues(dimensions) {
  return dimensions.split(", ").map((pair) => pair.slice(pair.indexOf("=") + 1).replace(/^smartcam\./, ""))
    .join(" · ");
}

function showMetrics(metrics) {
  const container = document.getElementById("metrics");
  if (!metrics.length) return;
  container.replaceChildren(...metrics.map((series) => {
    const figure = element("figure", "metric");
    figure.dataset.metric = series.name;
    const last = series.points[series.points.length - 1][1];
    const caption = element("figcaption");
    caption.append(element("strong", "", series.name), element("div", "", dimensionValues(series.dimensions)));
    caption.append(element("div", "value", `${Number(last.toPrecision(4))} ${series.unit}`));
    figure.append(chart(series), caption);
    return figure;
  }));
}

async function stateLoop() {
  for (;;) {
    if (visible()) {
      try {
        const state = await getJson("/api/state");
        showEvents(state.events);
        showHealth(state.health);
        showMetrics(state.metrics);
      } catch (error) {
        setStatus(`device not answering: ${error.message}`, true);
      }
    }
    await sleep(STATE_INTERVAL_MS);
  }
}

liveLoop();
stateLoop();
