//! Training ("partial mining"), checkpoints, the PoDL manifest and replay.
//!
//! A trainer picks a set of units to train (one expert, or all units); everything else is
//! frozen. Every step draws its batch from the committed seed and mixing ratios
//! ([`crate::data::Mixture::batch`]), records the batch hash, and takes one AdamW step on
//! cross-entropy + α·(load-balancing loss). Every `checkpoint_every` steps (K) the trainable
//! tensors and the optimiser state are written as a checkpoint payload whose payload root is
//! recorded. The [`Manifest`] commits to all of it (SPEC "Proof-of-Learning and
//! Proof-of-Data-Learning").
//!
//! Replay re-executes segment `i` (steps `[iK, (i+1)K)`) from checkpoint `i` and must
//! reproduce the batch hashes and checkpoint `i+1` exactly: training is bitwise
//! deterministic given the config, initial units, samples, seed, steps, learning rate and
//! thread count.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use blyan_primitives::{merkle_root, payload_root, pol::TrainingParams, Hash};
use candle_core::{Device, Tensor, Var};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};

use crate::data::{Batch, Dataset, DatasetClaim, Mixture};
use crate::model::{var_builder, Model, MoeMode, ResidentExperts};
use crate::optim::{AdamW, AdamWParams};
use crate::store::{parse_hash, ModelIndex, UnitStore};
use crate::units::{encode_tensors, encode_unit, UnitId};
use crate::{Config, Error, Result};

/// What a training run is asked to do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainParams {
	/// Seed of the batch stream.
	pub seed: u64,
	/// Optimiser steps.
	pub steps: u64,
	/// Rows per batch.
	pub batch_size: usize,
	/// Bytes per row (`≤ max_position_embeddings`).
	pub seq_len: usize,
	/// Checkpoint interval K, in steps.
	pub checkpoint_every: u64,
	/// Share of each dataset held out for validation, per mille.
	pub validation_permille: u32,
	/// AdamW hyper-parameters.
	pub adamw: AdamWParams,
}

impl TrainParams {
	fn validate(&self, cfg: &Config) -> Result<()> {
		let bad = |m: String| Err(Error::InvalidTraining(m));
		if self.steps == 0 || self.batch_size == 0 || self.checkpoint_every == 0 {
			return bad("steps, batch_size and checkpoint_every must be > 0".into());
		}
		if self.seq_len == 0 || self.seq_len > cfg.max_position_embeddings {
			return bad(format!("seq_len must be in 1..={}", cfg.max_position_embeddings));
		}
		if self.validation_permille >= 1000 {
			return bad("validation_permille must be < 1000".into());
		}
		if !(self.adamw.lr > 0.0) || !self.adamw.lr.is_finite() {
			return bad("the learning rate must be a positive number".into());
		}
		Ok(())
	}

	/// Number of segments (checkpoint intervals): `⌈steps / K⌉`.
	pub fn segments(&self) -> usize {
		self.steps.div_ceil(self.checkpoint_every.max(1)) as usize
	}
}

/// The Proof-of-Data-Learning manifest of a training run: what it started from, what it
/// trained on, how, and the hashes that let anyone replay any segment.
/// Hashes are lowercase hex.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
	/// The trainer: `0x`-prefixed hex of the SCALE encoding of the account that claims this
	/// run on chain (empty for runs not meant for a claim). Validators refuse a claim signed
	/// by any other account, so a published manifest cannot be claimed by someone else.
	#[serde(default)]
	pub trainer: String,
	/// The trainer's engine fingerprint, `0x`-prefixed hex
	/// ([`crate::fingerprint::engine_fingerprint_hex`]; empty when unknown). A validator whose
	/// own fingerprint differs cannot reproduce these bits and does not judge the claim
	/// (`ReplayVerdict::EngineMismatch`).
	#[serde(default)]
	pub engine: String,
	/// Engine config.
	pub config: Config,
	/// Unit hashes of the parent model (the training start).
	pub parent: BTreeMap<String, String>,
	/// Units trained; all others frozen.
	pub trained_units: Vec<String>,
	/// Datasets with content roots and mixing ratios (ppm), in sampling order.
	pub datasets: Vec<DatasetClaim>,
	/// Training parameters (seed, steps, learning rate, K, ...).
	pub params: TrainParams,
	/// Hash of every step's batch, in step order.
	pub batch_hashes: Vec<String>,
	/// `merkle_root(batch_hashes)`.
	pub batch_root: String,
	/// Checkpoint payload roots: index 0 before training, index i after segment i−1.
	pub checkpoints: Vec<String>,
	/// Resulting hashes of the trained units.
	pub result: BTreeMap<String, String>,
}

