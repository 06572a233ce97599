//! [`Job::EvaluateClaim`](blyan_engine_interface::Job::EvaluateClaim): the validation loss of
//! the parent model and of the candidate, in nano-nats per byte, window by window (SPEC
//! "Proof-of-Learning"; docs/pol.md "Verification by sampled windows").

use std::{
	collections::{BTreeMap, HashMap},
	sync::Mutex,
};

use blyan_engine_interface::{EvalCheck, Hash, JobOutput, ReplayVerdict, UnitPayload};
use blyan_moe::{
	eval::{batch_windows, nano_nats_per_byte, record_batches, windows, EvalRecord, RECORD_BATCH},
	store::{MemStore, ModelIndex, UnitStore},
	train::checkpoint_len_bound,
	units::UnitId,
};
use blyan_primitives::pol::{challenge_eval_batches, UNDECODABLE_LOSS};
use sp_core::H256;

use super::{
	stopped,
	train::Outputs,
	view::{accepted_index, unit_name, ChainStore, ChainView},
	Adversary, JobCtx,
};

/// Per-window validation losses already computed, by model (unit roots) and validation text
/// root: every claim on one base model shares the base's windows. Windows are computed in
/// whole record batches (`blyan_moe::eval::RECORD_BATCH`), so a cached window is the one
/// everyone computes.
#[derive(Default)]
pub struct LossCache {
	windows: Mutex<HashMap<(Vec<(String, String)>, Hash), BTreeMap<u32, u64>>>,
}

/// Most cached models; beyond it the cache is cleared (a cheap bound: models change rarely,
/// and an entry holds 8 bytes per window, 16 KB for the dev validation set).
const LOSS_CACHE_ENTRIES: usize = 256;

impl LossCache {
	/// The losses of windows `select` (ascending, [`blyan_moe::eval::windows`] of `text` at the
	/// model's context length) of `index` on the text with payload root `text_root`, nano-nats
	/// each, from the cache or by evaluating the missing ones (fetching payloads from `store`).
	/// `progress(done, total)` maps the evaluation's progress to the job's.
	///
	/// Errors: those of `blyan_moe::eval::evaluate_index_windows` (a unit that does not
	/// decode, a missing payload, a window out of range, [`blyan_moe::Error::Stopped`] past
	/// the time budget).
	#[allow(clippy::too_many_arguments)]
	pub fn windows(
		&self,
		index: &ModelIndex,
		store: &dyn UnitStore,
		text_root: &Hash,
		text: &[u8],
		select: &[u32],
		ctx: &mut JobCtx,
		progress: &dyn Fn(usize, usize) -> (u32, u32),
	) -> blyan_moe::Result<Vec<u64>> {
		let key: (Vec<(String, String)>, Hash) =
			(index.units.iter().map(|(k, v)| (k.clone(), v.clone())).collect(), *text_root);
		let mut known =
			self.windows.lock().ok().and_then(|m| m.get(&key).cloned()).unwrap_or_default();
		let seq_len = index.config.max_position_embeddings;
		let n = windows(text, seq_len).len();
		// Whole record batches, so that every window is computed in its canonical batch.
		let mut batches: Vec<u32> = select
			.iter()
			.filter(|i| !known.contains_key(i))
			.map(|&i| i / RECORD_BATCH as u32)
			.collect();
		batches.dedup();
		let missing = batch_windows(&batches, n);
		if !missing.is_empty() {
			let batch = RECORD_BATCH;
			let got = blyan_moe::eval::evaluate_index_windows(
				index,
				store,
				text,
				seq_len,
				batch,
				&missing,
				&mut |d, t| {
					let (done, total) = progress(d, t);
					ctx.tick(done, total).map_err(stopped)
				},
			)?;
			known.extend(missing.iter().copied().zip(got));
			if let Ok(mut m) = self.windows.lock() {
				if m.len() >= LOSS_CACHE_ENTRIES {
					m.clear();
				}
				m.entry(key).or_default().extend(known.iter().map(|(k, v)| (*k, *v)));
			}
		}
		select
			.iter()
			.map(|i| known.get(i).copied())
			.collect::<Option<Vec<u64>>>()
			.ok_or_else(|| blyan_moe::Error::InvalidTraining("a window was not evaluated".into()))
	}

	/// The validation loss of `index` on the whole text, nano-nats per byte
	/// ([`nano_nats_per_byte`] of the windows' sum), and the windows' losses.
	///
	/// Errors: those of [`LossCache::windows`].
	pub fn loss(
		&self,
		index: &ModelIndex,
		store: &dyn UnitStore,
		text_root: &Hash,
		text: &[u8],
		ctx: &mut JobCtx,
		progress: &dyn Fn(usize, usize) -> (u32, u32),
	) -> blyan_moe::Result<(u64, Vec<u64>)> {
		let seq_len = index.config.max_position_embeddings;
		let all: Vec<u32> = (0..windows(text, seq_len).len() as u32).collect();
		let losses = self.windows(index, store, text_root, text, &all, ctx, progress)?;
		let sum = losses.iter().map(|&x| u128::from(x)).sum();
		Ok((nano_nats_per_byte(sum, predicted_bytes(text, seq_len)), losses))
	}
}

