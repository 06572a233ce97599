//! The node's engine service: answers the `blyan_engine` runtime interface
//! (`blyan-engine-interface`) for off-chain workers with the native candle engine
//! (`blyan-moe`).
//!
//! ## Rooms
//!
//! - this module: the job queue, the engine threads, budgets, persisted results, and the
//!   [`EngineHost`] the runtime interface calls;
//! - [`view`]: the chain as the engine reads it ([`ChainView`]);
//! - one module per job: [`evaluate`] (validation losses), [`replay`] (binding checks and the
//!   partial replay), [`train`] (the trainer's runs and their outputs on disk), [`audit`] (the
//!   L0 dataset filter);
//! - [`inference`]: generation for `blyan_generate` and `Job::Generate`;
//! - [`adversary`]: the hooks through which e2e tests make an engine cheat (honest in release
//!   builds).
//!
//! ## Threads, budgets and restarts
//!
//! Jobs run on `--engine-threads` native threads (default 1; candle's matrix products use the
//! machine's cores inside a job), never on the off-chain worker's or block import's thread:
//! [`EngineService::submit`] queues and returns at once, and later worker runs poll
//! [`EngineService::status`].
//!
//! Every job has a [`Budget`]: a memory bound checked before the job allocates a training step
//! or a model (`--engine-memory-mib`), and a time bound checked at every step, window and
//! segment (`--engine-job-seconds`). A job over either fails with a message; a panic inside a
//! job fails that job and the thread goes on.
//!
//! Finished results are written to `<chain dir>/blyan/engine/jobs/` and read back after a
//! restart, so a job the node already ran is answered without running it again. A job that
//! was running when the node stopped is run again once after the restart; if the node stops
//! during it a second time, the job fails instead of being retried forever (a job that
//! crashes the node must not crash it at every start).
//!
//! Every job reads chain state through [`ChainView`] at the block its `at` names, so two
//! nodes given the same job compute the same result (docs/engine.md, docs/pol.md).

pub mod adversary;
pub mod audit;
pub mod evaluate;
pub mod inference;
pub mod replay;
pub mod train;
pub mod view;

#[cfg(test)]
mod tests;

use std::{
	collections::HashMap,
	path::PathBuf,
	sync::{mpsc, Arc, Mutex},
	time::{Duration, Instant},
};

use blyan_engine_interface::{job_id, EngineHost, Hash, Job, JobId, JobOutput, JobStatus};
use codec::{Decode, Encode};

pub use adversary::{Adversary, Honest};
pub use inference::Inference;
pub use view::ChainView;

/// Log target of the engine.
pub const LOG_TARGET: &str = "blyan-engine";

/// Default memory budget of one job, bytes (`--engine-memory-mib 4096`).
pub const DEFAULT_MEMORY_BUDGET: u64 = 4 << 30;

/// Default time budget of one job (`--engine-job-seconds 3600`).
pub const DEFAULT_TIME_BUDGET: Duration = Duration::from_secs(3600);

/// Most results kept on disk; beyond it the oldest are deleted.
pub const MAX_STORED_RESULTS: usize = 4096;

/// Version of the stored results' meaning: results computed by an engine of another version
/// are not reused.
const RESULTS_VERSION: &str = "v2";

/// What one job may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
	/// Largest estimated memory of a training step or model load, bytes.
	pub memory_bytes: u64,
	/// Longest run time.
	pub time: Duration,
}

impl Default for Budget {
	fn default() -> Self {
		Self { memory_bytes: DEFAULT_MEMORY_BUDGET, time: DEFAULT_TIME_BUDGET }
	}
}

/// The running job's context: its budget, deadline and progress reporting.
pub struct JobCtx<'a> {
	/// The job's budget.
	pub budget: Budget,
	deadline: Instant,
	progress: &'a mut dyn FnMut(u32, u32),
}

