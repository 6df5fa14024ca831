//! Our `p2pcf_server`, run in-process on `127.0.0.1:0` for a test, stopped when dropped.
//!
//! ```no_run
//! # async fn t() -> anyhow::Result<()> {
//! let server = p2pcf_tests::server::TestServer::start(p2pcf_server::ServerConfig::default()).await?;
//! let _ = reqwest::get(&server.url).await?;
//! # Ok(()) }
//! ```

use std::net::SocketAddr;

use anyhow::Context;
use p2pcf_server::{ServerConfig, ServerError};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server. `url` has no trailing slash (like `RealWorker::url`).
pub struct TestServer {
    pub url: String,
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServerError>>>,
}

impl TestServer {
    /// Binds `127.0.0.1:0` and serves `config` on a task of the current runtime.
    pub async fn start(config: ServerConfig) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding 127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(p2pcf_server::serve(listener, config, async move {
            // Either an explicit stop or the handle being dropped ends the server.
            let _ = stopped.await;
        }));
        Ok(Self {
            url: format!("http://{addr}"),
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Shuts down gracefully and reports how `serve` ended.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => Ok(task.await.context("server task panicked")??),
            None => Ok(()),
        }
    }

    /// Whether the server task has ended (e.g. panicked) while the test was still running.
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
