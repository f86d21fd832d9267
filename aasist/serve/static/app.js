// The page: upload a file to /api/score, or stream the microphone to /api/stream, and draw
// the per-window scores. All scoring happens on the server (the aasist package).
"use strict";

const $ = (id) => document.getElementById(id);
let health = { threshold: null };

// A server started with --token wants it on every /api/ call: the page takes it from its own
// URL (/?token=...) and sends it as a Bearer header (the WebSocket: as ?token=).
const token = new URLSearchParams(location.search).get("token");
function authHeaders() { return token ? { Authorization: `Bearer ${token}` } : {}; }

function setStatus(text) { $("status").textContent = text; }
function setError(text) { $("error").textContent = text || ""; }

// The value plotted per window and its threshold: p_bonafide against 0.5 by default, the raw
// score against T when the server has a --threshold.
function plotted(w) { return health.threshold === null ? w.p_bonafide : w.score; }

function drawTimeline(windows, duration) {
  const canvas = $("plot"), ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, left = 56, right = 28, top = 14, bottom = 34;
  ctx.clearRect(0, 0, W, H);
  const values = windows.map(plotted);
  const thr = health.threshold === null ? 0.5 : health.threshold;
  let lo = 0, hi = 1;
  if (health.threshold !== null) {
    lo = Math.min(thr, ...values) - 0.5; hi = Math.max(thr, ...values) + 0.5;
  }
  const end = Math.max(duration || 0, ...windows.map((w) => w.end_s), 1e-3);
  const x = (t) => left + (W - left - right) * t / end;
  const y = (v) => top + (H - top - bottom) * (1 - (v - lo) / (hi - lo));
  ctx.font = "12px system-ui, sans-serif"; ctx.fillStyle = "#5f6b7a"; ctx.strokeStyle = "#d5dae1";
  ctx.beginPath(); ctx.moveTo(left, top); ctx.lineTo(left, H - bottom); ctx.lineTo(W - right, H - bottom); ctx.stroke();
  for (const v of [lo, (lo + hi) / 2, hi]) ctx.fillText(v.toFixed(health.threshold === null ? 1 : 2), 8, y(v) + 4);
  for (let k = 0; k <= 4; k++) ctx.fillText((end * k / 4).toFixed(1) + " s", x(end * k / 4) - 12, H - 12);
  ctx.fillText(health.threshold === null ? "p_bonafide" : "score", left + 6, top + 10);
  // background: above the threshold is bona fide, below is spoof
  ctx.fillStyle = "rgba(23,128,61,0.07)"; ctx.fillRect(left, top, W - left - right, y(thr) - top);
  ctx.fillStyle = "rgba(179,38,30,0.07)"; ctx.fillRect(left, y(thr), W - left - right, H - bottom - y(thr));
  ctx.strokeStyle = "#c83a3a"; ctx.setLineDash([6, 4]);
  ctx.beginPath(); ctx.moveTo(left, y(thr)); ctx.lineTo(W - right, y(thr)); ctx.stroke();
  ctx.setLineDash([]); ctx.fillStyle = "#c83a3a"; ctx.fillText("threshold " + thr, W - right - 90, y(thr) - 6);
  // each window: a segment from its start to its end at its value, joined at the centres
  ctx.strokeStyle = "#8a96a6"; ctx.beginPath();
  windows.forEach((w, i) => {
    const cx = x((w.start_s + w.end_s) / 2), cy = y(plotted(w));
    if (i === 0) ctx.moveTo(cx, cy); else ctx.lineTo(cx, cy);
  });
  ctx.stroke();
  for (const w of windows) {
    const cy = y(plotted(w));
    ctx.fillStyle = w.speech === false || w.label === "no_speech" ? "#9aa3ad"
      : w.label === "bonafide" ? "#17803d" : "#b3261e";
    ctx.fillRect(x(w.start_s), cy - 1.5, Math.max(2, x(w.end_s) - x(w.start_s)), 3);
    ctx.beginPath(); ctx.arc(x((w.start_s + w.end_s) / 2), cy, 4, 0, 2 * Math.PI); ctx.fill();
  }
  canvas.dataset.windows = String(windows.length);
}

