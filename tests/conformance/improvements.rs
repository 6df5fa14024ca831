//! The allow-list: the only places where our server may answer differently from worker.js.
//! Each variant mirrors an item of "Deliberate differences from worker.js" in the
//! `p2pcf-server` crate docs (numbers in brackets). A step whose answers differ between the two
//! targets must name one of these and state our exact answer; any other difference fails.
//!
//! Items without a variant are covered elsewhere: [6] atomic rooms by `tests/stress.rs`,
//! [7] exact origin counting by `origin_quota_is_counted_exactly` (ours only: the worker samples
//! 1 request in 100), [8] size/depth limits by `tests/hostile.rs`, [9] number spelling and
//! [10] the health page need no allowance (the cases see identical output).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Improvement {
    /// [1] Where worker.js throws (bodies that are not JSON, `null`, a numeric room id, a
    /// non-string reflexive IP, a leave without `d`), the runtime answers 500 with a stack
    /// trace. We answer 400 with the text of the check that should have caught it (404
    /// `No delete key` for the leave).
    BadRequestInsteadOfCrash,
    /// [2] worker.js accepts a number as `k`, `d[0]` or `d[1]` (no `.length` to exceed 64); we
    /// refuse it with the worker's own text for that field.
    StricterTypes,
    /// [3] A `null` package makes worker.js throw on every later poll of that room by another
    /// session (500); we store it but never deliver it.
    PackagesMustBeArrays,
    /// [4] worker.js compares the content type to exactly `application/json`, so it rejects
    /// `application/json; charset=utf-8`, other letter cases, and (as miniflare passes the
    /// header through untrimmed) the `'application/json '` the JS client itself sends.
    /// We trim, ignore case and accept a `charset=utf-8` parameter.
    LenientContentType,
    /// [5] worker.js keeps returning an expired entry until its vacuum runs (at most every
    /// 30 s, a random 0–10 s after a poll); we stop returning it as soon as it expires.
    ExpiredEntriesHidden,
}
