//! Selective execution: only routed experts run and are fetched; the LRU cache respects its
//! byte cap; generation reports the units that served it.

mod common;

use std::collections::BTreeSet;

use blyan_moe::generate::{GenerateRequest, Generator};
use blyan_moe::model::{var_builder, ExpertSource, Model, MoeMode, ResidentExperts};
use blyan_moe::store::{ExpertCache, LazyExperts, MemStore, UnitStore};
use blyan_moe::units::UnitId;
use blyan_moe::Error;
use candle_core::{Device, Tensor};

fn ids(text: &str) -> Tensor {
	let v: Vec<u32> = text.bytes().map(u32::from).collect();
	Tensor::new(v.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap()
}

#[test]
fn selective_forward_equals_dense_forward() {
	let (store, index) = common::genesis();
	let weights = index.load_weights(&store, None).unwrap();
	let vb = var_builder(&weights);
	let model = Model::new(&index.config, vb.clone()).unwrap();
	let mut experts = ResidentExperts::new(&index.config, &vb).unwrap();
	let x = ids("The quick brown fox jumps over the lazy dog.");
	let sel = model.forward(&x, &mut experts, MoeMode::Selective).unwrap();
	let dense = model.forward(&x, &mut experts, MoeMode::Dense).unwrap();
	let diff = (sel.logits - dense.logits)
		.unwrap()
		.abs()
		.unwrap()
		.max_all()
		.unwrap()
		.to_scalar::<f32>()
		.unwrap();
	assert!(diff < 1e-4, "max |selective - dense| = {diff}");
	// top-2: every token is routed to exactly two experts in each layer.
	for per_layer in &sel.routed {
		assert_eq!(per_layer.iter().sum::<usize>(), 2 * 44);
	}
}

/// Counts which experts were asked for.
struct Counting<'a>(ResidentExperts, &'a mut BTreeSet<(usize, usize)>);

impl ExpertSource for Counting<'_> {
	fn expert(
		&mut self,
		layer: usize,
		expert: usize,
	) -> blyan_moe::Result<blyan_moe::model::Expert> {
		assert!(self.1.insert((layer, expert)), "expert fetched twice in one pass");
		self.0.expert(layer, expert)
	}
}

#[test]
fn forward_fetches_only_routed_experts() {
	let (store, index) = common::genesis();
	let weights = index.load_weights(&store, None).unwrap();
	let vb = var_builder(&weights);
	let model = Model::new(&index.config, vb.clone()).unwrap();
	let mut asked = BTreeSet::new();
	let out = {
		let mut src = Counting(ResidentExperts::new(&index.config, &vb).unwrap(), &mut asked);
		model.forward(&ids("ab"), &mut src, MoeMode::Selective).unwrap()
	};
	let routed: BTreeSet<(usize, usize)> = out
		.routed
		.iter()
		.enumerate()
		.flat_map(|(l, row)| {
			row.iter().enumerate().filter(|(_, c)| **c > 0).map(move |(e, _)| (l, e))
		})
		.collect();
	assert_eq!(asked, routed);
	// Two tokens, top-2 of 4: at most 4 experts per layer, and the count is what the router chose.
	assert!(asked.len() <= 2 * index.config.num_hidden_layers * 2);
}

#[test]
fn lazy_experts_load_through_the_cache_and_report_hashes() {
	let (store, index) = common::genesis();
	let resident: BTreeSet<UnitId> =
		[UnitId::Backbone, UnitId::Router { layer: 0 }, UnitId::Router { layer: 1 }].into();
	let model = Model::new(
		&index.config,
		var_builder(&index.load_weights(&store, Some(&resident)).unwrap()),
	)
	.unwrap();
	let cache = std::sync::Mutex::new(ExpertCache::new(usize::MAX));
	let used = {
		let mut lazy = LazyExperts::new(&index, &store, &cache);
		model.forward(&ids("hello"), &mut lazy, MoeMode::Selective).unwrap();
		assert_eq!(lazy.loads as usize, lazy.used.len());
		lazy.used.clone()
	};
	assert_eq!(cache.lock().unwrap().loads as usize, used.len());
	for (u, h) in &used {
		assert_eq!(index.hash_of(*u).unwrap(), *h);
	}
	// Same input again: everything comes from the cache.
	let mut lazy = LazyExperts::new(&index, &store, &cache);
	model.forward(&ids("hello"), &mut lazy, MoeMode::Selective).unwrap();
	assert_eq!(lazy.loads, 0);
	assert_eq!(cache.lock().unwrap().loads as usize, used.len());
}

#[test]
fn expert_cache_respects_its_byte_cap() {
	let (store, index) = common::genesis();
	let one = 3 * index.config.hidden_size * index.config.intermediate_size * 4;
	let mut cache = ExpertCache::new(2 * one);
	for e in 0..4 {
		let u = UnitId::Expert { layer: 0, expert: e };
		cache.get(&index.config, u, &index.hash_of(u).unwrap(), &store).unwrap();
		assert!(cache.bytes() <= 2 * one);
	}
	assert_eq!(cache.len(), 2);
	assert_eq!(cache.loads, 4);
	// Expert 0 was evicted: fetching it again is a miss; expert 3 is a hit.
	let u3 = UnitId::Expert { layer: 0, expert: 3 };
	cache.get(&index.config, u3, &index.hash_of(u3).unwrap(), &store).unwrap();
	assert_eq!(cache.loads, 4);
	let u0 = UnitId::Expert { layer: 0, expert: 0 };
	cache.get(&index.config, u0, &index.hash_of(u0).unwrap(), &store).unwrap();
	assert_eq!(cache.loads, 5);
}

#[test]
fn lazy_loading_rejects_a_tampered_expert() {
	let (store, index) = common::genesis();
	let u = UnitId::Expert { layer: 1, expert: 0 };
	let h = index.hash_of(u).unwrap();
	let mut bytes = store.fetch(&h).unwrap().to_vec();
	let n = bytes.len();
	bytes[n - 4] ^= 0x40;
	store.insert_raw(h, bytes);
	let mut cache = ExpertCache::new(usize::MAX);
	assert!(matches!(cache.get(&index.config, u, &h, &store), Err(Error::HashMismatch { .. })));
	let empty = MemStore::default();
	assert!(matches!(cache.get(&index.config, u, &h, &empty), Err(Error::NotFound(_))));
}

#[test]
fn generate_prints_text_and_reports_the_units_used() {
	let (store, index) = common::genesis();
	let mut g = Generator::new(&index, &store, 1 << 20).unwrap();
	let req =
		GenerateRequest { prompt: "Once".into(), max_new_tokens: 12, temperature: 0.8, seed: 3 };
	let out = g.generate(&req).unwrap();
	assert_eq!(out.tokens, 12);
	assert!(!out.text.is_empty());
	assert!(out.units_used.contains_key("backbone"));
	assert!(out.units_used.contains_key("layer1.router"));
	let experts = out.units_used.keys().filter(|k| k.contains("expert")).count();
	assert!(experts >= 2 && experts as u64 == out.expert_loads);
	// Same seed, same text.
	let mut g2 = Generator::new(&index, &store, 1 << 20).unwrap();
	assert_eq!(g2.generate(&req).unwrap().text, out.text);
	assert!(matches!(
		g2.generate(&GenerateRequest { prompt: String::new(), ..req }),
		Err(Error::InvalidTraining(_))
	));
}
