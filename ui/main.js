// The P2PCF desktop UI: plain JS, no bundler. It only talks to the Rust backend: commands via
// `invoke`, everything else arrives on the one event channel "p2pcf://event".
"use strict";

const { invoke } = window.__TAURI__.core;
const { listen } = window.__TAURI__.event;

const $ = (id) => document.getElementById(id);
const screens = ["join-screen", "room-screen", "settings-screen"];
let current = null; // JoinInfo while in a room
let settingsReturn = "join-screen";

function show(id) {
  for (const s of screens) $(s).classList.toggle("hidden", s !== id);
}

// Same rule as the worker's room ids (and checked again in Rust).
function checkField(what, value) {
  if ([...value].length < 4) return `The ${what} needs at least 4 characters.`;
  if ([...value].length > 64) return `The ${what} can have at most 64 characters.`;
  const bad = [...value].find((c) => !/[A-Za-z0-9_-]/.test(c));
  if (bad !== undefined) return `The ${what} may only use letters A-Z a-z, digits, _ and - (not "${bad}").`;
  return null;
}

function errorText(e) {
  if (e && typeof e === "object" && "message" in e) return e.message;
  return String(e);
}

// ---- join screen ----
$("join-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const room = $("room-input").value.trim();
  const name = $("name-input").value.trim();
  const problem = checkField("room id", room) || checkField("display name", name);
  $("join-error").textContent = problem || "";
  if (problem) return;
  $("join-button").disabled = true;
  try {
    current = await invoke("join", { room, name });
    enterRoom();
  } catch (e) {
    $("join-error").textContent = errorText(e);
  } finally {
    $("join-button").disabled = false;
  }
});

function enterRoom() {
  $("session-label").textContent = `${current.sessionId}@${current.room}:`;
  clearPeers();
  $("messages").replaceChildren();
  $("transfers").replaceChildren();
  videoUi.reset();
  const lan = $("lan-url");
  lan.classList.toggle("hidden", !current.lanUrl);
  lan.textContent = current.lanUrl ? `Others on your network: use worker URL ${current.lanUrl}` : "";
  const peerjs = $("peerjs-lan");
  peerjs.classList.toggle("hidden", !current.peerjsLan);
  peerjs.textContent = current.peerjsLan ? `PeerJS web apps on your network: ${current.peerjsLan}` : "";
  setStatus("connecting", `Connecting to ${current.workerUrl}…`);
  show("room-screen");
  $("message-input").focus();
}

function setStatus(kind, text) {
  const s = $("status");
  s.className = `status ${kind}`;
  s.textContent = text;
}

function addMessage(who, text, cls) {
  const li = document.createElement("li");
  if (cls) li.className = cls;
  if (who !== null) {
    const w = document.createElement("span");
    w.className = "who";
    w.textContent = `${who}: `;
    li.append(w);
  }
  li.append(document.createTextNode(text));
  $("messages").append(li);
  li.scrollIntoView({ block: "end" });
}

// ---- room screen ----
$("send-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const input = $("message-input");
  const text = input.value;
  if (!text.trim()) return;
  input.value = "";
  try {
    await invoke("send_chat", { text });
    addMessage(current.name, text, "mine");
  } catch (e) {
    addMessage(null, `Not sent: ${errorText(e)}`, "system");
  }
});

$("copy-room").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText(current.room);
    addMessage(null, `Room id ${current.room} copied.`, "system");
  } catch {
    addMessage(null, `Room id: ${current.room}`, "system");
  }
});

$("leave-button").addEventListener("click", async () => {
  try { await invoke("leave"); } catch (e) { /* already left */ }
  current = null;
  videoUi.reset();
  show("join-screen");
});

$("video-button").addEventListener("click", async () => {
  try {
    const line = await videoUi.toggle();
    if (line) addMessage(null, line, "system");
  } catch (e) {
    addMessage(null, `Video: ${errorText(e)}`, "system");
  }
});

async function sendFile(path) {
  try {
    await invoke("send_file", { path });
  } catch (e) {
    addMessage(null, `File not sent: ${errorText(e)}`, "system");
  }
}

$("send-file-button").addEventListener("click", async () => {
  try {
    const path = await invoke("pick_file");
    if (path) await sendFile(path);
  } catch (e) {
    addMessage(null, errorText(e), "system");
  }
});

// ---- peers list: one entry per peer with its connection state ----
// A failed entry stays visible for a while so the user can read why, and goes when the peer
// is tried again (connecting), connects, leaves, or after FAILED_PEER_LINGER_MS.
const FAILED_PEER_LINGER_MS = 30000;
const STATE_LABELS = { connecting: "connecting…", connected: "connected", failed: "failed" };
const failedTimers = new Map(); // sessionId -> timeout id

