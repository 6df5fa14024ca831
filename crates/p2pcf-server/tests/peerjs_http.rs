//! The PeerJS HTTP routes and CORS, as the official server's Express app answers them.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use p2pcf_server::{router, AppState, PeerIdStyle, ServerConfig};
use tower::ServiceExt;

async fn call(
    config: ServerConfig,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let app = router(AppState::new(config).expect("state"));
    let response = app.oneshot(req).await.expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

fn header<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn info_is_the_official_json() {
    for path in ["/peerjs", "/peerjs/"] {
        let (status, headers, body) = call(ServerConfig::default(), get(path)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            header(&headers, "content-type"),
            Some("application/json; charset=utf-8")
        );
        assert_eq!(
            body,
            r#"{"name":"PeerJS Server","description":"A server side element to broker connections between PeerJS clients.","website":"https://peerjs.com/"}"#
        );
        assert_eq!(header(&headers, "vary"), Some("Origin"));
        assert_eq!(header(&headers, "access-control-allow-origin"), None);
    }
}

#[tokio::test]
async fn id_is_a_uuid_as_html_for_any_key() {
    let (status, headers, body) = call(
        ServerConfig::default(),
        get("/peerjs/anykey/id?ts=1&version=1.5.5"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(body.len(), 36);
    assert_eq!(body.as_bytes()[14], b'4');
}

#[tokio::test]
async fn short_ids_are_8_crockford_characters() {
    let mut config = ServerConfig::default();
    config.peerjs.ids = PeerIdStyle::Short;
    let (_, _, body) = call(config, get("/peerjs/peerjs/id")).await;
    assert_eq!(body.len(), 8);
    assert!(
        body.bytes()
            .all(|b| b"0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(&b)),
        "{body}"
    );
}

#[tokio::test]
async fn peers_is_401_unless_discovery_is_on() {
    let (status, headers, body) = call(ServerConfig::default(), get("/peerjs/peerjs/peers")).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, "Unauthorized")
    );
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/plain; charset=utf-8")
    );
    let mut config = ServerConfig::default();
    config.peerjs.allow_discovery = true;
    let (status, _, body) = call(config, get("/peerjs/peerjs/peers")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "[]"));
}

#[tokio::test]
async fn cors_reflects_the_origin() {
    let req = Request::get("/peerjs/peerjs/id")
        .header("origin", "https://app.example")
        .body(Body::empty())
        .expect("request");
    let (_, headers, _) = call(ServerConfig::default(), req).await;
    assert_eq!(
        header(&headers, "access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(header(&headers, "vary"), Some("Origin"));
}

#[tokio::test]
async fn preflight_is_204_with_reflected_headers() {
    let req = Request::options("/peerjs/peerjs/id")
        .header("origin", "https://app.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "x-custom")
        .body(Body::empty())
        .expect("request");
    let (status, headers, body) = call(ServerConfig::default(), req).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(body.is_empty());
    assert_eq!(
        header(&headers, "access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(
        header(&headers, "access-control-allow-methods"),
        Some("GET,HEAD,PUT,PATCH,POST,DELETE")
    );
    assert_eq!(
        header(&headers, "access-control-allow-headers"),
        Some("x-custom")
    );
    assert_eq!(
        header(&headers, "vary"),
        Some("Origin, Access-Control-Request-Headers")
    );
}

#[tokio::test]
async fn head_has_headers_and_no_body() {
    let req = Request::head("/peerjs")
        .body(Body::empty())
        .expect("request");
    let (status, headers, body) = call(ServerConfig::default(), req).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_empty());
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/json; charset=utf-8")
    );
}

#[tokio::test]
async fn unknown_paths_under_the_mount_are_express_404s() {
    let (status, headers, body) = call(ServerConfig::default(), get("/peerjs/k/nothing")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body.contains("<pre>Cannot GET /peerjs/k/nothing</pre>"),
        "{body}"
    );
    assert_eq!(header(&headers, "vary"), Some("Origin"));
}

#[tokio::test]
async fn p2pcf_keeps_the_root() {
    let (status, headers, body) = call(ServerConfig::default(), get("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "content-type"), Some("text/html"));
    assert!(body.contains("Hello from P2PCF"));
}

#[tokio::test]
async fn custom_path_moves_the_endpoint() {
    let mut config = ServerConfig::default();
    config.peerjs.path = "/signal/".into();
    let (status, _, _) = call(config.clone(), get("/signal/peerjs/id")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, body) = call(config, get("/peerjs/peerjs/id")).await;
    assert!(
        body.contains("Hello from P2PCF"),
        "the old path is P2PCF's again"
    );
}
