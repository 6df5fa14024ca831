// Video tiles: our preview (tile 0) and one tile per remote peer's track. The backend decodes
// the video and sends raw RGBA frames over one Tauri channel; each message is a 16-byte header
// (u32 LE: tile, width, height, frame index) and the pixels. Every drawn frame is acknowledged
// (`video_frame_shown`): the backend sends a tile at most two frames ahead and drops the rest,
// so a slow page skips frames instead of queueing them.
"use strict";

window.videoUi = (() => {
  const { invoke, Channel } = window.__TAURI__.core;
  const HEADER = 16;
  const PREVIEW = 0;
  const $ = (id) => document.getElementById(id);
  const tiles = new Map(); // tile number -> { el, canvas, ctx, frames, shownFrames, lastFps }
  let sending = false;

  function tileCaption(t) {
    // The preview tile is small: its frame rate only.
    const local = t.el.classList.contains("local");
    const size = !local && t.canvas.width && t.frames ? ` · ${t.canvas.width}×${t.canvas.height}` : "";
    const fps = t.frames ? ` · ${t.fps} fps` : "";
    t.el.querySelector(".video-info").textContent = `${size}${fps}`;
  }

  function addTile(tile, label, attrs) {
    removeTile(tile);
    const el = document.createElement("figure");
    el.className = tile === PREVIEW ? "video-tile local" : "video-tile";
    el.id = `video-tile-${tile}`;
    el.dataset.tile = String(tile);
    el.dataset.frames = "0";
    for (const [k, v] of Object.entries(attrs || {})) el.dataset[k] = v;
    el.innerHTML = "<canvas width='0' height='0'></canvas><figcaption><span class='video-name'></span><span class='video-info'></span></figcaption>";
    el.querySelector(".video-name").textContent = label;
    const canvas = el.querySelector("canvas");
    const t = { el, canvas, ctx: canvas.getContext("2d"), frames: 0, fps: 0, counted: 0 };
    tiles.set(tile, t);
    // Our preview first, then peers in arrival order.
    if (tile === PREVIEW) $("videos").prepend(el); else $("videos").append(el);
    $("videos").classList.remove("hidden");
    return t;
  }

  function removeTile(tile) {
    const t = tiles.get(tile);
    if (!t) return;
    tiles.delete(tile);
    t.el.remove();
    if (tiles.size === 0) $("videos").classList.add("hidden");
  }

  function draw(buffer) {
    if (!(buffer instanceof ArrayBuffer) || buffer.byteLength < HEADER) return;
    const h = new DataView(buffer, 0, HEADER);
    const tile = h.getUint32(0, true);
    try {
      const width = h.getUint32(4, true);
      const height = h.getUint32(8, true);
      const t = tiles.get(tile);
      if (!t || buffer.byteLength !== HEADER + width * height * 4) return;
      if (t.canvas.width !== width || t.canvas.height !== height) {
        t.canvas.width = width;
        t.canvas.height = height;
      }
      const pixels = new Uint8ClampedArray(buffer, HEADER, width * height * 4);
      t.ctx.putImageData(new ImageData(pixels, width, height), 0, 0);
      t.frames += 1;
      t.el.dataset.frames = String(t.frames);
      t.el.dataset.index = String(h.getUint32(12, true));
    } finally {
      invoke("video_frame_shown", { tile }).catch(() => {});
    }
  }

  // Frame rates in the captions, once a second.
  setInterval(() => {
    for (const t of tiles.values()) {
      t.fps = t.frames - t.counted;
      t.counted = t.frames;
      tileCaption(t);
    }
  }, 1000);

  function setButton() {
    const b = $("video-button");
    b.textContent = sending ? "Stop video" : "Enable Video";
    b.classList.toggle("active", sending);
  }

  function note(text) {
    const n = $("video-note");
    n.textContent = text || "";
    n.classList.toggle("hidden", !text);
  }

  return {
    // Registers the frame channel (on every page load; the backend keeps the latest).
    async init() {
      const frames = new Channel();
      frames.onmessage = draw;
      await invoke("set_video_channel", { frames });
    },

    // "Enable Video" / "Stop video". Returns a line for the messages, or null.
    async toggle() {
      const b = $("video-button");
      b.disabled = true;
      try {
        if (sending) {
          await invoke("stop_video");
          sending = false;
          removeTile(PREVIEW);
          note("");
          return "Video stopped.";
        }
        const info = await invoke("start_video");
        sending = true;
        addTile(PREVIEW, `You (${info.description})`, { source: info.source });
        note(info.note);
        return `Sending video: ${info.description}, ${info.width}×${info.height} at ${info.fps} fps.`;
      } finally {
        b.disabled = false;
        setButton();
      }
    },

    started(ev) {
      addTile(ev.tile, ev.name, { session: ev.sessionId, name: ev.name });
    },

    ended(ev) {
      removeTile(ev.tile);
    },

    // Left the room: no video any more.
    reset() {
      for (const tile of [...tiles.keys()]) removeTile(tile);
      sending = false;
      note("");
      setButton();
    },
  };
})();