impl Manifest {
	/// Writes the manifest as pretty JSON.
	///
	/// Errors: [`Error::Io`].
	pub fn write(&self, path: &std::path::Path) -> Result<()> {
		crate::store::write_json(path, self)
	}

	/// Reads a manifest written by [`Manifest::write`] and checks it ([`Manifest::check`]).
	///
	/// Errors: [`Error::Io`], [`Error::Json`], and those of [`Manifest::check`].
	pub fn read(path: &std::path::Path) -> Result<Self> {
		let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
		let m: Self = serde_json::from_str(&text)
			.map_err(|e| Error::Json { what: path.display().to_string(), source: e })?;
		m.check()?;
		Ok(m)
	}

	/// blake3 of the manifest's JSON (field order fixed, maps sorted): what a claim commits to.
	pub fn hash(&self) -> Hash {
		*blake3::hash(&serde_json::to_vec(self).unwrap_or_default()).as_bytes()
	}

	/// The parent model.
	pub fn parent_index(&self) -> ModelIndex {
		ModelIndex { config: self.config.clone(), units: self.parent.clone() }
	}

	/// The model after training: the parent with the trained units replaced.
	pub fn result_index(&self) -> ModelIndex {
		let mut units = self.parent.clone();
		units.extend(self.result.clone());
		ModelIndex { config: self.config.clone(), units }
	}

	/// Steps of segment `i`: `[iK, min((i+1)K, steps))`.
	pub fn segment_steps(&self, i: usize) -> std::ops::Range<u64> {
		let k = self.params.checkpoint_every;
		let start = (i as u64).saturating_mul(k).min(self.params.steps);
		start..start.saturating_add(k).min(self.params.steps)
	}

	/// The training parameters as a claim states them
	/// (`blyan_primitives::pol::TrainingParams`); `None` when a value does not fit the
	/// claim's `u32` fields.
	pub fn claimed_params(&self) -> Option<TrainingParams> {
		let p = &self.params;
		Some(TrainingParams {
			seed: p.seed,
			steps: u32::try_from(p.steps).ok()?,
			checkpoint_every: u32::try_from(p.checkpoint_every).ok()?,
			batch_size: u32::try_from(p.batch_size).ok()?,
			seq_len: u32::try_from(p.seq_len).ok()?,
		})
	}

	/// The trainer field for an account whose SCALE encoding is `account`.
	pub fn trainer_of(account: &[u8]) -> String {
		format!("0x{}", hex::encode(account))
	}

