//! The signalling transport: one POST to the worker URL per poll, publish or leave.
//!
//! Behind a trait so tests can run the client against an in-process server or a scripted fake.
//! The transport knows nothing of the wire types: it moves JSON text and reports failures in
//! the two ways a user needs to tell apart — the worker could not be reached, or it answered
//! with an error status and text.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Why a signalling request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No HTTP answer (DNS, refused connection, timeout, TLS).
    #[error("signalling server unreachable: {0}")]
    Unreachable(String),
    /// The server answered with a non-success status; `text` is its body (the worker's reason).
    #[error("signalling request rejected ({status}): {text}")]
    Rejected { status: u16, text: String },
}

impl TransportError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Unreachable(_) => None,
            Self::Rejected { status, .. } => Some(*status),
        }
    }
}

/// A boxed transport answer: the response body on success.
pub type TransportFuture = Pin<Box<dyn Future<Output = Result<String, TransportError>> + Send>>;

/// A boxed long-poll answer: the room's change counter, `None` if the server has no such
/// extension (the real worker).
pub type WatchFuture = Pin<Box<dyn Future<Output = Result<Option<u64>, TransportError>> + Send>>;

/// Sends one P2PCF request body (JSON text) and yields the answer body.
pub trait Transport: Send + Sync + 'static {
    /// `leave` marks the P2PCF leave request (sent with `X-Worker-Method: DELETE`).
    fn post(&self, body: String, leave: bool) -> TransportFuture;

    /// Our server's long-poll extension: a read-only poll held until the room's change counter
    /// differs from `since` (or `wait` passes). Yields the counter; `None` when the server does
    /// not announce one (the default: no extension).
    fn watch(&self, body: String, since: Option<u64>, wait: Duration) -> WatchFuture {
        let _ = (body, since, wait);
        Box::pin(async { Ok(None) })
    }
}

/// The response header carrying the room's change counter (our server only).
pub const VERSION_HEADER: &str = "x-p2pcf-version";

/// The real transport: HTTP(S) POSTs to a worker URL, as the JS client makes them.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
    url: String,
}

impl HttpTransport {
    /// A transport for `url` (a trailing `/` is dropped, as the JS client does).
    pub fn new(url: &str, timeout: Duration) -> Result<Self, TransportError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| TransportError::Unreachable(e.to_string()))?;
        Ok(Self {
            client,
            url: url.strip_suffix('/').unwrap_or(url).to_string(),
        })
    }
}

impl Transport for HttpTransport {
    fn post(&self, body: String, leave: bool) -> TransportFuture {
        let mut request = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .body(body);
        if leave {
            request = request.header("X-Worker-Method", "DELETE");
        }
        Box::pin(async move {
            let response = request
                .send()
                .await
                .map_err(|e| TransportError::Unreachable(error_chain(&e)))?;
            read_answer(response).await
        })
    }

    fn watch(&self, body: String, since: Option<u64>, wait: Duration) -> WatchFuture {
        let request = self.watch_request(body, since, wait);
        Box::pin(async move {
            let response = request
                .send()
                .await
                .map_err(|e| TransportError::Unreachable(error_chain(&e)))?;
            let version = response
                .headers()
                .get(VERSION_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
            read_answer(response).await?;
            Ok(version)
        })
    }
}

/// The body of a success; the status and text of anything else.
async fn read_answer(response: reqwest::Response) -> Result<String, TransportError> {
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| TransportError::Unreachable(error_chain(&e)))?;
    if status.is_success() {
        Ok(text)
    } else {
        Err(TransportError::Rejected {
            status: status.as_u16(),
            text,
        })
    }
}

impl HttpTransport {
    fn watch_request(
        &self,
        body: String,
        since: Option<u64>,
        wait: Duration,
    ) -> reqwest::RequestBuilder {
        let mut request = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/json")
            // The held poll may outlast the ordinary request timeout.
            .timeout(wait + Duration::from_secs(10))
            .body(body);
        if let Some(since) = since {
            request = request
                .header("X-P2PCF-Since", since.to_string())
                .header("X-P2PCF-Wait", wait.as_millis().to_string());
        }
        request
    }
}

/// reqwest's top-level message is vague ("error sending request"); the cause says why.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
