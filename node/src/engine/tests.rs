//! Engine service tests on an in-memory chain: evaluation, the replay's binding checks and
//! their attacks (a result not bound to its checkpoints, understated segments, a stolen
//! manifest, a resource bomb), budgets, panics, persisted results and outputs, audit and
//! training.

use super::{
	view::{ChainView, DatasetInfo},
	*,
};
use blyan_engine_interface::{
	DatasetShare, ManifestLimits, ReplayVerdict, TrainingParams, UnitPayload,
};
use blyan_moe::{
	data::{Dataset, PPM},
	model::init_weights,
	optim::AdamWParams,
	store::{MemStore, ModelIndex, UnitStore},
	train::{train, Manifest, TrainParams},
	units::{encode_unit, UnitId},
};
use sp_core::H256;
use std::collections::BTreeSet;

const UNIT: &str = "layer0.expert1";
/// The trainer account's SCALE bytes in these tests.
const TRAINER: [u8; 32] = [0x77; 32];

/// A chain with one block (#0): a test model (seed 42) accepted, dataset 0 (the validation
/// text) and datasets 1 and 2 (training texts); payloads in a memory store.
struct MemChain {
	store: MemStore,
	index: ModelIndex,
	datasets: Vec<DatasetInfo>,
	/// Payloads published after block #0: readable at the best block (#1) only.
	late: std::sync::Mutex<BTreeSet<Hash>>,
}

impl ChainView for MemChain {
	fn best(&self) -> H256 {
		H256::repeat_byte(2)
	}
	fn hash_of(&self, number: u32) -> Result<H256, String> {
		match number {
			0 => Ok(H256::repeat_byte(1)),
			1 => Ok(H256::repeat_byte(2)),
			_ => Err(format!("no block #{number}")),
		}
	}
	fn payload(&self, at: H256, root: &Hash) -> Result<Vec<u8>, String> {
		if at != self.best() && self.late.lock().unwrap().contains(root) {
			return Err(format!("payload {} is not published at {at:?}", hex::encode(root)));
		}
		self.store.fetch(root).map(|p| p.to_vec()).map_err(|e| e.to_string())
	}
	fn payload_len(&self, at: H256, root: &Hash) -> Result<u64, String> {
		self.payload(at, root).map(|p| p.len() as u64)
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
			format!("{topic} fortune number {i}: the quick brown fox jumps over the lazy dog.\n%\n")
		})
		.collect()
}

fn chain() -> MemChain {
	let cfg = blyan_moe::Config::test();
	let store = MemStore::default();
	let index = ModelIndex::save_weights(&cfg, &init_weights(&cfg, 42).unwrap(), &store).unwrap();
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
	MemChain { store, index, datasets, late: Default::default() }
}

/// A candidate with other weights (seed 43) for `UNIT`, stored; its root.
fn other_candidate(c: &MemChain) -> Hash {
	let other = init_weights(&c.index.config, 43).unwrap();
	let bytes =
		encode_unit(&c.index.config, UnitId::Expert { layer: 0, expert: 1 }, &other).unwrap();
	c.store.put(&bytes).unwrap()
}

/// 4 steps, K = 2 (two segments), 2 × 16 tokens, seed 5.
fn params() -> TrainingParams {
	TrainingParams { seed: 5, steps: 4, checkpoint_every: 2, batch_size: 2, seq_len: 16 }
}

fn limits() -> ManifestLimits {
	ManifestLimits {
		max_steps: 100,
		max_segments: 10,
		max_batch_size: 8,
		max_seq_len: 64,
		max_tokens_per_step: 512,
		max_manifest_bytes: 64 * 1024,
	}
}

/// The evaluation job of a one-unit claim.
fn eval_job(at: u32, unit: &str, candidate: Hash) -> Job {
	Job::EvaluateClaim { at, units: vec![(unit.as_bytes().to_vec(), candidate)], check: None }
}

/// Trains `UNIT` with [`params`] on datasets 1 and 2 (70 / 30 %) for [`TRAINER`], stores
/// checkpoints, result and manifest (after `edit`); returns (manifest root, candidate root).
fn trained(c: &MemChain, edit: impl FnOnce(&mut Manifest)) -> (Hash, Hash) {
	let unit = UnitId::Expert { layer: 0, expert: 1 };
	let (manifest, results) = trained_units(c, &c.index, &[unit], edit);
	(manifest, results[0].1)
}