	/// Checks the manifest's internal consistency: counts, hex, batch root.
	///
	/// Errors: [`Error::InvalidManifest`], [`Error::InvalidTraining`], [`Error::UnknownUnit`].
	pub fn check(&self) -> Result<()> {
		self.config.validate()?;
		self.params.validate(&self.config)?;
		let bad = |m: String| Err(Error::InvalidManifest(m));
		if self.batch_hashes.len() as u64 != self.params.steps {
			return bad(format!(
				"{} batch hashes for {} steps",
				self.batch_hashes.len(),
				self.params.steps
			));
		}
		if self.checkpoints.len() != self.params.segments() + 1 {
			return bad(format!(
				"{} checkpoints for {} segments",
				self.checkpoints.len(),
				self.params.segments()
			));
		}
		let hashes = self
			.batch_hashes
			.iter()
			.map(|h| parse_hash("batch hash", h))
			.collect::<Result<Vec<_>>>()?;
		if hex::encode(merkle_root(&hashes)) != self.batch_root {
			return bad("batch_root is not the Merkle root of batch_hashes".into());
		}
		if self.trained_units.is_empty() {
			return bad("no trained units".into());
		}
		for u in &self.trained_units {
			UnitId::parse_in(u, &self.config)?;
		}
		Ok(())
	}
}

/// Loss figures of one step.
#[derive(Clone, Copy, Debug)]
pub struct StepReport {
	/// Step index (0-based).
	pub step: u64,
	/// Mean cross-entropy of the batch, nats per byte.
	pub loss: f32,
	/// Load-balancing loss (unweighted).
	pub aux_loss: f32,
}

/// The trainable state: model, experts, and AdamW over the trained units' tensors.
pub struct TrainState {
	cfg: Config,
	model: Model,
	experts: ResidentExperts,
	opt: AdamW,
	trained: BTreeSet<UnitId>,
	weights: BTreeMap<String, Tensor>,
}

const M_PREFIX: &str = "adamw.m.";
const V_PREFIX: &str = "adamw.v.";

impl TrainState {
	/// Makes the tensors of `trained` units variables (all others stay constants) and a fresh
	/// optimiser.
	///
	/// Errors: [`Error::UnknownUnit`] for a unit the config lacks; model-building errors.
	pub fn new(
		cfg: &Config,
		mut weights: BTreeMap<String, Tensor>,
		trained: &BTreeSet<UnitId>,
		adamw: AdamWParams,
	) -> Result<Self> {
		let mut vars = Vec::new();
		for unit in trained {
			if !unit.exists_in(cfg) {
				return Err(Error::UnknownUnit(unit.to_string()));
			}
			for spec in crate::units::unit_layout(cfg, *unit) {
				let t = weights.get(&spec.name).ok_or_else(|| Error::WrongTensors {
					unit: *unit,
					reason: format!("missing {}", spec.name),
				})?;
				let var = Var::from_tensor(t)?;
				weights.insert(spec.name.clone(), var.as_tensor().clone());
				vars.push((spec.name, var));
			}
		}
		vars.sort_by(|a, b| a.0.cmp(&b.0));
		let vb = var_builder(&weights);
		let model = Model::new(cfg, vb.clone())?;
		let experts = ResidentExperts::new(cfg, &vb)?;
		Ok(Self {
			cfg: cfg.clone(),
			model,
			experts,
			opt: AdamW::new(vars, adamw)?,
			trained: trained.clone(),
			weights,
		})
	}

	/// One optimiser step on `batch` (`[batch_size, seq_len]`).
	pub fn step(&mut self, batch: &Batch, batch_size: usize, seq_len: usize) -> Result<StepReport> {
		let dev = Device::Cpu;
		let ids = Tensor::from_vec(batch.inputs.clone(), (batch_size, seq_len), &dev)?;
		let targets = Tensor::from_vec(batch.targets.clone(), batch_size * seq_len, &dev)?;
		let out = self.model.forward(&ids, &mut self.experts, MoeMode::Selective)?;
		let logits = out.logits.reshape((batch_size * seq_len, self.cfg.vocab_size))?;
		let ce = candle_nn::loss::cross_entropy(&logits, &targets)?;
		let loss = (&ce + (&out.aux_loss * self.cfg.router_aux_loss_coef)?)?;
		let grads = loss.backward()?;
		self.opt.step(&grads)?;
		Ok(StepReport {
			step: self.opt.step_t - 1,
			loss: ce.to_scalar()?,
			aux_loss: out.aux_loss.to_scalar()?,
		})
	}

