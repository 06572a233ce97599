//! # Engine runtime interface
//!
//! Host functions through which Blyan's off-chain workers reach the node's native candle MoE
//! engine (`blyan-moe`): train, evaluate, replay, audit a dataset and generate. The runtime
//! never links candle; it calls these functions, and the node answers them.
//!
//! ## Only off-chain workers reach the engine
//!
//! The functions look up [`EngineExt`], an externalities extension that the node hands to
//! off-chain workers only (`sc_offchain::OffchainWorkerOptions::custom_extensions`). Block
//! import and block production never register it, so there [`blyan_engine::submit`]
//! returns `None` and [`blyan_engine::status`] returns [`JobStatus::Unavailable`]: a block
//! can never depend on the engine.
//!
//! ## Jobs never block
//!
//! Engine work takes seconds to minutes. [`blyan_engine::submit`] only queues a [`Job`] on
//! the node's engine pool and returns its [`JobId`] (`blake3(SCALE(job))`, so submitting the
//! same job again is harmless and returns the same id); later worker runs poll
//! [`blyan_engine::status`] until it is [`JobStatus::Done`]. Workers keep no ids: they
//! call [`job_status`] with the job itself, which queues it again if the engine forgot it.
//!
//! ## Budgets
//!
//! Every job runs under a memory and a time budget set by the node; a job that would exceed
//! its memory budget is refused before it allocates, one that runs past its time budget is
//! stopped, and a panic inside a job fails that job, not the engine
//! ([`JobStatus::Failed`]). Finished results are kept on disk, so a restarted node answers a
//! job it already ran without running it again.
//!
//! ## Determinism
//!
//! Every input is pinned by chain state: `at` is a block number whose state fixes the model
//! (`ParamIndex`), the spec and the datasets, and payloads are addressed by their blake3
//! Merkle roots. Losses are nano-nats per byte, `round(nats_per_byte × 10^9)` of the engine's
//! bitwise-deterministic f64 (docs/engine.md), so honest validators report equal integers.
//!
//! Once a host function ships, every node that executes the runtime must keep providing it.

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

extern crate alloc;

use alloc::vec::Vec;
use codec::{Decode, Encode};
#[cfg(feature = "std")]
use sp_externalities::ExternalitiesExt;
use sp_runtime_interface::{
	pass_by::{AllocateAndReturnByCodec, PassFatPointerAndDecode, PassPointerAndReadCopy},
	runtime_interface,
};

/// A 32-byte blake3 hash or payload root.
pub type Hash = [u8; 32];

/// Id of a queued job: `blake3(SCALE(job))`.
pub type JobId = [u8; 32];

/// The id of a job: blake3 of its SCALE encoding.
pub fn job_id(job: &Job) -> JobId {
	blyan_primitives::tile_hash(&job.encode())
}

/// Where `job` stands, queueing it first if the engine does not know it (on the first call,
/// or after a node restart): workers call this on every run instead of keeping job ids.
/// A failed job stays [`JobStatus::Failed`] (call [`blyan_engine::submit`] to retry it).
/// [`JobStatus::Unavailable`] without an engine.
pub fn job_status(job: Job) -> JobStatus {
	match blyan_engine::status(job_id(&job)) {
		JobStatus::Unknown => match blyan_engine::submit(job) {
			Some(_) => JobStatus::Queued,
			None => JobStatus::Unavailable,
		},
		other => other,
	}
}

pub use blyan_primitives::{
	audit::AuditFigures,
	pol::{DatasetShare, ManifestLimits, NanoNatsPerByte, ReplayVerdict, TrainingParams},
};

/// A unit and a payload of it: `(unit name, payload root)`, for example
/// `(b"layer0.expert3", root)`. Unit names follow `blyan_primitives::UnitName`.
pub type UnitPayload = (Vec<u8>, Hash);

