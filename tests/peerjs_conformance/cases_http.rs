//! HTTP: `GET {path}`, `{key}/id`, `{key}/peers`, HEAD, CORS (with/without Origin, preflight),
//! unknown routes and WebSocket upgrades on other paths.

use reqwest::Method;

use super::runner::{is_uuid_v4, Case, Run};

const INFO: &str = r#"{"name":"PeerJS Server","description":"A server side element to broker connections between PeerJS clients.","website":"https://peerjs.com/"}"#;
const JSON: &str = "content-type: application/json;charset=utf-8";
const HTML: &str = "content-type: text/html;charset=utf-8";
const TEXT: &str = "content-type: text/plain;charset=utf-8";
const ORIGIN: &str = "https://app.example";

pub fn cases() -> Vec<Case> {
    vec![
        crate::case!(server_info),
        crate::case!(fresh_ids),
        crate::case!(peers_without_discovery),
        crate::case!(head_requests),
        crate::case!(cors_simple_requests),
        crate::case!(cors_preflight),
        crate::case!(unknown_routes),
    ]
}

async fn server_info(r: &mut Run) -> anyhow::Result<()> {
    for rel in ["", "?x=1"] {
        let (head, body) = r
            .http(&format!("GET {{path}}{rel}"), Method::GET, rel, &[])
            .await?;
        r.expect(
            &format!("GET {{path}}/{rel}: head"),
            &head,
            &format!("200; {JSON}; vary: Origin"),
            None,
        );
        r.expect(&format!("GET {{path}}/{rel}: body"), &body, INFO, None);
    }
    // The path without its trailing slash (express routes it the same).
    let base = r.base.trim_end_matches('/').to_owned();
    let res = reqwest::get(&base).await?;
    let status = res.status().as_u16().to_string();
    let body = res.text().await?;
    r.expect("GET {path} without slash: status", &status, "200", None);
    r.expect("GET {path} without slash: body", &body, INFO, None);
    Ok(())
}

async fn fresh_ids(r: &mut Run) -> anyhow::Result<()> {
    let mut seen = Vec::new();
    // The key in the URL is not checked by the official server; the client adds ts and version.
    for rel in [
        "peerjs/id",
        "peerjs/id?ts=17000000000000.123&version=1.5.5",
        "otherkey/id",
    ] {
        let (head, body) = r.http(&format!("GET {rel}"), Method::GET, rel, &[]).await?;
        r.expect(
            &format!("GET {rel}: head"),
            &head,
            &format!("200; {HTML}; vary: Origin"),
            None,
        );
        r.expect(
            &format!("GET {rel}: body is a UUID v4"),
            &is_uuid_v4(&body).to_string(),
            "true",
            None,
        );
        seen.push(body);
    }
    seen.sort();
    seen.dedup();
    r.expect(
        "three /id answers are distinct",
        &seen.len().to_string(),
        "3",
        None,
    );
    Ok(())
}

async fn peers_without_discovery(r: &mut Run) -> anyhow::Result<()> {
    let (head, body) = r
        .http("GET peerjs/peers", Method::GET, "peerjs/peers", &[])
        .await?;
    r.expect(
        "GET {key}/peers (discovery off): head",
        &head,
        &format!("401; {TEXT}; vary: Origin"),
        None,
    );
    r.expect(
        "GET {key}/peers (discovery off): body",
        &body,
        "Unauthorized",
        None,
    );
    Ok(())
}

async fn head_requests(r: &mut Run) -> anyhow::Result<()> {
    let (head, body) = r
        .http("HEAD {key}/id", Method::HEAD, "peerjs/id", &[])
        .await?;
    r.expect(
        "HEAD {key}/id: head",
        &head,
        &format!("200; {HTML}; vary: Origin"),
        None,
    );
    r.expect("HEAD {key}/id: body", &body, "", None);
    let (head, body) = r.http("HEAD {path}", Method::HEAD, "", &[]).await?;
    r.expect(
        "HEAD {path}: head",
        &head,
        &format!("200; {JSON}; vary: Origin"),
        None,
    );
    r.expect("HEAD {path}: body", &body, "", None);
    Ok(())
}

