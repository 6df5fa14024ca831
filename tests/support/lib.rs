//! Shared helpers for the integration tests: start our server, miniflare with the real worker.js, Chromium pages.
