//! Hostile input against our server: oversized and chunked bodies, deep nesting, huge arrays,
//! every wrong JSON type in every field, non-UTF-8 bytes, empty and truncated bodies. Each must
//! get its 4xx (never a 5xx, a hang or a dropped connection), and afterwards the server must
//! still answer a valid poll.

#[path = "conformance/fixtures.rs"]
mod fixtures;

use std::time::Duration;

use fixtures::{now_ms, one_shot_client, post_json, room_id, Peer};
use p2pcf_server::ServerConfig;
use p2pcf_tests::server::TestServer;
use serde_json::{json, Value};

const LIMIT: usize = 256 * 1024;

struct Hostile {
    name: String,
    body: reqwest::Body,
    headers: Vec<(&'static str, Vec<u8>)>,
    /// Exact status wanted, or `None` for "any 4xx".
    status: Option<u16>,
}

fn case(name: impl Into<String>, body: impl Into<reqwest::Body>, status: Option<u16>) -> Hostile {
    Hostile {
        name: name.into(),
        body: body.into(),
        headers: vec![],
        status,
    }
}

/// Sends every case; returns one line per broken expectation.
async fn run(url: &str, cases: Vec<Hostile>) -> Vec<String> {
    let client = one_shot_client();
    let mut failures = Vec::new();
    for c in cases {
        let mut req = client
            .post(url)
            .header("content-type", "application/json")
            .body(c.body);
        for (name, value) in c.headers {
            match reqwest::header::HeaderValue::from_bytes(&value) {
                Ok(v) => req = req.header(name, v),
                Err(e) => failures.push(format!("{}: bad test header: {e}", c.name)),
            }
        }
        let sent = tokio::time::timeout(Duration::from_secs(30), async {
            let res = req.send().await?;
            let status = res.status().as_u16();
            Ok::<_, reqwest::Error>((status, res.text().await?))
        })
        .await;
        match sent {
            Err(_) => failures.push(format!("{}: no answer within 30 s", c.name)),
            Ok(Err(e)) => failures.push(format!("{}: request failed: {e}", c.name)),
            Ok(Ok((status, body))) => {
                let ok = match c.status {
                    Some(want) => status == want,
                    None => (400..500).contains(&status),
                };
                if !ok {
                    let body: String = body.chars().take(120).collect();
                    failures.push(format!(
                        "{}: got {status} {body:?}, wanted {}",
                        c.name,
                        c.status.map_or("4xx".to_string(), |s| s.to_string())
                    ));
                }
            }
        }
    }
    failures
}

/// The server must still serve a normal publish + poll after the abuse.
async fn assert_still_serving(server: &TestServer) {
    assert!(!server.is_finished(), "server task ended");
    let client = fixtures::http_client();
    let (room, t) = (room_id("after"), now_ms());
    let (a, b) = (Peer::new("A"), Peer::new("B"));
    let body = a.publish(&room, t, json!([]));
    let publish = post_json(&client, &server.url, &body);
    let (status, body) = tokio::time::timeout(Duration::from_secs(30), publish)
        .await
        .expect("publish answered in time")
        .expect("publish sent");
    assert_eq!(status, 200, "{body}");
    let (status, body) = post_json(&client, &server.url, &b.poll(&room, t))
        .await
        .expect("poll sent");
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).expect("poll answer is JSON");
    assert_eq!(answer["ps"], json!([a.seen(t)]));
}

fn valid_publish() -> Value {
    Peer::new("H").publish(&room_id("hostile"), now_ms(), json!([]))
}

