//! The node's engine service: answers the `blyan_engine` runtime interface
//! (`blyan-engine-interface`) for off-chain workers with the native candle engine
//! (`blyan-moe`).
//!
//! Jobs run on a pool of `--engine-threads` native threads (default 1; candle's matmuls use
//! the machine's cores inside a job), never on the off-chain worker's or block import's
//! thread: [`EngineService::submit`] queues and returns at once, and later worker runs poll
//! [`EngineService::status`]. Statuses live in memory; after a restart a job is `Unknown`
//! and the worker submits it again.
//!
//! Every job reads chain state through [`ChainView`] at the block its `at` names, so two
//! nodes given the same job compute the same result (docs/engine.md, docs/pol.md).

use std::collections::{BTreeMap, HashMap};
use std::sync::{mpsc, Arc, Mutex};

use blyan_engine_interface::{
	job_id, AuditFigures, EngineHost, Hash, Job, JobId, JobOutput, JobStatus, ReplayOutcome,
};
use blyan_moe::data::Dataset;
use blyan_moe::optim::AdamWParams;
use blyan_moe::store::MemStore;
use blyan_moe::store::{ModelIndex, Payload, UnitStore};
use blyan_moe::train::{train, Manifest, Replayer, TrainParams};
use blyan_moe::units::{all_units, UnitId};
use sp_core::H256;
use std::collections::BTreeSet;

/// Chain state as the engine needs it, at a given block.
pub trait ChainView: Send + Sync + 'static {
	/// Hash of the best block (checkpoints published after a claim are read there).
	fn best(&self) -> H256;
	/// Hash of canonical block `number`.
	fn hash_of(&self, number: u32) -> Result<H256, String>;
	/// Verified bytes of payload `root` at `at`.
	fn payload(&self, at: H256, root: &Hash) -> Result<Vec<u8>, String>;
	/// Payload root of unit `name`'s accepted block at `at`.
	fn accepted_payload(&self, at: H256, name: &str) -> Result<Option<Hash>, String>;
	/// The latest spec's engine config and validation dataset id at `at`.
	fn latest_spec(&self, at: H256) -> Result<(blyan_moe::Config, u32), String>;
	/// Dataset `id` at `at`.
	fn dataset(&self, at: H256, id: u32) -> Result<DatasetInfo, String>;
}

/// What the engine needs of a dataset record (Chain D).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetInfo {
	/// Name, as a PoDL manifest names it.
	pub name: String,
	/// blake3 Merkle root over the sample hashes.
	pub content_root: Hash,
	/// Payload root of the text in the content store.
	pub text: Hash,
}

/// A test instrument for end-to-end tests (`blyan-node --adversary <kind>`, hidden): makes
/// this node's engine cheat in one way, so that e2e tests can check that the chain rejects
/// the cheat (docs/pol.md, "Adversaries"). Never set on a real network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Adversary {
	/// The trainer claims a validation loss 10 % below what its payload has.
	InflateClaim,
	/// The trainer's manifest lists forged checkpoints: every checkpoint after the first has
	/// one mantissa bit flipped, so no segment replays to it.
	ForgeCheckpoint,
	/// The trainer trains on other data than the datasets its manifest and claim name.
	MisnameDatasets,
	/// The validator reports a candidate loss 1 % above what it measured.
	WrongLoss,
}

impl<C> ChainView for crate::chain::ChainReader<C>
where
	C: sp_api::ProvideRuntimeApi<blyan_runtime::opaque::Block>
		+ sp_blockchain::HeaderBackend<blyan_runtime::opaque::Block>
		+ Send
		+ Sync
		+ 'static,
	C::Api: pallet_content_store::runtime_api::ContentStoreApi<blyan_runtime::opaque::Block>
		+ pallet_param_dag::runtime_api::ParamDagApi<blyan_runtime::opaque::Block>
		+ pallet_dataset::runtime_api::DatasetApi<blyan_runtime::opaque::Block>
		+ pallet_model_spec::runtime_api::ModelSpecApi<blyan_runtime::opaque::Block>,
{
	fn best(&self) -> H256 {
		crate::chain::ChainReader::best(self)
	}
	fn hash_of(&self, number: u32) -> Result<H256, String> {
		crate::chain::ChainReader::hash_of(self, number).map_err(|e| e.to_string())
	}
	fn payload(&self, at: H256, root: &Hash) -> Result<Vec<u8>, String> {
		crate::chain::ChainReader::payload(self, at, root).map_err(|e| e.to_string())
	}
	fn accepted_payload(&self, at: H256, name: &str) -> Result<Option<Hash>, String> {
		crate::chain::ChainReader::accepted_payload(self, at, name).map_err(|e| e.to_string())
	}
	fn latest_spec(&self, at: H256) -> Result<(blyan_moe::Config, u32), String> {
		let spec = crate::chain::ChainReader::latest_spec(self, at).map_err(|e| e.to_string())?;
		Ok((engine_config(&spec.config), spec.validation_dataset.0))
	}
	fn dataset(&self, at: H256, id: u32) -> Result<DatasetInfo, String> {
		let record = crate::chain::ChainReader::dataset(self, at, id).map_err(|e| e.to_string())?;
		Ok(DatasetInfo {
			name: String::from_utf8_lossy(&record.name).into_owned(),
			content_root: record.content_root,
			text: record.payload_root,
		})
	}
}

/// The engine config of an on-chain spec. The chain records the shape; the numerical
/// constants the chain does not record (RMSNorm ε, RoPE θ, auxiliary-loss coefficient) are
/// the engine's defaults (`blyan_moe::Config::tiny`).
pub fn engine_config(c: &pallet_model_spec::EngineConfig) -> blyan_moe::Config {
	blyan_moe::Config {
		vocab_size: c.vocab_size as usize,
		hidden_size: c.hidden_size as usize,
		num_hidden_layers: c.num_hidden_layers as usize,
		num_attention_heads: c.num_attention_heads as usize,
		max_position_embeddings: c.max_position_embeddings as usize,
		num_local_experts: c.num_local_experts as usize,
		num_experts_per_tok: c.num_experts_per_tok as usize,
		intermediate_size: c.intermediate_size as usize,
		..blyan_moe::Config::tiny()
	}
}