/// Work for the engine. Every field that selects chain data names the block `at` whose state
/// is read (a block number of the canonical chain).
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
pub enum Job {
	/// Validation loss of the model accepted at `at` (every unit's `ParamIndex` entry) and of
	/// the same model with each unit of `units` replaced by its candidate payload, on the
	/// validation dataset of the latest model spec at `at`, window by window
	/// (`blyan_moe::eval`). A candidate set in which one payload does not decode as its unit
	/// (or a unit is named twice or does not exist) has loss
	/// [`blyan_primitives::pol::UNDECODABLE_LOSS`]. Output: [`JobOutput::Losses`].
	///
	/// Without `check` (a trainer) every window of both models is evaluated and the
	/// evaluation record is kept in the engine's output store, for publishing. With `check`
	/// (a validator) the trainer's record is read from the content store and only the windows
	/// drawn from the claim's seed are evaluated and compared with it (docs/pol.md
	/// "Verification by sampled windows").
	EvaluateClaim {
		/// Block whose state pins the parent model (a claim's base block).
		at: u32,
		/// The updated units and their candidate payloads (in the content store).
		units: Vec<UnitPayload>,
		/// The trainer's record to check, for a validator.
		check: Option<EvalCheck>,
	},
	/// Checks that the PoDL manifest with payload root `manifest` is bound to the claim —
	/// within `limits`, naming `trainer`, training exactly the units of `units` from their
	/// payloads accepted at `at` on exactly `datasets` with exactly `params`, its result for
	/// each unit the candidate payload and equal to the trained tensors of its last
	/// checkpoint — then replays the challenged `segments`. The manifest's frozen units may be
	/// any payloads of those units (other units may have moved while the trainer trained).
	/// Nothing is allocated for training before these checks pass. Output:
	/// [`JobOutput::Replay`].
	ReplayClaim {
		/// Block whose state pins the trained units' parents and the datasets (a claim's base
		/// block).
		at: u32,
		/// SCALE encoding of the claim's trainer account (the manifest must name it).
		trainer: Vec<u8>,
		/// The updated units and their candidate payloads.
		units: Vec<UnitPayload>,
		/// Payload root of the manifest JSON.
		manifest: Hash,
		/// Datasets and ratios the claim names.
		datasets: Vec<DatasetShare>,
		/// Training parameters the claim names.
		params: TrainingParams,
		/// Challenged segment indices.
		segments: Vec<u32>,
		/// The chain's manifest limits.
		limits: ManifestLimits,
	},
	/// The L0 pre-filter (SPEC "Chain D") over a dataset's published text, including its
	/// overlap with the latest spec's validation set. Output: [`JobOutput::Audit`].
	AuditDataset {
		/// Block whose state holds the dataset record.
		at: u32,
		/// Dataset id.
		dataset: u32,
	},
	/// Trains `units` of the model accepted at `at` (all others frozen) on `datasets` with
	/// `params`, writing a manifest that names `trainer`. The outputs stay in the node's
	/// engine store (on disk under the node's base path) until published. Output:
	/// [`JobOutput::Trained`].
	Train {
		/// Block whose state pins the parent model and the datasets.
		at: u32,
		/// SCALE encoding of the trainer's account.
		trainer: Vec<u8>,
		/// Names of the units to train (at least one, each once).
		units: Vec<Vec<u8>>,
		/// Datasets and ratios.
		datasets: Vec<DatasetShare>,
		/// Training parameters (seed, steps, K, batch size, sequence length).
		params: TrainingParams,
	},
	/// Generates from the model accepted at `at`. Output: [`JobOutput::Generated`].
	Generate {
		/// Block whose state pins the model.
		at: u32,
		/// Prompt bytes.
		prompt: Vec<u8>,
		/// Largest number of new bytes.
		max_new_tokens: u32,
		/// Sampling temperature × 1000 (0 = greedy).
		temperature_milli: u32,
		/// Sampling seed.
		seed: u64,
	},
}

/// A claim's evaluation record and what draws its checked windows
/// ([`blyan_primitives::pol::challenge_eval_batches`]).
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
pub struct EvalCheck {
	/// Payload root of the trainer's evaluation record (`ClaimInput::eval_root`).
	pub record: Hash,
	/// The claim's challenge seed (`Claim::seed`).
	pub seed: Hash,
	/// The claim's id.
	pub claim: u64,
}

/// What a finished job produced.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
pub enum JobOutput {
	/// Output of [`Job::EvaluateClaim`].
	Losses {
		/// Parent model's validation loss (for a validator, the record's; 0 unless `verdict`
		/// is `Match`).
		parent: NanoNatsPerByte,
		/// Candidate model's validation loss (likewise).
		candidate: NanoNatsPerByte,
		/// Payload root of the evaluation record: the one kept for publishing (a trainer) or
		/// the one checked (a validator).
		record: Hash,
		/// `Match` when the record was made here or its checked windows agree;
		/// `EvaluationMismatch` when it does not fit the validation set or a checked window
		/// differs; `Unavailable` when it is not in the content store.
		verdict: ReplayVerdict,
	},
	/// Output of [`Job::ReplayClaim`].
	Replay {
		/// Verdict.
		verdict: ReplayVerdict,
		/// Merkle root of the reproduced checkpoint roots in segment order, then the last
		/// checkpoint's root (zero unless `Match`).
		digest: Hash,
	},
	/// Output of [`Job::AuditDataset`].
	Audit(AuditFigures),
	/// Output of [`Job::Train`]. Every payload named here stays readable through
	/// [`blyan_engine::output_tile`] until the engine drops the outputs of older training
	/// runs.
	Trained {
		/// Each trained unit and its new payload root, in the order of the job's `units`.
		payloads: Vec<UnitPayload>,
		/// Payload root of the PoDL manifest (JSON).
		manifest: Hash,
		/// The training parameters, as a claim states them.
		params: TrainingParams,
		/// The parent model's validation loss.
		parent_loss: NanoNatsPerByte,
		/// The trained model's validation loss, as a claim states it.
		loss: NanoNatsPerByte,
		/// Payload root of the evaluation record of both losses (kept with the run's outputs).
		record: Hash,
		/// Checkpoint payload roots: index 0 before training, index i after segment i − 1.
		/// Replaying segment s needs checkpoint s in the content store.
		checkpoints: Vec<Hash>,
	},
	/// Output of [`Job::Generate`].
	Generated {
		/// Generated bytes (without the prompt).
		text: Vec<u8>,
		/// Payload roots of the units the forward passes used.
		units: Vec<Hash>,
		/// Wall-clock time, milliseconds.
		millis: u64,
	},
}