	/// Checkpoint payload: the trained tensors, `adamw.m.<name>`, `adamw.v.<name>`, and the
	/// step count in the safetensors metadata (`{"step": t}`).
	pub fn checkpoint_bytes(&self) -> Result<Vec<u8>> {
		let mut named: Vec<(String, &Tensor)> = Vec::new();
		for s in &self.opt.slots {
			named.push((s.name.clone(), s.var.as_tensor()));
			named.push((format!("{M_PREFIX}{}", s.name), &s.m));
			named.push((format!("{V_PREFIX}{}", s.name), &s.v));
		}
		let meta = HashMap::from([("step".to_string(), self.opt.step_t.to_string())]);
		encode_tensors(named.iter().map(|(n, t)| (n.as_str(), *t)), Some(meta))
	}

	/// Loads a checkpoint payload made by [`TrainState::checkpoint_bytes`] for the same units.
	///
	/// Errors: [`Error::CorruptPayload`] when it does not parse or lacks a tensor.
	pub fn restore(&mut self, bytes: &[u8]) -> Result<()> {
		let corrupt = |reason: String| Error::CorruptPayload { what: "checkpoint".into(), reason };
		let st = SafeTensors::deserialize(bytes).map_err(|e| corrupt(e.to_string()))?;
		let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| corrupt(e.to_string()))?;
		let step = meta
			.metadata()
			.as_ref()
			.and_then(|m| m.get("step"))
			.and_then(|s| s.parse::<u64>().ok())
			.ok_or_else(|| corrupt("no step in metadata".into()))?;
		if st.len() != self.opt.slots.len() * 3 {
			return Err(corrupt(format!(
				"{} tensors, expected {}",
				st.len(),
				self.opt.slots.len() * 3
			)));
		}
		let load = |name: &str, like: &Tensor| -> Result<Tensor> {
			let v = st.tensor(name).map_err(|e| corrupt(format!("{name}: {e}")))?;
			if v.dtype() != safetensors::Dtype::F32 || v.shape() != like.dims() {
				return Err(corrupt(format!("{name}: wrong dtype or shape")));
			}
			Ok(Tensor::from_raw_buffer(v.data(), candle_core::DType::F32, v.shape(), &Device::Cpu)?)
		};
		for s in &mut self.opt.slots {
			let theta = load(&s.name, s.var.as_tensor())?;
			s.m = load(&format!("{M_PREFIX}{}", s.name), &s.m)?;
			s.v = load(&format!("{V_PREFIX}{}", s.name), &s.v)?;
			s.var.set(&theta)?;
		}
		self.opt.step_t = step;
		Ok(())
	}

	/// Safetensors payloads of the trained units as they are now.
	pub fn trained_payloads(&self) -> Result<BTreeMap<UnitId, Vec<u8>>> {
		self.trained
			.iter()
			.map(|u| Ok((*u, encode_unit(&self.cfg, *u, &self.weights)?)))
			.collect()
	}

	/// Current weights of every tensor (trained ones track the variables).
	pub fn weights(&self) -> &BTreeMap<String, Tensor> {
		&self.weights
	}
}

/// What [`train`] produced.
pub struct TrainOutcome {
	/// The PoDL manifest.
	pub manifest: Manifest,
	/// The trained model (parent with the trained units replaced).
	pub index: ModelIndex,
}