/// Payloads of the chain at one block, as the engine's [`UnitStore`]. Read-only: `put` fails.
struct ChainStore<'a> {
	chain: &'a dyn ChainView,
	at: H256,
}

impl UnitStore for ChainStore<'_> {
	fn fetch(&self, hash: &Hash) -> blyan_moe::Result<Payload> {
		self.chain.payload(self.at, hash).map(Payload::Owned).map_err(|e| {
			log::warn!(target: "blyan-engine", "payload {}: {e}", hex::encode(hash));
			blyan_moe::Error::NotFound(*hash)
		})
	}
	fn put(&self, _bytes: &[u8]) -> blyan_moe::Result<Hash> {
		Err(blyan_moe::Error::InvalidManifest("the chain store is read-only".into()))
	}
}

/// Reports progress of the running job.
type Progress<'a> = &'a mut dyn FnMut(u32, u32);

/// The model accepted at `at`: every unit's `ParamIndex` payload root.
fn accepted_index(
	chain: &dyn ChainView,
	at: H256,
	cfg: &blyan_moe::Config,
) -> Result<ModelIndex, String> {
	let mut units = BTreeMap::new();
	for unit in all_units(cfg) {
		let name = unit.to_string();
		let root = chain
			.accepted_payload(at, &name)?
			.ok_or_else(|| format!("unit {name} has no accepted block at {at:?}"))?;
		units.insert(name, hex::encode(root));
	}
	Ok(ModelIndex { config: cfg.clone(), units })
}

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
	fn loss(
		&self,
		index: &ModelIndex,
		store: &dyn UnitStore,
		text_root: &Hash,
		text: &[u8],
		progress: &mut dyn FnMut(usize, usize),
	) -> Result<u64, String> {
		let key: (Vec<(String, String)>, Hash) =
			(index.units.iter().map(|(k, v)| (k.clone(), v.clone())).collect(), *text_root);
		if let Some(l) = self.losses.lock().ok().and_then(|m| m.get(&key).copied()) {
			return Ok(l);
		}
		let seq_len = index.config.max_position_embeddings;
		let batch = blyan_moe::eval::DEFAULT_EVAL_BATCH;
		let r = blyan_moe::eval::evaluate_index(index, store, text, seq_len, batch, progress)
			.map_err(|e| e.to_string())?;
		let loss = pallet_pol::loss_from_nats_per_byte(r.nats_per_byte);
		if let Ok(mut m) = self.losses.lock() {
			if m.len() >= LOSS_CACHE_ENTRIES {
				m.clear();
			}
			m.insert(key, loss);
		}
		Ok(loss)
	}
}

/// [`Job::EvaluateClaim`]: parent and candidate validation loss, nano-nats per byte.
fn evaluate_claim(
	chain: &dyn ChainView,
	cache: &LossCache,
	adversary: Option<Adversary>,
	at: u32,
	unit: &[u8],
	candidate: &Hash,
	progress: Progress,
) -> Result<JobOutput, String> {
	let at = chain.hash_of(at)?;
	let (cfg, validation) = chain.latest_spec(at)?;
	let text_root = chain.dataset(at, validation)?.text;
	let text = chain.payload(at, &text_root)?;
	let parent = accepted_index(chain, at, &cfg)?;
	let unit = std::str::from_utf8(unit).map_err(|_| "unit name is not UTF-8".to_string())?;
	if !parent.units.contains_key(unit) {
		return Err(format!("the model has no unit {unit}"));
	}
	let mut cand = parent.clone();
	cand.units.insert(unit.to_string(), hex::encode(candidate));
	let store = ChainStore { chain, at };
	let mut losses = [0u64; 2];
	for (i, index) in [&parent, &cand].into_iter().enumerate() {
		losses[i] = cache
			.loss(index, &store, &text_root, &text, &mut |done, total| {
				progress((i * total + done) as u32, (2 * total) as u32)
			})
			.map_err(|e| {
				format!("evaluate {}: {e}", if i == 0 { "parent" } else { "candidate" })
			})?;
	}
	if adversary == Some(Adversary::WrongLoss) {
		losses[1] = losses[1].saturating_add(losses[1] / 100);
	}
	Ok(JobOutput::Losses { parent: losses[0], candidate: losses[1] })
}

/// Rows per training batch of the trainer's [`Job::Train`] (docs/engine.md, "Learning on
/// real text").
pub const TRAIN_BATCH: usize = 16;
/// Bytes per training row.
pub const TRAIN_SEQ_LEN: usize = 64;
/// AdamW learning rate of training jobs.
pub const TRAIN_LR: f64 = 3e-3;

/// Payloads the engine produced (trained units, manifests, checkpoints) kept for
/// publication, for the last [`KEEP_TRAINING_RUNS`] training runs.
#[derive(Default)]
pub struct Outputs {
	payloads: HashMap<Hash, Vec<u8>>,
	runs: std::collections::VecDeque<Vec<Hash>>,
}

/// Training runs whose outputs are kept (a checkpoint is about 1.2 MB for one expert of the
/// dev model; a run of 300 steps with K = 10 has 31).
pub const KEEP_TRAINING_RUNS: usize = 2;

impl Outputs {
	fn keep_run(&mut self, store: MemStore, roots: Vec<Hash>) {
		for root in &roots {
			if let Ok(p) = store.fetch(root) {
				self.payloads.insert(*root, p.to_vec());
			}
		}
		self.runs.push_back(roots);
		while self.runs.len() > KEEP_TRAINING_RUNS {
			for root in self.runs.pop_front().unwrap_or_default() {
				if !self.runs.iter().any(|r| r.contains(&root)) {
					self.payloads.remove(&root);
				}
			}
		}
	}
}

/// The chain's payloads at one block, with new payloads written to memory: the store of a
/// training run.
struct TrainStore<'a> {
	chain: ChainStore<'a>,
	new: &'a MemStore,
}

