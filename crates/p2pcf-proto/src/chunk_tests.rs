use super::*;

fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31).wrapping_add(7)) as u8)
        .collect()
}

fn header(id: u16, index: u16, last: bool, total: u32) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&MAGIC.to_le_bytes());
    h.extend_from_slice(&id.to_le_bytes());
    h.extend_from_slice(&index.to_le_bytes());
    h.extend_from_slice(&u16::from(last).to_le_bytes());
    h.extend_from_slice(&total.to_le_bytes());
    h
}

#[test]
fn split_produces_padded_chunks_with_headers() {
    let msg = pattern(16001);
    let chunks: Vec<_> = split(&msg, 5).collect();
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[0].len(), 16000);
    assert_eq!(chunks[1].len(), 28); // 12 + 13 padded to 4
    assert_eq!(&chunks[1][25..], &[0, 0, 0]);
    let h = ChunkHeader::parse(&chunks[1]).unwrap();
    assert_eq!(
        (h.message_id, h.index, h.last, h.total_len),
        (5, 1, true, 16001)
    );
    assert!(!ChunkHeader::parse(&chunks[0]).unwrap().last);
}

#[test]
fn split_is_lazy_and_sized() {
    let msg = pattern(MAX_CHUNK_PAYLOAD * 3);
    let mut it = split(&msg, 40000);
    assert_eq!(it.len(), 3);
    let first = it.next().unwrap();
    assert_eq!(
        ChunkHeader::parse(&first).unwrap().message_id,
        40000 - 32768
    );
    assert_eq!(it.len(), 2);
    assert_eq!(split(&[], 1).count(), 0);
}