pub use blyan_moe::eval::predicted_bytes;

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
/// per byte.
///
/// - Without `check` (a trainer): every window of both models; the evaluation record is kept
///   in `outputs` (for publishing) and named in the output.
/// - With `check` (a validator): the trainer's record, read from the content store, must have
///   exactly one entry per validation window (else `EvaluationMismatch`; missing:
///   `Unavailable`); the record batches drawn from the claim's seed
///   ([`blyan_primitives::pol::challenge_eval_batches`]) are evaluated for both models and
///   must equal the record's (else `EvaluationMismatch`); the losses reported are the
///   record's totals. Only one batch in 32 of each model is evaluated.
///
/// A candidate set that does not fit the model ([`merged_candidate`]) or whose payloads do not
/// decode as their units has loss [`UNDECODABLE_LOSS`] (the claim then fails
/// `InsufficientImprovement`); a parent or text that cannot be read fails the job (the
/// validator abstains).
#[allow(clippy::too_many_arguments)]
pub fn evaluate_claim(
	chain: &dyn ChainView,
	cache: &LossCache,
	adversary: &dyn Adversary,
	outputs: &Mutex<Outputs>,
	at: u32,
	units: &[UnitPayload],
	check: Option<&EvalCheck>,
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
	let seq_len = cfg.max_position_embeddings;
	let n = windows(&text, seq_len).len();
	let bytes = predicted_bytes(&text, seq_len);
	let verdict = |verdict: ReplayVerdict, why: &str, record: Hash| {
		log::info!(target: super::LOG_TARGET, "evaluation record: {verdict:?}: {why}");
		Ok(JobOutput::Losses { parent: 0, candidate: 0, record, verdict })
	};

	// The windows to evaluate, and the trainer's record to compare them with.
	let (select, claimed): (Vec<u32>, Option<EvalRecord>) = match check {
		None => ((0..n as u32).collect(), None),
		Some(EvalCheck { record, seed, claim }) => {
			let want = EvalRecord::len_of(n);
			match chain.payload_len(chain.best(), record) {
				Err(e) => return verdict(ReplayVerdict::Unavailable, &e, *record),
				Ok(len) if len != want => {
					let why = format!("{len} bytes for {n} windows ({want} bytes)");
					return verdict(ReplayVerdict::EvaluationMismatch, &why, *record);
				},
				Ok(_) => {},
			}
			let rec = match chain.payload(chain.best(), record) {
				Err(e) => return verdict(ReplayVerdict::Unavailable, &e, *record),
				Ok(bytes) => match EvalRecord::from_bytes(&bytes, n) {
					Err(e) => {
						return verdict(ReplayVerdict::EvaluationMismatch, &e.to_string(), *record)
					},
					Ok(r) => r,
				},
			};
			let b = u32::try_from(record_batches(n))
				.map_err(|_| "too many validation windows".to_string())?;
			(batch_windows(&challenge_eval_batches(seed, *claim, b), n), Some(rec))
		},
	};
	let total = 2 * select.len();
	let base = cache
		.windows(&parent, &store, &text_root, &text, &select, ctx, &|d, _| (d as u32, total as u32))
		.map_err(|e| format!("evaluate parent: {e}"))?;
	let candidate = match merged_candidate(chain, &cfg, &parent, units)? {
		Err(why) => {
			log::info!(target: super::LOG_TARGET, "candidate refused: {why}");
			None
		},
		Ok(cand) => match cache.windows(&cand, &store, &text_root, &text, &select, ctx, &|d, _| {
			((select.len() + d) as u32, total as u32)
		}) {
			Ok(l) => Some(l),
			Err(e @ (blyan_moe::Error::NotFound(_) | blyan_moe::Error::Stopped(_))) => {
				return Err(format!("evaluate candidate: {e}"))
			},
			Err(e) => {
				log::info!(target: super::LOG_TARGET, "candidate does not decode: {e}");
				None
			},
		},
	};

	let (parent_loss, candidate_loss, record) = match (claimed, check) {
		(Some(rec), Some(check)) => {
			// A validator: the checked windows must be the record's, bit for bit.
			for (k, &i) in select.iter().enumerate() {
				let (b, c) = rec.windows[i as usize];
				let mine_c = candidate.as_ref().map(|c| c[k]);
				if b != base[k] || mine_c.is_some_and(|m| m != c) {
					let why = format!(
						"window {i}: record ({b}, {c}), measured ({}, {mine_c:?})",
						base[k]
					);
					return verdict(ReplayVerdict::EvaluationMismatch, &why, check.record);
				}
			}
			let (p, c) = rec.losses(bytes);
			(p, if candidate.is_some() { c } else { UNDECODABLE_LOSS }, check.record)
		},
		_ => {
			// A trainer: the record of every window, kept for publishing.
			let Some(cand) = candidate else {
				let sum = base.iter().map(|&x| u128::from(x)).sum();
				return Ok(JobOutput::Losses {
					parent: nano_nats_per_byte(sum, bytes),
					candidate: UNDECODABLE_LOSS,
					record: [0; 32],
					verdict: ReplayVerdict::Match,
				});
			};
			let rec = EvalRecord { windows: base.into_iter().zip(cand).collect() };
			let root = keep_record(outputs, &rec)?;
			let (p, c) = rec.losses(bytes);
			(p, c, root)
		},
	};
	let (parent, candidate) = adversary.reported_losses(parent_loss, candidate_loss);
	Ok(JobOutput::Losses { parent, candidate, record, verdict: ReplayVerdict::Match })
}

/// Stores `record` with the newest training run's outputs (published by the trainer with the
/// run's units); returns its payload root.
pub fn keep_record(outputs: &Mutex<Outputs>, record: &EvalRecord) -> Result<Hash, String> {
	let mem = MemStore::default();
	let root = mem.put(&record.to_bytes()).map_err(|e| e.to_string())?;
	outputs
		.lock()
		.map_err(|_| "the outputs lock is poisoned".to_string())?
		.keep_with_latest_run(&mem, vec![root])?;
	Ok(root)
}
