//! The PeerJS HTTP surface under `{path}`, as the official server's Express app answers it:
//! `GET {path}` (JSON), `GET {path}{key}/id`, `GET {path}{key}/peers`, the WebSocket at
//! `{path}peerjs`, CORS (`cors` with `origin: true`) on all of it, Express's 404 otherwise.
//! Express matches paths case-insensitively and ignores one trailing slash; so do we.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Request};
use axum::http::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{Method, StatusCode};
use axum::response::Response;

use super::hub::Hub;

const JSON: &str = "application/json; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";
const INFO: &str = r#"{"name":"PeerJS Server","description":"A server side element to broker connections between PeerJS clients.","website":"https://peerjs.com/"}"#;
const CORS_METHODS: &str = "GET,HEAD,PUT,PATCH,POST,DELETE";

/// Where a path lands under the mount.
enum Route {
    Info,
    Id,
    Peers,
    Socket,
    Other,
}

/// The part of `path` under the mount point `{path}` (normalised, `/peerjs/`), or `None` when
/// `path` is not PeerJS's. With mount `/`, only the PeerJS routes themselves are claimed, so
/// P2PCF keeps `/`.
pub(crate) fn claims(hub: &Hub, path: &str) -> bool {
    mounted_rest(hub.path(), path)
        .is_some_and(|rest| hub.path() != "/" || !matches!(route(rest), Route::Info | Route::Other))
}

fn mounted_rest<'a>(mount: &str, path: &'a str) -> Option<&'a str> {
    let base = mount.trim_end_matches('/');
    if base.is_empty() {
        return Some(path);
    }
    let head = path.get(..base.len())?;
    if !head.eq_ignore_ascii_case(base) {
        return None;
    }
    let rest = &path[base.len()..];
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

fn route(rest: &str) -> Route {
    if rest.is_empty() || rest == "/" {
        return Route::Info;
    }
    if rest == "/peerjs" {
        return Route::Socket;
    }
    let trimmed = rest.strip_suffix('/').unwrap_or(rest);
    let mut parts = trimmed.trim_start_matches('/').splitn(3, '/');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        rest.starts_with('/'),
    ) {
        (Some(key), Some(leaf), None, true) if !key.is_empty() => {
            if leaf.eq_ignore_ascii_case("id") {
                Route::Id
            } else if leaf.eq_ignore_ascii_case("peers") {
                Route::Peers
            } else {
                Route::Other
            }
        }
        _ => Route::Other,
    }
}

/// Answers a request [`claims`] said is PeerJS's.
pub(crate) async fn handle(hub: Arc<Hub>, req: Request) -> Response {
    let origin = req.headers().get("origin").cloned();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let rest = mounted_rest(hub.path(), &path).unwrap_or(&path);
    if method == Method::OPTIONS {
        return preflight(origin, req.headers());
    }
    let readable = method == Method::GET || method == Method::HEAD;
    let route = route(rest);
    if is_websocket_upgrade(req.headers()) && !matches!(route, Route::Socket) {
        // The official server's `ws` refuses an upgrade on any other path with a bare 400
        // (`abortHandshake(socket, 400)`), before Express sees the request.
        return respond(StatusCode::BAD_REQUEST, HTML, "Bad Request".into());
    }
    let mut response = match route {
        Route::Socket if method == Method::GET => {
            let query = req.uri().query().unwrap_or("").to_owned();
            let (mut parts, _) = req.into_parts();
            match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
                Ok(ws) => return super::socket::upgrade(hub, ws, query),
                Err(_) => not_found(&method, &path),
            }
        }
        Route::Info if readable => respond(StatusCode::OK, JSON, INFO.to_owned()),
        Route::Id if readable => respond(StatusCode::OK, HTML, hub.fresh_id()),
        Route::Peers if readable && hub.config().allow_discovery => {
            let ids = serde_json::to_string(&hub.ids()).unwrap_or_else(|_| "[]".into());
            respond(StatusCode::OK, JSON, ids)
        }
        Route::Peers if readable => respond(StatusCode::UNAUTHORIZED, TEXT, "Unauthorized".into()),
        Route::Socket | Route::Info | Route::Id | Route::Peers | Route::Other => {
            not_found(&method, &path)
        }
    };
    allow_origin(&mut response, origin);
    if method == Method::HEAD {
        let len = response.headers().get(CONTENT_LENGTH).cloned();
        *response.body_mut() = Body::empty();
        if let Some(len) = len {
            response.headers_mut().insert(CONTENT_LENGTH, len);
        }
    }
    response
}

/// A request that asks for a WebSocket (`Upgrade: websocket`, any letter case).
fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get("upgrade")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"))
}

/// `cors({origin: true})` on OPTIONS: 204 with the reflected origin and headers.
fn preflight(origin: Option<HeaderValue>, headers: &HeaderMap) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let out = response.headers_mut();
    if let Some(origin) = origin {
        out.insert("access-control-allow-origin", origin);
    }
    out.insert(
        "vary",
        HeaderValue::from_static("Origin, Access-Control-Request-Headers"),
    );
    out.insert(
        "access-control-allow-methods",
        HeaderValue::from_static(CORS_METHODS),
    );
    if let Some(requested) = headers.get("access-control-request-headers") {
        if !requested.is_empty() {
            out.insert("access-control-allow-headers", requested.clone());
        }
    }
    out.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}

/// `cors({origin: true})` on other methods: the request's origin (if any), `Vary: Origin`.
fn allow_origin(response: &mut Response, origin: Option<HeaderValue>) {
    let headers = response.headers_mut();
    if let Some(origin) = origin {
        headers.insert("access-control-allow-origin", origin);
    }
    headers.insert("vary", HeaderValue::from_static("Origin"));
}

/// Express's `finalhandler` 404.
fn not_found(method: &Method, path: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n</head>\n<body>\n<pre>Cannot {method} {}</pre>\n</body>\n</html>\n",
        escape_html(path)
    );
    let mut response = respond(StatusCode::NOT_FOUND, HTML, body);
    let headers = response.headers_mut();
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'"),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let len = body.len();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rest_route(mount: &str, path: &str) -> Option<&'static str> {
        let rest = mounted_rest(mount, path)?;
        Some(match route(rest) {
            Route::Info => "info",
            Route::Id => "id",
            Route::Peers => "peers",
            Route::Socket => "socket",
            Route::Other => "other",
        })
    }

    #[test]
    fn routes_under_the_mount_as_express_matches_them() {
        let m = "/peerjs/";
        assert_eq!(rest_route(m, "/peerjs"), Some("info"));
        assert_eq!(rest_route(m, "/peerjs/"), Some("info"));
        assert_eq!(rest_route(m, "/PeerJS/"), Some("info"));
        assert_eq!(rest_route(m, "/peerjs/peerjs/id"), Some("id"));
        assert_eq!(rest_route(m, "/peerjs/anykey/ID/"), Some("id"));
        assert_eq!(rest_route(m, "/peerjs/k/peers"), Some("peers"));
        assert_eq!(rest_route(m, "/peerjs/peerjs"), Some("socket"));
        assert_eq!(rest_route(m, "/peerjs/k/id/x"), Some("other"));
        assert_eq!(rest_route(m, "/peerjs//id"), Some("other"));
        assert_eq!(rest_route(m, "/peerjsx/k/id"), None);
        assert_eq!(rest_route(m, "/"), None);
    }

    #[test]
    fn root_mount_routes_everything() {
        assert_eq!(rest_route("/", "/k/id"), Some("id"));
        assert_eq!(rest_route("/", "/peerjs"), Some("socket"));
    }
}