/// Trains `trained` units of `parent` on `datasets` mixed by `ratios_ppm`, storing every
/// checkpoint and the resulting units in `store`; `progress` sees every step, and an error it
/// returns (for example [`Error::Stopped`]) ends training with that error.
///
/// Errors: [`Error::InvalidTraining`] for bad parameters; [`Error::UnknownUnit`];
/// [`Error::DatasetTooShort`]; store and decode errors for the parent's units.
pub fn train(
	parent: &ModelIndex,
	store: &dyn UnitStore,
	trained: &BTreeSet<UnitId>,
	datasets: &[Dataset],
	ratios_ppm: &[u32],
	params: &TrainParams,
	progress: &mut dyn FnMut(&StepReport) -> Result<()>,
) -> Result<TrainOutcome> {
	let cfg = &parent.config;
	params.validate(cfg)?;
	if trained.is_empty() {
		return Err(Error::InvalidTraining("choose at least one unit to train".into()));
	}
	let mixture = Mixture::new(datasets, ratios_ppm, params.validation_permille, params.seq_len)?;
	let mut state = TrainState::new(cfg, parent.load_weights(store, None)?, trained, params.adamw)?;
	let mut checkpoints = vec![hex::encode(store.put(&state.checkpoint_bytes()?)?)];
	let mut batch_hashes = Vec::with_capacity(params.steps as usize);
	for step in 0..params.steps {
		let batch = mixture.batch(params.seed, step, params.batch_size, params.seq_len);
		batch_hashes.push(batch.hash);
		let report = state.step(&batch, params.batch_size, params.seq_len)?;
		if (step + 1) % params.checkpoint_every == 0 || step + 1 == params.steps {
			checkpoints.push(hex::encode(store.put(&state.checkpoint_bytes()?)?));
		}
		progress(&report)?;
	}
	let mut result = BTreeMap::new();
	for (unit, bytes) in state.trained_payloads()? {
		result.insert(unit.to_string(), hex::encode(store.put(&bytes)?));
	}
	let manifest = Manifest {
		trainer: String::new(),
		engine: crate::fingerprint::engine_fingerprint_hex()?,
		config: cfg.clone(),
		parent: parent.units.clone(),
		trained_units: trained.iter().map(|u| u.to_string()).collect(),
		datasets: datasets
			.iter()
			.zip(ratios_ppm)
			.map(|(d, r)| DatasetClaim {
				name: d.name.clone(),
				content_root: hex::encode(d.content_root()),
				samples: d.samples.len() as u64,
				ratio_ppm: *r,
			})
			.collect(),
		params: params.clone(),
		batch_root: hex::encode(merkle_root(&batch_hashes)),
		batch_hashes: batch_hashes.iter().map(hex::encode).collect(),
		checkpoints,
		result,
	};
	let index = manifest.result_index();
	Ok(TrainOutcome { manifest, index })
}

/// Finds the claimed datasets among `available` (by name) and checks their content roots.
fn claimed_datasets(manifest: &Manifest, available: &[Dataset]) -> Result<Vec<Dataset>> {
	manifest
		.datasets
		.iter()
		.map(|claim| {
			let d = available.iter().find(|d| d.name == claim.name).ok_or_else(|| {
				Error::DatasetMismatch(format!("dataset {} is not available", claim.name))
			})?;
			let root = hex::encode(d.content_root());
			if root != claim.content_root {
				return Err(Error::DatasetMismatch(format!(
					"dataset {}: content root {root} differs from the claimed {}",
					claim.name, claim.content_root
				)));
			}
			Ok(d.clone())
		})
		.collect()
}

/// Outcome of a successful replay.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayReport {
	/// Segment replayed.
	pub segment: usize,
	/// Steps re-executed.
	pub steps: std::ops::Range<u64>,
	/// Checkpoint reproduced (payload root of checkpoint `segment + 1`).
	pub checkpoint: Hash,
}

/// The trained units a manifest names.
fn trained_units(manifest: &Manifest) -> Result<BTreeSet<UnitId>> {
	manifest
		.trained_units
		.iter()
		.map(|u| UnitId::parse_in(u, &manifest.config))
		.collect()
}