impl UnitStore for TrainStore<'_> {
	fn fetch(&self, hash: &Hash) -> blyan_moe::Result<Payload> {
		self.new.fetch(hash).or_else(|_| self.chain.fetch(hash))
	}
	fn put(&self, bytes: &[u8]) -> blyan_moe::Result<Hash> {
		self.new.put(bytes)
	}
}

/// The datasets `(id, ratio)` at `at` as the engine trains and replays on them.
fn load_datasets(
	chain: &dyn ChainView,
	at: H256,
	datasets: &[(u32, u32)],
) -> Result<Vec<Dataset>, String> {
	let mut texts = Vec::with_capacity(datasets.len());
	for (id, _) in datasets {
		let info = chain.dataset(at, *id)?;
		let text = chain.payload(at, &info.text)?;
		let text =
			String::from_utf8(text).map_err(|_| format!("dataset {id}: text is not UTF-8"))?;
		texts.push(Dataset::from_text(&info.name, &text).map_err(|e| e.to_string())?);
	}
	Ok(texts)
}

/// [`Job::Train`]: trains `unit` of the model accepted at `at` on `datasets` (SPEC
/// "Proof-of-Learning", trainer role) with [`TRAIN_BATCH`] × [`TRAIN_SEQ_LEN`] batches, AdamW
/// [`TRAIN_LR`], the validation share held out; evaluates parent and result on the spec's
/// validation set; keeps unit, manifest and checkpoints in `outputs`.
#[allow(clippy::too_many_arguments)]
fn train_unit(
	chain: &dyn ChainView,
	cache: &LossCache,
	adversary: Option<Adversary>,
	outputs: &Mutex<Outputs>,
	at: u32,
	unit: &[u8],
	datasets: &[(u32, u32)],
	steps: u32,
	checkpoint_every: u32,
	seed: u64,
	progress: Progress,
) -> Result<JobOutput, String> {
	let at = chain.hash_of(at)?;
	let (cfg, validation) = chain.latest_spec(at)?;
	let parent = accepted_index(chain, at, &cfg)?;
	let unit = std::str::from_utf8(unit).map_err(|_| "unit name is not UTF-8".to_string())?;
	let unit_id = UnitId::parse_in(unit, &cfg).map_err(|e| e.to_string())?;
	let named = load_datasets(chain, at, datasets)?;
	let ratios: Vec<u32> = datasets.iter().map(|(_, r)| *r).collect();
	// The misnaming adversary trains on every named dataset but the first, or with another
	// batch seed when only one is named; its manifest still names what was asked.
	let misname = adversary == Some(Adversary::MisnameDatasets);
	let (texts, train_ratios, train_seed) = if misname && named.len() > 1 {
		let rest =
			blyan_moe::data::ratios_ppm(&vec![1.0; named.len() - 1]).map_err(|e| e.to_string())?;
		(named[1..].to_vec(), rest, seed)
	} else if misname {
		(named.clone(), ratios.clone(), seed ^ 0x5eed)
	} else {
		(named.clone(), ratios.clone(), seed)
	};
	let params = TrainParams {
		seed: train_seed,
		steps: u64::from(steps),
		batch_size: TRAIN_BATCH,
		seq_len: TRAIN_SEQ_LEN.min(cfg.max_position_embeddings),
		checkpoint_every: u64::from(checkpoint_every),
		validation_permille: blyan_moe::data::DEFAULT_VALIDATION_PERMILLE,
		adamw: AdamWParams::with_lr(TRAIN_LR),
	};
	let new = MemStore::default();
	let store = TrainStore { chain: ChainStore { chain, at }, new: &new };
	let total = steps.saturating_add(2);
	let trained: BTreeSet<UnitId> = [unit_id].into();
	let mut out = train(&parent, &store, &trained, &texts, &train_ratios, &params, &mut |r| {
		progress((r.step + 1) as u32, total)
	})
	.map_err(|e| e.to_string())?;
	if misname {
		out.manifest.params.seed = seed;
		out.manifest.datasets = named
			.iter()
			.zip(&ratios)
			.map(|(d, r)| blyan_moe::data::DatasetClaim {
				name: d.name.clone(),
				content_root: hex::encode(d.content_root()),
				samples: d.samples.len() as u64,
				ratio_ppm: *r,
			})
			.collect();
	}
	if adversary == Some(Adversary::ForgeCheckpoint) {
		for c in out.manifest.checkpoints.iter_mut().skip(1) {
			let root = blyan_moe::store::parse_hash("checkpoint", c).map_err(|e| e.to_string())?;
			let mut bytes = store.fetch(&root).map_err(|e| e.to_string())?.to_vec();
			// The lowest mantissa byte of the last f32 of the last tensor.
			let at = bytes.len().saturating_sub(4);
			bytes[at] ^= 1;
			*c = hex::encode(store.put(&bytes).map_err(|e| e.to_string())?);
		}
	}
	let payload = out.manifest.result.get(unit).ok_or("the run produced no unit")?;
	let payload = blyan_moe::store::parse_hash(unit, payload).map_err(|e| e.to_string())?;
	let manifest_json = serde_json::to_vec(&out.manifest).map_err(|e| e.to_string())?;
	let manifest = store.put(&manifest_json).map_err(|e| e.to_string())?;
	let checkpoints = out
		.manifest
		.checkpoints
		.iter()
		.map(|c| blyan_moe::store::parse_hash("checkpoint", c).map_err(|e| e.to_string()))
		.collect::<Result<Vec<Hash>, String>>()?;

	let text_root = chain.dataset(at, validation)?.text;
	let text = chain.payload(at, &text_root)?;
	let parent_loss = cache.loss(&parent, &store, &text_root, &text, &mut |_, _| {})?;
	progress(steps + 1, total);
	let mut loss = cache.loss(&out.index, &store, &text_root, &text, &mut |_, _| {})?;
	if adversary == Some(Adversary::InflateClaim) {
		loss -= loss / 10;
	}
	let mut roots = vec![payload, manifest];
	roots.extend(&checkpoints);
	if let Ok(mut o) = outputs.lock() {
		o.keep_run(new, roots);
	}
	Ok(JobOutput::Trained {
		payload,
		manifest,
		segments: params.segments() as u32,
		parent_loss,
		loss,
		checkpoints,
	})
}

