//! The key-value cache of generation (`Model::forward_cached`) against the reference path,
//! a full forward pass (`Model::forward`). They compute the same function with products of
//! other shapes and candle's fused softmax and RMSNorm kernels, so they agree within float
//! rounding, not bit for bit: the tolerance is 1e-4 on logits of magnitude ≈ 1–10.
//! Inference is not consensus (validators never compare it), so this is enough.

mod common;

use std::collections::BTreeSet;

use blyan_moe::generate::{GenerateRequest, Generator};
use blyan_moe::model::{var_builder, KvCache, Model, MoeMode, ResidentExperts};
use blyan_moe::units::all_units;
use candle_core::{Device, Tensor};

const TOLERANCE: f32 = 1e-4;

fn text_ids(n: usize) -> Vec<u32> {
	let text = b"Once upon a time a validator replayed a segment and found every bit in place. ";
	(0..n).map(|i| u32::from(text[i % text.len()])).collect()
}

#[test]
fn cached_logits_agree_with_the_full_forward_pass_at_every_position() {
	let (store, index) = common::genesis();
	let cfg = index.config.clone();
	let all: BTreeSet<_> = all_units(&cfg).into_iter().collect();
	let weights = index.load_weights(&store, Some(&all)).unwrap();
	let vb = var_builder(&weights);
	let model = Model::new(&cfg, vb.clone()).unwrap();
	let mut experts = ResidentExperts::new(&cfg, &vb).unwrap();
	let ctx = cfg.max_position_embeddings;
	let ids = text_ids(ctx);
	let full = Tensor::new(ids.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
	let reference: Vec<Vec<f32>> = model
		.forward(&full, &mut experts, MoeMode::Selective)
		.unwrap()
		.logits
		.squeeze(0)
		.unwrap()
		.to_vec2()
		.unwrap();

	for prefill in [1, 10, ctx] {
		let mut cache = KvCache::default();
		let mut got: Vec<Vec<f32>> = Vec::new();
		let mut pos = 0;
		while pos < ctx {
			let n = if pos == 0 { prefill } else { 1 };
			let step = Tensor::new(&ids[pos..pos + n], &Device::Cpu).unwrap().unsqueeze(0).unwrap();
			let logits = model.forward_cached(&step, &mut cache, &mut experts).unwrap();
			got.extend(logits.squeeze(0).unwrap().to_vec2::<f32>().unwrap());
			pos += n;
		}
		assert_eq!(cache.len(), ctx);
		let worst = reference
			.iter()
			.flatten()
			.zip(got.iter().flatten())
			.map(|(a, b)| (a - b).abs())
			.fold(0f32, f32::max);
		assert!(worst < TOLERANCE, "prefill {prefill}: largest logit difference {worst}");
		// A full cache refuses one more position instead of reading past the rotary table.
		let one = Tensor::new(&ids[..1], &Device::Cpu).unwrap().unsqueeze(0).unwrap();
		assert!(model.forward_cached(&one, &mut cache, &mut experts).is_err());
	}
}

#[test]
fn cached_generation_follows_the_reference_and_runs_past_the_context() {
	let (store, index) = common::genesis();
	let ctx = index.config.max_position_embeddings;
	let mut g = Generator::new(&index, &store, 1 << 20).unwrap();
	// Greedy, within one context: the same bytes as the reference path.
	let req = GenerateRequest {
		prompt: "Once".into(),
		max_new_tokens: ctx - 4,
		temperature: 0.0,
		seed: 0,
	};
	let cached = g.generate(&req).unwrap();
	let reference = g.generate_reference(&req, &mut |_| true).unwrap();
	assert_eq!(cached.text, reference.text);
	assert_eq!(cached.units_used, reference.units_used);
	assert!(cached.first_byte_ms > 0.0 && cached.first_byte_ms <= cached.elapsed_ms);
	// Three contexts' worth: the cache restarts on the last half whenever it fills.
	let long = GenerateRequest { max_new_tokens: 3 * ctx, temperature: 0.8, seed: 5, ..req };
	let out = g.generate(&long).unwrap();
	assert_eq!(out.tokens, 3 * ctx);
	// A prompt longer than the context is read from its last bytes.
	let tail = GenerateRequest { prompt: "x".repeat(3 * ctx), max_new_tokens: 4, ..long };
	assert_eq!(g.generate(&tail).unwrap().tokens, 4);
}

#[test]
fn generation_stops_when_the_listener_says_so() {
	let (store, index) = common::genesis();
	let mut g = Generator::new(&index, &store, 1 << 20).unwrap();
	let req =
		GenerateRequest { prompt: "Once".into(), max_new_tokens: 40, temperature: 0.8, seed: 1 };
	let mut seen = 0;
	let out = g
		.generate_streaming(&req, &mut |_| {
			seen += 1;
			seen < 3
		})
		.unwrap();
	assert_eq!((seen, out.tokens), (3, 3), "the third byte was the last");
}
