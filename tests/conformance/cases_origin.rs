//! Origin policy cases: the default (any origin, quota 10 000), `ALLOWED_ORIGINS` alone
//! (others refused), with `ORIGIN_QUOTA`, and exact counting (ours only).

use reqwest::Method;
use serde_json::json;

use super::runner::{answer, bare, bare_request, post, BodyExpect, Case, Expect, Step};

/// Cases for the default configuration (no bindings).
pub fn default_cases() -> Vec<Case> {
    vec![Case {
        name: "default_policy_lets_any_origin_through",
        build: any_origin,
    }]
}

fn any_origin(room: &str, _now: u64) -> Vec<Step> {
    vec![
        post(json!({"r": room}))
            .header("origin", "https://anywhere.example")
            .note("other origin, default quota")
            .expect(answer(json!({"ps": [], "pk": []})))
            .step(),
        bare_request(Method::GET)
            .header("origin", "https://anywhere.example")
            .note("GET with origin")
            .expect(Expect {
                status: 200,
                body: BodyExpect::Contains("Hello from P2PCF".into()),
                headers: vec![],
            })
            .step(),
    ]
}

/// Cases for a worker with `ALLOWED_ORIGINS=https://good.example,https://also.example` and no
/// `ORIGIN_QUOTA` (so other origins get quota 0).
pub fn allowed_origin_cases() -> Vec<Case> {
    vec![Case {
        name: "allowed_origins_pass_others_are_unauthorized",
        build: allowed_only,
    }]
}

fn allowed_only(room: &str, _now: u64) -> Vec<Step> {
    let read = || post(json!({"r": room}));
    let ok = || answer(json!({"ps": [], "pk": []}));
    let denied = || bare(401, "Unauthorized");
    vec![
        read()
            .header("origin", "https://good.example")
            .note("first allowed")
            .expect(ok())
            .step(),
        read()
            .header("origin", "https://also.example")
            .note("second allowed")
            .expect(ok())
            .step(),
        read().note("no Origin header").expect(ok()).step(),
        read()
            .header("origin", "https://evil.example")
            .note("other origin")
            .expect(denied())
            .step(),
        read()
            .header("origin", "https://good.example/")
            .note("not exact")
            .expect(denied())
            .step(),
        bare_request(Method::GET)
            .header("origin", "https://evil.example")
            .note("GET from other origin")
            .expect(denied())
            .step(),
        bare_request(Method::OPTIONS)
            .header("origin", "https://evil.example")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .note("preflight from other origin")
            .expect(denied())
            .step(),
    ]
}

/// Cases for `ALLOWED_ORIGINS=https://good.example` plus `ORIGIN_QUOTA=1000000`: other
/// origins pass while under quota. (The worker counts 1 in 100 requests, by 100, so exact
/// counting is tested against our server only, in `origin_quota_is_counted_exactly`.)
pub fn quota_cases() -> Vec<Case> {
    vec![Case {
        name: "origin_quota_lets_other_origins_through",
        build: with_quota,
    }]
}

fn with_quota(room: &str, _now: u64) -> Vec<Step> {
    let read = || post(json!({"r": room}));
    let ok = || answer(json!({"ps": [], "pk": []}));
    vec![
        read()
            .header("origin", "https://good.example")
            .note("allowed")
            .expect(ok())
            .step(),
        read()
            .header("origin", "https://evil.example")
            .note("other, under quota")
            .expect(ok())
            .step(),
        read().note("no Origin").expect(ok()).step(),
    ]
}

/// Ours only, with `origin_quota: Some(3)` and one allowed origin: every request from another
/// origin counts (any method), the fourth is refused, per origin.
pub fn exact_quota_cases() -> Vec<Case> {
    vec![Case {
        name: "fourth_request_of_an_origin_is_over_quota",
        build: exact_quota,
    }]
}

fn exact_quota(room: &str, _now: u64) -> Vec<Step> {
    let read = || post(json!({"r": room}));
    let ok = || answer(json!({"ps": [], "pk": []}));
    let evil = "https://evil.example";
    vec![
        read()
            .header("origin", evil)
            .note("1st")
            .expect(ok())
            .step(),
        bare_request(Method::GET)
            .header("origin", evil)
            .note("2nd (GET counts too)")
            .expect(Expect {
                status: 200,
                body: BodyExpect::Contains("Hello from P2PCF".into()),
                headers: vec![],
            })
            .step(),
        read()
            .header("origin", evil)
            .note("3rd")
            .expect(ok())
            .step(),
        read()
            .header("origin", evil)
            .note("4th")
            .expect(bare(429, "Over quota"))
            .step(),
        read()
            .header("origin", evil)
            .note("5th")
            .expect(bare(429, "Over quota"))
            .step(),
        read()
            .header("origin", "https://other.example")
            .note("another origin")
            .expect(ok())
            .step(),
        read()
            .header("origin", "https://good.example")
            .note("allowed origin")
            .expect(ok())
            .step(),
        read().note("no Origin").expect(ok()).step(),
    ]
}