/// Outcome of a replay that could not run: the claim does not hold together.
fn unavailable(why: &str) -> Result<JobOutput, String> {
	log::info!(target: "blyan-engine", "replay unavailable: {why}");
	Ok(JobOutput::Replay { outcome: ReplayOutcome::Unavailable, digest: [0; 32] })
}

/// [`Job::ReplayClaim`]: checks that the manifest matches the claim (unit, result, parent
/// model at `at`, datasets and ratios), then replays the challenged segments from the
/// checkpoints published in the content store (read at the best block: the trainer
/// publishes them after the challenge). The digest is the blake3 Merkle root
/// (docs/hashing.md) of the reproduced checkpoint roots in segment order.
#[allow(clippy::too_many_arguments)]
fn replay_claim(
	chain: &dyn ChainView,
	at: u32,
	unit: &[u8],
	candidate: &Hash,
	manifest_root: &Hash,
	datasets: &[(u32, u32)],
	segments: &[u32],
	progress: Progress,
) -> Result<JobOutput, String> {
	let at = chain.hash_of(at)?;
	let bytes = match chain.payload(chain.best(), manifest_root) {
		Ok(b) => b,
		Err(e) => return unavailable(&format!("manifest {}: {e}", hex::encode(manifest_root))),
	};
	let manifest: Manifest = match serde_json::from_slice(&bytes) {
		Ok(m) => m,
		Err(e) => return unavailable(&format!("manifest is not JSON: {e}")),
	};
	if let Err(e) = manifest.check() {
		return unavailable(&format!("manifest: {e}"));
	}
	let unit = std::str::from_utf8(unit).map_err(|_| "unit name is not UTF-8".to_string())?;
	if manifest.trained_units != [unit.to_string()] {
		return unavailable(&format!(
			"manifest trains {:?}, the claim {unit}",
			manifest.trained_units
		));
	}
	if manifest.result.get(unit) != Some(&hex::encode(candidate)) {
		return unavailable("the manifest's result is not the claimed payload");
	}
	let (cfg, _) = chain.latest_spec(at)?;
	let parent = accepted_index(chain, at, &cfg)?;
	if manifest.config != cfg || manifest.parent != parent.units {
		return unavailable(
			"the manifest starts from another model than the one accepted at the claim",
		);
	}
	if manifest.datasets.len() != datasets.len() {
		return unavailable("the manifest and the claim name different numbers of datasets");
	}
	for (named, (id, ratio)) in manifest.datasets.iter().zip(datasets) {
		let info = chain.dataset(at, *id)?;
		if named.ratio_ppm != *ratio
			|| named.name != info.name
			|| named.content_root != hex::encode(info.content_root)
		{
			return unavailable(&format!(
				"dataset {id} ({}) is not the manifest's {}",
				info.name, named.name
			));
		}
	}
	let texts = load_datasets(chain, at, datasets)?;
	// The trainer publishes the challenged segments' start checkpoints once it sees the
	// challenge, usually a block after this job was queued: wait for them.
	let mut best = chain.best();
	for s in segments {
		let Some(root) = manifest.checkpoints.get(*s as usize) else { continue };
		let Ok(root) = blyan_moe::store::parse_hash("checkpoint", root) else { continue };
		let waited = std::time::Instant::now();
		while chain.payload(best, &root).is_err() && waited.elapsed() < CHECKPOINT_WAIT {
			std::thread::sleep(std::time::Duration::from_secs(1));
			best = chain.best();
		}
	}
	let store = ChainStore { chain, at: best };
	let replayer = match Replayer::new(&manifest, &store, &texts) {
		Ok(r) => r,
		Err(e) => return replay_error(e),
	};
	let mut reproduced = Vec::with_capacity(segments.len());
	for (k, segment) in segments.iter().enumerate() {
		progress(k as u32, segments.len() as u32);
		match replayer.replay(*segment as usize) {
			Ok(r) => reproduced.push(r.checkpoint),
			Err(e) => return replay_error(e),
		}
	}
	let digest = blyan_primitives::merkle_root(&reproduced);
	Ok(JobOutput::Replay { outcome: ReplayOutcome::Match, digest })
}

/// Longest time a replay waits for a challenged checkpoint to appear in the content store
/// before calling it unavailable.
pub const CHECKPOINT_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Classifies an engine error of a replay: reproduced data or weights that differ are a
/// `Mismatch`; missing or malformed inputs are `Unavailable`.
fn replay_error(e: blyan_moe::Error) -> Result<JobOutput, String> {
	use blyan_moe::Error as E;
	match e {
		E::BatchMismatch { .. } | E::CheckpointMismatch { .. } | E::DatasetMismatch(_) => {
			log::info!(target: "blyan-engine", "replay mismatch: {e}");
			Ok(JobOutput::Replay { outcome: ReplayOutcome::Mismatch, digest: [0; 32] })
		},
		other => unavailable(&other.to_string()),
	}
}

/// [`Job::AuditDataset`]: the L0 pre-filter over dataset `id`'s published text at `at`.
fn audit_dataset(chain: &dyn ChainView, at: u32, id: u32) -> Result<JobOutput, String> {
	let at = chain.hash_of(at)?;
	let info = chain.dataset(at, id)?;
	let text = chain.payload(at, &info.text)?;
	let text =
		String::from_utf8(text).map_err(|_| format!("dataset {id}: the text is not UTF-8"))?;
	let samples = Dataset::from_text(&info.name, &text).map(|d| d.samples).unwrap_or_default();
	let r = blyan_moe::audit::audit(&samples);
	Ok(JobOutput::Audit(AuditFigures {
		toxicity_permille: r.toxicity_permille,
		duplicate_permille: r.duplicate_permille,
		pii_permille: r.pii_permille,
		english_permille: r.english_permille,
		out_of_range_permille: r.out_of_range_permille,
	}))
}