impl JobCtx<'_> {
	/// Reports `done` of `total` work units; fails once the job is past its time budget.
	pub fn tick(&mut self, done: u32, total: u32) -> Result<(), String> {
		(self.progress)(done, total);
		if Instant::now() > self.deadline {
			return Err(format!("over the time budget of {} s", self.budget.time.as_secs()));
		}
		Ok(())
	}

	/// Fails when `bytes` exceed the memory budget; `what` names the allocation.
	pub fn check_memory(&self, what: &str, bytes: u64) -> Result<(), String> {
		if bytes > self.budget.memory_bytes {
			return Err(format!(
				"{what} needs about {} MiB, over the memory budget of {} MiB",
				bytes >> 20,
				self.budget.memory_bytes >> 20
			));
		}
		Ok(())
	}
}

/// A `blyan_moe` progress error from a [`JobCtx::tick`] failure.
pub fn stopped(e: String) -> blyan_moe::Error {
	blyan_moe::Error::Stopped(e)
}

/// The engine service's options.
#[derive(Clone)]
pub struct Options {
	/// Engine threads.
	pub threads: usize,
	/// Budget of every job.
	pub budget: Budget,
	/// Where results and trainer outputs are kept (`None`: in memory only).
	pub dir: Option<PathBuf>,
	/// The hooks (honest unless an e2e test asked for a cheat).
	pub adversary: Arc<dyn Adversary>,
}

impl Default for Options {
	fn default() -> Self {
		Self { threads: 1, budget: Budget::default(), dir: None, adversary: Arc::new(Honest) }
	}
}

/// One line naming a job, for logs.
/// Unit names for a log line: up to three, then how many more.
fn unit_list<'a>(units: impl Iterator<Item = &'a Vec<u8>>) -> String {
	let names: Vec<String> = units.map(|u| String::from_utf8_lossy(u).into_owned()).collect();
	match names.len() {
		0..=3 => names.join(", "),
		n => format!("{}, … ({n} units)", names[..3].join(", ")),
	}
}

fn describe(job: &Job) -> String {
	match job {
		Job::EvaluateClaim { at, units, check } => format!(
			"{} {} at #{at}",
			if check.is_some() { "check the evaluation record of" } else { "evaluate" },
			unit_list(units.iter().map(|(u, _)| u))
		),
		Job::ReplayClaim { at, units, segments, .. } => {
			format!(
				"replay {} segments {segments:?} at #{at}",
				unit_list(units.iter().map(|(u, _)| u))
			)
		},
		Job::AuditDataset { at, dataset } => format!("audit dataset {dataset} at #{at}"),
		Job::Train { at, units, params, .. } => {
			format!("train {} for {} steps at #{at}", unit_list(units.iter()), params.steps)
		},
		Job::Generate { at, max_new_tokens, .. } => {
			format!("generate {max_new_tokens} bytes at #{at}")
		},
	}
}

/// Finished results on disk, one file per job id, and markers of jobs that were running.
struct Results {
	dir: Option<PathBuf>,
}

impl Results {
	fn path(&self, id: &JobId, ext: &str) -> Option<PathBuf> {
		self.dir.as_ref().map(|d| d.join(format!("{}.{ext}", hex::encode(id))))
	}

	/// The stored final status of `id`.
	fn load(&self, id: &JobId) -> Option<JobStatus> {
		let bytes = std::fs::read(self.path(id, "result")?).ok()?;
		JobStatus::decode(&mut &bytes[..]).ok()
	}

	fn store(&self, id: &JobId, status: &JobStatus) {
		let Some(path) = self.path(id, "result") else { return };
		if let Err(e) = std::fs::write(&path, status.encode()) {
			log::warn!(target: LOG_TARGET, "cannot store a job result at {}: {e}", path.display());
		}
		if let Some(m) = self.path(id, "running") {
			let _ = std::fs::remove_file(m);
		}
		self.prune();
	}

	/// Marks `id` as running; returns how many times it was started before without finishing.
	fn start(&self, id: &JobId) -> u32 {
		let Some(path) = self.path(id, "running") else { return 0 };
		let before = std::fs::read(&path)
			.ok()
			.and_then(|b| u32::decode(&mut &b[..]).ok())
			.unwrap_or(0);
		let _ = std::fs::write(&path, (before + 1).encode());
		before
	}

