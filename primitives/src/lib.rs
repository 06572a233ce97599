//! # Blyan primitives
//!
//! `no_std` types and hash constructions shared by the Blyan runtime, the node and the
//! native MoE engine (`blyan-moe`). Anything the chain and the engine must agree on byte
//! for byte lives here, so that both sides compile the very same code.
//!
//! ## Terms
//! - **Tile**: a slice of at most [`MAX_TILE_BYTES`] bytes of a payload (SPEC "Chain B:
//!   Payloads", seed §13.2). Its hash is the plain blake3 hash of its bytes.
//! - **Payload root**: the Merkle root ([`merkle_root`]) over the tile hashes of a payload
//!   cut into tiles with [`tiles`]. A unit's hash, a checkpoint's hash and the content
//!   store's manifest root are all payload roots. The construction is written down in
//!   `docs/hashing.md`.
//!
//! ## Modules
//! - [`pol`]: the Proof-of-Learning vocabulary (loss units, improvement, training parameters
//!   and their limits, the challenge draw, replay verdicts, reports and commitments, the
//!   decision quorum, the deterrence inequality);
//! - [`audit`]: the L0 dataset audit figures and auto-reject rules;
//! - [`shares`]: mixing ratios in parts per million;
//! - [`UnitName`]: the names of the model's units;
//! - [`trust`]: trust levels of dataset creators and trainers.
//!
//! ```
//! use blyan_primitives::{payload_root, merkle_root, tile_hash};
//! let payload = b"hello experts";
//! assert_eq!(payload_root(payload), merkle_root(&[tile_hash(payload)]));
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub mod audit;
pub mod pol;
pub mod shares;
pub mod trust;
mod units;

pub use units::{UnitName, MAX_UNIT_NAME_LEN};

/// A 32-byte blake3 digest.
pub type Hash = [u8; 32];

/// Identifier of a model spec (Chain A).
pub type SpecId = u32;

/// Identifier of a dataset record (Chain D).
pub type DatasetId = u32;

/// The content store as other pallets see it: payloads addressed by their payload root
/// ([`payload_root`]), kept while something references them.
pub trait ContentStore {
	/// Whether a committed payload with this root exists.
	fn has_payload(root: &Hash) -> bool;
	/// Size in bytes of a committed payload, if it exists.
	fn payload_len(root: &Hash) -> Option<u64>;
	/// Adds one reference to a committed payload. Returns `false` (and changes nothing) when
	/// the payload does not exist.
	fn add_ref(root: &Hash) -> bool;
	/// Drops one reference; at zero the payload becomes prunable after the retention period.
	fn remove_ref(root: &Hash);
}

/// Model specs as other pallets see them (Chain A).
pub trait ModelSpecs {
	/// Whether the spec exists.
	fn spec_exists(id: SpecId) -> bool;
}

/// Light proof-of-work used against spam (SPEC "Chain D: Spam"): `blake3(payload ‖ nonce_le)`
/// must start with at least `bits` zero bits. `bits = 0` accepts every nonce.
pub fn pow_ok(payload: &[u8], nonce: u64, bits: u32) -> bool {
	let mut h = blake3::Hasher::new();
	h.update(payload);
	h.update(&nonce.to_le_bytes());
	leading_zero_bits(h.finalize().as_bytes()) >= bits
}

/// Number of leading zero bits of a hash.
pub fn leading_zero_bits(h: &Hash) -> u32 {
	let mut n = 0;
	for b in h {
		if *b == 0 {
			n += 8;
		} else {
			return n + b.leading_zeros();
		}
	}
	n
}

/// Finds the smallest nonce that passes [`pow_ok`] (clients and tests; expected `2^bits` tries).
pub fn solve_pow(payload: &[u8], bits: u32) -> u64 {
	let mut nonce = 0u64;
	while !pow_ok(payload, nonce, bits) {
		nonce = nonce.wrapping_add(1);
	}
	nonce
}

/// Largest tile, in bytes: 4 MiB (seed §13.2). A payload is cut into tiles of exactly this
/// size, the last one shorter.
pub const MAX_TILE_BYTES: usize = 4 * 1024 * 1024;

/// Domain-separation prefix of a Merkle leaf (RFC 6962 §2.1 uses the same bytes).
const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix of an inner Merkle node.
const NODE_PREFIX: u8 = 0x01;

/// Plain blake3 hash of one tile's bytes (at most [`MAX_TILE_BYTES`] bytes; not checked here).
pub fn tile_hash(tile: &[u8]) -> Hash {
	*blake3::hash(tile).as_bytes()
}

/// Hash of a Merkle leaf: `blake3(0x00 ‖ item)` where `item` is a 32-byte hash.
pub fn leaf_hash(item: &Hash) -> Hash {
	let mut h = blake3::Hasher::new();
	h.update(&[LEAF_PREFIX]);
	h.update(item);
	*h.finalize().as_bytes()
}

/// Hash of an inner Merkle node: `blake3(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
	let mut h = blake3::Hasher::new();
	h.update(&[NODE_PREFIX]);
	h.update(left);
	h.update(right);
	*h.finalize().as_bytes()
}

