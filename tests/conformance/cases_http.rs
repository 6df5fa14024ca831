//! HTTP-level cases: content types and methods, the GET health page, OPTIONS.

use reqwest::Method;
use serde_json::json;

use super::fixtures::Peer;
use super::improvements::Improvement;
use super::runner::{answer, bare, bare_request, post, BodyExpect, Case, Expect, Step};

pub fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "content_type_is_checked_before_anything",
            build: content_types,
        },
        Case {
            name: "get_health_page_and_options",
            build: get_and_options,
        },
    ]
}

fn content_types(room: &str, now: u64) -> Vec<Step> {
    let valid = || post(Peer::new("A").read(room));
    let wrong = || bare(400, "Expected content-type application/json");
    let ok = || answer(json!({"ps": [], "pk": []}));
    let _ = now;
    vec![
        valid()
            .no_content_type()
            .note("none")
            .expect(wrong())
            .step(),
        valid()
            .header("content-type", "text/plain")
            .note("text/plain")
            .expect(wrong())
            .step(),
        valid()
            .header("content-type", "application/x-www-form-urlencoded")
            .note("form")
            .expect(wrong())
            .step(),
        valid()
            .header("content-type", "application/jsonp")
            .note("jsonp")
            .expect(wrong())
            .step(),
        valid()
            .header("content-type", "application/json; charset=latin1")
            .note("other charset")
            .expect(wrong())
            .step(),
        valid()
            .header("content-type", "APPLICATION/JSON")
            .note("upper case")
            .expect(wrong())
            .ours(Improvement::LenientContentType, ok())
            .step(),
        valid()
            .header("content-type", "application/json ")
            .note("trailing space, as the JS client sends it")
            .expect(wrong())
            .ours(Improvement::LenientContentType, ok())
            .step(),
        valid()
            .header("content-type", "application/json; charset=utf-8")
            .note("charset parameter")
            .expect(wrong())
            .ours(Improvement::LenientContentType, ok())
            .step(),
        valid()
            .no_content_type()
            .method(Method::DELETE)
            .note("DELETE without content type")
            .expect(wrong())
            .step(),
        valid()
            .method(Method::PUT)
            .note("PUT")
            .expect(bare(405, "Method not allowed"))
            .step(),
        valid()
            .method(Method::PATCH)
            .note("PATCH")
            .expect(bare(405, "Method not allowed"))
            .step(),
        valid().note("exact type").expect(ok()).step(),
    ]
}

fn get_and_options(_room: &str, _now: u64) -> Vec<Step> {
    let html = Expect {
        status: 200,
        body: BodyExpect::Contains("Hello from P2PCF".into()),
        headers: vec![("content-type", Some("text/html".into()))],
    };
    let preflight = Expect {
        status: 200,
        body: BodyExpect::Empty,
        headers: vec![
            ("access-control-allow-origin", Some("*".into())),
            (
                "access-control-allow-methods",
                Some("GET,HEAD,POST,DELETE,OPTIONS".into()),
            ),
            ("access-control-max-age", Some("86400".into())),
            (
                "access-control-allow-headers",
                Some("content-type,x-worker-method".into()),
            ),
            ("allow", None),
        ],
    };
    let plain = || Expect {
        status: 200,
        body: BodyExpect::Empty,
        headers: vec![
            ("allow", Some("GET, POST, DELETE, OPTIONS".into())),
            ("access-control-allow-origin", None),
        ],
    };
    let options = || bare_request(Method::OPTIONS);
    vec![
        bare_request(Method::GET).note("GET").expect(html).step(),
        options()
            .header("origin", "https://app.example")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,x-worker-method",
            )
            .note("preflight")
            .expect(preflight)
            .step(),
        options().note("plain OPTIONS").expect(plain()).step(),
        options()
            .header("origin", "https://app.example")
            .header("access-control-request-method", "POST")
            .note("preflight without request headers is a plain OPTIONS")
            .expect(plain())
            .step(),
    ]
}
