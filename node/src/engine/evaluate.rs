//! [`Job::EvaluateClaim`](blyan_engine_interface::Job::EvaluateClaim): the validation loss of
//! the parent model and of the candidate, in nano-nats per byte (SPEC "Proof-of-Learning").

use std::{collections::HashMap, sync::Mutex};

use blyan_engine_interface::{Hash, JobOutput, UnitPayload};
use blyan_moe::{
	store::{ModelIndex, UnitStore},
	train::checkpoint_len_bound,
	units::UnitId,
};
use blyan_primitives::pol::{loss_from_nats_per_byte, UNDECODABLE_LOSS};
use sp_core::H256;

use super::{
	stopped,
	view::{accepted_index, unit_name, ChainStore, ChainView},
	Adversary, JobCtx,
};

/// Validation losses already computed, by model (unit roots) and validation text root:
/// every claim on one parent model shares the parent's evaluation.
#[derive(Default)]
pub struct LossCache {
	losses: Mutex<HashMap<(Vec<(String, String)>, Hash), u64>>,
}

/// Most cached losses; beyond it the cache is cleared (a cheap bound: parents change
/// rarely).
const LOSS_CACHE_ENTRIES: usize = 256;

impl LossCache {
	/// The validation loss of `index` on the text with payload root `text_root` (nano-nats per
	/// byte), from the cache or by evaluating it (fetching payloads from `store`).
	///
	/// Errors: those of `blyan_moe::eval::evaluate_index` (a unit that does not decode, a
	/// missing payload, [`blyan_moe::Error::Stopped`] past the time budget).
	pub fn loss(
		&self,
		index: &ModelIndex,
		store: &dyn UnitStore,
		text_root: &Hash,
		text: &[u8],
		ctx: &mut JobCtx,
		progress: &dyn Fn(usize, usize) -> (u32, u32),
	) -> blyan_moe::Result<u64> {
		let key: (Vec<(String, String)>, Hash) =
			(index.units.iter().map(|(k, v)| (k.clone(), v.clone())).collect(), *text_root);
		if let Some(l) = self.losses.lock().ok().and_then(|m| m.get(&key).copied()) {
			return Ok(l);
		}
		let seq_len = index.config.max_position_embeddings;
		let batch = blyan_moe::eval::DEFAULT_EVAL_BATCH;
		let r =
			blyan_moe::eval::evaluate_index(index, store, text, seq_len, batch, &mut |d, t| {
				let (done, total) = progress(d, t);
				ctx.tick(done, total).map_err(stopped)
			})?;
		let loss = loss_from_nats_per_byte(r.nats_per_byte);
		if let Ok(mut m) = self.losses.lock() {
			if m.len() >= LOSS_CACHE_ENTRIES {
				m.clear();
			}
			m.insert(key, loss);
		}
		Ok(loss)
	}
}

/// The validation text of the latest spec at `at`: `(payload root, bytes)`.
pub fn validation_text(chain: &dyn ChainView, at: H256) -> Result<(Hash, Vec<u8>), String> {
	let (_, validation) = chain.latest_spec(at)?;
	let root = chain.dataset(at, validation)?.text;
	Ok((root, chain.payload(at, &root)?))
}

/// Largest payload a unit of `cfg` can have, bytes: a third of its checkpoint (which adds
/// the two AdamW moments) plus 1 KiB of safetensors header.
pub fn unit_len_bound(cfg: &blyan_moe::Config, unit: UnitId) -> u64 {
	checkpoint_len_bound(cfg, &[unit].into()) / 3 + 1024
}