/// Trains `units` of the model `from` as [`trained`] does; returns the manifest root and
/// each unit's `(name, result root)`, in the order of `units`.
fn trained_units(
	c: &MemChain,
	from: &ModelIndex,
	units: &[UnitId],
	edit: impl FnOnce(&mut Manifest),
) -> (Hash, Vec<UnitPayload>) {
	let texts: Vec<Dataset> = [1usize, 2]
		.iter()
		.map(|&i| {
			let text =
				String::from_utf8(c.store.fetch(&c.datasets[i].text).unwrap().to_vec()).unwrap();
			Dataset::from_text(&c.datasets[i].name, &text).unwrap()
		})
		.collect();
	let p = params();
	let train_params = TrainParams {
		seed: p.seed,
		steps: u64::from(p.steps),
		batch_size: p.batch_size as usize,
		seq_len: p.seq_len as usize,
		checkpoint_every: u64::from(p.checkpoint_every),
		validation_permille: 100,
		adamw: AdamWParams::with_lr(3e-3),
	};
	let set: BTreeSet<UnitId> = units.iter().copied().collect();
	let out =
		train(from, &c.store, &set, &texts, &[700_000, PPM - 700_000], &train_params, &mut |_| {
			Ok(())
		})
		.unwrap();
	let mut manifest = out.manifest;
	manifest.trainer = Manifest::trainer_of(&TRAINER);
	let results = units
		.iter()
		.map(|u| {
			let name = u.to_string();
			let root = blyan_moe::store::parse_hash(&name, &manifest.result[&name]).unwrap();
			(name.into_bytes(), root)
		})
		.collect();
	edit(&mut manifest);
	let root = c.store.put(&serde_json::to_vec(&manifest).unwrap()).unwrap();
	(root, results)
}

fn honest_datasets() -> Vec<DatasetShare> {
	vec![
		DatasetShare { dataset: 1, ratio_ppm: 700_000 },
		DatasetShare { dataset: 2, ratio_ppm: PPM - 700_000 },
	]
}

fn replay_job(manifest: Hash, candidate: Hash) -> Job {
	replay_units_job(manifest, vec![(UNIT.as_bytes().to_vec(), candidate)])
}

fn replay_units_job(manifest: Hash, units: Vec<UnitPayload>) -> Job {
	Job::ReplayClaim {
		at: 0,
		trainer: TRAINER.to_vec(),
		units,
		manifest,
		datasets: honest_datasets(),
		params: params(),
		segments: vec![0, 1],
		limits: limits(),
	}
}

