//! Blyan's genesis content: the engine's seeded initial model and the public validation set.
//!
//! The runtime cannot link the candle engine, so the node computes these payloads natively
//! and merges them into the runtime's `development` / `local_testnet` preset (the rest of the
//! genesis stays in `blyan-runtime`'s `genesis_config_presets.rs`):
//! - every unit of `blyan_moe::Config::tiny()` initialised with seed [`GENESIS_SEED`],
//!   published in the content store (pinned) and accepted in the parameter DAG;
//! - model spec 0 (Chain A) naming those units and the validation dataset;
//! - the validation dataset (Chain D, dataset 0, Gold): the held-out share
//!   ([`DEFAULT_VALIDATION_PERMILLE`]) of every Debian `fortunes` topic, its text published
//!   in the content store.

use std::path::Path;

use blyan_moe::data::{validation_text, Dataset, DEFAULT_VALIDATION_PERMILLE};
use blyan_moe::model::init_weights;
use blyan_moe::units::{all_units, encode_unit, UnitId};
use blyan_primitives::{merkle_root, payload_root};
use blyan_runtime::{AccountId, Runtime};
use pallet_model_spec::{EngineConfig, SemVer};
use pallet_param_dag::BlockType;

/// Seed of the genesis model's initialisation.
pub const GENESIS_SEED: u64 = 42;
/// Where Debian's `fortunes` package puts its corpus (`apt-get install fortunes`).
pub const FORTUNES_DIR: &str = "/usr/share/games/fortunes";
/// Name of the genesis validation dataset.
pub const VALIDATION_DATASET: &str = "fortunes-validation";

/// Blyan's genesis content, with `owner` as publisher and miner.
pub struct GenesisContent {
	/// JSON patch for the `modelSpec`, `paramDag` and `dataset` pallets (small: hashes only).
	pub patch: serde_json::Value,
	/// The content-store genesis (payload bytes: ~14 MB). Too large for the runtime's
	/// genesis builder (a Wasm allocation is capped at 32 MiB), so the node builds its storage
	/// natively and adds it to the raw chain spec (`chain_spec.rs`).
	pub content: pallet_content_store::GenesisConfig<Runtime>,
}

/// Computes the genesis content.
///
/// Errors: a message when the corpus is missing or unreadable, or the engine fails.
pub fn genesis_content(owner: AccountId) -> Result<GenesisContent, String> {
	let cfg = blyan_moe::Config::tiny();
	let weights = init_weights(&cfg, GENESIS_SEED).map_err(|e| format!("genesis model: {e}"))?;

	let datasets = Dataset::load_corpus(Path::new(FORTUNES_DIR)).map_err(|e| {
		format!("genesis validation set: {e} (install Debian's corpus: apt-get install fortunes)")
	})?;
	let validation: Vec<String> = datasets
		.iter()
		.flat_map(|d| {
			d.samples
				.iter()
				.filter(|s| blyan_moe::data::is_validation(s, DEFAULT_VALIDATION_PERMILLE))
				.cloned()
		})
		.collect();
	let val_text = validation_text(&datasets, DEFAULT_VALIDATION_PERMILLE);
	let val_root = merkle_root(
		&validation.iter().map(|s| blyan_moe::data::sample_hash(s)).collect::<Vec<_>>(),
	);

	let mut payloads: Vec<(AccountId, Vec<u8>)> = Vec::new();
	let mut blocks = Vec::new();
	let mut routers = Vec::new();
	let mut backbone = [0u8; 32];
	for unit in all_units(&cfg) {
		let bytes =
			encode_unit(&cfg, unit, &weights).map_err(|e| format!("genesis unit {unit}: {e}"))?;
		let root = payload_root(&bytes);
		let (layer, kind) = match unit {
			UnitId::Backbone => {
				backbone = root;
				(0, BlockType::Meta)
			},
			UnitId::Router { layer } => {
				routers.push(root);
				(layer as u32, BlockType::Router)
			},
			UnitId::Expert { layer, .. } => (layer as u32, BlockType::Expert),
		};
		blocks.push((
			owner.clone(),
			0u32,
			unit.to_string().into_bytes(),
			layer,
			kind,
			root,
			bytes.len() as u64,
		));
		payloads.push((owner.clone(), bytes));
	}
	payloads.push((owner.clone(), val_text.clone()));

	let engine = EngineConfig {
		vocab_size: cfg.vocab_size as u32,
		hidden_size: cfg.hidden_size as u32,
		num_hidden_layers: cfg.num_hidden_layers as u32,
		num_attention_heads: cfg.num_attention_heads as u32,
		max_position_embeddings: cfg.max_position_embeddings as u32,
		num_local_experts: cfg.num_local_experts as u32,
		num_experts_per_tok: cfg.num_experts_per_tok as u32,
		intermediate_size: cfg.intermediate_size as u32,
	};
	let content = pallet_content_store::GenesisConfig::<Runtime> { payloads };
	let spec = pallet_model_spec::GenesisConfig::<Runtime> {
		initial_spec: Some((
			engine,
			SemVer { major: 0, minor: 1, patch: 0 },
			0,
			(0, 1),
			backbone,
			routers,
		)),
		..Default::default()
	};
	let dag = pallet_param_dag::GenesisConfig::<Runtime> { blocks };
	let dataset = pallet_dataset::GenesisConfig::<Runtime> {
		datasets: vec![(
			owner,
			VALIDATION_DATASET.as_bytes().to_vec(),
			b"LicenseRef-fortunes-mod".to_vec(),
			val_root,
			payload_root(&val_text),
			val_text.len() as u64,
			validation.len() as u64,
			pallet_dataset::Tier::Gold,
		)],
	};
	let to = |v: Result<serde_json::Value, serde_json::Error>| {
		v.map_err(|e| format!("genesis JSON: {e}"))
	};
	let patch = serde_json::json!({
		"modelSpec": to(serde_json::to_value(&spec))?,
		"paramDag": to(serde_json::to_value(&dag))?,
		"dataset": to(serde_json::to_value(&dataset))?,
	});
	Ok(GenesisContent { patch, content })
}
