//! Unit keys for a whole column of unit ids at once.
//!
//! A unit's key is SipHash-1-3, keyed with the secret, of its entity type (one byte) and its id
//! (eight bytes, little-endian): exactly what [`siphasher::sip::SipHasher13`] gives for
//! `write_u8(entity); write_i64(id)`, which [`crate::noise::CellKeyer::unit_key`] computes for
//! one unit. A protected query over persons keys every row of the table (18 million at full
//! scale), and that one hash at a time was an eighth of the query's time. For a fixed nine-byte
//! message the hash is five SipRounds on four words with no branch, so a loop over a column runs
//! as many hashes side by side as a vector register holds lanes (eight with AVX-512, which also
//! rotates in one instruction); the same function, so the same keys and the same noise.

/// SipHash's initial state constants ("somepseudorandomlygeneratedbytes").
const INIT: [u64; 4] = [0x736f_6d65_7073_6575, 0x646f_7261_6e64_6f6d, 0x6c79_6765_6e65_7261, 0x7465_6462_7974_6573];

/// The message length (nine bytes) as SipHash puts it in the top byte of the final block.
const LENGTH_BYTE: u64 = 9 << 56;

#[inline(always)]
fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13);
    v[1] ^= v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16);
    v[3] ^= v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21);
    v[3] ^= v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17);
    v[1] ^= v[2];
    v[2] = v[2].rotate_left(32);
}

/// SipHash-1-3 with keys `k0`, `k1` of the bytes `[entity, id as little-endian]`.
#[inline(always)]
pub(crate) fn unit_key(k0: u64, k1: u64, entity: u8, id: i64) -> u64 {
    let id = id as u64;
    let mut v = [k0 ^ INIT[0], k1 ^ INIT[1], k0 ^ INIT[2], k1 ^ INIT[3]];
    // The first eight bytes: the entity byte, then the id's low seven bytes.
    let block = u64::from(entity) | (id << 8);
    v[3] ^= block;
    sip_round(&mut v);
    v[0] ^= block;
    // The last byte of the id, with the length.
    let last = LENGTH_BYTE | (id >> 56);
    v[3] ^= last;
    sip_round(&mut v);
    v[0] ^= last;
    v[2] ^= 0xff;
    sip_round(&mut v);
    sip_round(&mut v);
    sip_round(&mut v);
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

#[inline(always)]
fn keys_into(k0: u64, k1: u64, entity: u8, ids: &[i64], keys: &mut [u64]) {
    for (key, &id) in keys.iter_mut().zip(ids) {
        *key = unit_key(k0, k1, entity, id);
    }
}

/// The loop compiled for AVX-512, where eight keys fit in a register.
///
/// # Safety
/// The CPU must support AVX-512F (checked by the caller).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn keys_into_avx512(k0: u64, k1: u64, entity: u8, ids: &[i64], keys: &mut [u64]) {
    keys_into(k0, k1, entity, ids, keys)
}

/// The loop compiled for AVX2 (four keys a register).
///
/// # Safety
/// The CPU must support AVX2 (checked by the caller).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn keys_into_avx2(k0: u64, k1: u64, entity: u8, ids: &[i64], keys: &mut [u64]) {
    keys_into(k0, k1, entity, ids, keys)
}

/// The keys of `ids` (of units of type `entity`) into `keys`, which is resized to fit. A NULL id
/// has some value underneath; its key is computed like any other and not read.
pub(crate) fn unit_keys(k0: u64, k1: u64, entity: u8, ids: &[i64], keys: &mut Vec<u64>) {
    keys.clear();
    keys.resize(ids.len(), 0);
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just now.
            unsafe { keys_into_avx512(k0, k1, entity, ids, keys) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just now.
            unsafe { keys_into_avx2(k0, k1, entity, ids, keys) };
            return;
        }
    }
    keys_into(k0, k1, entity, ids, keys)
}

#[cfg(test)]
mod tests {
    use std::hash::Hasher;

    use siphasher::sip::SipHasher13;

    use super::*;

    fn reference(k0: u64, k1: u64, entity: u8, id: i64) -> u64 {
        let mut hasher = SipHasher13::new_with_keys(k0, k1);
        hasher.write_u8(entity);
        hasher.write_i64(id);
        hasher.finish()
    }

    #[test]
    fn a_column_of_keys_is_the_siphash_of_each_unit() {
        let special = [0, 1, -1, i64::MIN, i64::MAX, 255, 256, 1 << 56, -(1 << 56)];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut ids: Vec<i64> = special.to_vec();
        // A xorshift sequence: ids of every magnitude, and a length that is no multiple of a
        // vector's lanes.
        for _ in 0..1_001 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ids.push((x >> (x % 64)) as i64);
        }
        let mut keys = Vec::new();
        for (k0, k1) in [(0, 0), (0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210), (u64::MAX, 7)] {
            for entity in 0..5u8 {
                unit_keys(k0, k1, entity, &ids, &mut keys);
                assert_eq!(keys.len(), ids.len());
                for (&id, &key) in ids.iter().zip(&keys) {
                    assert_eq!(key, reference(k0, k1, entity, id), "{entity} {id}");
                }
                keys_into(k0, k1, entity, &ids, &mut keys);
                assert!(ids.iter().zip(&keys).all(|(&id, &key)| key == reference(k0, k1, entity, id)));
            }
        }
    }
}
