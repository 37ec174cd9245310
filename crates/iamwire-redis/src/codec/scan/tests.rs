use super::*;

fn reply(limits: Limits) -> FrameScanner {
    FrameScanner::new(Profile::Reply, limits)
}

/// Frame ends found in `stream`, read in pieces of `chunk` bytes.
fn ends(stream: &[u8], chunk: usize) -> Result<Vec<usize>, RespViolation> {
    let mut s = reply(Limits::default());
    let (mut out, mut pos, mut avail) = (Vec::new(), 0, 0);
    while avail < stream.len() {
        avail = (avail + chunk).min(stream.len());
        loop {
            match s.scan(&stream[pos..avail])? {
                Scan::Complete(n) => {
                    pos += n;
                    out.push(pos);
                }
                Scan::Partial(n) => {
                    pos += n;
                    break;
                }
            }
        }
    }
    Ok(out)
}

const STREAM: &[u8] = b"+OK\r\n-ERR no\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*-1\r\n*0\r\n\
*2\r\n*1\r\n:1\r\n$0\r\n\r\n%1\r\n+k\r\n~2\r\n#t\r\n_\r\n>3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n\
|1\r\n+ttl\r\n:3\r\n,1.5\r\n(123\r\n=8\r\ntxt:abcd\r\n!3\r\nERR\r\n";

#[test]
fn every_type_and_every_split_finds_the_same_ends() {
    let whole = ends(STREAM, STREAM.len()).unwrap();
    assert_eq!(whole.len(), 14, "{whole:?}");
    assert_eq!(*whole.last().unwrap(), STREAM.len());
    for chunk in 1..STREAM.len() {
        assert_eq!(ends(STREAM, chunk).unwrap(), whole, "chunk {chunk}");
    }
}

#[test]
fn a_frame_split_at_every_offset() {
    let frame = b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n";
    for split in 0..=frame.len() {
        let mut s = reply(Limits::default());
        let (a, b) = frame.split_at(split);
        let took = match s.scan(a).unwrap() {
            Scan::Partial(n) => n,
            Scan::Complete(n) => {
                assert_eq!(n, frame.len());
                continue;
            }
        };
        let mut rest = a[took..].to_vec();
        rest.extend_from_slice(b);
        assert_eq!(
            s.scan(&rest).unwrap(),
            Scan::Complete(rest.len()),
            "{split}"
        );
        assert_eq!(s.kind(), Some(b'*'));
        assert!(s.is_between_frames());
    }
}

#[test]
fn bulk_length_limit() {
    let limits = Limits {
        max_bulk_len: 10,
        ..Limits::default()
    };
    assert_eq!(reply(limits).scan(b"$10\r\n"), Ok(Scan::Partial(5)));
    assert_eq!(
        reply(limits).scan(b"$11\r\n"),
        Err(RespViolation::BulkTooLong { len: 11, max: 10 })
    );
    // Checked on the header: nothing of the payload needs to be there.
    assert!(
        reply(Limits::default())
            .scan(b"$99999999999999999999\r\n")
            .is_err()
    );
    assert!(matches!(
        reply(Limits::default()).scan(b"$9999999999999999999\r\n"),
        Err(RespViolation::BulkTooLong { .. })
    ));
}

#[test]
fn aggregate_length_limit() {
    let limits = Limits {
        max_aggregate_len: 3,
        ..Limits::default()
    };
    assert_eq!(reply(limits).scan(b"*3\r\n"), Ok(Scan::Partial(4)));
    for header in [&b"*4\r\n"[..], b"%4\r\n", b"~4\r\n", b">4\r\n", b"|4\r\n"] {
        assert!(
            matches!(
                reply(limits).scan(header),
                Err(RespViolation::AggregateTooLong { len: 4, max: 3 })
            ),
            "{header:?}"
        );
    }
}

#[test]
fn nesting_depth_limit() {
    let limits = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    assert_eq!(
        reply(limits).scan(b"*1\r\n*1\r\n*1\r\n:1\r\n"),
        Ok(Scan::Complete(16))
    );
    assert_eq!(
        reply(limits).scan(b"*1\r\n*1\r\n*1\r\n*1\r\n"),
        Err(RespViolation::TooDeep { max: 3 })
    );
    // A million levels are refused at the limit, without recursion or allocation.
    let deep = b"*1\r\n".repeat(1_000_000);
    assert!(matches!(
        reply(Limits::default()).scan(&deep),
        Err(RespViolation::TooDeep { max: 64 })
    ));
}

#[test]
fn line_length_limit() {
    let limits = Limits {
        max_line_len: 8,
        ..Limits::default()
    };
    assert_eq!(reply(limits).scan(b"+1234567\r\n"), Ok(Scan::Complete(10)));
    assert_eq!(
        reply(limits).scan(b"+123456789\r\n"),
        Err(RespViolation::LineTooLong { max: 8 })
    );
    // No CRLF yet, but already too long to be a line.
    assert_eq!(
        reply(limits).scan(b"+1234567890123"),
        Err(RespViolation::LineTooLong { max: 8 })
    );
    assert_eq!(reply(limits).scan(b"+1234567"), Ok(Scan::Partial(0)));
}

#[test]
fn command_length_limit() {
    let limits = Limits {
        max_command_len: 32,
        ..Limits::default()
    };
    let mut s = FrameScanner::new(Profile::Command, limits);
    assert_eq!(s.scan(b"*1\r\n$4\r\nPING\r\n"), Ok(Scan::Complete(14)));
    let mut s = FrameScanner::new(Profile::Command, limits);
    assert_eq!(
        s.scan(b"*2\r\n$3\r\nSET\r\n$100\r\n"),
        Ok(Scan::Partial(19))
    );
    assert_eq!(
        s.scan(&[b'x'; 20]),
        Err(RespViolation::CommandTooLong { max: 32 })
    );
}

#[test]
fn commands_are_flat_arrays_of_bulk_strings() {
    let scan = |b: &[u8]| FrameScanner::new(Profile::Command, Limits::default()).scan(b);
    assert_eq!(scan(b"PING\r\n"), Err(RespViolation::NotACommand));
    assert!(matches!(
        scan(b"*1\r\n:1\r\n"),
        Err(RespViolation::Malformed(_))
    ));
    assert!(matches!(
        scan(b"*1\r\n*1\r\n"),
        Err(RespViolation::Malformed(_))
    ));
    assert!(matches!(
        scan(b"*1\r\n$-1\r\n"),
        Err(RespViolation::Malformed(_))
    ));
    assert_eq!(scan(b"*0\r\n"), Ok(Scan::Complete(4)));
    assert_eq!(scan(b"*-1\r\n"), Ok(Scan::Complete(5)));
}

#[test]
fn malformed_input_is_refused() {
    for bad in [
        &b"$3\r\nabcd\r\n"[..],
        b"$3\r\nabc\n\n",
        b"+OK\n",
        b"\r\n",
        b"x\r\n",
        b":12a\r\n",
        b":+1\r\n",
        b"$-2\r\n",
        b"$ 3\r\n",
        b"#x\r\n",
        b"_x\r\n",
        b"=3\r\nabc\r\n",
        b"$?\r\n",
        b"*?\r\n",
        b"(12x\r\n",
    ] {
        assert!(reply(Limits::default()).scan(bad).is_err(), "{bad:?}");
    }
}