#[test]
fn needs_chunking_covers_long_and_magic_messages() {
    assert!(!needs_chunking(&pattern(16000)));
    assert!(needs_chunking(&pattern(16001)));
    let mut m = vec![0xb9, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    assert!(needs_chunking(&m));
    m.truncate(11);
    assert!(
        !needs_chunking(&m),
        "receivers only read >= 12 byte messages as chunks"
    );
}

#[test]
fn round_trip_in_order_reverse_and_shuffled_with_duplicates() {
    for len in [
        12,
        16001,
        MAX_CHUNK_PAYLOAD * 2,
        MAX_CHUNK_PAYLOAD * 2 + 1,
        100_003,
    ] {
        let msg = pattern(len);
        let chunks: Vec<_> = split(&msg, 9).collect();
        let orders: Vec<Vec<usize>> = vec![
            (0..chunks.len()).collect(),
            (0..chunks.len()).rev().collect(),
            // Every chunk but the final one twice (a duplicate after completion would
            // open a new partial message that only expiry removes).
            (0..chunks.len() - 1)
                .flat_map(|i| [i, i])
                .chain([chunks.len() - 1])
                .collect(),
        ];
        for order in orders {
            let mut r = Reassembler::default();
            let mut done = None;
            let mut dups = 0;
            for i in order {
                match r.push(0, &chunks[i]).unwrap() {
                    ChunkOutcome::Complete(m) => done = Some(m),
                    ChunkOutcome::Duplicate => dups += 1,
                    ChunkOutcome::Pending => {}
                }
            }
            assert_eq!(done.as_deref(), Some(&msg[..]), "len {len}");
            assert_eq!(r.in_flight(), 0);
            assert!(dups == 0 || dups == chunks.len() - 1);
        }
    }
}

#[test]
fn interleaved_messages_reassemble_independently() {
    let (a, b) = (pattern(40_000), pattern(33_000));
    let ca: Vec<_> = split(&a, 1).collect();
    let cb: Vec<_> = split(&b, 2).collect();
    let mut r = Reassembler::default();
    let mut out = Vec::new();
    for i in 0..3 {
        for c in [ca.get(i), cb.get(i)].into_iter().flatten() {
            if let ChunkOutcome::Complete(m) = r.push(0, c).unwrap() {
                out.push(m);
            }
        }
    }
    assert_eq!(out, vec![a, b]);
}

#[test]
fn hostile_chunks_are_dropped_with_reasons() {
    let small = ReassemblerLimits {
        max_message_size: 50_000,
        ..Default::default()
    };
    let pad = |mut h: Vec<u8>, n: usize| {
        h.resize(h.len() + n, 0xAA);
        h
    };
    let cases: Vec<(&str, Vec<Vec<u8>>, ChunkError)> = vec![
        (
            "short",
            vec![vec![0xb9, 0x1f, 0]],
            ChunkError::NotAChunk { len: 3 },
        ),
        (
            "too large",
            vec![pad(header(1, 0, false, u32::MAX), 15988)],
            ChunkError::TooLarge {
                total_len: u32::MAX,
                limit: 50_000,
            },
        ),
        (
            "index beyond total",
            vec![pad(header(1, 9, true, 20_000), 100)],
            ChunkError::IndexOutOfRange {
                index: 9,
                total_len: 20_000,
            },
        ),
        (
            "last flag on first of two",
            vec![pad(header(1, 0, true, 20_000), 15988)],
            ChunkError::BadLastFlag { index: 0 },
        ),
        (
            "truncated payload",
            vec![pad(header(1, 0, false, 20_000), 100)],
            ChunkError::Truncated {
                index: 0,
                expected: 15988,
                got: 100,
            },
        ),
        (
            "inconsistent total",
            vec![
                pad(header(1, 0, false, 20_000), 15988),
                pad(header(1, 1, true, 20_004), 4016),
            ],
            ChunkError::InconsistentLength {
                message_id: 1,
                expected: 20_000,
                got: 20_004,
            },
        ),
    ];
    for (name, chunks, want) in cases {
        let mut r = Reassembler::new(small);
        let mut last = None;
        for c in &chunks {
            last = Some(r.push(0, c));
        }
        assert_eq!(last.unwrap(), Err(want), "{name}");
    }
}

#[test]
fn in_flight_and_buffer_limits_hold() {
    let limits = ReassemblerLimits {
        max_in_flight: 2,
        ..Default::default()
    };
    let mut r = Reassembler::new(limits);
    let msg = pattern(40_000);
    for id in 0..2 {
        let first = split(&msg, id).next().unwrap();
        assert_eq!(r.push(0, &first), Ok(ChunkOutcome::Pending));
    }
    let third = split(&msg, 3).next().unwrap();
    assert_eq!(r.push(0, &third), Err(ChunkError::TooManyInFlight));

    let limits = ReassemblerLimits {
        max_buffered_bytes: 50_000,
        ..Default::default()
    };
    let mut r = Reassembler::new(limits);
    assert_eq!(
        r.push(0, &split(&msg, 1).next().unwrap()),
        Ok(ChunkOutcome::Pending)
    );
    assert_eq!(
        r.push(0, &split(&msg, 2).next().unwrap()),
        Err(ChunkError::TooManyInFlight)
    );
}

#[test]
fn stale_partials_expire() {
    let mut r = Reassembler::new(ReassemblerLimits {
        expiry_ms: 1000,
        ..Default::default()
    });
    let msg = pattern(40_000);
    let chunks: Vec<_> = split(&msg, 4).collect();
    r.push(100, &chunks[0]).unwrap();
    assert_eq!(r.next_expiry(), Some(1101));
    assert!(r.expire(1100).is_empty());
    r.push(1000, &chunks[1]).unwrap(); // activity refreshes the deadline
    assert!(r.expire(1500).is_empty());
    assert_eq!(r.expire(2001), vec![4]);
    assert_eq!(r.in_flight(), 0);
    // The late final chunk alone cannot complete anything.
    assert_eq!(r.push(2002, &chunks[2]), Ok(ChunkOutcome::Pending));
}

#[test]
fn out_of_order_high_index_first_allocates_only_up_to_it() {
    let msg = pattern(MAX_CHUNK_PAYLOAD * 4);
    let chunks: Vec<_> = split(&msg, 1).collect();
    let mut r = Reassembler::default();
    r.push(0, &chunks[1]).unwrap();
    let p = r.partial.get(&1).unwrap();
    assert_eq!(p.data.len(), MAX_CHUNK_PAYLOAD * 2);
}

#[test]
fn random_junk_never_panics() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut r = Reassembler::default();
    for _ in 0..20_000 {
        let len = rng.gen_range(0..64);
        let mut buf: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        if len >= 2 && rng.gen_bool(0.8) {
            buf[0] = 0xb9;
            buf[1] = 0x1f;
        }
        if len >= 12 && rng.gen_bool(0.5) {
            let total = rng.gen_range(0..100_000u32);
            buf[8..12].copy_from_slice(&total.to_le_bytes());
            buf[4] = rng.gen_range(0..8);
            buf[5] = 0;
        }
        let _ = r.push(0, &buf);
    }
}

#[test]
fn split_stops_at_the_largest_message_the_u16_chunk_index_can_describe() {
    // calloc'd and never touched except the chunks we look at: cheap despite the size.
    let max = vec![0u8; MAX_WIRE_MESSAGE_LEN];
    assert_eq!(split(&max, 1).len(), 65_536, "indices 0..=u16::MAX");
    drop(max);
    let over = vec![0u8; MAX_WIRE_MESSAGE_LEN + 1];
    assert_eq!(split(&over, 1).count(), 0, "the index would wrap: refused");
}