function clearPeers() {
  for (const t of failedTimers.values()) clearTimeout(t);
  failedTimers.clear();
  $("peers").replaceChildren();
}

function removePeer(sessionId) {
  clearTimeout(failedTimers.get(sessionId));
  failedTimers.delete(sessionId);
  document.getElementById(`peer-${sessionId}`)?.remove();
}

function setPeerState(sessionId, name, state, reason) {
  clearTimeout(failedTimers.get(sessionId));
  failedTimers.delete(sessionId);
  let li = document.getElementById(`peer-${sessionId}`);
  if (!li) {
    li = document.createElement("li");
    li.id = `peer-${sessionId}`;
    li.innerHTML = "<span class='peer-name'></span> <span class='peer-state'></span><div class='peer-detail'></div>";
    $("peers").append(li);
  }
  li.className = `peer ${state}`;
  li.dataset.name = name;
  li.dataset.state = state;
  li.querySelector(".peer-name").textContent = name;
  li.querySelector(".peer-state").textContent = STATE_LABELS[state];
  li.querySelector(".peer-detail").textContent = reason || "";
  li.title = reason ? `${name} (${sessionId}): ${reason}` : `${name} (${sessionId})`;
  if (state === "failed") {
    failedTimers.set(sessionId, setTimeout(() => {
      failedTimers.delete(sessionId);
      if (document.getElementById(`peer-${sessionId}`)?.dataset.state === "failed") removePeer(sessionId);
    }, FAILED_PEER_LINGER_MS));
  }
}

// ---- file transfers: one row with a progress bar per file and peer ----
function transferRow(ev) {
  let row = document.getElementById(`transfer-${ev.transferId}`);
  if (!row) {
    row = document.createElement("div");
    row.id = `transfer-${ev.transferId}`;
    row.className = "transfer sending";
    row.innerHTML = "<span class='transfer-text'></span><progress max='1' value='0'></progress>";
    $("transfers").append(row);
  }
  return row;
}

function formatBytes(n) {
  if (n >= 1048576) return `${(n / 1048576).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${n} bytes`;
}

function showTransfer(ev, state, sent, total, note) {
  const row = transferRow(ev);
  row.className = `transfer ${state}`;
  row.dataset.state = state;
  const bar = row.querySelector("progress");
  bar.max = Math.max(total, 1);
  bar.value = total === 0 && state === "done" ? 1 : sent;
  const pct = Math.floor((100 * bar.value) / bar.max);
  row.dataset.percent = String(pct);
  row.querySelector(".transfer-text").textContent =
    `${ev.fileName} → ${ev.peer}: ${pct} % (${formatBytes(sent)} of ${formatBytes(total)})${note ? ` — ${note}` : ""}`;
}

// ---- events from the backend ----
listen("p2pcf://event", ({ payload: ev }) => {
  switch (ev.type) {
    case "status":
      setStatus(ev.connection, ev.text);
      break;
    case "peerConnecting":
      setPeerState(ev.sessionId, ev.name, "connecting");
      break;
    case "peerConnected":
      setPeerState(ev.sessionId, ev.name, "connected");
      addMessage(null, `${ev.name} connected`, "system");
      break;
    case "peerFailed":
      setPeerState(ev.sessionId, ev.name, "failed", ev.reason);
      addMessage(null, `Connection to ${ev.name} failed: ${ev.reason}`, "system");
      break;
    case "peerClosed":
      removePeer(ev.sessionId);
      addMessage(null, `${ev.name} left`, "system");
      break;
    case "message":
      addMessage(ev.name, ev.text);
      break;
    case "fileProgress":
      showTransfer(ev, "sending", ev.sent, ev.total);
      break;
    case "fileSent":
      showTransfer(ev, "done", ev.size, ev.size, "sent");
      addMessage(null, `Sent ${ev.fileName} (${ev.size} bytes) to ${ev.peer}`, "system");
      break;
    case "fileFailed": {
      const bar = transferRow(ev).querySelector("progress");
      showTransfer(ev, "failed", Math.min(Number(bar.value), ev.total), ev.total, `failed: ${ev.reason}`);
      addMessage(null, `Sending ${ev.fileName} to ${ev.peer} failed: ${ev.reason}`, "system");
      break;
    }
    case "fileReceived": {
      addMessage(ev.name, `sent ${ev.fileName} (${ev.size} bytes), saved to ${ev.path}`, "system file-received");
      const li = $("messages").lastElementChild;
      li.dataset.path = ev.path;
      li.title = ev.path;
      break;
    }
    case "filesDropped":
      if (current) for (const p of ev.paths) sendFile(p);
      break;
    case "videoStarted":
      videoUi.started(ev);
      addMessage(null, `${ev.name} started video`, "system");
      break;
    case "videoEnded":
      videoUi.ended(ev);
      addMessage(null, `${ev.name}'s video ended (${ev.reason})`, "system");
      break;
    case "error":
      addMessage(null, ev.text, "system");
      break;
    case "left":
      setStatus("left", "Left the room");
      videoUi.reset();
      break;
  }
});