	/// Deletes the oldest results beyond [`MAX_STORED_RESULTS`].
	fn prune(&self) {
		let Some(dir) = &self.dir else { return };
		let Ok(entries) = std::fs::read_dir(dir) else { return };
		let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
			.filter_map(|e| e.ok())
			.filter(|e| e.path().extension().is_some_and(|x| x == "result"))
			.filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
			.collect();
		if files.len() <= MAX_STORED_RESULTS {
			return;
		}
		files.sort();
		for (_, p) in files.iter().take(files.len() - MAX_STORED_RESULTS) {
			let _ = std::fs::remove_file(p);
		}
	}
}

/// How often a job that was running when the node stopped is started again.
const MAX_INTERRUPTED_STARTS: u32 = 2;

/// The engine service; see the module docs.
pub struct EngineService {
	jobs: Mutex<HashMap<JobId, JobStatus>>,
	queue: Mutex<mpsc::Sender<(JobId, Job)>>,
	results: Results,
	outputs: Mutex<train::Outputs>,
	losses: evaluate::LossCache,
	inference: Arc<Inference>,
	budget: Budget,
	adversary: Arc<dyn Adversary>,
}

impl EngineService {
	/// Starts an honest in-memory service with `threads` engine threads reading `chain`
	/// (tests).
	#[cfg(test)]
	pub fn start(chain: Arc<dyn ChainView>, threads: usize) -> Arc<Self> {
		Self::start_with(chain, Options { threads, ..Options::default() })
	}

	/// Starts the service reading `chain`.
	pub fn start_with(chain: Arc<dyn ChainView>, options: Options) -> Arc<Self> {
		let jobs_dir = options.dir.as_ref().map(|d| d.join("jobs").join(RESULTS_VERSION));
		let outputs_dir = options.dir.as_ref().map(|d| d.join("outputs"));
		for d in jobs_dir.iter().chain(outputs_dir.iter()) {
			if let Err(e) = std::fs::create_dir_all(d) {
				log::warn!(target: LOG_TARGET, "cannot create {}: {e}", d.display());
			}
		}
		// Validators judge only manifests with their own fingerprint: show operators theirs.
		match blyan_moe::fingerprint::engine_fingerprint_hex() {
			Ok(fp) => log::info!(
				target: LOG_TARGET,
				"engine fingerprint {fp} ({}; docs/engine.md \"Determinism across CPU kinds\")",
				blyan_moe::fingerprint::cpu_kind()
			),
			Err(e) => log::error!(target: LOG_TARGET, "engine fingerprint failed: {e}"),
		}
		let (tx, rx) = mpsc::channel::<(JobId, Job)>();
		let service = Arc::new(Self {
			jobs: Mutex::new(HashMap::new()),
			queue: Mutex::new(tx),
			results: Results { dir: jobs_dir },
			outputs: Mutex::new(train::Outputs::open(outputs_dir)),
			losses: evaluate::LossCache::default(),
			inference: Inference::new(chain.clone()),
			budget: options.budget,
			adversary: options.adversary,
		});
		let rx = Arc::new(Mutex::new(rx));
		for i in 0..options.threads.max(1) {
			let rx = rx.clone();
			let chain = chain.clone();
			let weak = Arc::downgrade(&service);
			let spawned =
				std::thread::Builder::new()
					.name(format!("blyan-engine-{i}"))
					.spawn(move || loop {
						let next = rx.lock().map(|r| r.recv());
						let Ok(Ok((id, job))) = next else { return };
						let Some(service) = weak.upgrade() else { return };
						service.run(&*chain, id, &job);
					});
			if let Err(e) = spawned {
				log::error!(target: LOG_TARGET, "cannot spawn engine thread {i}: {e}");
			}
		}
		service
	}

