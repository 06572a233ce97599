//! Mixing ratios: how datasets share a trainer's batches (SPEC "Chain D": tier weights
//! 1.0 / 0.7 / 0.3; PoDL manifests and claims state the ratios in parts per million). One
//! definition for the trainer's worker, the engine and the `blyan-moe` CLI.

use crate::pol::PPM;
use alloc::vec::Vec;

/// Ratios in parts per million proportional to `weights`, rounded down, the rounding
/// remainder added to the first entry, so they sum to exactly [`PPM`]. An entry may be 0.
/// `None` when the weights sum to 0.
///
/// ```
/// use blyan_primitives::shares::ratios_ppm;
/// assert_eq!(ratios_ppm(&[1000, 700, 300]), Some(vec![500_000, 350_000, 150_000]));
/// assert_eq!(ratios_ppm(&[1, 1, 1]), Some(vec![333_334, 333_333, 333_333]));
/// ```
pub fn ratios_ppm(weights: &[u64]) -> Option<Vec<u32>> {
	let total: u128 = weights.iter().map(|w| u128::from(*w)).sum();
	if total == 0 {
		return None;
	}
	let mut out: Vec<u32> = weights
		.iter()
		.map(|w| (u128::from(*w) * u128::from(PPM) / total) as u32)
		.collect();
	let sum: u64 = out.iter().map(|r| u64::from(*r)).sum();
	if let Some(first) = out.first_mut() {
		*first = first.saturating_add((u64::from(PPM) - sum) as u32);
	}
	Some(out)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn ratios_sum_to_one_million_for_any_weights() {
		for w in [&[1u64][..], &[3, 7], &[u64::MAX, u64::MAX, 1], &[0, 5], &[1; 64]] {
			let r = ratios_ppm(w).unwrap();
			assert_eq!(r.len(), w.len());
			assert_eq!(r.iter().map(|x| u64::from(*x)).sum::<u64>(), u64::from(PPM), "{w:?}");
		}
		assert_eq!(ratios_ppm(&[]), None);
		assert_eq!(ratios_ppm(&[0, 0]), None);
		assert_eq!(ratios_ppm(&[0, 5]), Some(vec![0, PPM]));
	}
}
