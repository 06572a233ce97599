//! [`Job::Train`]: the trainer's training runs (SPEC "Proof-of-Learning", trainer role), and
//! [`Outputs`], where their payloads wait for publication.
//!
//! A run's unit, manifest and checkpoints are written to `<chain dir>/blyan/engine/outputs/`
//! (one file per payload root, `runs.json` listing the kept runs), so that a node restarted
//! between its claim and the challenge still publishes the challenged checkpoints and the
//! honest trainer is not slashed. The last [`KEEP_TRAINING_RUNS`] runs are kept.

use std::{
	collections::{BTreeSet, VecDeque},
	path::PathBuf,
	sync::Mutex,
};

use blyan_engine_interface::{Hash, Job, JobOutput};
use blyan_moe::{
	eval::EvalRecord,
	optim::AdamWParams,
	store::{parse_hash, MemStore, Payload, UnitStore},
	train::{step_memory_bound, train, Manifest, TrainParams},
	units::UnitId,
};

use super::{
	adversary::TrainedRun,
	evaluate::{validation_text, LossCache},
	stopped,
	view::{accepted_index, load_datasets, unit_name, ChainStore, ChainView},
	Adversary, JobCtx, LOG_TARGET,
};

/// AdamW learning rate of training jobs (docs/engine.md, "Learning on real text").
pub const TRAIN_LR: f64 = 3e-3;

/// Training runs whose outputs are kept (a checkpoint is about 1.2 MB for one expert of the
/// dev model and about 45 MB for the whole model; a run of 300 steps with K = 10 has 31).
pub const KEEP_TRAINING_RUNS: usize = 2;

/// Payloads the engine produced (trained units, manifests, checkpoints), kept for
/// publication: on disk when the node has a base path, in memory otherwise.
pub struct Outputs {
	dir: Option<PathBuf>,
	mem: MemStore,
	runs: VecDeque<Vec<Hash>>,
}

impl Outputs {
	/// Opens the outputs kept in `dir` (or an empty in-memory store).
	pub fn open(dir: Option<PathBuf>) -> Self {
		let runs = dir
			.as_ref()
			.and_then(|d| std::fs::read(d.join("runs.json")).ok())
			.and_then(|b| serde_json::from_slice::<Vec<Vec<String>>>(&b).ok())
			.map(|runs| {
				runs.into_iter()
					.map(|r| r.iter().filter_map(|h| parse_hash("output", h).ok()).collect())
					.collect()
			})
			.unwrap_or_default();
		Self { dir, mem: MemStore::default(), runs }
	}

	fn path(&self, root: &Hash) -> Option<PathBuf> {
		self.dir.as_ref().map(|d| d.join(hex::encode(root)))
	}

	/// Keeps the run's payloads `roots` (read from `store`) and drops the payloads of runs
	/// older than the last [`KEEP_TRAINING_RUNS`].
	/// Writes the payloads `roots` of `store` to the output store.
	fn write(&mut self, store: &MemStore, roots: &[Hash]) -> Result<(), String> {
		for root in roots {
			let Ok(p) = store.fetch(root) else { continue };
			match self.path(root) {
				Some(path) => std::fs::write(&path, &*p)
					.map_err(|e| format!("writing {}: {e}", path.display()))?,
				None => self.mem.insert_raw(*root, p.to_vec()),
			}
		}
		Ok(())
	}

	/// Keeps the payloads `roots` of `store` with the newest run's outputs (a new run when
	/// there is none): an evaluation record made again for a run.
	pub fn keep_with_latest_run(
		&mut self,
		store: &MemStore,
		roots: Vec<Hash>,
	) -> Result<(), String> {
		self.write(store, &roots)?;
		match self.runs.back_mut() {
			Some(run) => run.extend(roots),
			None => self.runs.push_back(roots),
		}
		self.save_runs()
	}

	fn keep_run(&mut self, store: &MemStore, roots: Vec<Hash>) -> Result<(), String> {
		self.write(store, &roots)?;
		self.runs.push_back(roots);
		while self.runs.len() > KEEP_TRAINING_RUNS {
			for root in self.runs.pop_front().unwrap_or_default() {
				if !self.runs.iter().any(|r| r.contains(&root)) {
					if let Some(path) = self.path(&root) {
						let _ = std::fs::remove_file(path);
					}
				}
			}
		}
		self.save_runs()
	}

	/// Writes the list of kept runs (`runs.json`) when the outputs are on disk.
	fn save_runs(&self) -> Result<(), String> {
		if let Some(d) = &self.dir {
			let list: Vec<Vec<String>> =
				self.runs.iter().map(|r| r.iter().map(hex::encode).collect()).collect();
			let json = serde_json::to_vec(&list).map_err(|e| e.to_string())?;
			std::fs::write(d.join("runs.json"), json).map_err(|e| format!("runs.json: {e}"))?;
		}
		Ok(())
	}

