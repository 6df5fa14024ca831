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
  $("peers").replaceChildren();
  $("messages").replaceChildren();
  $("transfers").replaceChildren();
  const lan = $("lan-url");
  lan.classList.toggle("hidden", !current.lanUrl);
  lan.textContent = current.lanUrl ? `Others on your network: use worker URL ${current.lanUrl}` : "";
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
  show("join-screen");
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

function transferRow(ev) {
  let row = document.getElementById(`transfer-${ev.transferId}`);
  if (!row) {
    row = document.createElement("div");
    row.id = `transfer-${ev.transferId}`;
    row.className = "transfer";
    row.innerHTML = "<span></span><progress max='1' value='0'></progress>";
    $("transfers").append(row);
  }
  return row;
}

// ---- events from the backend ----
listen("p2pcf://event", ({ payload: ev }) => {
  switch (ev.type) {
    case "status":
      setStatus(ev.connection, ev.text);
      break;
    case "peerConnected": {
      const li = document.createElement("li");
      li.id = `peer-${ev.sessionId}`;
      li.textContent = ev.name;
      li.title = ev.sessionId;
      $("peers").append(li);
      addMessage(null, `${ev.name} connected`, "system");
      break;
    }
    case "peerClosed":
      document.getElementById(`peer-${ev.sessionId}`)?.remove();
      addMessage(null, `${ev.name} left`, "system");
      break;
    case "message":
      addMessage(ev.name, ev.text);
      break;
    case "fileProgress": {
      const row = transferRow(ev);
      row.querySelector("span").textContent = `${ev.fileName} → ${ev.peer}: ${ev.sent} / ${ev.total} bytes`;
      const bar = row.querySelector("progress");
      bar.max = Math.max(ev.total, 1);
      bar.value = ev.sent;
      break;
    }
    case "fileSent":
      transferRow(ev).remove();
      addMessage(null, `Sent ${ev.fileName} (${ev.size} bytes) to ${ev.peer}`, "system");
      break;
    case "fileReceived":
      addMessage(ev.name, `sent ${ev.fileName} (${ev.size} bytes), saved to ${ev.path}`, "system");
      break;
    case "filesDropped":
      if (current) for (const p of ev.paths) sendFile(p);
      break;
    case "error":
      addMessage(null, ev.text, "system");
      break;
    case "left":
      setStatus("left", "Left the room");
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