// What the verdict means, in one sentence; and a warning when nothing ties the number to
// the user's kind of audio.
function explain(r) {
  if (r.label === "no_speech") return "No speech was found, so there is nothing to judge.";
  const pct = (100 * r.p_spoof).toFixed(r.p_spoof < 0.01 || r.p_spoof > 0.99 ? 1 : 0);
  return `Probability that this is spoofed: ${pct} %, if before listening you thought spoofed ` +
    `and genuine speech equally likely (prior ${health.prior ?? 0.5}). It rests on the ` +
    `log-likelihood ratio ${r.llr.toFixed(2)} (above 0: sounds more like genuine speech).`;
}

function showVerdict(r, windows, live) {
  $("result").hidden = false;
  const v = $("verdict");
  v.textContent = {bonafide: "Bona fide", spoof: "Spoof", no_speech: "No speech"}[r.label];
  v.className = r.label;
  $("confidence").textContent = r.p_spoof === null || r.p_spoof === undefined
    ? "" : `p_spoof = ${r.p_spoof.toFixed(3)}`;
  $("meaning").textContent = explain(r);
  $("provenance").textContent = `model ${r.model || health.model}, calibration ${r.calibration}`;
  $("warning").hidden = r.calibration !== "uncalibrated";
  $("details").textContent = live
    ? `live: last window ${r.start_s.toFixed(2)}-${r.end_s.toFixed(2)} s, latency ${Math.round(r.latency_ms)} ms`
    : `${r.path}: ${r.duration_s.toFixed(2)} s at ${r.sample_rate} Hz, ${r.windows} window(s)` +
      (r.speech_s === undefined ? "" : `, ${r.speech_s.toFixed(2)} s of speech`);
  $("plot-note").textContent = "One segment per window (4 s of audio, from its start to its end); above the dashed line the model calls it bona fide; grey: no speech.";
  drawTimeline(windows, live ? null : r.duration_s);
}

async function scoreFile(file) {
  setError(""); setStatus(`scoring ${file.name} ...`);
  try {
    const response = await fetch("/api/score?name=" + encodeURIComponent(file.name),
                                 { method: "POST", body: file, headers: authHeaders() });
    const body = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
    if (!response.ok) throw new Error(body.error || response.statusText);
    showVerdict(body, body.timeline, false);
    setStatus("");
  } catch (err) {
    setStatus(""); setError(String(err.message || err));
  }
}

// ---- microphone: AudioWorklet -> WebSocket (float32 PCM at the context's rate) -> lines
let recording = null;

async function startRecording() {
  setError("");
  const media = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1 } });
  const context = new AudioContext();
  await context.audioWorklet.addModule("/static/recorder.js");
  const source = context.createMediaStreamSource(media);
  const node = new AudioWorkletNode(context, "recorder");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const auth = token ? `&token=${encodeURIComponent(token)}` : "";
  const socket = new WebSocket(`${scheme}://${location.host}/api/stream?rate=${context.sampleRate}${auth}`);
  socket.binaryType = "arraybuffer";
  const windows = [];
  node.port.onmessage = (event) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(event.data.buffer);
  };
  socket.onmessage = (event) => {
    const line = JSON.parse(event.data);
    if (line.error) { setError(line.error); return; }
    if (line.done) { setStatus(line.skipped ? `done (${line.skipped} window(s) skipped to keep up)` : "done"); return; }
    windows.push(line);
    showVerdict(line, windows, true);
  };
  // the server ended the stream (busy, a limit, shutdown): stop recording, keep the message
  socket.onclose = () => { if (recording && recording.socket === socket) stopRecording(); };
  source.connect(node);
  recording = { media, context, socket };
  $("record").textContent = "Stop"; $("record").classList.add("on");
  setStatus("recording: a score every hop once the first window has arrived");
}

function stopRecording() {
  const { media, context, socket } = recording;
  media.getTracks().forEach((t) => t.stop());
  context.close();
  if (socket.readyState === WebSocket.OPEN) socket.send("end");
  recording = null;
  $("record").textContent = "Record"; $("record").classList.remove("on");
}

$("record").addEventListener("click", () => {
  (recording ? Promise.resolve(stopRecording()) : startRecording()).catch((err) => setError(String(err.message || err)));
});
$("file").addEventListener("change", (e) => { if (e.target.files[0]) scoreFile(e.target.files[0]); });
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault(); drop.classList.remove("over");
  if (e.dataTransfer.files[0]) scoreFile(e.dataTransfer.files[0]);
});

fetch("/api/health", { headers: authHeaders() })
  .then((r) => r.json().then((h) => {
    if (!r.ok) throw new Error(h.error || r.statusText);
    health = h; $("model").textContent = h.model;
  }))
  .catch((err) => setError(String(err.message || err)));
