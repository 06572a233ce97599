//! Shared fixtures: a very small model in an in-memory store and two synthetic corpora.
#![allow(dead_code)]

use blyan_moe::data::Dataset;
use blyan_moe::model::init_weights;
use blyan_moe::optim::AdamWParams;
use blyan_moe::store::{MemStore, ModelIndex};
use blyan_moe::train::TrainParams;
use blyan_moe::Config;

/// A fortune-format corpus of `n` entries built from `words`, deterministic.
pub fn fortune_text(words: &[&str], n: usize) -> String {
	let mut out = String::new();
	for i in 0..n {
		let len = 6 + i % 7;
		let line: Vec<&str> = (0..len).map(|j| words[(i * 7 + j * 3) % words.len()]).collect();
		out.push_str(&line.join(" "));
		out.push_str(".\n%\n");
	}
	out
}

pub fn dataset_a() -> Dataset {
	Dataset::from_text(
		"alpha",
		&fortune_text(&["the", "cat", "sat", "on", "a", "warm", "mat", "today"], 120),
	)
	.unwrap()
}

pub fn dataset_b() -> Dataset {
	Dataset::from_text(
		"beta",
		&fortune_text(
			&["never", "trust", "any", "computer", "you", "cannot", "lift", "alone"],
			120,
		),
	)
	.unwrap()
}

/// The `test` config's model initialised with seed 7 in a fresh memory store.
pub fn genesis() -> (MemStore, ModelIndex) {
	let cfg = Config::test();
	let store = MemStore::default();
	let index = ModelIndex::save_weights(&cfg, &init_weights(&cfg, 7).unwrap(), &store).unwrap();
	(store, index)
}

pub fn params(steps: u64, k: u64) -> TrainParams {
	TrainParams {
		seed: 11,
		steps,
		batch_size: 4,
		seq_len: 16,
		checkpoint_every: k,
		validation_permille: 100,
		adamw: AdamWParams::with_lr(3e-3),
	}
}