/// A train state at checkpoint `index` of `manifest`: fetched from `store`, verified
/// against its claimed hash, restored on top of `base`.
fn state_at(
	manifest: &Manifest,
	trained: &BTreeSet<UnitId>,
	base: BTreeMap<String, Tensor>,
	store: &dyn UnitStore,
	index: usize,
) -> Result<TrainState> {
	let mut state = TrainState::new(&manifest.config, base, trained, manifest.params.adamw)?;
	let claimed = manifest
		.checkpoints
		.get(index)
		.ok_or_else(|| Error::InvalidManifest(format!("no checkpoint {index}")))?;
	let expected = parse_hash("checkpoint", claimed)?;
	let bytes = store.fetch(&expected)?;
	let actual = payload_root(&bytes);
	if actual != expected {
		return Err(Error::HashMismatch { what: format!("checkpoint {index}"), expected, actual });
	}
	state.restore(&bytes)?;
	Ok(state)
}

/// Replays segments of one manifest; the parent model and the datasets are loaded and
/// checked once, then each [`Replayer::replay`] re-executes one segment.
pub struct Replayer<'a> {
	manifest: &'a Manifest,
	store: &'a dyn UnitStore,
	mixture: Mixture,
	trained: BTreeSet<UnitId>,
	base: BTreeMap<String, Tensor>,
}

impl<'a> Replayer<'a> {
	/// Checks the manifest, finds the claimed datasets among `datasets` (by name; their
	/// content roots must match) and loads the parent model from `store`.
	///
	/// Errors: [`Error::InvalidManifest`]; [`Error::DatasetMismatch`]; store and decode errors.
	pub fn new(
		manifest: &'a Manifest,
		store: &'a dyn UnitStore,
		datasets: &[Dataset],
	) -> Result<Self> {
		manifest.check()?;
		let p = &manifest.params;
		let claimed = claimed_datasets(manifest, datasets)?;
		let ratios: Vec<u32> = manifest.datasets.iter().map(|c| c.ratio_ppm).collect();
		let mixture = Mixture::new(&claimed, &ratios, p.validation_permille, p.seq_len)?;
		let trained = trained_units(manifest)?;
		let base = manifest.parent_index().load_weights(store, None)?;
		Ok(Self { manifest, store, mixture, trained, base })
	}

	/// Re-executes segment `segment` from checkpoint `segment` and checks that it reproduces
	/// every batch hash and checkpoint `segment + 1` bit for bit.
	///
	/// Errors: [`Error::InvalidManifest`] (no such segment); [`Error::NotFound`] or
	/// [`Error::HashMismatch`] when the stored checkpoint `segment` is missing or not the
	/// claimed one; [`Error::BatchMismatch`] when the data or its order differ;
	/// [`Error::CheckpointMismatch`] when the weights differ.
	pub fn replay(&self, segment: usize) -> Result<ReplayReport> {
		let (m, p) = (self.manifest, &self.manifest.params);
		if segment >= p.segments() {
			return Err(Error::InvalidManifest(format!("segment {segment} of {}", p.segments())));
		}
		let mut state = state_at(m, &self.trained, self.base.clone(), self.store, segment)?;
		let steps = m.segment_steps(segment);
		for step in steps.clone() {
			let batch = self.mixture.batch(p.seed, step, p.batch_size, p.seq_len);
			let expected = parse_hash("batch hash", &m.batch_hashes[step as usize])?;
			if batch.hash != expected {
				return Err(Error::BatchMismatch { step, expected, actual: batch.hash });
			}
			state.step(&batch, p.batch_size, p.seq_len)?;
		}
		let end = payload_root(&state.checkpoint_bytes()?);
		let expected = parse_hash("checkpoint", &m.checkpoints[segment + 1])?;
		if end != expected {
			return Err(Error::CheckpointMismatch { index: segment + 1, expected, actual: end });
		}
		Ok(ReplayReport { segment, steps, checkpoint: end })
	}
}

