// gamyeon review: the page. Plain JavaScript, served by gamyeon itself (no CDN, works offline).
// Frames are pictures of the output, one per frame number; regions come from the server with the
// review's decisions (saved and pending) applied, so what is drawn is what a re-render masks.
"use strict";

const TOKEN = document.querySelector('meta[name="gamyeon-token"]').content;
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const WINDOW = 150; // frames of regions fetched around the current one

const state = {
  outputs: [], out: 0, info: null, frame: 0, zoom: 1, playing: false,
  regions: new Map(), // frame -> regions (with pending changes applied)
  regionsKey: "", pending: [], revision: 0, selected: null, // selected: {track} or {item}
  markIn: null, markOut: null, drawing: false, draft: null, sort: ["first", 1], keyframeFor: null,
};

function url(path) {
  return `${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(TOKEN)}`;
}

async function api(path, body) {
  const init = { headers: { "X-Gamyeon-Token": TOKEN } };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.blob();
  if (!response.ok) {
    const error = new Error((data && data.error) || `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

function say(text, error = false) {
  const m = $("message");
  m.textContent = text;
  m.className = text ? (error ? "show error" : "show") : "";
}

function reviewer() {
  const name = $("reviewer").value.trim();
  if (!name) {
    say("Enter your name as reviewer first (top right).", true);
    $("reviewer").focus();
    throw new Error("no reviewer");
  }
  localStorage.setItem("gamyeon-reviewer", name);
  return name;
}

const newId = () => Math.random().toString(36).slice(2, 10);
const base = () => `/api/o/${state.out}`;
const fmtTime = (t) => (t === null || t === undefined ? "-" : `${t.toFixed(3)}s`);
const short = (track) => (track ? track.slice(0, 8) : "-");

// ---- loading ----------------------------------------------------------------------------------

async function loadOutputs() {
  state.outputs = await api("/api/outputs");
  const select = $("output");
  select.innerHTML = "";
  for (const o of state.outputs) {
    const option = document.createElement("option");
    option.value = o.id;
    option.textContent = o.name;
    select.append(option);
  }
  select.hidden = state.outputs.length < 2;
  await loadOutput(0);
}

async function loadOutput(n, keepPending = false) {
  state.out = n;
  state.info = await api(base());
  state.revision = state.info.review.revision;
  if (!keepPending) state.pending = [];
  state.regions.clear();
  state.regionsKey = "";
  $("scrub").max = state.info.frames - 1;
  $("frame-number").max = state.info.frames - 1;
  const kinds = [...new Set(state.info.tracks.map((t) => t.kind))].sort();
  const filter = $("kind-filter");
  filter.innerHTML = '<option value="">all kinds</option>';
  for (const k of kinds) filter.insertAdjacentHTML("beforeend", `<option value="${k}">${k}</option>`);
  fitZoom();
  renderStatus();
  renderTracks();
  renderItems();
  renderSignoffs();
  renderRenderState(state.info.render);
  await show(Math.min(state.frame, state.info.frames - 1));
}

async function regionsFor(frame) {
  const key = `${state.revision}:${JSON.stringify(state.pending)}`;
  if (key !== state.regionsKey) {
    state.regions.clear();
    state.regionsKey = key;
  }
  if (!state.regions.has(frame)) {
    const start = Math.max(0, frame - WINDOW / 3);
    const end = Math.min(state.info.frames - 1, frame + WINDOW);
    const data = await api(`${base()}/regions`, { start, end, ops: state.pending, reviewer: $("reviewer").value || "preview" });
    if (key !== state.regionsKey) return regionsFor(frame);
    for (const f of data.frames) state.regions.set(f.frame, f);
  }
  return state.regions.get(frame);
}

// ---- the frame and its regions ------------------------------------------------------------------

let showing = 0;
async function show(frame) {
  frame = Math.max(0, Math.min(state.info.frames - 1, frame));
  state.frame = frame;
  const ticket = ++showing;
  $("frame-number").value = frame;
  $("scrub").value = frame;
  $("time").textContent = fmtTime(state.info.times[frame]);
  const img = $("frame");
  const loaded = new Promise((resolve) => { img.onload = resolve; img.onerror = resolve; });
  img.src = url(`${base()}/frame/${frame}.jpg`);
  let regions;
  try {
    regions = await regionsFor(frame);
  } catch (err) {
    say(err.message, true);
    regions = { regions: [], fail_closed: false };
  }
  await loaded;
  if (ticket !== showing) return;
  document.body.dataset.frame = String(frame);
  drawOverlay(regions);
  renderTimelineCursor();
  if ($("on-frame").checked) renderTracks();
  for (let i = 1; i <= 3; i++) if (frame + i < state.info.frames) new Image().src = url(`${base()}/frame/${frame + i}.jpg`);
}

function rect(box, cls) {
  const r = document.createElementNS(SVG, "rect");
  r.setAttribute("x", box[0]);
  r.setAttribute("y", box[1]);
  r.setAttribute("width", Math.max(1, box[2] - box[0]));
  r.setAttribute("height", Math.max(1, box[3] - box[1]));
  r.setAttribute("class", cls);
  return r;
}

function isSelected(region) {
  const s = state.selected;
  if (!s) return false;
  if (s.item && region.item === s.item && region.state === "added") return true;
  return Boolean(s.track && region.track === s.track);
}

function drawOverlay(frame) {
  const svg = $("overlay");
  svg.setAttribute("viewBox", `0 0 ${state.info.width} ${state.info.height}`);
  svg.innerHTML = "";
  svg.dataset.regions = String(frame.regions.length);
  for (const region of frame.regions) {
    const cls = [`kind-${region.kind}`, region.state, isSelected(region) ? "selected" : ""].join(" ");
    const r = rect(region.mask, cls);
    r.dataset.track = region.track || "";
    r.dataset.item = region.item || "";
    r.dataset.state = region.state;
    r.addEventListener("mousedown", (e) => {
      if (state.drawing) return;
      e.stopPropagation();
      state.selected = region.state === "added" ? { item: region.item, kind: region.kind, box: region.box } : { track: region.track, kind: region.kind };
      show(state.frame);
      renderTracks();
      renderTimeline();
    });
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${region.kind} ${region.track || "added " + region.item} (${region.state}, ${region.source})`;
    r.append(title);
    svg.append(r);
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", region.mask[0] + 2);
    label.setAttribute("y", Math.max(12, region.mask[1] - 3));
    label.textContent = `${region.kind} ${region.track ? short(region.track) : "+" + region.item}${region.state === "kept" ? "" : " · " + region.state}`;
    svg.append(label);
  }
  const flag = (state.info.verify.frames || []).find((f) => f.frame === state.frame);
  if (flag) for (const box of flag.boxes) svg.append(rect(box, "leak"));
  if (frame.fail_closed) {
    const t = document.createElementNS(SVG, "text");
    t.setAttribute("x", 10);
    t.setAttribute("y", 24);
    t.textContent = "this frame failed closed: it stays fully masked";
    svg.append(t);
  }
  if (state.draft) svg.append(rect(state.draft, "draft"));
}

// ---- drawing an added region ---------------------------------------------------------------------

function pointOf(event) {
  const svg = $("overlay");
  const box = svg.getBoundingClientRect();
  return [
    ((event.clientX - box.left) / box.width) * state.info.width,
    ((event.clientY - box.top) / box.height) * state.info.height,
  ];
}

function startDrawing() {
  state.drawing = true;
  $("overlay").classList.add("drawing");
  say("Drag a box around what must be masked on this frame (Esc cancels).");
}

function stopDrawing() {
  state.drawing = false;
  state.draft = null;
  $("overlay").classList.remove("drawing");
}

function setupDrawing() {
  const svg = $("overlay");
  let origin = null;
  svg.addEventListener("mousedown", (e) => {
    if (!state.drawing) {
      state.selected = null;
      show(state.frame);
      renderTracks();
      return;
    }
    origin = pointOf(e);
    state.draft = [...origin, ...origin];
  });
  svg.addEventListener("mousemove", (e) => {
    if (!state.drawing || !origin) return;
    const p = pointOf(e);
    state.draft = [Math.min(origin[0], p[0]), Math.min(origin[1], p[1]), Math.max(origin[0], p[0]), Math.max(origin[1], p[1])];
    const old = svg.querySelector("rect.draft");
    if (old) old.remove();
    svg.append(rect(state.draft, "draft"));
  });
  svg.addEventListener("mouseup", () => {
    if (!state.drawing || !origin) return;
    const box = state.draft.map((v) => Math.round(v * 10) / 10);
    origin = null;
    stopDrawing();
    if (box[2] - box[0] < 2 || box[3] - box[1] < 2) {
      say("The box is too small; press A and drag again.", true);
      show(state.frame);
      return;
    }
    addRegion(box);
  });
}

function addRegion(box) {
  const keyed = state.keyframeFor ? findItem(state.keyframeFor) : null;
  state.keyframeFor = null;
  if (keyed) {
    // a keyframe drawn for the selected added region replaces its box on this frame
    const keyframes = keyed.keyframes.filter((k) => k.frame !== state.frame).concat([{ frame: state.frame, box }]);
    keyframes.sort((a, b) => a.frame - b.frame);
    put({ ...keyed, keyframes, start: Math.min(keyed.start, state.frame), end: Math.max(keyed.end, state.frame) });
    say(`Keyframe set on frame ${state.frame}.`);
    return;
  }
  const id = newId();
  const start = state.markIn !== null && state.markIn <= state.frame ? state.markIn : state.frame;
  const end = state.markOut !== null && state.markOut >= state.frame ? state.markOut : state.frame;
  const kind = $("add-kind").value;
  put({ id, type: "add", kind, keyframes: [{ frame: state.frame, box }], start, end, note: "" });
  state.selected = { item: id, kind, box };
  say(`Added a ${kind} region on frame ${state.frame} (frames ${start}-${end}). Track it (F), set keyframes (K), then Save.`);
}

function selectedAdd() {
  const s = state.selected;
  if (!s || !s.item) return null;
  return findItem(s.item);
}

function findItem(id) {
  for (let i = state.pending.length - 1; i >= 0; i--) {
    const op = state.pending[i];
    if (op.op === "put" && op.item.id === id) return op.item;
    if (op.op === "delete" && op.id === id) return null;
  }
  return state.info.review.items.find((i) => i.id === id) || null;
}

async function follow(direction) {
  const item = selectedAdd();
  if (!item) return say("Select an added region first (click its box).", true);
  const here = item.keyframes.find((k) => k.frame === state.frame) || item.keyframes[direction > 0 ? item.keyframes.length - 1 : 0];
  say("Tracking…");
  try {
    const data = await api(`${base()}/track`, { frame: here.frame, box: here.box, span: direction * 60 });
    const keys = new Map(item.keyframes.map((k) => [k.frame, k]));
    for (const k of data.keyframes) keys.set(k.frame, k);
    const keyframes = [...keys.values()].sort((a, b) => a.frame - b.frame);
    const frames = keyframes.map((k) => k.frame);
    put({ ...item, keyframes, start: Math.min(item.start, ...frames), end: Math.max(item.end, ...frames) });
    say(`Tracked to frame ${data.keyframes[data.keyframes.length - 1].frame}: ${data.keyframes.length} keyframe(s). Check them, move with K.`);
  } catch (err) {
    say(err.message, true);
  }
}

function keyframeHere() {
  const item = selectedAdd();
  if (!item) return say("Select an added region first (click its box).", true);
  say("Drag the region's box on this frame: it becomes a keyframe.");
  startDrawing();
  state.keyframeFor = item.id;
}

// ---- decisions ----------------------------------------------------------------------------------

async function put(item) {
  const op = { op: "put", item };
  state.pending.push(op);
  try {
    await regionsFor(state.frame); // the server checks the change as it previews it
  } catch (err) {
    state.pending = state.pending.filter((o) => o !== op);
    state.regionsKey = "";
    say(`Not applied: ${err.message}`, true);
  }
  changed();
}

function changed() {
  renderItems();
  renderStatus();
  renderTracks();
  renderTimeline();
  show(state.frame);
}

function span() {
  if (state.markIn === null && state.markOut === null) return [null, null];
  const a = state.markIn === null ? 0 : state.markIn;
  const b = state.markOut === null ? state.info.frames - 1 : state.markOut;
  return [Math.min(a, b), Math.max(a, b)];
}

function exclude(onlySpan) {
  const s = state.selected;
  if (!s || !s.track) return say("Select a track first (click its box or its row).", true);
  const [start, end] = onlySpan ? span() : [null, null];
  if (onlySpan && start === null) return say("Set marks first: I (in) and O (out).", true);
  put({ id: newId(), type: "exclude", track: s.track, start, end, note: "" });
  say(`Excluded ${short(s.track)}${start === null ? "" : ` on frames ${start}-${end}`}: it will not be masked after re-rendering.`);
}

function grow() {
  const s = state.selected;
  if (!s || !s.track) return say("Select a track first.", true);
  const answer = prompt("Enlarge the mask by a factor (1 or more), and move it by dx dy pixels if needed: '1.3' or '1.2 10 -5'", "1.3");
  if (!answer) return;
  const [factor, dx, dy] = answer.trim().split(/[\s,]+/).map(Number);
  const [start, end] = span();
  put({ id: newId(), type: "adjust", track: s.track, start, end, grow: factor, dx: dx || 0, dy: dy || 0 });
}

function markReviewed() {
  const [start, end] = span();
  if (start === null) return say("Set marks first: I (in) and O (out).", true);
  put({ id: newId(), type: "reviewed", start, end });
  say(`Frames ${start}-${end} marked reviewed.`);
}

function comment() {
  const text = $("comment-text").value.trim();
  if (!text) return;
  put({ id: newId(), type: "comment", frame: state.frame, track: state.selected && state.selected.track ? state.selected.track : null, text });
  $("comment-text").value = "";
}

function removeDecision() {
  const s = state.selected;
  const id = s && s.item;
  let target = id;
  if (!target && s && s.track) {
    const items = allItems().filter((i) => i.track === s.track && (i.type === "exclude" || i.type === "adjust"));
    if (items.length) target = items[items.length - 1].id;
  }
  if (!target) return say("Select a region that a decision made or changed.", true);
  const wasPending = state.pending.findIndex((op) => op.op === "put" && op.item.id === target);
  const saved = state.info.review.items.some((i) => i.id === target);
  state.pending = state.pending.filter((op) => !(op.op === "put" && op.item.id === target));
  if (saved) state.pending.push({ op: "delete", id: target });
  if (wasPending < 0 && !saved) return;
  state.selected = null;
  changed();
}

function allItems() {
  const items = new Map(state.info.review.items.map((i) => [i.id, i]));
  for (const op of state.pending) {
    if (op.op === "put") items.set(op.item.id, op.item);
    else items.delete(op.id);
  }
  return [...items.values()];
}

async function save() {
  if (!state.pending.length) return say("Nothing to save.");
  let name;
  try { name = reviewer(); } catch { return; }
  try {
    const data = await api(`${base()}/save`, { reviewer: name, revision: state.revision, ops: state.pending });
    const count = state.pending.length;
    state.pending = [];
    state.info.review = data.review;
    state.revision = data.review.revision;
    say(`Saved ${count} change(s): revision ${state.revision}.`);
    changed();
  } catch (err) {
    if (err.status === 409) {
      const pending = state.pending;
      await loadOutput(state.out, true);
      state.pending = pending;
      say(`${err.message} Your ${pending.length} unsaved change(s) are kept on top of the new revision ${state.revision}: check them and Save again.`, true);
      changed();
    } else {
      say(err.message, true);
    }
  }
}

async function signoff() {
  let name;
  try { name = reviewer(); } catch { return; }
  if (state.pending.length) return say("Save your changes before signing off.", true);
  const verdict = document.querySelector('input[name="verdict"]:checked').value;
  try {
    const data = await api(`${base()}/signoff`, { reviewer: name, verdict, note: $("signoff-note").value, revision: state.revision });
    state.info.review = data.review;
    say(`Signed off: ${verdict} (revision ${state.revision}).`);
    renderStatus();
    renderSignoffs();
  } catch (err) {
    say(err.message, true);
  }
}

async function render() {
  let name;
  try { name = reviewer(); } catch { return; }
  if (state.pending.length) return say("Save your changes before re-rendering.", true);
  try {
    renderRenderState(await api(`${base()}/render`, { reviewer: name }));
    const poll = async () => {
      const s = await api(`${base()}/render`);
      renderRenderState(s);
      if (s.state === "running") setTimeout(poll, 500);
      else if (s.state === "done") { await loadOutput(state.out); renderRenderState(s); say("Re-rendered: the output now shows the reviewed regions."); }
    };
    setTimeout(poll, 500);
  } catch (err) {
    say(err.message, true);
  }
}

async function reveal(event) {
  event.preventDefault();
  let name;
  try { name = reviewer(); } catch { return; }
  const s = state.selected;
  if (!s || !s.track) return say("Select a masked region first (click its box).", true);
  const file = $("reveal-key").files[0];
  const key = file ? await file.text() : "";
  const body = {
    reviewer: name, track: s.track, frame: state.frame, key, passphrase: $("reveal-passphrase").value,
    purpose: $("reveal-purpose").value, authority: $("reveal-authority").value,
  };
  say("Revealing (the vault restores the track; this takes a moment)…");
  try {
    const blob = await api(`${base()}/reveal`, body);
    const image = $("reveal-image");
    image.src = URL.createObjectURL(blob);
    $("reveal-caption").textContent = `track ${s.track}, frame ${state.frame}: recorded in the ledger (purpose: ${body.purpose})`;
    $("reveal-view").hidden = false;
    say("");
  } catch (err) {
    say(err.message, true);
  }
  $("reveal-passphrase").value = "";
}

function closeReveal() {
  const image = $("reveal-image");
  if (image.src.startsWith("blob:")) URL.revokeObjectURL(image.src);
  image.removeAttribute("src");
  $("reveal-view").hidden = true;
}

// ---- panels -------------------------------------------------------------------------------------

function renderStatus() {
  const r = state.info.review;
  const approved = r.approved && !state.pending.length;
  $("status").innerHTML = "";
  const name = document.createElement("span");
  name.textContent = `${state.info.name} · ${state.info.frames} frames · revision ${state.revision} · `;
  const verdict = document.createElement("span");
  verdict.className = approved ? "approved" : "pending";
  verdict.textContent = approved ? "approved" : "not approved";
  $("status").append(name, verdict);
  $("pending").textContent = state.pending.length ? `(${state.pending.length} unsaved)` : "";
  $("save").textContent = state.pending.length ? `Save (${state.pending.length})` : "Save";
}

function trackState(track) {
  const items = allItems();
  if (items.some((i) => i.type === "exclude" && i.track === track.track && i.start === null && i.end === null)) return "excluded";
  if (items.some((i) => i.type === "exclude" && i.track === track.track)) return "partly excluded";
  if (items.some((i) => i.type === "adjust" && i.track === track.track)) return "enlarged";
  return "";
}

function flaggedTracks() {
  const out = new Set();
  for (const f of state.info.verify.frames || []) {
    for (const t of f.tracks) out.add(t);
    for (const t of state.info.tracks) if (t.first <= f.frame && f.frame <= t.last) out.add(t.track);
  }
  return out;
}

function renderTracks() {
  const body = $("tracks").querySelector("tbody");
  body.innerHTML = "";
  const kind = $("kind-filter").value;
  const onFrame = $("on-frame").checked;
  const flagged = $("flagged").checked ? flaggedTracks() : null;
  const [key, dir] = state.sort;
  const tracks = state.info.tracks
    .filter((t) => !kind || t.kind === kind)
    .filter((t) => !onFrame || (t.first <= state.frame && state.frame <= t.last))
    .filter((t) => !flagged || flagged.has(t.track))
    .sort((a, b) => (a[key] < b[key] ? -dir : a[key] > b[key] ? dir : 0));
  for (const t of tracks) {
    const row = document.createElement("tr");
    row.dataset.track = t.track;
    const st = trackState(t);
    if (st === "excluded") row.className = "gone";
    if (state.selected && state.selected.track === t.track) row.classList.add("selected");
    const thumb = document.createElement("img");
    thumb.loading = "lazy";
    thumb.alt = "";
    thumb.src = url(`${base()}/thumb/${t.track}.jpg`);
    const cells = [thumb, t.kind, null, fmtTime(t.first_time), fmtTime(t.last_time), String(t.frames), `${Math.round(t.detected_share * 100)}%`, st];
    cells.forEach((c, i) => {
      const td = document.createElement("td");
      if (i === 2) {
        const code = document.createElement("code");
        code.textContent = short(t.track);
        code.title = t.track;
        td.append(code);
      } else if (c instanceof Node) td.append(c);
      else td.textContent = c;
      row.append(td);
    });
    row.addEventListener("click", () => {
      state.selected = { track: t.track, kind: t.kind };
      if (state.frame < t.first || state.frame > t.last) show(t.best_frame);
      else show(state.frame);
      renderTracks();
      renderTimeline();
    });
    body.append(row);
  }
  $("tracks").dataset.count = String(tracks.length);
}

function renderItems() {
  const list = $("items");
  list.innerHTML = "";
  const pendingIds = new Set(state.pending.map((op) => (op.op === "put" ? op.item.id : op.id)));
  for (const item of allItems()) {
    const li = document.createElement("li");
    if (pendingIds.has(item.id)) li.className = "pending";
    const where = item.start === null || item.start === undefined ? "whole track" : `frames ${item.start}-${item.end}`;
    const what = {
      exclude: () => `exclude ${short(item.track)} (${where})`,
      add: () => `add ${item.kind} (${where}, ${item.keyframes.length} keyframe(s))`,
      adjust: () => `enlarge ${short(item.track)} ×${item.grow}${item.dx || item.dy ? `, move ${item.dx},${item.dy}` : ""} (${where})`,
      reviewed: () => `reviewed frames ${item.start}-${item.end}`,
      comment: () => `comment on frame ${item.frame}: ${item.text}`,
    }[item.type]();
    li.textContent = `${what}${item.by ? " — " + item.by : ""}`;
    li.addEventListener("click", () => {
      if (item.type === "add") state.selected = { item: item.id, kind: item.kind };
      else if (item.track) state.selected = { track: item.track };
      const to = item.frame ?? item.start ?? state.frame;
      show(to === null ? state.frame : to);
    });
    list.append(li);
  }
  renderTimeline();
}

function renderSignoffs() {
  const box = $("signoffs");
  box.innerHTML = "";
  for (const s of state.info.review.signoffs) {
    const p = document.createElement("div");
    p.textContent = `${s.at} ${s.reviewer}: ${s.verdict} (revision ${s.revision})${s.note ? " — " + s.note : ""}`;
    box.append(p);
  }
}

function renderRenderState(s) {
  const box = $("render-state");
  box.dataset.state = s.state;
  if (s.state === "running") box.textContent = "re-rendering from the original…";
  else if (s.state === "failed") box.textContent = `failed: ${s.error}`;
  else if (s.state === "done") {
    const r = s.result;
    box.textContent = `done: ${r.frames} frames, ${r.regions} regions masked, ${r.excluded} excluded, ${r.added} added, ${r.fail_closed_frames} fail-closed; ${r.approved ? "approved revision" : "revision NOT approved"}`;
  } else box.textContent = state.info.review.renders.length ? `last re-render: ${state.info.review.renders.at(-1).at}` : "";
}

// ---- timeline -----------------------------------------------------------------------------------

function pct(frame) {
  return `${(100 * frame) / Math.max(1, state.info.frames - 1)}%`;
}

function bar(cls, from, to) {
  const el = document.createElement("div");
  el.className = cls;
  el.style.left = pct(from);
  el.style.width = `calc(${pct(to)} - ${pct(from)} + 3px)`;
  return el;
}

function renderTimeline() {
  const box = $("timeline");
  box.innerHTML = "";
  const top = document.createElement("div");
  top.className = "row";
  top.innerHTML = '<span class="label">verify flags · reviewed</span>';
  for (const f of state.info.verify.frames || []) {
    const m = document.createElement("div");
    m.className = "marker";
    m.style.left = pct(f.frame);
    m.title = `frame ${f.frame}: ${f.leaks} leak(s), ${f.reidentifiable} re-identifiable`;
    top.append(m);
  }
  for (const item of allItems()) if (item.type === "reviewed") top.append(bar("reviewed", item.start, item.end));
  box.append(top);
  const items = allItems();
  for (const t of state.info.tracks) {
    const row = document.createElement("div");
    row.className = "row" + (state.selected && state.selected.track === t.track ? " selected" : "");
    row.innerHTML = `<span class="label">${t.kind} ${short(t.track)}</span>`;
    row.append(bar(`bar kind-${t.kind}`, t.first, t.last));
    for (const i of items) {
      if (i.type === "exclude" && i.track === t.track) row.append(bar("gap", i.start ?? t.first, i.end ?? t.last));
    }
    box.append(row);
  }
  for (const i of items) {
    if (i.type !== "add") continue;
    const row = document.createElement("div");
    row.className = "row";
    row.innerHTML = `<span class="label">added ${i.kind} ${i.id}</span>`;
    row.append(bar("bar kind-" + i.kind, i.start, i.end));
    box.append(row);
  }
  const cursor = document.createElement("div");
  cursor.id = "cursor";
  box.append(cursor);
  renderTimelineCursor();
}

function renderTimelineCursor() {
  const cursor = $("cursor");
  if (cursor) cursor.style.left = pct(state.frame);
  const marks = [];
  if (state.markIn !== null) marks.push(`in ${state.markIn}`);
  if (state.markOut !== null) marks.push(`out ${state.markOut}`);
  $("marks").textContent = marks.join(" · ");
}

// ---- zoom and playing ---------------------------------------------------------------------------

function applyZoom() {
  const stage = $("stage");
  stage.style.width = `${state.info.width * state.zoom}px`;
  stage.style.height = `${state.info.height * state.zoom}px`;
  $("frame").style.width = "100%";
  $("frame").style.height = "100%";
  $("zoom-level").textContent = `${Math.round(state.zoom * 100)}%`;
}

function fitZoom() {
  const viewer = $("viewer");
  state.zoom = Math.min(viewer.clientWidth / state.info.width, viewer.clientHeight / state.info.height) || 1;
  applyZoom();
}

function zoomBy(factor) {
  state.zoom = Math.max(0.1, Math.min(16, state.zoom * factor));
  applyZoom();
}

async function play() {
  state.playing = !state.playing;
  $("play").textContent = state.playing ? "\u275A\u275A" : "\u25B6";
  while (state.playing && state.frame < state.info.frames - 1) {
    const started = performance.now();
    await show(state.frame + 1);
    const wait = 1000 / (state.info.rate || 25) - (performance.now() - started);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  state.playing = false;
  $("play").textContent = "\u25B6";
}

function nextFlag(direction) {
  const frames = (state.info.verify.frames || []).map((f) => f.frame).sort((a, b) => a - b);
  const target = direction > 0 ? frames.find((f) => f > state.frame) : frames.reverse().find((f) => f < state.frame);
  if (target === undefined) return say("No more frames flagged by verify that way.");
  show(target);
}

// ---- wiring -------------------------------------------------------------------------------------

function onKey(event) {
  const tag = (event.target.tagName || "").toLowerCase();
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
    event.preventDefault();
    save();
    return;
  }
  if (tag === "input" || tag === "textarea" || tag === "select") return;
  const k = event.key;
  const step = event.shiftKey ? 10 : 1;
  const actions = {
    ArrowRight: () => show(state.frame + step), ".": () => show(state.frame + 1),
    ArrowLeft: () => show(state.frame - step), ",": () => show(state.frame - 1),
    Home: () => show(0), End: () => show(state.info.frames - 1), " ": () => play(),
    i: () => { state.markIn = state.frame; renderTimelineCursor(); },
    o: () => { state.markOut = state.frame; renderTimelineCursor(); },
    a: () => startDrawing(), k: () => keyframeHere(),
    f: () => follow(1), F: () => follow(-1),
    x: () => exclude(false), X: () => exclude(true), g: () => grow(), r: () => markReviewed(),
    n: () => nextFlag(1), p: () => nextFlag(-1),
    "+": () => zoomBy(1.25), "=": () => zoomBy(1.25), "-": () => zoomBy(0.8), 0: () => fitZoom(),
    "?": () => { $("help").hidden = false; },
    Escape: () => { stopDrawing(); state.selected = null; $("help").hidden = true; closeReveal(); show(state.frame); renderTracks(); },
  };
  const action = actions[k] || actions[k.toLowerCase()];
  if (action && !(event.ctrlKey || event.metaKey || event.altKey)) {
    event.preventDefault();
    action();
  }
}

function wire() {
  $("reviewer").value = localStorage.getItem("gamyeon-reviewer") || "";
  $("output").addEventListener("change", (e) => loadOutput(Number(e.target.value)));
  $("first").onclick = () => show(0);
  $("prev").onclick = () => show(state.frame - 1);
  $("next").onclick = () => show(state.frame + 1);
  $("last").onclick = () => show(state.info.frames - 1);
  $("play").onclick = () => play();
  $("frame-number").addEventListener("change", (e) => show(Number(e.target.value)));
  $("scrub").addEventListener("input", (e) => show(Number(e.target.value)));
  $("zoom-in").onclick = () => zoomBy(1.25);
  $("zoom-out").onclick = () => zoomBy(0.8);
  $("zoom-fit").onclick = () => fitZoom();
  $("save").onclick = () => save();
  $("add").onclick = () => startDrawing();
  $("follow-forward").onclick = () => follow(1);
  $("follow-backward").onclick = () => follow(-1);
  $("keyframe").onclick = () => keyframeHere();
  $("exclude").onclick = (e) => exclude(e.shiftKey);
  $("grow").onclick = () => grow();
  $("reviewed").onclick = () => markReviewed();
  $("undo-item").onclick = () => removeDecision();
  $("comment").onclick = () => comment();
  $("signoff").onclick = () => signoff();
  $("render").onclick = () => render();
  $("reveal-form").addEventListener("submit", reveal);
  $("reveal-close").onclick = () => closeReveal();
  $("help-button").onclick = () => { $("help").hidden = false; };
  $("help-close").onclick = () => { $("help").hidden = true; };
  for (const id of ["kind-filter", "on-frame", "flagged"]) $(id).addEventListener("change", () => renderTracks());
  for (const th of document.querySelectorAll("#tracks th[data-sort]")) {
    th.addEventListener("click", () => {
      const key = th.dataset.sort;
      state.sort = [key, state.sort[0] === key ? -state.sort[1] : 1];
      renderTracks();
    });
  }
  $("timeline").addEventListener("click", (e) => {
    const box = $("timeline").getBoundingClientRect();
    show(Math.round(((e.clientX - box.left) / box.width) * (state.info.frames - 1)));
  });
  document.addEventListener("keydown", onKey);
  window.addEventListener("beforeunload", (e) => {
    if (state.pending.length) { e.preventDefault(); e.returnValue = ""; }
  });
  setupDrawing();
}

wire();
loadOutputs().then(() => { document.body.dataset.ready = "1"; }).catch((err) => say(err.message, true));