/// Longest `max_new_tokens` of one generation request.
pub const MAX_NEW_TOKENS: u32 = 2048;

/// Size of the expert LRU cache of inference, bytes (an expert of the dev model is about
/// 0.4 MB, so the whole dev model fits).
pub const INFERENCE_CACHE_BYTES: usize = 64 << 20;

/// Inference for `blyan_generate` and [`Job::Generate`] (SPEC "Inference"): the model accepted
/// at a block, with the backbone and routers loaded per request and only the experts the
/// router picks fetched from the content store, through one LRU cache kept across requests.
pub struct Inference {
	chain: Arc<dyn ChainView>,
	cache: Mutex<Option<blyan_moe::store::ExpertCache>>,
}

impl Inference {
	/// Inference over `chain`.
	pub fn new(chain: Arc<dyn ChainView>) -> Arc<Self> {
		Arc::new(Self { chain, cache: Mutex::new(None) })
	}

	/// Generates up to `max_new_tokens` bytes after `prompt` with the model accepted at `at`
	/// (the best block when `None`), sampling at `temperature` (0 = greedy) from `seed`;
	/// `on_byte` sees every byte as it is sampled. Returns the output and the block used.
	///
	/// Errors: `max_new_tokens` above [`MAX_NEW_TOKENS`]; an empty prompt; chain reads and
	/// payload decoding.
	pub fn generate(
		&self,
		at: Option<H256>,
		prompt: &str,
		max_new_tokens: u32,
		temperature: f64,
		seed: u64,
		on_byte: &mut dyn FnMut(u8),
	) -> Result<(blyan_moe::generate::GenerateOutput, H256), String> {
		if max_new_tokens > MAX_NEW_TOKENS {
			return Err(format!("max_new_tokens is at most {MAX_NEW_TOKENS}"));
		}
		if !temperature.is_finite() || temperature < 0.0 {
			return Err("temperature must be a finite number ≥ 0".into());
		}
		let chain = &*self.chain;
		let at = at.unwrap_or_else(|| chain.best());
		let (cfg, _) = chain.latest_spec(at)?;
		let index = accepted_index(chain, at, &cfg)?;
		let store = ChainStore { chain, at };
		let cache = self
			.cache
			.lock()
			.ok()
			.and_then(|mut c| c.take())
			.unwrap_or_else(|| blyan_moe::store::ExpertCache::new(INFERENCE_CACHE_BYTES));
		let mut generator = blyan_moe::generate::Generator::with_cache(&index, &store, cache)
			.map_err(|e| e.to_string())?;
		let req = blyan_moe::generate::GenerateRequest {
			prompt: prompt.to_string(),
			max_new_tokens: max_new_tokens as usize,
			temperature,
			seed,
		};
		let out = generator.generate_streaming(&req, on_byte).map_err(|e| e.to_string());
		if let Ok(mut c) = self.cache.lock() {
			*c = Some(generator.into_cache());
		}
		out.map(|o| (o, at))
	}
}

/// Runs one job to its output.
fn run_job(
	service: &EngineService,
	chain: &dyn ChainView,
	job: &Job,
	progress: Progress,
) -> Result<JobOutput, String> {
	match job {
		Job::EvaluateClaim { at, unit, candidate } => evaluate_claim(
			chain,
			&service.losses,
			service.adversary,
			*at,
			unit,
			candidate,
			progress,
		),
		Job::ReplayClaim { at, unit, candidate, manifest, datasets, segments } => {
			replay_claim(chain, *at, unit, candidate, manifest, datasets, segments, progress)
		},
		Job::AuditDataset { at, dataset } => audit_dataset(chain, *at, *dataset),
		Job::Train { at, unit, datasets, steps, checkpoint_every, seed } => train_unit(
			chain,
			&service.losses,
			service.adversary,
			&service.outputs,
			*at,
			unit,
			datasets,
			*steps,
			*checkpoint_every,
			*seed,
			progress,
		),
		Job::Generate { at, prompt, max_new_tokens, temperature_milli, seed } => {
			let at = chain.hash_of(*at)?;
			let prompt = String::from_utf8(prompt.clone())
				.map_err(|_| "the prompt is not UTF-8".to_string())?;
			let temperature = f64::from(*temperature_milli) / 1000.0;
			let (out, _) = service.inference.generate(
				Some(at),
				&prompt,
				*max_new_tokens,
				temperature,
				*seed,
				&mut |_| {},
			)?;
			let units = out
				.units_used
				.values()
				.map(|h| blyan_moe::store::parse_hash("unit", h).map_err(|e| e.to_string()))
				.collect::<Result<Vec<Hash>, String>>()?;
			Ok(JobOutput::Generated {
				text: out.text.into_bytes(),
				units,
				millis: out.elapsed_ms as u64,
			})
		},
	}
}

/// The engine service; see the module docs.
pub struct EngineService {
	jobs: Mutex<HashMap<JobId, JobStatus>>,
	queue: Mutex<mpsc::Sender<(JobId, Job)>>,
	outputs: Mutex<Outputs>,
	losses: LossCache,
	inference: Arc<Inference>,
	adversary: Option<Adversary>,
}

impl EngineService {
	/// Starts an honest service with `threads` engine threads reading `chain` (tests).
	#[cfg(test)]
	pub fn start(chain: Arc<dyn ChainView>, threads: usize) -> Arc<Self> {
		Self::start_with(chain, threads, None)
	}