/// Replays one segment: [`Replayer::new`] then [`Replayer::replay`], with their errors.
pub fn replay_segment(
	manifest: &Manifest,
	segment: usize,
	store: &dyn UnitStore,
	datasets: &[Dataset],
) -> Result<ReplayReport> {
	Replayer::new(manifest, store, datasets)?.replay(segment)
}

/// Checks that the claimed result units are exactly the trained tensors of the last
/// checkpoint (so a replayed chain of checkpoints ends in the payload being proposed).
///
/// Errors: [`Error::HashMismatch`] naming the unit whose payload differs; store errors.
pub fn verify_result(manifest: &Manifest, store: &dyn UnitStore) -> Result<()> {
	manifest.check()?;
	let trained = trained_units(manifest)?;
	let base = manifest.parent_index().load_weights(store, None)?;
	let state =
		state_at(manifest, &trained, base, store, manifest.checkpoints.len().saturating_sub(1))?;
	for (unit, payload) in state.trained_payloads()? {
		let actual = payload_root(&payload);
		let claimed = parse_hash(
			&unit.to_string(),
			manifest.result.get(&unit.to_string()).map(String::as_str).unwrap_or_default(),
		)?;
		if actual != claimed {
			return Err(Error::HashMismatch {
				what: format!("result unit {unit}"),
				expected: claimed,
				actual,
			});
		}
	}
	Ok(())
}

/// An upper bound on the bytes of a checkpoint payload of `trained` units of `cfg`
/// ([`TrainState::checkpoint_bytes`]: each trained tensor and its two AdamW moments as F32,
/// plus at most 256 header bytes per tensor and 1 KiB of metadata). The engine refuses to
/// fetch a claimed checkpoint larger than this.
pub fn checkpoint_len_bound(cfg: &Config, trained: &BTreeSet<UnitId>) -> u64 {
	let mut bytes: u64 = 1024;
	for unit in trained {
		for spec in crate::units::unit_layout(cfg, *unit) {
			let n: u64 = spec.shape.iter().map(|d| *d as u64).product();
			bytes = bytes
				.saturating_add(3u64.saturating_mul(n.saturating_mul(4)).saturating_add(3 * 256));
		}
	}
	bytes
}

/// An upper bound on the memory one training step of `cfg` takes for a `batch_size ×
/// seq_len` batch, bytes: the parameters with gradients and both AdamW moments, and the
/// activations kept for the backward pass (hidden states, attention scores, the routed experts'
/// hidden layer, logits), each counted with its gradient, with a factor of 2 for candle's
/// temporaries. Saturating: absurd parameters give `u64::MAX`. The engine compares it with its
/// memory budget before it allocates a step.
pub fn step_memory_bound(cfg: &Config, batch_size: usize, seq_len: usize) -> u64 {
	let m = |a: u64, b: u64| a.saturating_mul(b);
	let params: u64 = crate::model::tensor_layout(cfg)
		.iter()
		.map(|s| s.shape.iter().map(|d| *d as u64).product::<u64>())
		.fold(0u64, |a, n| a.saturating_add(n));
	let (b, s) = (batch_size as u64, seq_len as u64);
	let tokens = m(b, s);
	let d = cfg.hidden_size as u64;
	let per_layer = m(tokens, m(d, 24))
		.saturating_add(m(m(b, cfg.num_attention_heads as u64), m(s, s)).saturating_mul(4))
		.saturating_add(m(
			tokens,
			m(cfg.num_experts_per_tok as u64, m(cfg.intermediate_size as u64, 6)),
		))
		.saturating_add(m(tokens, m(cfg.num_local_experts as u64, 4)));
	let activations = m(cfg.num_hidden_layers as u64, per_layer)
		.saturating_add(m(tokens, m(cfg.vocab_size as u64, 4)));
	// F32: 4 bytes; parameters ×4 (value, gradient, m, v); activations ×2 (value, gradient).
	m(2, m(4, m(params, 4).saturating_add(m(activations, 2))))
}
