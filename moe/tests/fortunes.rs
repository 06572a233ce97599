//! Real input: Debian's `fortunes` corpus (`apt-get install fortunes`).
//!
//! From the seeded default (`tiny`) model, train one expert alone and, separately, all
//! units for 300 steps, and check that validation cross-entropy drops by the documented
//! margins (`docs/engine.md`, "Learning on real text"):
//! - one expert (`layer0.expert0`): at least 0.10 nats/byte;
//! - all units: at least 1.50 nats/byte.
//! Then `generate` must print text.

use std::collections::BTreeSet;
use std::path::Path;

use blyan_moe::data::{ratios_ppm, validation_text, Dataset};
use blyan_moe::eval::evaluate;
use blyan_moe::generate::{GenerateRequest, Generator};
use blyan_moe::model::{init_weights, var_builder, Model, ResidentExperts};
use blyan_moe::optim::AdamWParams;
use blyan_moe::store::{MemStore, ModelIndex};
use blyan_moe::train::{replay_segment, train, TrainParams};
use blyan_moe::units::{all_units, UnitId};
use blyan_moe::Config;

const FORTUNES: &str = "/usr/share/games/fortunes";
/// Validation share for this test: 3 % keeps each evaluation under ~10 s on 2 cores.
const VALIDATION_PERMILLE: u32 = 30;
const ONE_EXPERT_MARGIN: f64 = 0.10;
const ALL_UNITS_MARGIN: f64 = 1.50;

fn nats_per_byte(index: &ModelIndex, store: &MemStore, text: &[u8]) -> f64 {
	let w = index.load_weights(store, None).unwrap();
	let vb = var_builder(&w);
	let model = Model::new(&index.config, vb.clone()).unwrap();
	let mut experts = ResidentExperts::new(&index.config, &vb).unwrap();
	evaluate(&model, &mut experts, text, 128, 16, &mut |_, _| Ok(()))
		.unwrap()
		.nats_per_byte
}

#[test]
fn training_on_fortunes_lowers_validation_loss() {
	assert!(
        Path::new(FORTUNES).is_dir(),
        "{FORTUNES} is missing: install Debian's corpus with `apt-get install fortunes` (.ci/run does)"
    );
	let datasets = Dataset::load_corpus(Path::new(FORTUNES)).unwrap();
	assert!(datasets.len() >= 20, "expected the ~40 fortune topics, found {}", datasets.len());
	let weights: Vec<u64> = datasets
		.iter()
		.map(|d| d.train_text(VALIDATION_PERMILLE).len() as u64)
		.collect();
	let ratios = ratios_ppm(&weights).unwrap();
	let val = validation_text(&datasets, VALIDATION_PERMILLE);

	let cfg = Config::tiny();
	let store = MemStore::default();
	let genesis = ModelIndex::save_weights(&cfg, &init_weights(&cfg, 42).unwrap(), &store).unwrap();
	let before = nats_per_byte(&genesis, &store, &val);
	let params = TrainParams {
		seed: 1,
		steps: 300,
		batch_size: 16,
		seq_len: 64,
		checkpoint_every: 50,
		validation_permille: VALIDATION_PERMILLE,
		adamw: AdamWParams::with_lr(3e-3),
	};

	let one: BTreeSet<UnitId> = [UnitId::Expert { layer: 0, expert: 0 }].into();
	let out_one =
		train(&genesis, &store, &one, &datasets, &ratios, &params, &mut |_| Ok(())).unwrap();
	let after_one = nats_per_byte(&out_one.index, &store, &val);
	eprintln!("one expert: validation nats/byte {before:.4} -> {after_one:.4}");
	assert!(before - after_one >= ONE_EXPERT_MARGIN, "one expert: {before:.4} -> {after_one:.4}");
	// The last segment of the real run replays bit for bit.
	replay_segment(&out_one.manifest, params.segments() - 1, &store, &datasets).unwrap();

	let all: BTreeSet<UnitId> = all_units(&cfg).into_iter().collect();
	let out_all =
		train(&genesis, &store, &all, &datasets, &ratios, &params, &mut |_| Ok(())).unwrap();
	let after_all = nats_per_byte(&out_all.index, &store, &val);
	eprintln!("all units: validation nats/byte {before:.4} -> {after_all:.4}");
	assert!(before - after_all >= ALL_UNITS_MARGIN, "all units: {before:.4} -> {after_all:.4}");

	let mut g = Generator::new(&out_all.index, &store, 16 << 20).unwrap();
	let text = g
		.generate(&GenerateRequest {
			prompt: "The ".into(),
			max_new_tokens: 80,
			temperature: 0.7,
			seed: 5,
		})
		.unwrap();
	eprintln!("generated: The {}", text.text);
	assert_eq!(text.tokens, 80);
	assert!(text.text.chars().any(|c| c.is_alphabetic()), "generated no letters: {:?}", text.text);
}