async fn cors_simple_requests(r: &mut Run) -> anyhow::Result<()> {
    let origin = [("origin", ORIGIN)];
    let (head, _) = r
        .http(
            "GET {key}/id with Origin",
            Method::GET,
            "peerjs/id",
            &origin,
        )
        .await?;
    let want = format!("200; {HTML}; access-control-allow-origin: {ORIGIN}; vary: Origin");
    r.expect("GET {key}/id with Origin: head", &head, &want, None);
    let (head, _) = r
        .http("GET {path} with Origin", Method::GET, "", &origin)
        .await?;
    let want = format!("200; {JSON}; access-control-allow-origin: {ORIGIN}; vary: Origin");
    r.expect("GET {path} with Origin: head", &head, &want, None);
    let (head, _) = r
        .http(
            "GET {key}/peers with Origin",
            Method::GET,
            "peerjs/peers",
            &origin,
        )
        .await?;
    let want = format!("401; {TEXT}; access-control-allow-origin: {ORIGIN}; vary: Origin");
    r.expect("GET {key}/peers with Origin: head", &head, &want, None);
    let null = [("origin", "null")];
    let (head, _) = r
        .http(
            "GET {key}/id with Origin null",
            Method::GET,
            "peerjs/id",
            &null,
        )
        .await?;
    let want = format!("200; {HTML}; access-control-allow-origin: null; vary: Origin");
    r.expect("GET {key}/id with Origin null: head", &head, &want, None);
    Ok(())
}

async fn cors_preflight(r: &mut Run) -> anyhow::Result<()> {
    let methods = "access-control-allow-methods: GET,HEAD,PUT,PATCH,POST,DELETE";
    let with_headers = [
        ("origin", ORIGIN),
        ("access-control-request-method", "GET"),
        ("access-control-request-headers", "x-foo,content-type"),
    ];
    let (head, body) = r
        .http(
            "preflight {key}/id",
            Method::OPTIONS,
            "peerjs/id",
            &with_headers,
        )
        .await?;
    let want = format!(
        "204; access-control-allow-origin: {ORIGIN}; {methods}; \
         access-control-allow-headers: x-foo,content-type; vary: Origin, Access-Control-Request-Headers"
    );
    r.expect(
        "preflight {key}/id with request headers: head",
        &head,
        &want,
        None,
    );
    r.expect(
        "preflight {key}/id with request headers: body",
        &body,
        "",
        None,
    );
    let plain = [("origin", ORIGIN), ("access-control-request-method", "GET")];
    let (head, _) = r
        .http("preflight {path}", Method::OPTIONS, "", &plain)
        .await?;
    let want = format!(
        "204; access-control-allow-origin: {ORIGIN}; {methods}; vary: Origin, Access-Control-Request-Headers"
    );
    r.expect(
        "preflight {path} without request headers: head",
        &head,
        &want,
        None,
    );
    let (head, _) = r
        .http("OPTIONS without Origin", Method::OPTIONS, "peerjs/id", &[])
        .await?;
    let want = format!("204; {methods}; vary: Origin, Access-Control-Request-Headers");
    r.expect("OPTIONS {key}/id without Origin: head", &head, &want, None);
    Ok(())
}

async fn unknown_routes(r: &mut Run) -> anyhow::Result<()> {
    for rel in ["peerjs/nothing", "peerjs/id/more", "peerjs/peerjs"] {
        let (head, _) = r.http(&format!("GET {rel}"), Method::GET, rel, &[]).await?;
        let status = head.split(';').next().unwrap_or_default().to_owned();
        r.expect(&format!("GET {{path}}{rel}: status"), &status, "404", None);
    }
    // A WebSocket upgrade anywhere but {path}peerjs is refused.
    let status = r
        .upgrade_status("/peerjs/other?key=peerjs&id=x1&token=t")
        .await;
    r.expect("WS upgrade on {path}other", &status, "400", None);
    let status = r.upgrade_status("/peerjs?key=peerjs&id=x1&token=t").await;
    r.expect("WS upgrade on {path} itself", &status, "400", None);
    Ok(())
}
