//! The P2PCF signalling server: the worker protocol over HTTP, with pluggable stores.