	/// Runs one job on this thread: budget, panic guard, logs, stored result.
	fn run(&self, chain: &dyn ChainView, id: JobId, job: &Job) {
		let short = hex::encode(&id[..4]);
		let before = self.results.start(&id);
		if before >= MAX_INTERRUPTED_STARTS {
			let why = format!("the node stopped during this job {before} times; not run again");
			log::warn!(target: LOG_TARGET, "job {short}: {why}");
			self.finish(id, JobStatus::Failed(why.into_bytes()));
			return;
		}
		self.set(id, JobStatus::Running { done: 0, total: 0 });
		log::info!(target: LOG_TARGET, "job {short} started: {}", describe(job));
		let started = Instant::now();
		let mut progress = |done, total| self.set(id, JobStatus::Running { done, total });
		let mut ctx = JobCtx {
			budget: self.budget,
			deadline: started + self.budget.time,
			progress: &mut progress,
		};
		let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
			self.run_job(chain, job, &mut ctx)
		}))
		.unwrap_or_else(|panic| {
			let msg = panic
				.downcast_ref::<&str>()
				.map(|s| s.to_string())
				.or_else(|| panic.downcast_ref::<String>().cloned())
				.unwrap_or_else(|| "unknown".into());
			Err(format!("the engine panicked: {msg}"))
		});
		let took = started.elapsed().as_secs_f64();
		match result {
			Ok(out) => {
				log::info!(target: LOG_TARGET, "job {short} done in {took:.1} s: {}", brief(&out));
				self.finish(id, JobStatus::Done(out));
			},
			Err(e) => {
				log::warn!(target: LOG_TARGET, "job {short} failed after {took:.1} s: {e}");
				self.finish(id, JobStatus::Failed(e.into_bytes()));
			},
		}
	}

	/// Runs one job to its output.
	fn run_job(
		&self,
		chain: &dyn ChainView,
		job: &Job,
		ctx: &mut JobCtx,
	) -> Result<JobOutput, String> {
		match job {
			Job::EvaluateClaim { at, units, check } => evaluate::evaluate_claim(
				chain,
				&self.losses,
				&*self.adversary,
				&self.outputs,
				*at,
				units,
				check.as_ref(),
				ctx,
			),
			Job::ReplayClaim { .. } => replay::replay_claim(chain, job, ctx),
			Job::AuditDataset { at, dataset } => audit::audit_dataset(chain, *at, *dataset),
			Job::Train { .. } => {
				train::train_unit(chain, &self.losses, &*self.adversary, &self.outputs, job, ctx)
			},
			Job::Generate { at, prompt, max_new_tokens, temperature_milli, seed } => {
				inference::generate_job(
					&self.inference,
					chain,
					*at,
					prompt,
					*max_new_tokens,
					*temperature_milli,
					*seed,
				)
			},
		}
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

	/// Records a final status in memory and on disk. A generated text is not stored.
	fn finish(&self, id: JobId, status: JobStatus) {
		if !matches!(status, JobStatus::Done(JobOutput::Generated { .. })) {
			self.results.store(&id, &status);
		}
		self.set(id, status);
	}
}

/// A job output for logs: the verdict or numbers, not the payload roots.
fn brief(out: &JobOutput) -> String {
	match out {
		JobOutput::Generated { text, millis, .. } => format!("{} bytes in {millis} ms", text.len()),
		other => format!("{other:?}"),
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
		if !jobs.contains_key(&id) {
			if let Some(done @ JobStatus::Done(_)) = self.results.load(&id) {
				jobs.insert(id, done);
				return id;
			}
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
		let known = self.jobs.lock().ok().and_then(|j| j.get(id).cloned());
		match known {
			Some(s) => s,
			None => match self.results.load(id) {
				Some(s) => {
					self.set(*id, s.clone());
					s
				},
				None => JobStatus::Unknown,
			},
		}
	}

	fn output_tile(&self, root: &Hash, index: u32) -> Option<Vec<u8>> {
		self.outputs.lock().ok()?.tile(root, index)
	}
}