fn with(job: Job, f: impl FnOnce(&mut Job)) -> Job {
	let mut j = job;
	f(&mut j);
	j
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

fn run_on(c: MemChain, options: Options, job: Job) -> JobStatus {
	let s = EngineService::start_with(Arc::new(c), options);
	let id = s.submit(job);
	wait(&s, &id)
}

fn run(c: MemChain, job: Job) -> JobStatus {
	run_on(c, Options::default(), job)
}

fn replay_verdict(status: JobStatus) -> ReplayVerdict {
	match status {
		JobStatus::Done(JobOutput::Replay { verdict, .. }) => verdict,
		other => panic!("not a replay outcome: {other:?}"),
	}
}

#[test]
fn evaluate_claim_is_queued_run_off_thread_and_deterministic() {
	let c = chain();
	let cand = other_candidate(&c);
	let job = eval_job(0, UNIT, cand);
	let a = EngineService::start(Arc::new(c), 1);
	let id = a.submit(job.clone());
	assert_eq!(id, job_id(&job));
	let JobStatus::Done(JobOutput::Losses { parent, candidate, record, verdict }) = wait(&a, &id)
	else {
		panic!("unexpected status {:?}", a.status(&id));
	};
	// A random byte-level model scores about ln 256 ≈ 5.55 nats per byte.
	assert!((4_000_000_000..7_000_000_000).contains(&parent), "{parent}");
	assert_ne!(parent, candidate, "the candidate has other weights");
	assert_eq!(verdict, ReplayVerdict::Match);
	assert_ne!(record, [0; 32], "the trainer's evaluation record is kept");
	// Another validator's service (2 engine threads) computes the same integers.
	let c2 = chain();
	other_candidate(&c2);
	assert_eq!(
		run_on(c2, Options { threads: 2, ..Options::default() }, job.clone()),
		JobStatus::Done(JobOutput::Losses { parent, candidate, record, verdict })
	);
	assert_eq!(a.submit(job), id, "submitting again is idempotent");
}

#[test]
fn an_undecodable_candidate_has_the_largest_loss() {
	let c = chain();
	let garbage = c.store.put(b"these bytes are not a safetensors unit").unwrap();
	let job = eval_job(0, UNIT, garbage);
	let JobStatus::Done(JobOutput::Losses { parent, candidate, .. }) = run(c, job) else {
		panic!()
	};
	assert!(parent > 0);
	assert_eq!(candidate, blyan_primitives::pol::UNDECODABLE_LOSS);
}

#[test]
fn an_honest_training_run_replays_to_the_same_digest_everywhere() {
	let c = chain();
	let (manifest, cand) = trained(&c, |_| {});
	let first = run(c, replay_job(manifest, cand));
	let JobStatus::Done(JobOutput::Replay { verdict: ReplayVerdict::Match, digest }) = first else {
		panic!("{first:?}");
	};
	assert_ne!(digest, [0; 32]);
	let c2 = chain();
	let (manifest2, cand2) = trained(&c2, |_| {});
	assert_eq!((manifest2, cand2), (manifest, cand), "training is deterministic");
	assert_eq!(run(c2, replay_job(manifest, cand)), first);
}

#[test]
fn a_forged_checkpoint_is_a_mismatch() {
	let c = chain();
	let fake = c.store.put(b"not a checkpoint").unwrap();
	let (manifest, cand) = trained(&c, |m| {
		// Claims segment 0 ended in other weights: replaying segment 0 from checkpoint 0
		// reproduces the real checkpoint 1, not this one.
		m.checkpoints[1] = hex::encode(fake);
	});
	assert_eq!(replay_verdict(run(c, replay_job(manifest, cand))), ReplayVerdict::Mismatch);
}

#[test]
fn a_manifest_from_another_engine_is_not_judged() {
	// The trainer's machine computes other bits (another CPU kind or build): this validator
	// cannot tell a forgery from a hardware difference, so it must not report a mismatch.
	let c = chain();
	let (manifest, cand) = trained(&c, |m| {
		assert_eq!(m.engine, blyan_moe::fingerprint::engine_fingerprint_hex().unwrap());
		m.engine = format!("0x{}", "ab".repeat(32));
	});
	assert_eq!(replay_verdict(run(c, replay_job(manifest, cand))), ReplayVerdict::EngineMismatch);
	// A manifest without a fingerprint is treated the same way.
	let c = chain();
	let (manifest, cand) = trained(&c, |m| m.engine.clear());
	assert_eq!(replay_verdict(run(c, replay_job(manifest, cand))), ReplayVerdict::EngineMismatch);
}

#[test]
fn a_stolen_manifest_with_a_foreign_engine_is_still_unbound() {
	// The binding is checked first: a bogus fingerprint does not turn a slashable manifest
	// into an unjudged one.
	let c = chain();
	let (manifest, cand) = trained(&c, |m| {
		m.engine = format!("0x{}", "ab".repeat(32));
		m.trainer = blyan_moe::train::Manifest::trainer_of(&[0x66; 32]);
	});
	assert_eq!(replay_verdict(run(c, replay_job(manifest, cand))), ReplayVerdict::Unbound);
}

#[test]
fn a_result_not_bound_to_its_checkpoints_is_unbound() {
	// Honest checkpoints, but the claimed result is another payload (for example weights
	// tuned on the validation set afterwards).
	let c = chain();
	let tuned = other_candidate(&c);
	let (manifest, _) = trained(&c, |m| {
		m.result.insert(UNIT.into(), hex::encode(tuned));
	});
	assert_eq!(replay_verdict(run(c, replay_job(manifest, tuned))), ReplayVerdict::Unbound);
}

#[test]
fn understated_segments_are_unbound() {
	// The claim says 2 steps (one segment, always challenged on segment 0); the manifest has
	// two segments.
	let c = chain();
	let (manifest, cand) = trained(&c, |_| {});
	let job = with(replay_job(manifest, cand), |j| {
		if let Job::ReplayClaim { params, segments, .. } = j {
			params.steps = 2;
			*segments = vec![0];
		}
	});
	assert_eq!(replay_verdict(run(c, job)), ReplayVerdict::Unbound);
}

#[test]
fn a_manifest_claimed_by_another_account_is_unbound() {
	let c = chain();
	let (manifest, cand) = trained(&c, |_| {});
	let stolen = with(replay_job(manifest, cand), |j| {
		if let Job::ReplayClaim { trainer, .. } = j {
			*trainer = vec![0x66; 32];
		}
	});
	assert_eq!(replay_verdict(run(c, stolen)), ReplayVerdict::Unbound);
}

#[test]
fn a_resource_bomb_is_refused_before_anything_is_allocated() {
	// The manifest asks for 2^28 × 2^20-byte batches while the claim states the real ones.
	let c = chain();
	let (manifest, cand) = trained(&c, |m| {
		m.params.batch_size = 1 << 28;
		m.params.seq_len = 1 << 20;
	});
	assert_eq!(replay_verdict(run(c, replay_job(manifest, cand))), ReplayVerdict::Unbound);

	// The same bomb in claim and manifest (the pallet would refuse the claim; the engine
	// checks again): refused by the limits.
	let c = chain();
	let bomb = TrainingParams { batch_size: 1 << 28, seq_len: 1 << 20, ..params() };
	let (manifest, cand) = trained(&c, |m| {
		m.params.batch_size = 1 << 28;
		m.params.seq_len = 1 << 20;
	});
	let job = with(replay_job(manifest, cand), |j| {
		if let Job::ReplayClaim { params, .. } = j {
			*params = bomb;
		}
	});
	assert_eq!(replay_verdict(run(c, job)), ReplayVerdict::Unbound);

	// A manifest larger than the limit is not even fetched.
	let c = chain();
	let huge = c.store.put(&vec![b' '; 64 * 1024 + 1]).unwrap();
	assert_eq!(replay_verdict(run(c, replay_job(huge, [1; 32]))), ReplayVerdict::Unbound);

	// A checkpoint far larger than a checkpoint of the unit is not fetched.
	let c = chain();
	let big = c.store.put(&vec![0u8; 8 << 20]).unwrap();
	let (manifest, cand) = trained(&c, |m| m.checkpoints[0] = hex::encode(big));
	assert_eq!(replay_verdict(run(c, replay_job(manifest, cand))), ReplayVerdict::Unbound);
}

#[test]
fn a_claim_within_the_limits_but_over_the_node_budget_fails_the_job() {
	replay_fails_within(|_| 1024, "memory budget");
}

#[test]
fn a_job_past_its_time_budget_fails() {
	let c = chain();
	let cand = other_candidate(&c);
	let instant = Options {
		budget: Budget { time: std::time::Duration::ZERO, ..Budget::default() },
		..Options::default()
	};
	let job = eval_job(0, UNIT, cand);
	let JobStatus::Failed(why) = run_on(c, instant, job) else { panic!() };
	assert!(String::from_utf8_lossy(&why).contains("time budget"));
}

#[test]
fn naming_datasets_not_trained_on_is_caught() {
	// The claim names dataset 0 where the manifest trained on dataset 1.
	let c = chain();
	let (manifest, cand) = trained(&c, |_| {});
	let job = with(replay_job(manifest, cand), |j| {
		if let Job::ReplayClaim { datasets, .. } = j {
			datasets[0].dataset = 0;
		}
	});
	assert_eq!(replay_verdict(run(c, job)), ReplayVerdict::Unbound);
	// A manifest (and claim) that names humor 70 % / wisdom 30 % for batches drawn from
	// wisdom 70 % / humor 30 %: the batch hashes do not reproduce.
	let c = chain();
	let (manifest, cand) = trained(&c, |m| {
		m.datasets.swap(0, 1);
		let (a, b) = (m.datasets[0].ratio_ppm, m.datasets[1].ratio_ppm);
		m.datasets[0].ratio_ppm = b;
		m.datasets[1].ratio_ppm = a;
	});
	let job = with(replay_job(manifest, cand), |j| {
		if let Job::ReplayClaim { datasets, .. } = j {
			*datasets = vec![
				DatasetShare { dataset: 2, ratio_ppm: 700_000 },
				DatasetShare { dataset: 1, ratio_ppm: PPM - 700_000 },
			];
		}
	});
	assert_eq!(replay_verdict(run(c, job)), ReplayVerdict::Mismatch);
}

#[test]
fn audit_dataset_reports_the_l0_figures_and_the_validation_overlap() {
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
	assert_eq!((f.toxicity_permille, f.validation_overlap), (0, 0));

	// A dataset that copies two validation samples, one of them re-cased.
	let mut c = chain();
	let leak = "held-out fortune number 3: the quick brown fox jumps over the lazy dog.\n%\nHELD-OUT fortune number 4:   the quick brown fox jumps over the lazy dog.\n%\nSomething new and long enough to be a sample.\n";
	let root = c.store.put(leak.as_bytes()).unwrap();
	c.datasets
		.push(DatasetInfo { name: "leak".into(), content_root: [0; 32], text: root });
	let JobStatus::Done(JobOutput::Audit(f)) = run(c, Job::AuditDataset { at: 0, dataset: 3 })
	else {
		panic!()
	};
	assert_eq!(f.validation_overlap, 2);
	assert_eq!(
		f.verdict(true),
		Err(blyan_primitives::audit::AuditFailure::SharesValidationSamples)
	);
}

#[test]
fn bad_jobs_fail_with_a_reason_and_unknown_ids_are_unknown() {
	let c = chain();
	let cand = other_candidate(&c);
	let s = EngineService::start(Arc::new(c), 1);
	let missing_block = s.submit(eval_job(5, UNIT, cand));
	let JobStatus::Failed(why) = wait(&s, &missing_block) else { panic!() };
	assert!(String::from_utf8_lossy(&why).contains("no block #5"));
	// A unit the model does not have is the claim's fault, not the node's: the candidate
	// gets the largest loss (every honest validator reports it) rather than an abstention.
	let no_unit = s.submit(eval_job(0, "layer9.expert1", cand));
	assert!(matches!(
		wait(&s, &no_unit),
		JobStatus::Done(JobOutput::Losses {
			candidate: blyan_primitives::pol::UNDECODABLE_LOSS,
			..
		})
	));
	let no_manifest = s.submit(replay_job([8; 32], cand));
	assert_eq!(replay_verdict(wait(&s, &no_manifest)), ReplayVerdict::Unavailable);
	assert_eq!(s.status(&[0; 32]), JobStatus::Unknown);
	assert_eq!(s.output_tile(&[0; 32], 0), None);
}

/// A chain whose every read panics: the engine fails the job and keeps serving.
struct Panicky;
impl ChainView for Panicky {
	fn best(&self) -> H256 {
		H256::zero()
	}
	fn hash_of(&self, number: u32) -> Result<H256, String> {
		if number == 13 {
			panic!("chain view exploded");
		}
		Ok(H256::zero())
	}
	fn payload(&self, _: H256, _: &Hash) -> Result<Vec<u8>, String> {
		Err("none".into())
	}
	fn payload_len(&self, _: H256, _: &Hash) -> Result<u64, String> {
		Err("none".into())
	}
	fn accepted_payload(&self, _: H256, _: &str) -> Result<Option<Hash>, String> {
		Ok(None)
	}
	fn latest_spec(&self, _: H256) -> Result<(blyan_moe::Config, u32), String> {
		Err("no spec".into())
	}
	fn dataset(&self, _: H256, _: u32) -> Result<DatasetInfo, String> {
		Err("none".into())
	}
}

#[test]
fn a_panic_fails_the_job_not_the_engine() {
	let s = EngineService::start(Arc::new(Panicky), 1);
	let boom = s.submit(Job::AuditDataset { at: 13, dataset: 0 });
	let JobStatus::Failed(why) = wait(&s, &boom) else { panic!() };
	assert!(String::from_utf8_lossy(&why).contains("chain view exploded"));
	// The same single engine thread still answers.
	let next = s.submit(Job::AuditDataset { at: 1, dataset: 0 });
	let JobStatus::Failed(why) = wait(&s, &next) else { panic!() };
	assert!(String::from_utf8_lossy(&why).contains("none"));
}

#[test]
fn results_survive_a_restart_and_an_interrupted_job_is_not_retried_forever() {
	let dir = tempfile::tempdir().unwrap();
	let options = || Options { dir: Some(dir.path().to_path_buf()), ..Options::default() };
	let c = Arc::new(chain());
	let cand = other_candidate(&c);
	let job = eval_job(0, UNIT, cand);
	let first = {
		let s = EngineService::start_with(c.clone(), options());
		let id = s.submit(job.clone());
		wait(&s, &id)
	};
	assert!(matches!(first, JobStatus::Done(_)));
	// A restarted service answers at once, without running the job again.
	let s = EngineService::start_with(Arc::new(Panicky), options());
	assert_eq!(s.status(&job_id(&job)), first);

	// A job the node stopped during twice (crash markers on disk) fails instead of running.
	let crashing = Job::AuditDataset { at: 0, dataset: 1 };
	let id = job_id(&crashing);
	let marker = dir.path().join("jobs").join("v2").join(format!("{}.running", hex::encode(id)));
	std::fs::write(&marker, codec::Encode::encode(&2u32)).unwrap();
	let s = EngineService::start_with(c, options());
	let JobStatus::Failed(why) = wait(&s, &s.submit(crashing)) else { panic!() };
	assert!(String::from_utf8_lossy(&why).contains("stopped during this job"));
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

fn train_job() -> Job {
	Job::Train {
		at: 0,
		trainer: TRAINER.to_vec(),
		units: vec![UNIT.as_bytes().to_vec()],
		datasets: honest_datasets(),
		params: TrainingParams { seed: 9, ..params() },
	}
}

#[test]
fn a_training_job_claims_the_loss_validators_measure_and_replays_once_published() {
	let dir = tempfile::tempdir().unwrap();
	let c = Arc::new(chain());
	let options = || Options { dir: Some(dir.path().to_path_buf()), ..Options::default() };
	let service = EngineService::start_with(c.clone(), options());
	let JobStatus::Done(JobOutput::Trained {
		payloads,
		manifest,
		params: p,
		parent_loss,
		loss,
		record,
		checkpoints,
	}) = wait(&service, &service.submit(train_job()))
	else {
		panic!("training failed")
	};
	assert_eq!(p, TrainingParams { seed: 9, ..params() });
	let [(unit, payload)] = &payloads[..] else { panic!("{payloads:?}") };
	assert_eq!(unit, UNIT.as_bytes());
	let payload = *payload;
	assert_eq!(checkpoints.len(), 3, "before training and after each segment");
	assert_ne!(parent_loss, loss, "training moved the unit");
	assert!(service.output_tile(&[0x42; 32], 0).is_none());

	// The outputs are on disk: a restarted node still publishes them.
	drop(service);
	let service = EngineService::start_with(c.clone(), options());
	publish(&service, &c, &payload);
	// A validator checks the published evaluation record at the windows drawn from the seed.
	publish(&service, &c, &record);
	let check = blyan_engine_interface::EvalCheck { record, seed: [3; 32], claim: 1 };
	let eval = with(eval_job(0, UNIT, payload), |j| {
		let Job::EvaluateClaim { check: c, .. } = j else { unreachable!() };
		*c = Some(check);
	});
	assert_eq!(
		wait(&service, &service.submit(eval)),
		JobStatus::Done(JobOutput::Losses {
			parent: parent_loss,
			candidate: loss,
			record,
			verdict: ReplayVerdict::Match
		}),
		"validators reproduce exactly the claimed loss"
	);
	// The replay of segment 1 matches once the manifest, checkpoint 1 and the last checkpoint
	// are published.
	publish(&service, &c, &manifest);
	publish(&service, &c, &checkpoints[1]);
	publish(&service, &c, &checkpoints[2]);
	let replay = with(replay_job(manifest, payload), |j| {
		if let Job::ReplayClaim { params: rp, segments, .. } = j {
			*rp = p;
			*segments = vec![1];
		}
	});
	assert!(matches!(
		wait(&service, &service.submit(replay)),
		JobStatus::Done(JobOutput::Replay { verdict: ReplayVerdict::Match, .. })
	));
}

#[test]
fn datasets_too_large_for_the_budget_are_not_loaded() {
	// A budget with room for a training step of the claim but not for its datasets' texts
	// (an attacker names huge approved datasets).
	replay_fails_within(
		|c| blyan_moe::train::step_memory_bound(&c.index.config, 2, 16) + 16,
		"the named datasets",
	);
}

/// Replays an honest claim with a memory budget of `budget(chain)` bytes: the job must fail,
/// saying `why`.
fn replay_fails_within(budget: impl Fn(&MemChain) -> u64, why: &str) {
	let c = chain();
	let (manifest, cand) = trained(&c, |_| {});
	let options = Options {
		budget: Budget { memory_bytes: budget(&c), ..Budget::default() },
		..Options::default()
	};
	let JobStatus::Failed(got) = run_on(c, options, replay_job(manifest, cand)) else { panic!() };
	let got = String::from_utf8_lossy(&got);
	assert!(got.contains(why), "{got}");
}

/// Two experts of different layers, trained together.
fn two_units() -> [UnitId; 2] {
	[UnitId::Expert { layer: 0, expert: 1 }, UnitId::Expert { layer: 1, expert: 0 }]
}

#[test]
fn a_claim_over_two_units_replays_and_is_evaluated_with_both_merged() {
	let c = chain();
	let (manifest, results) = trained_units(&c, &c.index, &two_units(), |_| {});
	assert_eq!(results.len(), 2);
	let job = replay_units_job(manifest, results.clone());
	assert_eq!(replay_verdict(run(c, job)), ReplayVerdict::Match);

	// The candidate is the parent with both units replaced: its loss is that of the trained
	// model, and differs from either unit alone.
	let c = chain();
	let (_, results) = trained_units(&c, &c.index, &two_units(), |_| {});
	let losses = |c: MemChain, units: Vec<UnitPayload>| match run(
		c,
		Job::EvaluateClaim { at: 0, units, check: None },
	) {
		JobStatus::Done(JobOutput::Losses { parent, candidate, .. }) => (parent, candidate),
		other => panic!("{other:?}"),
	};
	let both = losses(c, results.clone());
	let c = chain();
	trained_units(&c, &c.index, &two_units(), |_| {});
	let first = losses(c, results[..1].to_vec());
	assert_eq!(both.0, first.0, "same parent");
	assert_ne!(both.1, first.1, "the second unit counts");
	assert_ne!(both.1, blyan_primitives::pol::UNDECODABLE_LOSS);
}

/// Attack: a claim that names only some of the units its manifest trained (to be paid twice,
/// or to hide a unit trained on other data), or more units than it trained, or a unit twice.
#[test]
fn a_claim_must_name_exactly_the_trained_units() {
	let c = chain();
	let (manifest, results) = trained_units(&c, &c.index, &two_units(), |_| {});
	assert_eq!(
		replay_verdict(run(c, replay_units_job(manifest, results[..1].to_vec()))),
		ReplayVerdict::Unbound,
		"a subset"
	);
	let c = chain();
	let (manifest, cand) = trained(&c, |_| {});
	let extra = vec![(UNIT.as_bytes().to_vec(), cand), (b"layer1.expert0".to_vec(), cand)];
	assert_eq!(
		replay_verdict(run(c, replay_units_job(manifest, extra))),
		ReplayVerdict::Unbound,
		"a superset"
	);
	let c = chain();
	let (manifest, cand) = trained(&c, |_| {});
	let twice = vec![(UNIT.as_bytes().to_vec(), cand), (UNIT.as_bytes().to_vec(), cand)];
	assert_eq!(
		replay_verdict(run(c, replay_units_job(manifest, twice))),
		ReplayVerdict::Unbound,
		"a unit twice"
	);
	// The evaluation refuses a unit named twice too: the largest loss.
	let c = chain();
	let cand = other_candidate(&c);
	let twice = vec![(UNIT.as_bytes().to_vec(), cand), (UNIT.as_bytes().to_vec(), cand)];
	let JobStatus::Done(JobOutput::Losses { candidate, .. }) =
		run(c, Job::EvaluateClaim { at: 0, units: twice, check: None })
	else {
		panic!()
	};
	assert_eq!(candidate, blyan_primitives::pol::UNDECODABLE_LOSS);
}

/// A model in which `layer1.expert0` has other weights (seed 44), its payload stored: what
/// the accepted model was before another trainer's update of that unit was accepted.
fn with_other_frozen_unit(c: &MemChain) -> ModelIndex {
	let other = init_weights(&c.index.config, 44).unwrap();
	let u = UnitId::Expert { layer: 1, expert: 0 };
	let root = c.store.put(&encode_unit(&c.index.config, u, &other).unwrap()).unwrap();
	let mut from = c.index.clone();
	from.units.insert(u.to_string(), hex::encode(root));
	from
}

/// Concurrency: a trainer trained `layer0.expert1` while another unit (`layer1.expert0`) was
/// still at an older payload; the chain has moved that unit since. The claim still replays.
#[test]
fn frozen_units_may_have_moved_since_training_started() {
	let c = chain();
	let from = with_other_frozen_unit(&c);
	let unit = UnitId::Expert { layer: 0, expert: 1 };
	let (manifest, results) = trained_units(&c, &from, &[unit], |_| {});
	assert_eq!(replay_verdict(run(c, replay_units_job(manifest, results))), ReplayVerdict::Match);
}

/// Attacks on the parent: the trained unit itself not from the accepted payload (it must be,
/// or the update would be applied to a unit it was not trained from), a frozen "unit" that is
/// an arbitrary large payload, and a parent that omits a unit.
#[test]
fn the_trained_units_must_start_from_the_accepted_payloads() {
	let c = chain();
	let from = with_other_frozen_unit(&c);
	let moved = UnitId::Expert { layer: 1, expert: 0 };
	let (manifest, results) = trained_units(&c, &from, &[moved], |_| {});
	assert_eq!(replay_verdict(run(c, replay_units_job(manifest, results))), ReplayVerdict::Unbound);

	let c = chain();
	let big = c.store.put(&vec![0u8; 4 << 20]).unwrap();
	let (manifest, cand) =
		trained(&c, |m| drop(m.parent.insert("layer1.expert0".into(), hex::encode(big))));
	assert_eq!(replay_verdict(run(c, replay_job(manifest, cand))), ReplayVerdict::Unbound);

	let c = chain();
	let (manifest, cand) = trained(&c, |m| drop(m.parent.remove("layer1.expert0")));
	assert_eq!(replay_verdict(run(c, replay_job(manifest, cand))), ReplayVerdict::Unbound);
}

#[test]
fn a_training_job_trains_a_unit_set_and_names_each_payload() {
	let c = Arc::new(chain());
	let service = EngineService::start_with(c.clone(), Options::default());
	let units: Vec<Vec<u8>> = two_units().iter().map(|u| u.to_string().into_bytes()).collect();
	let job = Job::Train {
		at: 0,
		trainer: TRAINER.to_vec(),
		units: units.clone(),
		datasets: honest_datasets(),
		params: params(),
	};
	let JobStatus::Done(JobOutput::Trained { payloads, parent_loss, loss, .. }) =
		wait(&service, &service.submit(job))
	else {
		panic!("training failed")
	};
	let names: Vec<Vec<u8>> = payloads.iter().map(|(u, _)| u.clone()).collect();
	assert_eq!(names, units);
	for (_, p) in &payloads {
		publish(&service, &c, p);
	}
	let JobStatus::Done(JobOutput::Losses { parent, candidate, .. }) =
		wait(&service, &service.submit(Job::EvaluateClaim { at: 0, units: payloads, check: None }))
	else {
		panic!("the evaluation failed")
	};
	assert_eq!((parent, candidate), (parent_loss, loss));
	// A unit named twice fails the job.
	let twice = Job::Train {
		at: 0,
		trainer: TRAINER.to_vec(),
		units: vec![units[0].clone(), units[0].clone()],
		datasets: honest_datasets(),
		params: params(),
	};
	assert!(matches!(wait(&service, &service.submit(twice)), JobStatus::Failed(_)));
}

/// The candidates of a claim are published after its base block: the evaluation at the base
/// block reads them at the best block (they are content-addressed) instead of abstaining.
#[test]
fn candidates_published_after_the_base_block_are_evaluated() {
	let c = chain();
	let cand = other_candidate(&c);
	c.late.lock().unwrap().insert(cand);
	let JobStatus::Done(JobOutput::Losses { parent, candidate, .. }) =
		run(c, eval_job(0, UNIT, cand))
	else {
		panic!("the evaluation at the base block failed")
	};
	assert!(parent > 0 && candidate != blyan_primitives::pol::UNDECODABLE_LOSS);
}

/// The evaluation record an honest trainer makes for `cand` (computed here with the library,
/// independently of the engine's job): `(record, windows, predicted bytes)`.
fn honest_record(c: &MemChain, cand: Hash) -> (blyan_moe::eval::EvalRecord, usize, u64) {
	let text = c.store.fetch(&c.datasets[0].text).unwrap().to_vec();
	let seq = c.index.config.max_position_embeddings;
	let n = blyan_moe::eval::windows(&text, seq).len();
	let all: Vec<u32> = (0..n as u32).collect();
	let eval = |index: &ModelIndex| {
		blyan_moe::eval::evaluate_index_windows(
			index,
			&c.store,
			&text,
			seq,
			blyan_moe::eval::RECORD_BATCH,
			&all,
			&mut |_, _| Ok(()),
		)
		.unwrap()
	};
	let mut merged = c.index.clone();
	merged.units.insert(UNIT.into(), hex::encode(cand));
	let record = blyan_moe::eval::EvalRecord {
		windows: eval(&c.index).into_iter().zip(eval(&merged)).collect(),
	};
	(record, n, evaluate::predicted_bytes(&text, seq))
}

/// A validator's evaluation job of the record with root `record` (seed `[5; 32]`, claim 3).
fn check_job(cand: Hash, record: Hash) -> Job {
	let check = blyan_engine_interface::EvalCheck { record, seed: [5; 32], claim: 3 };
	Job::EvaluateClaim { at: 0, units: vec![(UNIT.as_bytes().to_vec(), cand)], check: Some(check) }
}

fn checked_windows(n: usize) -> Vec<u32> {
	let b = blyan_moe::eval::record_batches(n) as u32;
	blyan_moe::eval::batch_windows(
		&blyan_primitives::pol::challenge_eval_batches(&[5; 32], 3, b),
		n,
	)
}

fn losses_of(status: JobStatus) -> (u64, u64, ReplayVerdict) {
	match status {
		JobStatus::Done(JobOutput::Losses { parent, candidate, verdict, .. }) => {
			(parent, candidate, verdict)
		},
		other => panic!("not an evaluation: {other:?}"),
	}
}

#[test]
fn an_honest_record_checks_and_its_totals_are_reported() {
	let c = chain();
	let cand = other_candidate(&c);
	let (record, n, bytes) = honest_record(&c, cand);
	assert!(n >= 2, "the test text has {n} windows");
	let root = c.store.put(&record.to_bytes()).unwrap();
	// The trainer's own job over every window gives the same losses and record.
	let c2 = chain();
	other_candidate(&c2);
	let JobStatus::Done(JobOutput::Losses { parent, candidate, record: kept, .. }) =
		run(c2, eval_job(0, UNIT, cand))
	else {
		panic!()
	};
	assert_eq!(kept, root, "the engine's record is the library's, byte for byte");
	assert_eq!((parent, candidate), record.losses(bytes));
	assert_eq!(losses_of(run(c, check_job(cand, root))), (parent, candidate, ReplayVerdict::Match));
}

#[test]
fn a_false_window_that_is_checked_is_an_evaluation_mismatch() {
	let c = chain();
	let cand = other_candidate(&c);
	let (record, n, _) = honest_record(&c, cand);
	let checked = checked_windows(n);
	// A candidate loss understated by one nano-nat, or a base loss overstated, at one checked
	// window: caught.
	for lie in [|w: &mut (u64, u64)| w.1 -= 1, |w: &mut (u64, u64)| w.0 += 1] {
		let mut false_record = record.clone();
		lie(&mut false_record.windows[checked[0] as usize]);
		let root = c.store.put(&false_record.to_bytes()).unwrap();
		let c2 = chain();
		other_candidate(&c2);
		c2.store.put(&false_record.to_bytes()).unwrap();
		assert_eq!(
			losses_of(run(c2, check_job(cand, root))),
			(0, 0, ReplayVerdict::EvaluationMismatch)
		);
	}
}

#[test]
fn a_false_window_that_is_not_checked_passes_with_the_records_totals() {
	// What the sampling gives up (docs/pol.md "Verification by sampled windows"): a lie in a
	// window that is not drawn passes, with probability at most 31/32 per claim, priced by
	// the bond; its weight in the total is bounded by the per-byte loss cap.
	let c = chain();
	let cand = other_candidate(&c);
	let (mut record, n, bytes) = honest_record(&c, cand);
	let checked = checked_windows(n);
	let unchecked = (0..n as u32).find(|i| !checked.contains(i)).unwrap();
	record.windows[unchecked as usize].1 /= 2;
	let root = c.store.put(&record.to_bytes()).unwrap();
	let (p, l) = record.losses(bytes);
	assert_eq!(losses_of(run(c, check_job(cand, root))), (p, l, ReplayVerdict::Match));
}

#[test]
fn a_record_that_does_not_fit_the_validation_set_or_is_missing_is_refused() {
	let c = chain();
	let cand = other_candidate(&c);
	let (record, _, _) = honest_record(&c, cand);
	let bytes = record.to_bytes();
	let mut short = record.clone();
	short.windows.pop();
	let mut magic = bytes.clone();
	magic[3] ^= 0x20;
	let mut long = bytes.clone();
	long.extend_from_slice(&[0; 16]);
	let bad: Vec<Hash> = [short.to_bytes(), magic, long, b"not a record".to_vec()]
		.iter()
		.map(|b| c.store.put(b).unwrap())
		.collect();
	let s = EngineService::start(Arc::new(c), 1);
	for root in bad {
		let got = losses_of(wait(&s, &s.submit(check_job(cand, root))));
		assert_eq!(got, (0, 0, ReplayVerdict::EvaluationMismatch));
	}
	// Not published (the trainer's fault: it publishes the record before claiming).
	let got = losses_of(wait(&s, &s.submit(check_job(cand, [0x5a; 32]))));
	assert_eq!(got, (0, 0, ReplayVerdict::Unavailable));
}