/// Merkle root over an ordered list of 32-byte hashes, with the tree shape of RFC 6962 §2.1
/// (Merkle Tree Hash) and blake3 as the hash:
///
/// - `MTH([]) = blake3("")`
/// - `MTH([d]) = blake3(0x00 ‖ d)`
/// - `MTH(D[0..n]) = blake3(0x01 ‖ MTH(D[0..k]) ‖ MTH(D[k..n]))`, where `k` is the largest
///   power of two strictly below `n`.
///
/// Cost: `2n − 1` hashes of at most 65 bytes; recursion depth `⌈log2 n⌉`; no allocation.
pub fn merkle_root(items: &[Hash]) -> Hash {
	match items.len() {
		0 => *blake3::hash(&[]).as_bytes(),
		1 => leaf_hash(&items[0]),
		n => {
			let k = split_point(n);
			node_hash(&merkle_root(&items[..k]), &merkle_root(&items[k..]))
		},
	}
}

/// Largest power of two strictly smaller than `n` (`n ≥ 2`).
fn split_point(n: usize) -> usize {
	let mut k = 1;
	while k << 1 < n {
		k <<= 1;
	}
	k
}

/// Cuts a payload into tiles of [`MAX_TILE_BYTES`] bytes (the last one shorter). An empty
/// payload has no tiles.
pub fn tiles(payload: &[u8]) -> core::slice::Chunks<'_, u8> {
	payload.chunks(MAX_TILE_BYTES)
}

/// Number of tiles [`tiles`] cuts a payload of `len` bytes into.
pub fn tile_count(len: usize) -> usize {
	len.div_ceil(MAX_TILE_BYTES)
}

/// Payload root: [`merkle_root`] over the [`tile_hash`]es of the payload's [`tiles`].
///
/// The content store's manifest root, an engine unit's hash and a training checkpoint's
/// hash are all this value. Hashes each byte once, then `2·tiles − 1` small nodes.
pub fn payload_root(payload: &[u8]) -> Hash {
	// A payload of up to 64 tiles (256 MiB) needs no allocation.
	let mut buf = [[0u8; 32]; 64];
	let n = tile_count(payload.len());
	if n <= buf.len() {
		for (slot, tile) in buf.iter_mut().zip(tiles(payload)) {
			*slot = tile_hash(tile);
		}
		merkle_root(&buf[..n])
	} else {
		merkle_root_of_tiles(payload)
	}
}

#[cfg(feature = "std")]
fn merkle_root_of_tiles(payload: &[u8]) -> Hash {
	let hashes: std::vec::Vec<Hash> = tiles(payload).map(tile_hash).collect();
	merkle_root(&hashes)
}

#[cfg(not(feature = "std"))]
fn merkle_root_of_tiles(payload: &[u8]) -> Hash {
	let hashes: alloc::vec::Vec<Hash> = tiles(payload).map(tile_hash).collect();
	merkle_root(&hashes)
}

#[cfg(test)]
mod tests {
	use super::*;

	fn h(b: u8) -> Hash {
		tile_hash(&[b])
	}

	#[test]
	fn merkle_root_follows_rfc6962_shape() {
		let (a, b, c) = (h(1), h(2), h(3));
		assert_eq!(merkle_root(&[]), *blake3::hash(b"").as_bytes());
		assert_eq!(merkle_root(&[a]), leaf_hash(&a));
		assert_eq!(merkle_root(&[a, b]), node_hash(&leaf_hash(&a), &leaf_hash(&b)));
		// Three leaves split 2 + 1, not 1 + 2.
		let expected = node_hash(&node_hash(&leaf_hash(&a), &leaf_hash(&b)), &leaf_hash(&c));
		assert_eq!(merkle_root(&[a, b, c]), expected);
	}

	#[test]
	fn leaf_and_node_domains_differ() {
		// A two-leaf tree must not collide with a leaf holding the concatenation.
		let (a, b) = (h(1), h(2));
		assert_ne!(merkle_root(&[a, b]), merkle_root(&[node_hash(&a, &b)]));
		assert_ne!(merkle_root(&[a, b]), merkle_root(&[b, a]));
	}

	#[test]
	fn pow_counts_leading_zero_bits() {
		assert_eq!(leading_zero_bits(&[0u8; 32]), 256);
		let mut h = [0u8; 32];
		h[1] = 0b0001_0000;
		assert_eq!(leading_zero_bits(&h), 11);
		let nonce = solve_pow(b"claim", 8);
		assert!(pow_ok(b"claim", nonce, 8));
		assert!(pow_ok(b"claim", 12345, 0));
	}

	#[test]
	fn payload_root_cuts_at_four_mebibytes() {
		let payload: std::vec::Vec<u8> = (0..MAX_TILE_BYTES + 10).map(|i| i as u8).collect();
		assert_eq!(tile_count(payload.len()), 2);
		let expected = merkle_root(&[
			tile_hash(&payload[..MAX_TILE_BYTES]),
			tile_hash(&payload[MAX_TILE_BYTES..]),
		]);
		assert_eq!(payload_root(&payload), expected);
		assert_eq!(tile_count(0), 0);
		assert_eq!(payload_root(&[]), merkle_root(&[]));
		assert_eq!(tile_count(MAX_TILE_BYTES), 1);
	}
}