// ---- settings ----
function fillSettings(s) {
  const form = $("settings-form");
  for (const r of form.elements.signalling) r.checked = r.value === s.signalling;
  $("worker-url").value = s.workerUrl;
  $("port").value = s.port;
  $("lan").checked = s.lan;
  $("stun").value = s.stunServers.join("\n");
  $("turn").value = s.turnServers.map((t) => `${t.url} ${t.username} ${t.credential}`).join("\n");
  $("fast-rate").value = s.fastPollingRateMs;
  $("slow-rate").value = s.slowPollingRateMs;
  $("download-dir").value = s.downloadDir;
  for (const r of form.elements.videoSource) r.checked = r.value === s.videoSource;
  selectValue($("camera"), s.camera, s.camera);
  selectValue($("video-size"), `${s.videoWidth}x${s.videoHeight}`, `${s.videoWidth}×${s.videoHeight}`);
  $("video-fps").value = s.videoFps;
  $("video-kbps").value = s.videoKbps;
}

// Selects `value`, adding it as an option when the list does not have it (a camera that is
// unplugged now, a size set elsewhere).
function selectValue(select, value, label) {
  if (![...select.options].some((o) => o.value === value)) select.add(new Option(label, value));
  select.value = value;
}

async function fillCameras() {
  const select = $("camera");
  let cameras = [];
  try { cameras = await invoke("list_cameras"); } catch { /* none */ }
  for (const o of [...select.options]) if (o.value) o.remove();
  for (const c of cameras) select.add(new Option(`${c.name} (${c.path})`, c.path));
  $("camera-hint").textContent = cameras.length
    ? ""
    : "No camera found: with Camera chosen, Enable Video sends a test pattern.";
}

function readSettings() {
  const lines = (v) => v.split("\n").map((l) => l.trim()).filter(Boolean);
  const num = (v) => (v.trim() === "" || isNaN(Number(v)) ? -1 : Number(v));
  return {
    signalling: [...$("settings-form").elements.signalling].find((r) => r.checked)?.value ?? "embedded",
    workerUrl: $("worker-url").value,
    port: num($("port").value),
    lan: $("lan").checked,
    stunServers: lines($("stun").value),
    turnServers: lines($("turn").value).map((l) => {
      const [url = "", username = "", credential = ""] = l.split(/\s+/);
      return { url, username, credential };
    }),
    fastPollingRateMs: num($("fast-rate").value),
    slowPollingRateMs: num($("slow-rate").value),
    downloadDir: $("download-dir").value,
    videoSource: [...$("settings-form").elements.videoSource].find((r) => r.checked)?.value ?? "camera",
    camera: $("camera").value,
    videoWidth: Number($("video-size").value.split("x")[0]),
    videoHeight: Number($("video-size").value.split("x")[1]),
    videoFps: num($("video-fps").value),
    videoKbps: num($("video-kbps").value),
  };
}

function settingsMessage(errors, ok) {
  $("settings-errors").replaceChildren(...errors.map((e) => {
    const li = document.createElement("li");
    li.textContent = e;
    return li;
  }));
  $("settings-saved").textContent = ok || "";
}

$("open-settings").addEventListener("click", async () => {
  settingsMessage([]);
  try {
    await fillCameras();
    fillSettings(await invoke("get_settings"));
  } catch (e) {
    settingsMessage([errorText(e)]);
  }
  show("settings-screen");
});

$("settings-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const saved = await invoke("save_settings", { settings: readSettings() });
    fillSettings(saved);
    settingsMessage([], "Saved. Applied on the next join.");
  } catch (e) {
    const fields = e && e.fields && e.fields.length ? e.fields.map((f) => `${f.field}: ${f.message}`) : [errorText(e)];
    settingsMessage(fields);
  }
});

$("restore-defaults").addEventListener("click", async () => {
  try {
    fillSettings(await invoke("restore_default_settings"));
    settingsMessage([], "Defaults restored.");
  } catch (e) {
    settingsMessage([errorText(e)]);
  }
});

$("close-settings").addEventListener("click", () => show(settingsReturn));

show("join-screen");
$("room-input").focus();
videoUi.init().catch((e) => console.error("video channel", e));