fn with(field: &str, value: &Value) -> Value {
    let mut body = valid_publish();
    match field.strip_prefix("d.") {
        Some(i) => body["d"][i.parse::<usize>().unwrap_or(0)] = value.clone(),
        None => body[field] = value.clone(),
    }
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_deep_and_malformed_bodies_get_4xx() {
    let config = ServerConfig {
        max_body_bytes: LIMIT,
        ..ServerConfig::default()
    };
    let server = TestServer::start(config).await.expect("start server");
    let big = vec![b' '; LIMIT + 1];
    let mut deep_in_object = br#"{"r":"deep-room","k":"k","p":"#.to_vec();
    deep_in_object.extend(std::iter::repeat_n(b'[', 50_000));
    let ips: Vec<String> = (0..5_000).map(|i| format!("x{i}")).collect();
    let many_keys: String = format!(
        "{{{}\"z\":0}}",
        (0..4_000)
            .map(|i| format!("\"k{i}\":0,"))
            .collect::<String>()
    );
    let mut non_utf8_origin = case(
        "non-UTF-8 Origin header",
        valid_publish().to_string(),
        Some(200),
    );
    non_utf8_origin
        .headers
        .push(("origin", b"https://\xffevil.example".to_vec()));
    let mut non_utf8_type = case(
        "non-UTF-8 content type",
        valid_publish().to_string(),
        Some(400),
    );
    non_utf8_type
        .headers
        .push(("content-type", b"application/json\xff".to_vec()));
    let cases = vec![
        case("body one byte over the limit", big, Some(413)),
        case("100k nested arrays", vec![b'['; 100_000], Some(400)),
        case("100k nested objects", "{\"a\":".repeat(10_000), Some(400)),
        case("50k nested arrays inside p", deep_in_object, Some(400)),
        case(
            "d with 20k items",
            with("d", &json!(vec![0; 20_000])).to_string(),
            Some(400),
        ),
        case(
            "5k invalid IPs",
            with("d.5", &json!(ips)).to_string(),
            Some(400),
        ),
        case(
            "room id as a 10k array",
            with("r", &json!(vec![1; 10_000])).to_string(),
            Some(400),
        ),
        case("4k keys, no room", many_keys, Some(400)),
        case("empty body", Vec::new(), Some(400)),
        case("whitespace body", "   ", Some(400)),
        case(
            "truncated JSON",
            valid_publish().to_string()[..40].to_owned(),
            Some(400),
        ),
        case(
            "trailing garbage",
            format!("{}x", valid_publish()),
            Some(400),
        ),
        case(
            "non-UTF-8 body",
            b"\xff\xfe{\"r\":\"abcd\"}".to_vec(),
            Some(400),
        ),
        case(
            "non-UTF-8 inside a string",
            b"{\"r\":\"ab\xffcd\"}".to_vec(),
            Some(400),
        ),
        case("lone surrogate escape", r#"{"r":"\ud800abcd"}"#, Some(400)),
        case("number beyond f64", r#"{"r":"abcd","x":1e999}"#, Some(400)),
        case("NUL bytes", vec![0u8; 1024], Some(400)),
        non_utf8_origin,
        non_utf8_type,
    ];
    let failures = run(&server.url, cases).await;
    assert!(
        failures.is_empty(),
        "hostile bodies:\n{}",
        failures.join("\n")
    );
    assert_still_serving(&server).await;
}

/// Sends `head` then the body as HTTP/1.1 chunks over a raw socket; returns the status code.
async fn raw_chunked(
    addr: std::net::SocketAddr,
    chunks: usize,
    chunk: &[u8],
) -> anyhow::Result<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(addr).await?;
    let head = "POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
                transfer-encoding: chunked\r\nconnection: close\r\n\r\n";
    socket.write_all(head.as_bytes()).await?;
    for _ in 0..chunks {
        socket
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await?;
        // The server may answer 413 and close before the body ends: stop writing then.
        if socket.write_all(chunk).await.is_err() || socket.write_all(b"\r\n").await.is_err() {
            break;
        }
    }
    let _ = socket.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no status line in {text:?}"))?;
    Ok(status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_body_over_the_limit_gets_413() {
    let config = ServerConfig {
        max_body_bytes: LIMIT,
        ..ServerConfig::default()
    };
    let server = TestServer::start(config).await.expect("start server");
    let status = tokio::time::timeout(
        Duration::from_secs(30),
        raw_chunked(server.addr, 64, &vec![b'['; LIMIT / 16]),
    )
    .await
    .expect("answered within 30 s")
    .expect("exchange");
    assert_eq!(status, 413);
    // Just under the limit, chunked: parsed (and refused as JSON), not 413.
    let status = raw_chunked(server.addr, 15, &vec![b' '; LIMIT / 16])
        .await
        .expect("exchange");
    assert_eq!(status, 400);
    assert_still_serving(&server).await;
}

/// Values of every JSON type, for the fields that must reject them.
fn wrong_values() -> Vec<(&'static str, Vec<Value>)> {
    let long = json!("a".repeat(65));
    let common = || {
        vec![
            json!(null),
            json!(true),
            json!([]),
            json!({}),
            json!([1]),
            json!({"a": 1}),
        ]
    };
    let plus = |mut v: Vec<Value>, more: Vec<Value>| {
        v.extend(more);
        v
    };
    vec![
        (
            "r",
            plus(
                common(),
                vec![json!(1), json!(1.5), json!(""), json!("abc"), long.clone()],
            ),
        ),
        (
            "k",
            plus(
                common(),
                vec![json!(1), json!(1.5), json!(""), long.clone()],
            ),
        ),
        (
            "t",
            plus(
                common(),
                vec![
                    json!("1"),
                    json!(""),
                    json!(1),
                    json!(-1),
                    json!(1.5),
                    json!(1e308),
                ],
            ),
        ),
        (
            "x",
            plus(
                common(),
                vec![
                    json!("1000"),
                    json!(""),
                    json!(0),
                    json!(1e308),
                    json!(86_400_001),
                ],
            ),
        ),
        (
            "d",
            vec![
                json!(true),
                json!(1),
                json!("str"),
                json!("abcdef"),
                json!({}),
                json!([]),
                json!([1]),
                json!([null, null, null, null, null, null]),
            ],
        ),
        (
            "d.0",
            plus(common(), vec![json!(1), json!(""), long.clone()]),
        ),
        ("d.1", plus(common(), vec![json!(1), json!(""), long])),
        (
            "d.2",
            vec![
                json!(null),
                json!([]),
                json!({}),
                json!(1),
                json!(0),
                json!("true"),
            ],
        ),
        (
            "d.3",
            plus(
                common(),
                vec![
                    json!(1),
                    json!("short"),
                    json!(vec!["a"; 44]),
                    json!(format!("{}=", "*".repeat(43))),
                ],
            ),
        ),
        ("d.4", plus(common(), vec![json!(0), json!("1")])),
        (
            "d.5",
            vec![
                json!(null),
                json!(true),
                json!(1),
                json!("1.2.3.4"),
                json!({}),
                json!({"a": 1}),
                json!([1]),
                json!([null]),
                json!([[]]),
                json!(["x"]),
                json!([""]),
            ],
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_json_types_in_every_field_get_400() {
    let server = TestServer::start(ServerConfig::default())
        .await
        .expect("start server");
    let mut cases = Vec::new();
    for (field, values) in wrong_values() {
        for value in values {
            let body = with(field, &value).to_string();
            cases.push(case(format!("{field} = {value}"), body, Some(400)));
        }
    }
    // A leave with a delete key of the wrong type: 400 (missing) or 404 (matches nothing).
    for dk in [
        json!(null),
        json!(""),
        json!(true),
        json!(1),
        json!([]),
        json!({}),
        json!(["k"]),
    ] {
        let mut body = Peer::new("H").leave(&room_id("hostile"), now_ms(), "x");
        body["dk"] = dk.clone();
        let mut c = case(format!("leave with dk = {dk}"), body.to_string(), None);
        c.headers.push(("x-worker-method", b"DELETE".to_vec()));
        cases.push(c);
    }
    let failures = run(&server.url, cases).await;
    assert!(failures.is_empty(), "wrong types:\n{}", failures.join("\n"));
    assert_still_serving(&server).await;
}

/// `p` is not validated by the worker (any truthy value publishes); odd packages must be
/// stored without breaking the room for others (the worker 500s on a `null` package).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_packages_never_break_a_room() {
    let server = TestServer::start(ServerConfig::default())
        .await
        .expect("start server");
    let client = fixtures::http_client();
    let odd = [
        json!(true),
        json!(1),
        json!("str"),
        json!({}),
        json!({"0": "x"}),
        json!([null]),
        json!([1]),
        json!([[]]),
        json!([{}]),
        json!([[null]]),
        json!(vec![json!([1, 2]); 5_000]),
    ];
    for (i, p) in odd.iter().enumerate() {
        let (room, t) = (room_id("pkg"), now_ms());
        let (a, b) = (Peer::new(&format!("A{i}")), Peer::new(&format!("B{i}")));
        let mut publish = a.publish(&room, t, json!([]));
        publish["p"] = p.clone();
        let (status, body) = post_json(&client, &server.url, &publish)
            .await
            .expect("publish");
        assert_eq!(status, 200, "p = {p}: {body}");
        let (status, body) = post_json(&client, &server.url, &b.poll(&room, t))
            .await
            .expect("poll");
        assert_eq!(status, 200, "poll after p = {p}: {body}");
        let answer: Value = serde_json::from_str(&body).expect("JSON answer");
        assert_eq!(answer["ps"], json!([a.seen(t)]), "p = {p}");
        assert_eq!(
            answer["pk"],
            json!([]),
            "p = {p}: nothing is addressed to B"
        );
    }
    assert_still_serving(&server).await;
}
