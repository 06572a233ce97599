//! Seeded randomness. candle's CPU RNG cannot be seeded (candle issues #2651, #3297), so
//! initialisation, batch order and sampling all draw from ChaCha8 streams derived here.
//!
//! Every stream is `ChaCha8(blake3("blyan-moe rng" ‖ label ‖ 0x00 ‖ seed_le ‖ index_le))`:
//! independent per purpose (`label`) and per position (`index`, e.g. the training step), so
//! any step's batch can be recomputed without replaying the ones before it.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// A deterministic random stream.
pub struct Rng(ChaCha8Rng);

impl Rng {
	/// The stream for `(label, seed, index)`; see the module docs for the derivation.
	pub fn derive(label: &str, seed: u64, index: u64) -> Self {
		let mut h = blake3::Hasher::new();
		h.update(b"blyan-moe rng");
		h.update(label.as_bytes());
		h.update(&[0]);
		h.update(&seed.to_le_bytes());
		h.update(&index.to_le_bytes());
		Rng(ChaCha8Rng::from_seed(*h.finalize().as_bytes()))
	}

	/// Next uniformly distributed `u32`.
	pub fn next_u32(&mut self) -> u32 {
		self.0.next_u32()
	}

	/// Uniform `f32` in `[0, 1)` with 24 random bits.
	pub fn unit_f32(&mut self) -> f32 {
		(self.next_u32() >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
	}

	/// Uniform `f32` in `[-bound, bound)`.
	pub fn symmetric_f32(&mut self, bound: f32) -> f32 {
		(self.unit_f32() * 2.0 - 1.0) * bound
	}

	/// Uniform integer in `[0, n)` without modulo bias (rejection sampling); `0` when `n == 0`.
	pub fn below(&mut self, n: u64) -> u64 {
		if n == 0 {
			return 0;
		}
		// Largest multiple of n that fits in u64; draws at or above it are rejected.
		let zone = u64::MAX - (u64::MAX % n);
		loop {
			let x = self.0.next_u64();
			if x < zone {
				return x % n;
			}
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn streams_are_reproducible_and_independent() {
		let a: Vec<u32> = (0..4)
			.map({
				let mut r = Rng::derive("x", 1, 2);
				move |_| r.next_u32()
			})
			.collect();
		let b: Vec<u32> = (0..4)
			.map({
				let mut r = Rng::derive("x", 1, 2);
				move |_| r.next_u32()
			})
			.collect();
		let c: Vec<u32> = (0..4)
			.map({
				let mut r = Rng::derive("x", 1, 3);
				move |_| r.next_u32()
			})
			.collect();
		let d: Vec<u32> = (0..4)
			.map({
				let mut r = Rng::derive("y", 1, 2);
				move |_| r.next_u32()
			})
			.collect();
		assert_eq!(a, b);
		assert_ne!(a, c);
		assert_ne!(a, d);
	}

	#[test]
	fn below_stays_in_range() {
		let mut r = Rng::derive("t", 0, 0);
		let mut seen = [false; 7];
		for _ in 0..1000 {
			let x = r.below(7);
			assert!(x < 7);
			seen[x as usize] = true;
		}
		assert!(seen.iter().all(|s| *s));
		assert_eq!(r.below(0), 0);
		let u = r.unit_f32();
		assert!((0.0..1.0).contains(&u));
	}
}