	/// Starts the service with `threads` engine threads reading `chain`; `adversary` makes
	/// the engine cheat (e2e tests only; `None` on any real node).
	pub fn start_with(
		chain: Arc<dyn ChainView>,
		threads: usize,
		adversary: Option<Adversary>,
	) -> Arc<Self> {
		if let Some(a) = adversary {
			log::warn!(target: "blyan-engine", "ADVERSARY MODE {a:?}: this node's engine cheats (test instrument)");
		}
		let (tx, rx) = mpsc::channel::<(JobId, Job)>();
		let service = Arc::new(Self {
			jobs: Mutex::new(HashMap::new()),
			queue: Mutex::new(tx),
			outputs: Mutex::new(Outputs::default()),
			losses: LossCache::default(),
			inference: Inference::new(chain.clone()),
			adversary,
		});
		let rx = Arc::new(Mutex::new(rx));
		for i in 0..threads.max(1) {
			let rx = rx.clone();
			let chain = chain.clone();
			let weak = Arc::downgrade(&service);
			std::thread::Builder::new()
                .name(format!("blyan-engine-{i}"))
                .spawn(move || loop {
                    let next = rx.lock().map(|r| r.recv());
                    let Ok(Ok((id, job))) = next else { return };
                    let Some(service) = weak.upgrade() else { return };
                    service.set(id, JobStatus::Running { done: 0, total: 0 });
                    log::info!(target: "blyan-engine", "job {} started: {}", hex::encode(&id[..4]), describe(&job));
                    let started = std::time::Instant::now();
                    let result = run_job(&service, &*chain, &job, &mut |done, total| {
                        service.set(id, JobStatus::Running { done, total })
                    });
                    let took = started.elapsed().as_secs_f64();
                    match result {
                        Ok(out) => {
                            log::info!(target: "blyan-engine", "job {} done in {took:.1} s: {out:?}", hex::encode(&id[..4]));
                            service.set(id, JobStatus::Done(out));
                        },
                        Err(e) => {
                            log::warn!(target: "blyan-engine", "job {} failed after {took:.1} s: {e}", hex::encode(&id[..4]));
                            service.set(id, JobStatus::Failed(e.into_bytes()));
                        },
                    }
                })
                .expect("spawning an engine thread");
		}
		service
	}

	/// The service's inference (shared with the `blyan_generate` RPC).
	pub fn inference(&self) -> Arc<Inference> {
		self.inference.clone()
	}

	fn set(&self, id: JobId, status: JobStatus) {
		if let Ok(mut jobs) = self.jobs.lock() {
			jobs.insert(id, status);
		}
	}
}

/// One line naming a job, for logs.
fn describe(job: &Job) -> String {
	match job {
		Job::EvaluateClaim { at, unit, .. } => {
			format!("evaluate {} at #{at}", String::from_utf8_lossy(unit))
		},
		Job::ReplayClaim { at, unit, segments, .. } => {
			format!("replay {} segments {segments:?} at #{at}", String::from_utf8_lossy(unit))
		},
		Job::AuditDataset { at, dataset } => format!("audit dataset {dataset} at #{at}"),
		Job::Train { at, unit, steps, .. } => {
			format!("train {} for {steps} steps at #{at}", String::from_utf8_lossy(unit))
		},
		Job::Generate { at, max_new_tokens, .. } => {
			format!("generate {max_new_tokens} bytes at #{at}")
		},
	}
}

impl EngineHost for EngineService {
	fn submit(&self, job: Job) -> JobId {
		let id = job_id(&job);
		let Ok(mut jobs) = self.jobs.lock() else { return id };
		// Known and not failed: nothing to do. A failed job is retried.
		if jobs.get(&id).is_some_and(|s| !matches!(s, JobStatus::Failed(_))) {
			return id;
		}
		jobs.insert(id, JobStatus::Queued);
		drop(jobs);
		if let Ok(q) = self.queue.lock() {
			if q.send((id, job)).is_err() {
				self.set(id, JobStatus::Failed(b"the engine threads stopped".to_vec()));
			}
		}
		id
	}

	fn status(&self, id: &JobId) -> JobStatus {
		self.jobs
			.lock()
			.ok()
			.and_then(|j| j.get(id).cloned())
			.unwrap_or(JobStatus::Unknown)
	}