/// Where a job stands.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
pub enum JobStatus {
	/// No engine here (block execution, or a node without the engine).
	Unavailable,
	/// The engine does not know this id (never submitted, or forgotten after a restart).
	Unknown,
	/// Waiting for a free engine thread.
	Queued,
	/// Running: `done` of `total` work units (steps, windows, segments).
	Running {
		/// Work done.
		done: u32,
		/// Total work.
		total: u32,
	},
	/// Finished.
	Done(JobOutput),
	/// Failed; the message says why (UTF-8).
	Failed(Vec<u8>),
}

/// The node's side of the interface: implemented by the node's engine service.
#[cfg(feature = "std")]
pub trait EngineHost: Send + Sync {
	/// Queues `job` unless it is known; returns [`job_id`]`(job)`.
	fn submit(&self, job: Job) -> JobId;
	/// Status of a job.
	fn status(&self, id: &JobId) -> JobStatus;
	/// Tile `index` (4 MiB tiles, docs/hashing.md) of a payload the engine produced, for
	/// publication; `None` when unknown or out of range.
	fn output_tile(&self, root: &Hash, index: u32) -> Option<Vec<u8>>;
}

#[cfg(feature = "std")]
sp_externalities::decl_extension! {
	/// The engine, as registered for off-chain workers only.
	pub struct EngineExt(std::sync::Arc<dyn EngineHost>);
}

#[cfg(feature = "std")]
impl EngineExt {
	/// Wraps an engine host.
	pub fn new(host: std::sync::Arc<dyn EngineHost>) -> Self {
		Self(host)
	}
}

/// Host functions of this interface, for the node's executor:
/// `(sp_io::SubstrateHostFunctions, blyan_engine_interface::HostFunctions)`.
#[cfg(feature = "std")]
pub type HostFunctions = (blyan_engine::HostFunctions,);

/// The engine, seen from the runtime. Only off-chain workers get an answer.
#[runtime_interface]
pub trait BlyanEngine {
	/// Queues `job` on the node's engine pool (idempotent). Returns its id, or `None`
	/// without an engine.
	fn submit(
		&mut self,
		job: PassFatPointerAndDecode<Job>,
	) -> AllocateAndReturnByCodec<Option<JobId>> {
		self.extension::<EngineExt>().map(|ext| ext.0.submit(job))
	}

	/// Status of a job; [`JobStatus::Unavailable`] without an engine.
	fn status(
		&mut self,
		id: PassPointerAndReadCopy<JobId, 32>,
	) -> AllocateAndReturnByCodec<JobStatus> {
		match self.extension::<EngineExt>() {
			Some(ext) => ext.0.status(&id),
			None => JobStatus::Unavailable,
		}
	}

