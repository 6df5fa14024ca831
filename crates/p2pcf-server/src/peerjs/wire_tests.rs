use super::*;

fn parse(text: &str) -> Incoming {
    match Incoming::parse(text.as_bytes()) {
        Ok(incoming) => incoming,
        Err(e) => panic!("{text:?} did not parse: {e}"),
    }
}

#[test]
fn relay_keys_come_in_type_src_dst_payload_order() {
    let frame = relay(Kind::Offer, "a", "b", Some(r#"{"sdp":"x"}"#));
    assert_eq!(
        frame,
        r#"{"type":"OFFER","src":"a","dst":"b","payload":{"sdp":"x"}}"#
    );
    assert_eq!(
        notice(Kind::Expire, "b", "a"),
        r#"{"type":"EXPIRE","src":"b","dst":"a"}"#
    );
}

#[test]
fn server_texts_match_upstream() {
    assert_eq!(open(), r#"{"type":"OPEN"}"#);
    assert_eq!(
        id_taken(),
        r#"{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}"#
    );
    assert_eq!(
        error(ERR_LIMIT),
        r#"{"type":"ERROR","payload":{"msg":"Server has reached its concurrent user limit"}}"#
    );
}

#[test]
fn ids_are_escaped_like_json_stringify() {
    let frame = relay(Kind::Leave, "a\"b\\c\n\u{1}", "é", None);
    assert_eq!(
        frame,
        r#"{"type":"LEAVE","src":"a\"b\\c\n\u0001","dst":"é"}"#
    );
}

#[test]
fn client_message_fields_are_read_and_others_ignored() {
    let m = parse(
        r#"{"type":"OFFER","dst":"b","src":"spoofed","extra":[1,2],"payload":{ "a" : [1, 2] }}"#,
    );
    assert_eq!(m.kind, Some(Kind::Offer));
    assert_eq!(m.dst, Dst::Id("b".into()));
    assert_eq!(m.payload.as_deref(), Some(r#"{"a":[1,2]}"#));
}

#[test]
fn payload_whitespace_inside_strings_is_kept() {
    let m = parse(r#"{"type":"CANDIDATE","dst":"b","payload":{"s":"a b\" \\"}}"#);
    assert_eq!(m.payload.as_deref(), Some(r#"{"s":"a b\" \\"}"#));
}

#[test]
fn null_payload_is_forwarded_as_null() {
    let m = parse(r#"{"type":"ANSWER","dst":"b","payload":null}"#);
    assert_eq!(m.payload.as_deref(), Some("null"));
}

#[test]
fn unknown_and_non_string_types_have_no_kind() {
    assert_eq!(parse(r#"{"type":"HELLO","dst":"b"}"#).kind, None);
    assert_eq!(parse(r#"{"type":1,"dst":"b"}"#).kind, None);
    assert_eq!(parse(r#"{"type":{"a":1}}"#).kind, None);
    assert_eq!(parse(r#"{"type":"heartbeat"}"#).kind, None);
}

#[test]
fn escaped_type_names_are_decoded() {
    assert_eq!(
        parse(r#"{"\u0074ype":"OFF\u0045R"}"#).kind,
        Some(Kind::Offer)
    );
}

#[test]
fn last_duplicate_key_wins() {
    let m = parse(r#"{"type":"OFFER","type":"HEARTBEAT","dst":"a","dst":"b"}"#);
    assert_eq!(m.kind, Some(Kind::Heartbeat));
    assert_eq!(m.dst, Dst::Id("b".into()));
}

#[test]
fn dst_is_classified_by_javascript_truthiness() {
    for falsy in ["null", "false", "0", "-0", "0.0", r#""""#] {
        assert_eq!(
            parse(&format!(r#"{{"type":"LEAVE","dst":{falsy}}}"#)).dst,
            Dst::Falsy,
            "{falsy}"
        );
    }
    assert_eq!(parse(r#"{"type":"LEAVE"}"#).dst, Dst::Falsy);
    for other in ["1", "true", "[]", "{}", r#"["a"]"#] {
        assert_eq!(
            parse(&format!(r#"{{"type":"OFFER","dst":{other}}}"#)).dst,
            Dst::Other,
            "{other}"
        );
    }
}

#[test]
fn non_objects_are_messages_of_no_type() {
    for text in ["1", "\"OFFER\"", "null", "true", "[1,{\"type\":\"OFFER\"}]"] {
        assert_eq!(parse(text), NOT_A_MESSAGE, "{text}");
    }
}

#[test]
fn invalid_json_is_an_error_not_a_panic() {
    for text in [
        "",
        "{",
        "{\"type\":",
        "nope",
        "{\"type\":\"OFFER\"} trailing",
        "\u{0}",
    ] {
        assert!(Incoming::parse(text.as_bytes()).is_err(), "{text:?}");
    }
    assert!(Incoming::parse(&[0xff, 0xfe]).is_err());
}

#[test]
fn deep_nesting_in_payload_is_accepted_without_recursion() {
    let depth = 100_000;
    let text = format!(
        r#"{{"type":"OFFER","dst":"b","payload":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let m = parse(&text);
    assert_eq!(m.payload.map(|p| p.len()), Some(2 * depth));
}

#[test]
fn deep_nesting_elsewhere_is_ignored_or_refused_without_panic() {
    let depth = 100_000;
    let text = format!(
        r#"{{"type":"OFFER","x":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let _ = Incoming::parse(text.as_bytes());
    let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let _ = Incoming::parse(text.as_bytes());
}

#[test]
fn query_decodes_like_url_search_params() {
    let q = Query::parse("key=peerjs&id=a%20b+c&token=t&version=1.5.5");
    assert_eq!(q.id.as_deref(), Some("a b c"));
    assert_eq!(q.token.as_deref(), Some("t"));
    assert_eq!(q.key.as_deref(), Some("peerjs"));
}

#[test]
fn query_last_duplicate_wins_and_empty_is_missing() {
    let q = Query::parse("id=a&id=b&token=&key");
    assert_eq!(q.id.as_deref(), Some("b"));
    assert_eq!(q.token, None);
    assert_eq!(q.key, None);
}

#[test]
fn query_keeps_bad_percent_sequences() {
    assert_eq!(Query::parse("id=%zz%4").id.as_deref(), Some("%zz%4"));
    assert_eq!(Query::parse("%69d=x").id.as_deref(), Some("x"));
}

#[test]
fn id_rule_matches_the_client_regex() {
    for ok in ["a", "abc123", "a b", "a_b-c d", "A1-B2", "0"] {
        assert!(is_valid_id(ok), "{ok}");
    }
    for bad in [
        "", " a", "a ", "a--b", "a__b", "-a", "a-", "é", "a.b", "a/b", "a  b",
    ] {
        assert!(!is_valid_id(bad), "{bad}");
    }
}