	fn output_tile(&self, root: &Hash, index: u32) -> Option<Vec<u8>> {
		let outputs = self.outputs.lock().ok()?;
		let bytes = outputs.payloads.get(root)?;
		let max = blyan_primitives::MAX_TILE_BYTES;
		let start = (index as usize).checked_mul(max)?;
		(start < bytes.len()).then(|| bytes[start..(start + max).min(bytes.len())].to_vec())
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use blyan_moe::data::PPM;
	use blyan_moe::model::init_weights;
	use blyan_moe::units::encode_unit;

	const UNIT: &str = "layer0.expert1";

	/// A chain with one block (#0): a test model (seed 42) accepted, dataset 0 (the
	/// validation text) and datasets 1 and 2 (training texts); payloads in a memory store.
	struct MemChain {
		store: MemStore,
		index: ModelIndex,
		datasets: Vec<DatasetInfo>,
	}

	impl ChainView for MemChain {
		fn best(&self) -> H256 {
			H256::repeat_byte(1)
		}
		fn hash_of(&self, number: u32) -> Result<H256, String> {
			(number == 0)
				.then_some(H256::repeat_byte(1))
				.ok_or_else(|| format!("no block #{number}"))
		}
		fn payload(&self, _at: H256, root: &Hash) -> Result<Vec<u8>, String> {
			self.store.fetch(root).map(|p| p.to_vec()).map_err(|e| e.to_string())
		}
		fn accepted_payload(&self, _at: H256, name: &str) -> Result<Option<Hash>, String> {
			Ok(self
				.index
				.units
				.get(name)
				.map(|h| blyan_moe::store::parse_hash(name, h).unwrap()))
		}
		fn latest_spec(&self, _at: H256) -> Result<(blyan_moe::Config, u32), String> {
			Ok((self.index.config.clone(), 0))
		}
		fn dataset(&self, _at: H256, id: u32) -> Result<DatasetInfo, String> {
			self.datasets
				.get(id as usize)
				.cloned()
				.ok_or_else(|| format!("no dataset {id}"))
		}
	}

	fn fortunes(topic: &str, n: usize) -> String {
		(0..n)
			.map(|i| {
				format!(
					"{topic} fortune number {i}: the quick brown fox jumps over the lazy dog.\n%\n"
				)
			})
			.collect()
	}

	fn chain() -> MemChain {
		let cfg = blyan_moe::Config::test();
		let store = MemStore::default();
		let index =
			ModelIndex::save_weights(&cfg, &init_weights(&cfg, 42).unwrap(), &store).unwrap();
		let mut datasets = Vec::new();
		for (name, text) in [
			("validation", fortunes("held-out", 20)),
			("wisdom", fortunes("wisdom", 60)),
			("humor", fortunes("humor", 60)),
		] {
			let text_root = store.put(text.as_bytes()).unwrap();
			let content_root = Dataset::from_text(name, &text).unwrap().content_root();
			datasets.push(DatasetInfo { name: name.into(), content_root, text: text_root });
		}
		MemChain { store, index, datasets }
	}

	/// A candidate with other weights (seed 43) for `UNIT`, stored; its root.
	fn other_candidate(c: &MemChain) -> Hash {
		let other = init_weights(&c.index.config, 43).unwrap();
		let bytes =
			encode_unit(&c.index.config, UnitId::Expert { layer: 0, expert: 1 }, &other).unwrap();
		c.store.put(&bytes).unwrap()
	}

	/// Trains `UNIT` for 4 steps (K = 2: two segments) on datasets 1 and 2 (70 / 30 %),
	/// stores checkpoints, result and manifest; returns (manifest root, candidate root).
	fn trained(c: &MemChain, edit: impl FnOnce(&mut Manifest)) -> (Hash, Hash) {
		let texts: Vec<Dataset> = [1usize, 2]
			.iter()
			.map(|&i| {
				let text = String::from_utf8(c.store.fetch(&c.datasets[i].text).unwrap().to_vec())
					.unwrap();
				Dataset::from_text(&c.datasets[i].name, &text).unwrap()
			})
			.collect();
		let params = TrainParams {
			seed: 5,
			steps: 4,
			batch_size: 2,
			seq_len: 16,
			checkpoint_every: 2,
			validation_permille: 100,
			adamw: AdamWParams::with_lr(3e-3),
		};
		let unit: BTreeSet<UnitId> = [UnitId::Expert { layer: 0, expert: 1 }].into();
		let out = train(
			&c.index,
			&c.store,
			&unit,
			&texts,
			&[700_000, PPM - 700_000],
			&params,
			&mut |_| {},
		)
		.unwrap();
		let mut manifest = out.manifest;
		let candidate = blyan_moe::store::parse_hash(UNIT, &manifest.result[UNIT]).unwrap();
		edit(&mut manifest);
		let root = c.store.put(&serde_json::to_vec(&manifest).unwrap()).unwrap();
		(root, candidate)
	}

	fn replay_job(manifest: Hash, candidate: Hash, datasets: Vec<(u32, u32)>) -> Job {
		Job::ReplayClaim {
			at: 0,
			unit: UNIT.as_bytes().to_vec(),
			candidate,
			manifest,
			datasets,
			segments: vec![0, 1],
		}
	}

	fn honest_datasets() -> Vec<(u32, u32)> {
		vec![(1, 700_000), (2, PPM - 700_000)]
	}

	fn wait(service: &EngineService, id: &JobId) -> JobStatus {
		for _ in 0..1200 {
			match service.status(id) {
				JobStatus::Queued | JobStatus::Running { .. } => {
					std::thread::sleep(std::time::Duration::from_millis(100))
				},
				other => return other,
			}
		}
		panic!("job did not finish in 120 s");
	}

	fn run(c: MemChain, job: Job) -> JobStatus {
		let s = EngineService::start(Arc::new(c), 1);
		let id = s.submit(job);
		wait(&s, &id)
	}

	#[test]
	fn evaluate_claim_is_queued_run_off_thread_and_deterministic() {
		let c = chain();
		let cand = other_candidate(&c);
		let job = Job::EvaluateClaim { at: 0, unit: UNIT.as_bytes().to_vec(), candidate: cand };
		let a = EngineService::start(Arc::new(c), 1);
		let id = a.submit(job.clone());
		assert_eq!(id, job_id(&job));
		let JobStatus::Done(JobOutput::Losses { parent, candidate }) = wait(&a, &id) else {
			panic!("unexpected status {:?}", a.status(&id));
		};
		// A random byte-level model scores about ln 256 ≈ 5.55 nats per byte.
		assert!((4_000_000_000..7_000_000_000).contains(&parent), "{parent}");
		assert_ne!(parent, candidate, "the candidate has other weights");
		// Another validator's service (2 engine threads) computes the same integers.
		let c2 = chain();
		other_candidate(&c2);
		assert_eq!(run(c2, job.clone()), JobStatus::Done(JobOutput::Losses { parent, candidate }));
		// Submitting again is idempotent.
		assert_eq!(a.submit(job), id);
	}

	#[test]
	fn an_honest_training_run_replays_to_the_same_digest_everywhere() {
		let c = chain();
		let (manifest, cand) = trained(&c, |_| {});
		let first = run(c, replay_job(manifest, cand, honest_datasets()));
		let JobStatus::Done(JobOutput::Replay { outcome: ReplayOutcome::Match, digest }) = first
		else {
			panic!("{first:?}");
		};
		assert_ne!(digest, [0; 32]);
		let c2 = chain();
		let (manifest2, cand2) = trained(&c2, |_| {});
		assert_eq!((manifest2, cand2), (manifest, cand), "training is deterministic");
		assert_eq!(run(c2, replay_job(manifest, cand, honest_datasets())), first);
	}

	#[test]
	fn a_forged_checkpoint_is_a_mismatch() {
		let c = chain();
		let fake = c.store.put(b"not a checkpoint").unwrap();
		let (manifest, cand) = trained(&c, |m| {
			// Claims segment 1 ended in other weights: replaying segment 1 from checkpoint 1
			// reproduces the real checkpoint 2, not this one.
			m.checkpoints[2] = hex::encode(fake);
		});
		let out = run(c, replay_job(manifest, cand, honest_datasets()));
		assert_eq!(
			out,
			JobStatus::Done(JobOutput::Replay {
				outcome: ReplayOutcome::Mismatch,
				digest: [0; 32]
			})
		);
	}

	#[test]
	fn naming_datasets_not_trained_on_is_caught() {
		// The claim names dataset 0 where the manifest trained on dataset 1.
		let c = chain();
		let (manifest, cand) = trained(&c, |_| {});
		let out = run(c, replay_job(manifest, cand, vec![(0, 700_000), (2, PPM - 700_000)]));
		assert_eq!(
			out,
			JobStatus::Done(JobOutput::Replay {
				outcome: ReplayOutcome::Unavailable,
				digest: [0; 32]
			})
		);
		// A manifest (and claim) that names humor 70 % / wisdom 30 % for batches drawn from
		// wisdom 70 % / humor 30 %: the batch hashes do not reproduce.
		let c = chain();
		let (manifest, cand) = trained(&c, |m| {
			m.datasets.swap(0, 1);
			let (a, b) = (m.datasets[0].ratio_ppm, m.datasets[1].ratio_ppm);
			m.datasets[0].ratio_ppm = b;
			m.datasets[1].ratio_ppm = a;
		});
		let out = run(c, replay_job(manifest, cand, vec![(2, 700_000), (1, PPM - 700_000)]));
		assert_eq!(
			out,
			JobStatus::Done(JobOutput::Replay {
				outcome: ReplayOutcome::Mismatch,
				digest: [0; 32]
			})
		);
	}

	#[test]
	fn audit_dataset_reports_the_l0_figures_of_the_published_text() {
		let c = chain();
		let text = "Write to a.b@example.com for the secret of the universe.\n%\nThe quick brown fox jumps over the lazy dog.\n%\nThe quick brown fox jumps over the lazy dog.\n%\nok\n";
		let root = c.store.put(text.as_bytes()).unwrap();
		let mut c = c;
		c.datasets
			.push(DatasetInfo { name: "probe".into(), content_root: [0; 32], text: root });
		let JobStatus::Done(JobOutput::Audit(f)) = run(c, Job::AuditDataset { at: 0, dataset: 3 })
		else {
			panic!()
		};
		assert_eq!(
			(f.pii_permille, f.duplicate_permille, f.out_of_range_permille, f.english_permille),
			(250, 250, 250, 750)
		);
		assert_eq!(f.toxicity_permille, 0);
	}

	#[test]
	fn bad_jobs_fail_with_a_reason_and_unknown_ids_are_unknown() {
		let c = chain();
		let cand = other_candidate(&c);
		let s = EngineService::start(Arc::new(c), 1);
		let missing_block =
			s.submit(Job::EvaluateClaim { at: 5, unit: UNIT.as_bytes().to_vec(), candidate: cand });
		let JobStatus::Failed(why) = wait(&s, &missing_block) else { panic!() };
		assert!(String::from_utf8_lossy(&why).contains("no block #5"));
		let no_unit = s.submit(Job::EvaluateClaim {
			at: 0,
			unit: b"layer9.expert1".to_vec(),
			candidate: cand,
		});
		let JobStatus::Failed(why) = wait(&s, &no_unit) else { panic!() };
		assert!(String::from_utf8_lossy(&why).contains("no unit layer9.expert1"));
		let bad_payload = s.submit(Job::EvaluateClaim {
			at: 0,
			unit: UNIT.as_bytes().to_vec(),
			candidate: [7; 32],
		});
		assert!(matches!(wait(&s, &bad_payload), JobStatus::Failed(_)));
		let no_manifest = s.submit(replay_job([8; 32], cand, honest_datasets()));
		assert_eq!(
			wait(&s, &no_manifest),
			JobStatus::Done(JobOutput::Replay {
				outcome: ReplayOutcome::Unavailable,
				digest: [0; 32]
			})
		);
		assert_eq!(s.status(&[0; 32]), JobStatus::Unknown);
		assert_eq!(s.output_tile(&[0; 32], 0), None);
	}

	/// Copies a payload the engine produced into the chain's store, tile by tile through
	/// `output_tile`, as the trainer's worker publishes it; checks the root.
	fn publish(service: &EngineService, c: &MemChain, root: &Hash) {
		let mut bytes = Vec::new();
		let mut i = 0;
		while let Some(tile) = service.output_tile(root, i) {
			bytes.extend(tile);
			i += 1;
		}
		assert_eq!(c.store.put(&bytes).unwrap(), *root, "output tiles rebuild the payload");
	}

	#[test]
	fn a_training_job_claims_the_loss_validators_measure_and_replays_once_published() {
		let c = Arc::new(chain());
		let service = EngineService::start(c.clone(), 1);
		let train = Job::Train {
			at: 0,
			unit: UNIT.as_bytes().to_vec(),
			datasets: honest_datasets(),
			steps: 4,
			checkpoint_every: 2,
			seed: 9,
		};
		let JobStatus::Done(JobOutput::Trained {
			payload,
			manifest,
			segments,
			parent_loss,
			loss,
			checkpoints,
		}) = wait(&service, &service.submit(train))
		else {
			panic!("training failed")
		};
		assert_eq!(segments, 2);
		assert_eq!(checkpoints.len(), 3, "before training and after each segment");
		assert_ne!(parent_loss, loss, "training moved the unit");
		assert!(service.output_tile(&[0x42; 32], 0).is_none());

		// Validators measure exactly the claimed loss once the unit is published.
		publish(&service, &c, &payload);
		let eval = Job::EvaluateClaim { at: 0, unit: UNIT.as_bytes().to_vec(), candidate: payload };
		assert_eq!(
			wait(&service, &service.submit(eval)),
			JobStatus::Done(JobOutput::Losses { parent: parent_loss, candidate: loss })
		);
		// The replay of segment 1 matches once the manifest and checkpoint 1 are published.
		publish(&service, &c, &manifest);
		publish(&service, &c, &checkpoints[1]);
		let replay = Job::ReplayClaim {
			at: 0,
			unit: UNIT.as_bytes().to_vec(),
			candidate: payload,
			manifest,
			datasets: honest_datasets(),
			segments: vec![1],
		};
		let JobStatus::Done(JobOutput::Replay { outcome, .. }) =
			wait(&service, &service.submit(replay))
		else {
			panic!("replay failed")
		};
		assert_eq!(outcome, ReplayOutcome::Match);
	}
}