/// The model `parent` with each unit of `units` replaced by its candidate payload, checked
/// against `cfg` and against the payload sizes in `chain` at its best block: `Err(why)` when a unit is
/// named twice, is not a unit of the model, or its payload is larger than a unit can be (such
/// a candidate set has loss [`UNDECODABLE_LOSS`]); a payload that is not in the content store
/// is an error of the outer result (the validator abstains).
pub fn merged_candidate(
	chain: &dyn ChainView,
	cfg: &blyan_moe::Config,
	parent: &ModelIndex,
	units: &[UnitPayload],
) -> Result<Result<ModelIndex, String>, String> {
	let mut cand = parent.clone();
	let mut seen = std::collections::BTreeSet::new();
	for (unit, candidate) in units {
		let unit = unit_name(unit)?;
		let Ok(unit_id) = UnitId::parse_in(unit, cfg) else {
			return Ok(Err(format!("{unit} is not a unit of the model")));
		};
		if !seen.insert(unit_id) {
			return Ok(Err(format!("{unit} is named twice")));
		}
		let bound = unit_len_bound(cfg, unit_id);
		// Read at the best block: the candidates are published after the base block.
		let len = chain.payload_len(chain.best(), candidate)?;
		if len > bound {
			return Ok(Err(format!(
				"candidate {unit} of {len} bytes is larger than a unit ({bound})"
			)));
		}
		cand.units.insert(unit.to_string(), hex::encode(candidate));
	}
	if seen.is_empty() {
		return Ok(Err("no units".into()));
	}
	Ok(Ok(cand))
}

/// [`Job::EvaluateClaim`](blyan_engine_interface::Job::EvaluateClaim): the validation loss of
/// the model accepted at `at` and of the same model with the claim's candidates, nano-nats
/// per byte. A candidate set that does not fit the model ([`merged_candidate`]) or whose
/// payloads do not decode as their units has loss [`UNDECODABLE_LOSS`] (the claim then fails
/// `InsufficientImprovement`); a parent or text that cannot be read fails the job (the
/// validator abstains).
pub fn evaluate_claim(
	chain: &dyn ChainView,
	cache: &LossCache,
	adversary: &dyn Adversary,
	at: u32,
	units: &[UnitPayload],
	ctx: &mut JobCtx,
) -> Result<JobOutput, String> {
	let at = chain.hash_of(at)?;
	let (cfg, _) = chain.latest_spec(at)?;
	let (text_root, text) = validation_text(chain, at)?;
	let parent = accepted_index(chain, at, &cfg)?;
	ctx.check_memory(
		"evaluating the model",
		blyan_moe::train::step_memory_bound(
			&cfg,
			blyan_moe::eval::DEFAULT_EVAL_BATCH,
			cfg.max_position_embeddings,
		),
	)?;
	// The model and the spec are those of block `at` (the claim's base), but the payloads are
	// read at the best block: a trainer publishes its candidates after the block it measured
	// in, and payloads are content-addressed (every byte is checked against its root), so the
	// block they are read at changes nothing but whether they are there yet.
	let store = ChainStore { chain, at: chain.best() };
	let parent_loss = cache
		.loss(&parent, &store, &text_root, &text, ctx, &|d, t| (d as u32, (2 * t) as u32))
		.map_err(|e| format!("evaluate parent: {e}"))?;

	let candidate_loss = match merged_candidate(chain, &cfg, &parent, units)? {
		Err(why) => {
			log::info!(target: super::LOG_TARGET, "candidate refused: {why}");
			UNDECODABLE_LOSS
		},
		Ok(cand) => match cache
			.loss(&cand, &store, &text_root, &text, ctx, &|d, t| ((t + d) as u32, (2 * t) as u32))
		{
			Ok(l) => l,
			Err(e @ (blyan_moe::Error::NotFound(_) | blyan_moe::Error::Stopped(_))) => {
				return Err(format!("evaluate candidate: {e}"))
			},
			Err(e) => {
				log::info!(target: super::LOG_TARGET, "candidate does not decode: {e}");
				UNDECODABLE_LOSS
			},
		},
	};
	let (parent, candidate) = adversary.reported_losses(parent_loss, candidate_loss);
	Ok(JobOutput::Losses { parent, candidate })
}
