//! The allow-list: the only places where our server may answer differently from worker.js.
//! Each variant mirrors an entry of the "Deliberate differences" list in the `p2pcf-server`
//! crate docs. A case step that differs from the worker must name one of these; any other
//! difference fails the conformance run.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Improvement {
    /// worker.js compares the content type to exactly `application/json`, so it rejects
    /// `application/json; charset=utf-8` and (as miniflare passes it through untrimmed) the
    /// `'application/json '` that the JS client itself sends. We accept media-type parameters
    /// and surrounding whitespace.
    LenientContentType,
    /// worker.js throws on bodies that are not JSON or hold a wrong JSON type (e.g. a number
    /// as room id, a non-string IP), and the runtime answers 500 with a stack trace. We answer
    /// 400 with a message.
    BadRequestInsteadOfCrash,
    /// worker.js keeps returning an expired entry until its vacuum runs (at most every 30 s, a
    /// random 0–10 s after a poll). We stop returning it as soon as it expires.
    ExpiredEntriesHidden,
}
