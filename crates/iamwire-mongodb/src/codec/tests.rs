use super::*;
use crate::bson::DocBuf;

fn doc(key: &str) -> RawDocument {
    let mut d = DocBuf::new();
    d.i32(key, 1).str("$db", "admin");
    RawDocument::from(d.finish())
}

fn decode_one(bytes: &[u8]) -> Result<RawMessage, Malformed> {
    let mut buf = BytesMut::from(bytes);
    MessageDecoder::new(Limits::default().max_message_len)
        .decode(&mut buf)
        .map(|m| m.expect("a whole message"))
}

#[test]
fn a_length_out_of_bounds_is_refused_from_the_header_alone() {
    let decoder = MessageDecoder::new(1024);
    for len in [0u32, 15, 1025, u32::MAX] {
        let mut buf = BytesMut::new();
        put_header(&mut buf, 0, 1, 0, opcode::OP_MSG);
        buf[..4].copy_from_slice(&len.to_le_bytes());
        assert!(
            matches!(decoder.decode(&mut buf), Err(Malformed::Length { .. })),
            "{len}"
        );
    }
    // A length within bounds waits for the body, having reserved no more than it.
    let mut buf = BytesMut::new();
    put_header(&mut buf, 100, 1, 0, opcode::OP_MSG);
    assert_eq!(decoder.decode(&mut buf), Ok(None));
}

#[test]
fn op_msg_checksums_are_written_and_checked() {
    let mut msg = OpMsg::new(doc("ping"));
    msg.flags = flags::CHECKSUM_PRESENT;
    let mut wire = BytesMut::new();
    msg.encode(5, 0, &mut wire);
    let raw = decode_one(&wire).unwrap();
    let FrontendMessage::Msg(back) = FrontendMessage::decode(&raw, &Limits::default()).unwrap()
    else {
        panic!("OP_MSG")
    };
    assert_eq!(back, msg);
    // Any byte changed after the header breaks it.
    let mut bad = wire.to_vec();
    let at = bad.len() - 6;
    bad[at] ^= 1;
    let raw = decode_one(&bad).unwrap();
    assert_eq!(
        FrontendMessage::decode(&raw, &Limits::default()),
        Err(Malformed::Checksum)
    );
}

#[test]
fn op_msg_sections_are_checked() {
    let body = doc("insert");
    let one = |kind: u8, bytes: &[u8]| {
        let mut sections = vec![0, 0, 0, 0];
        sections.push(kind);
        sections.extend_from_slice(bytes);
        sections
    };
    let limits = Limits::default();
    let header = |len: usize| Header {
        length: u32::try_from(HEADER_LEN + len).unwrap(),
        request_id: 1,
        response_to: 0,
        op_code: opcode::OP_MSG,
    };
    let decode = |bytes: Vec<u8>| OpMsg::decode(&header(bytes.len()), &Bytes::from(bytes), &limits);
    // Two bodies.
    let mut two = one(0, body.as_bytes());
    two.push(0);
    two.extend_from_slice(body.as_bytes());
    assert_eq!(decode(two), Err(Malformed::Sections("more than one body")));
    // A kind of 2.
    assert!(matches!(
        decode(one(2, body.as_bytes())),
        Err(Malformed::Sections(_))
    ));
    // No body at all.
    assert_eq!(
        decode(vec![0, 0, 0, 0]),
        Err(Malformed::Sections("no body"))
    );
    // An unknown required flag bit; an unknown optional one is fine.
    let mut flagged = one(0, body.as_bytes());
    flagged[0] = 0b100;
    assert_eq!(decode(flagged), Err(Malformed::Flags(0b100)));
    let mut optional = one(0, body.as_bytes());
    optional[2] = 1;
    assert!(decode(optional).is_ok());
    // A sequence whose size runs past the message.
    let mut seq = one(0, body.as_bytes());
    seq.extend_from_slice(&[1, 200, 0, 0, 0, b'd', 0]);
    assert!(matches!(decode(seq), Err(Malformed::Truncated(_))));
    // Too many sequences.
    let mut many = one(0, body.as_bytes());
    for _ in 0..=limits.max_sections {
        many.extend_from_slice(&[1, 6, 0, 0, 0, b'd', 0]);
    }
    assert!(matches!(decode(many), Err(Malformed::TooMany { .. })));
}

#[test]
fn legacy_messages_round_trip_and_trailing_bytes_are_refused() {
    let query = OpQuery {
        flags: 0,
        collection: "admin.$cmd".into(),
        skip: 0,
        limit: -1,
        query: doc("isMaster"),
        fields: None,
    };
    let mut wire = BytesMut::new();
    query.encode(3, &mut wire);
    let raw = decode_one(&wire).unwrap();
    let FrontendMessage::Query(back) = FrontendMessage::decode(&raw, &Limits::default()).unwrap()
    else {
        panic!("OP_QUERY")
    };
    assert_eq!(back, query);
    assert_eq!(back.command_db(), Some("admin"));

    let reply = OpReply::command(doc("ok"));
    let mut wire = BytesMut::new();
    reply.encode(4, 3, &mut wire);
    let raw = decode_one(&wire).unwrap();
    assert_eq!(raw.header.response_to, 3);
    let back = BackendMessage::decode(&raw, &Limits::default()).unwrap();
    assert_eq!(back, BackendMessage::Reply(reply));
    assert_eq!(back.reply().and_then(|d| d.first_key()), Some("ok"));
    // numberReturned says 2, one document follows.
    let mut body = raw.body.to_vec();
    body[16] = 2;
    assert!(OpReply::decode(&Bytes::from(body), &Limits::default()).is_err());
    // A client does not send OP_REPLY; a database does not send OP_QUERY.
    assert_eq!(
        FrontendMessage::decode(&raw, &Limits::default()),
        Err(Malformed::OpCode(opcode::OP_REPLY))
    );
}