	/// Tile `index` (4 MiB tiles, docs/hashing.md) of a kept payload.
	pub fn tile(&self, root: &Hash, index: u32) -> Option<Vec<u8>> {
		let bytes = match self.path(root) {
			Some(path) => std::fs::read(path).ok()?,
			None => self.mem.fetch(root).ok()?.to_vec(),
		};
		let max = blyan_primitives::MAX_TILE_BYTES;
		let start = (index as usize).checked_mul(max)?;
		(start < bytes.len()).then(|| bytes[start..(start + max).min(bytes.len())].to_vec())
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

/// Runs a [`Job::Train`]: trains `units` of the model accepted at `at` (the others frozen) on
/// `datasets` with `params` and AdamW [`TRAIN_LR`], the datasets' validation share held out;
/// writes a manifest naming `trainer`; evaluates parent and result on the spec's validation
/// set; keeps the units, the manifest and the checkpoints in `outputs`. A unit named twice or
/// not in the model fails the job. Any other job is an error.
pub fn train_unit(
	chain: &dyn ChainView,
	cache: &LossCache,
	adversary: &dyn Adversary,
	outputs: &Mutex<Outputs>,
	job: &Job,
	ctx: &mut JobCtx,
) -> Result<JobOutput, String> {
	let Job::Train { at, trainer, units, datasets, params } = job else {
		return Err("not a training job".into());
	};
	let at = chain.hash_of(*at)?;
	let (cfg, _) = chain.latest_spec(at)?;
	let parent = accepted_index(chain, at, &cfg)?;
	let mut trained: BTreeSet<UnitId> = BTreeSet::new();
	for unit in units {
		let unit = unit_name(unit)?;
		let id = UnitId::parse_in(unit, &cfg).map_err(|e| e.to_string())?;
		if !trained.insert(id) {
			return Err(format!("{unit} is named twice"));
		}
	}
	if trained.is_empty() {
		return Err("no units to train".into());
	}
	ctx.check_memory(
		"a training step",
		step_memory_bound(&cfg, params.batch_size as usize, params.seq_len as usize),
	)?;
	let named = load_datasets(chain, at, datasets)?;
	let ratios: Vec<u32> = datasets.iter().map(|s| s.ratio_ppm).collect();
	let (texts, train_ratios, train_seed) =
		adversary.training_data(named.clone(), ratios.clone(), params.seed)?;
	let train_params = TrainParams {
		seed: train_seed,
		steps: u64::from(params.steps),
		batch_size: params.batch_size as usize,
		seq_len: params.seq_len as usize,
		checkpoint_every: u64::from(params.checkpoint_every),
		validation_permille: blyan_moe::data::DEFAULT_VALIDATION_PERMILLE,
		adamw: AdamWParams::with_lr(TRAIN_LR),
	};
	let new = MemStore::default();
	let store = TrainStore { chain: ChainStore { chain, at }, new: &new };
	let total = params.steps.saturating_add(2);
	let out = train(&parent, &store, &trained, &texts, &train_ratios, &train_params, &mut |r| {
		ctx.tick((r.step + 1) as u32, total).map_err(stopped)
	})
	.map_err(|e| e.to_string())?;
	let mut manifest = out.manifest;
	manifest.trainer = Manifest::trainer_of(trainer);
	let (text_root, validation) = validation_text(chain, at)?;
	adversary.tamper_run(&mut TrainedRun {
		manifest: &mut manifest,
		store: &store,
		units: &trained,
		named: &named,
		ratios: &ratios,
		seed: params.seed,
		validation: &validation,
	})?;

	// In the job's order, as the claim will name them.
	let mut payloads = Vec::with_capacity(units.len());
	for unit in units {
		let unit = unit_name(unit)?;
		let root = manifest.result.get(unit).ok_or("the run produced no unit")?;
		payloads
			.push((unit.as_bytes().to_vec(), parse_hash(unit, root).map_err(|e| e.to_string())?));
	}
	let manifest_json = serde_json::to_vec(&manifest).map_err(|e| e.to_string())?;
	let manifest_root = store.put(&manifest_json).map_err(|e| e.to_string())?;
	let checkpoints = manifest
		.checkpoints
		.iter()
		.map(|c| parse_hash("checkpoint", c).map_err(|e| e.to_string()))
		.collect::<Result<Vec<Hash>, String>>()?;

	// The evaluation record of the run: both models' loss on every validation window.
	let (parent_loss, loss, record) = if adversary.measures_losses() {
		let (parent_loss, base) = cache
			.loss(&parent, &store, &text_root, &validation, ctx, &|_, _| (params.steps, total))
			.map_err(|e| format!("evaluate parent: {e}"))?;
		let mut result = parent.clone();
		result.units.extend(manifest.result.clone());
		let (loss, cand) = cache
			.loss(&result, &store, &text_root, &validation, ctx, &|_, _| (params.steps + 1, total))
			.map_err(|e| format!("evaluate result: {e}"))?;
		let mut record = EvalRecord { windows: base.into_iter().zip(cand).collect() };
		if adversary.tamper_record(&mut record) {
			// A lying record states its own totals.
			let seq_len = cfg.max_position_embeddings;
			let (p, l) = record.losses(super::evaluate::predicted_bytes(&validation, seq_len));
			(p, l, record)
		} else {
			(parent_loss, loss, record)
		}
	} else {
		let (p, l) = super::adversary::UNMEASURED_LOSSES;
		(p, l, EvalRecord::default())
	};
	let record_root = store.put(&record.to_bytes()).map_err(|e| e.to_string())?;
	let mut roots: Vec<Hash> = payloads.iter().map(|(_, p)| *p).collect();
	roots.push(manifest_root);
	roots.push(record_root);
	roots.extend(&checkpoints);
	outputs
		.lock()
		.map_err(|_| "the outputs lock is poisoned".to_string())?
		.keep_run(&new, roots)?;
	log::info!(
		target: LOG_TARGET,
		"trained {} units: {} segments, validation {parent_loss} -> {loss} nano-nats/byte",
		payloads.len(),
		params.segments()
	);
	Ok(JobOutput::Trained {
		payloads,
		manifest: manifest_root,
		params: adversary.claimed_params(*params),
		parent_loss,
		loss: adversary.claimed_loss(loss),
		record: record_root,
		checkpoints,
	})
}
