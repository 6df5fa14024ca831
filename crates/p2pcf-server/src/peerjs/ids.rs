//! Fresh ids for `GET {path}{key}/id`: UUID v4 (as `crypto.randomUUID()`) or short Crockford
//! Base32 ids.

use rand::Rng;

use super::config::PeerIdStyle;

/// Crockford's Base32 alphabet (no I, L, O, U).
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A fresh id in `style`, from `rng`.
pub fn generate(style: PeerIdStyle, rng: &mut impl Rng) -> String {
    match style {
        PeerIdStyle::Uuid => uuid_v4(rng),
        PeerIdStyle::Short => short(rng),
    }
}

/// Lowercase hyphenated UUID version 4 (RFC 4122 variant).
fn uuid_v4(rng: &mut impl Rng) -> String {
    let mut bytes: [u8; 16] = rng.gen();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut out = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// 8 Crockford Base32 characters: 40 random bits.
fn short(rng: &mut impl Rng) -> String {
    let bits: u64 = rng.gen::<u64>() & ((1 << 40) - 1);
    (0..8)
        .rev()
        .map(|i| char::from(CROCKFORD[((bits >> (i * 5)) & 31) as usize]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peerjs::wire::is_valid_id;
    use rand::SeedableRng;

    #[test]
    fn uuids_are_version_4_lowercase_and_valid_client_ids() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for _ in 0..200 {
            let id = generate(PeerIdStyle::Uuid, &mut rng);
            assert_eq!(id.len(), 36);
            let groups: Vec<&str> = id.split('-').collect();
            assert_eq!(
                groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12]
            );
            assert!(groups[2].starts_with('4'), "{id}");
            assert!(
                matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
                "{id}"
            );
            assert!(id.bytes().all(|b| b == b'-' || HEX.contains(&b)));
            assert!(is_valid_id(&id));
        }
    }

    #[test]
    fn short_ids_are_8_crockford_chars_and_valid_client_ids() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let id = generate(PeerIdStyle::Short, &mut rng);
            assert_eq!(id.len(), 8);
            assert!(id.bytes().all(|b| CROCKFORD.contains(&b)), "{id}");
            assert!(is_valid_id(&id));
            seen.insert(id);
        }
        assert!(seen.len() > 990, "ids repeat too often: {}", seen.len());
    }

    #[test]
    fn short_ids_use_all_40_bits() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut first = std::collections::HashSet::new();
        for _ in 0..2000 {
            let id = generate(PeerIdStyle::Short, &mut rng);
            first.insert(id.as_bytes()[0]);
        }
        assert_eq!(
            first.len(),
            32,
            "the leading character carries 5 random bits"
        );
    }
}