	/// Tile `index` of a payload the engine produced (trainer outputs), to publish through
	/// the content store; `None` without an engine or when unknown.
	fn output_tile(
		&mut self,
		root: PassPointerAndReadCopy<Hash, 32>,
		index: u32,
	) -> AllocateAndReturnByCodec<Option<Vec<u8>>> {
		self.extension::<EngineExt>().and_then(|ext| ext.0.output_tile(&root, index))
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use std::{
		collections::BTreeMap,
		sync::{Arc, Mutex},
	};

	/// A host that finishes every job at once with fixed losses and keeps one tile.
	#[derive(Default)]
	struct FakeHost {
		jobs: Mutex<BTreeMap<JobId, Job>>,
	}

	impl EngineHost for FakeHost {
		fn submit(&self, job: Job) -> JobId {
			let id = job_id(&job);
			self.jobs.lock().unwrap().insert(id, job);
			id
		}
		fn status(&self, id: &JobId) -> JobStatus {
			match self.jobs.lock().unwrap().get(id) {
				Some(Job::EvaluateClaim { .. }) => JobStatus::Done(JobOutput::Losses {
					parent: 2,
					candidate: 1,
					record: [4; 32],
					verdict: ReplayVerdict::Match,
				}),
				Some(_) => JobStatus::Queued,
				None => JobStatus::Unknown,
			}
		}
		fn output_tile(&self, root: &Hash, index: u32) -> Option<Vec<u8>> {
			(*root == [1; 32] && index == 0).then(|| b"tile".to_vec())
		}
	}

	fn eval_job() -> Job {
		Job::EvaluateClaim {
			at: 7,
			units: vec![(b"layer0.expert1".to_vec(), [9; 32])],
			check: None,
		}
	}

	#[test]
	fn without_the_extension_the_engine_is_unavailable() {
		sp_io::TestExternalities::default().execute_with(|| {
			assert_eq!(blyan_engine::submit(eval_job()), None);
			assert_eq!(blyan_engine::status([0; 32]), JobStatus::Unavailable);
			assert_eq!(blyan_engine::output_tile([1; 32], 0), None);
		});
	}

	#[test]
	fn with_the_extension_jobs_are_submitted_and_polled_through_the_host() {
		let mut ext = sp_io::TestExternalities::default();
		ext.register_extension(EngineExt::new(Arc::new(FakeHost::default())));
		ext.execute_with(|| {
			let id = blyan_engine::submit(eval_job()).expect("engine present");
			assert_eq!(id, job_id(&eval_job()));
			assert_eq!(blyan_engine::submit(eval_job()), Some(id), "idempotent");
			assert_eq!(
				blyan_engine::status(id),
				JobStatus::Done(JobOutput::Losses {
					parent: 2,
					candidate: 1,
					record: [4; 32],
					verdict: ReplayVerdict::Match
				})
			);
			assert_eq!(blyan_engine::status([3; 32]), JobStatus::Unknown);
			let other = Job::AuditDataset { at: 1, dataset: 4 };
			let other_id = blyan_engine::submit(other.clone()).unwrap();
			assert_ne!(other_id, id);
			assert_eq!(blyan_engine::status(other_id), JobStatus::Queued);
			assert_eq!(blyan_engine::output_tile([1; 32], 0), Some(b"tile".to_vec()));
			assert_eq!(blyan_engine::output_tile([1; 32], 1), None);
		});
	}

	#[test]
	fn job_status_queues_unknown_jobs_and_reports_unavailable_without_an_engine() {
		sp_io::TestExternalities::default().execute_with(|| {
			assert_eq!(job_status(eval_job()), JobStatus::Unavailable);
		});
		let host = Arc::new(FakeHost::default());
		let mut ext = sp_io::TestExternalities::default();
		ext.register_extension(EngineExt::new(host.clone()));
		ext.execute_with(|| {
			let audit = Job::AuditDataset { at: 1, dataset: 4 };
			assert_eq!(job_status(audit.clone()), JobStatus::Queued, "queued on first sight");
			assert_eq!(blyan_engine::status(job_id(&audit)), JobStatus::Queued);
			assert_eq!(job_status(eval_job()), JobStatus::Queued, "queued on first sight");
			assert_eq!(
				job_status(eval_job()),
				JobStatus::Done(JobOutput::Losses {
					parent: 2,
					candidate: 1,
					record: [4; 32],
					verdict: ReplayVerdict::Match
				}),
				"then polled"
			);
		});
		assert_eq!(host.jobs.lock().unwrap().len(), 2);
	}

	#[test]
	fn job_ids_differ_by_every_field() {
		let a = job_id(&eval_job());
		let b = job_id(&Job::EvaluateClaim {
			at: 8,
			units: vec![(b"layer0.expert1".to_vec(), [9; 32])],
			check: None,
		});
		let c = job_id(&Job::EvaluateClaim {
			at: 7,
			units: vec![(b"layer0.expert2".to_vec(), [9; 32])],
			check: None,
		});
		let d = job_id(&Job::EvaluateClaim {
			at: 7,
			units: vec![(b"layer0.expert1".to_vec(), [8; 32])],
			check: None,
		});
		let e = job_id(&Job::EvaluateClaim {
			at: 7,
			units: vec![(b"layer0.expert1".to_vec(), [9; 32]), (b"backbone".to_vec(), [9; 32])],
			check: None,
		});
		let f = job_id(&Job::EvaluateClaim {
			at: 7,
			units: vec![(b"layer0.expert1".to_vec(), [9; 32])],
			check: Some(EvalCheck { record: [1; 32], seed: [2; 32], claim: 3 }),
		});
		let g = job_id(&Job::EvaluateClaim {
			at: 7,
			units: vec![(b"layer0.expert1".to_vec(), [9; 32])],
			check: Some(EvalCheck { record: [1; 32], seed: [2; 32], claim: 4 }),
		});
		let ids = [a, b, c, d, e, f, g];
		for (i, x) in ids.iter().enumerate() {
			assert!(ids[..i].iter().all(|y| y != x), "job {i} shares an id");
		}
	}
}
