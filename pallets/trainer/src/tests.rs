//! Tests of the trainer's pure parts. The worker's cycle runs against a real dev node in
//! `e2e/` and in the main job (`scripts/learn.sh`).

use crate::mixing_ratios;

#[test]
fn ratios_follow_tier_weights_and_sum_to_one_million() {
	// Gold, Silver, Experimental: 1000 : 700 : 300 of 2000.
	assert_eq!(mixing_ratios(&[(3, 1000), (5, 700), (9, 300)]), vec![(3, 500_000), (5, 350_000), (9, 150_000)]);
	// Thirds: the remainder goes to the first dataset.
	let r = mixing_ratios(&[(1, 1000), (2, 1000), (3, 1000)]);
	assert_eq!(r, vec![(1, 333_334), (2, 333_333), (3, 333_333)]);
	assert_eq!(r.iter().map(|(_, p)| *p as u64).sum::<u64>(), 1_000_000);
}

#[test]
fn nothing_to_mix_gives_no_ratios_and_zero_weights_are_dropped() {
	assert!(mixing_ratios(&[]).is_empty());
	assert!(mixing_ratios(&[(1, 0)]).is_empty());
	assert_eq!(mixing_ratios(&[(1, 0), (2, 300)]), vec![(2, 1_000_000)]);
}

#[test]
fn many_datasets_still_sum_to_one_million() {
	let weights: Vec<(u32, u32)> = (0..43).map(|i| (i, [1000, 700, 300][i as usize % 3])).collect();
	let r = mixing_ratios(&weights);
	assert_eq!(r.len(), 43);
	assert_eq!(r.iter().map(|(_, p)| *p as u64).sum::<u64>(), 1_000_000);
	assert!(r.iter().all(|(_, p)| *p > 0));
}
