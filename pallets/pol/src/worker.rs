//! # The validators' off-chain worker
//!
//! Runs after every imported block (`offchain_worker`) on nodes whose keystore holds a Blyan
//! worker key ([`crate::crypto`]) of an active validator. For each claim whose challenge is
//! drawn and whose deadline has not passed (SPEC "Proof-of-Learning", steps 3–4):
//!
//! 1. it queues two engine jobs through the `blyan_engine` host functions
//!    (engine-interface): [`Job::EvaluateClaim`] (parent and candidate validation nats per byte
//!    on the spec's validation set, the parent model pinned by the claim's inclusion block) and
//!    [`Job::ReplayClaim`] (the challenged segments);
//! 2. later runs poll both; jobs run on the node's engine threads and never block this worker,
//!    block import or other workers;
//! 3. once both are done it sends one signed [`Call::submit_report`] per local validator key
//!    that has not reported yet.
//!
//! What a run learned is kept in off-chain storage under `blyan/pol/claim/<id>`
//! ([`WorkerClaim`]: challenged segments, when the reports were sent), so that it survives
//! between runs and a claim decided early (whose stage no longer lists the segments) is still
//! reported on until its deadline. Job ids are not kept: submitting a job is idempotent
//! (`blyan_engine_interface::job_status`), which also re-queues jobs a restarted node forgot. A [`StorageLock`] (`blyan/pol/lock`) keeps two runs
//! of overlapping blocks from sending the same report twice; a run that finds it held does
//! nothing.
//!
//! Reports that did not reach the chain (a dropped transaction, a nonce taken by another
//! transaction of the same account) are sent again [`RESEND_AFTER`] blocks later.
//!
//! A job the engine reports as failed (for example state pruned at the pinned block) is logged
//! and not reported on: the validator abstains rather than report numbers it did not compute.

use crate::{
	Call, ClaimId, ClaimStage, Claims, Config, EvalReport, NextClaimId, ReplayVerdict, Reports,
};
use crate::{Claim, Validators};
use alloc::vec::Vec;
use blyan_engine_interface::{job_status, Job, JobOutput, JobStatus, ReplayOutcome};
use codec::{Decode, Encode};
use frame_system::{
	offchain::{Account, SendSignedTransaction, Signer},
	pallet_prelude::BlockNumberFor,
};
use sp_runtime::{
	offchain::{
		storage::StorageValueRef,
		storage_lock::{StorageLock, Time},
		Duration,
	},
	traits::UniqueSaturatedInto,
};

/// Log target of the worker.
pub const LOG_TARGET: &str = "runtime::pol::worker";

/// Claims looked at per run, newest first (a claim's deadline grows with its id, so the scan
/// stops at the first claim past its deadline).
pub const SCAN_CLAIMS: u64 = 64;

/// Blocks after sending reports before the ones that did not reach the chain are sent again.
pub const RESEND_AFTER: u32 = 5;

/// Longest time a run holds the worker lock, milliseconds.
pub const LOCK_MILLIS: u64 = 20_000;

/// Key of the worker lock in off-chain storage.
pub const LOCK_KEY: &[u8] = b"blyan/pol/lock";

/// What the worker knows of a claim, in off-chain storage (SCALE).
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
pub struct WorkerClaim {
	/// Challenged segment indices, as drawn on chain.
	pub segments: Vec<u32>,
	/// Block at which reports were last sent, if ever.
	pub sent_at: Option<u32>,
}

/// Off-chain storage key of a claim's [`WorkerClaim`].
pub fn claim_key(id: ClaimId) -> Vec<u8> {
	let mut key = b"blyan/pol/claim/".to_vec();
	key.extend_from_slice(&id.to_le_bytes());
	key
}

/// The engine jobs of a claim with challenged `segments`: `(evaluate, replay)`. Both read the
/// chain at the claim's inclusion block, where `ParamIndex` still names the parent.
pub fn jobs_of<T: Config>(claim: &Claim<T>, segments: &[u32]) -> (Job, Job) {
	let at: u32 = claim.submitted_at.unique_saturated_into();
	let unit = claim.unit.to_vec();
	let candidate = claim.input.payload_root;
	let evaluate = Job::EvaluateClaim { at, unit: unit.clone(), candidate };
	let replay = Job::ReplayClaim {
		at,
		unit,
		candidate,
		manifest: claim.input.manifest_root,
		datasets: claim.input.datasets.iter().map(|s| (s.dataset, s.ratio_ppm)).collect(),
		segments: segments.to_vec(),
	};
	(evaluate, replay)
}

/// The report made of the two finished jobs' outputs, or `None` if an output is of the wrong
/// kind.
pub fn report_of(evaluate: &JobOutput, replay: &JobOutput) -> Option<EvalReport> {
	let (JobOutput::Losses { parent, candidate }, JobOutput::Replay { outcome, digest }) =
		(evaluate, replay)
	else {
		return None;
	};
	let replay = match outcome {
		ReplayOutcome::Match => ReplayVerdict::Match,
		ReplayOutcome::Mismatch => ReplayVerdict::Mismatch,
		ReplayOutcome::Unavailable => ReplayVerdict::Unavailable,
	};
	Some(EvalReport {
		parent_loss: *parent,
		candidate_loss: *candidate,
		replay,
		replay_digest: *digest,
	})
}

/// One run of the validators' worker at block `now`.
pub fn run<T: Config>(now: BlockNumberFor<T>) {
	let validators: Vec<Account<T>> = Signer::<T, T::AuthorityId>::keystore_accounts()
		.filter(|a| T::Validators::is_validator(&a.id))
		.collect();
	if validators.is_empty() {
		return;
	}
	let mut lock = StorageLock::<Time>::with_deadline(LOCK_KEY, Duration::from_millis(LOCK_MILLIS));
	let Ok(_guard) = lock.try_lock() else {
		log::debug!(target: LOG_TARGET, "another run holds the worker lock");
		return;
	};
	let next = NextClaimId::<T>::get();
	for id in (next.saturating_sub(SCAN_CLAIMS)..next).rev() {
		let Some(claim) = Claims::<T>::get(id) else { continue };
		if now > claim.deadline {
			break;
		}
		work_on::<T>(id, &claim, &validators, now.unique_saturated_into());
	}
}

/// Advances the worker's state of one claim that takes reports.
fn work_on<T: Config>(id: ClaimId, claim: &Claim<T>, validators: &[Account<T>], now: u32) {
	let key = claim_key(id);
	let store = StorageValueRef::persistent(&key);
	let mut state = match store.get::<WorkerClaim>() {
		Ok(Some(state)) => state,
		// Only a claim in `Evaluating` still shows its challenged segments.
		_ => match &claim.stage {
			ClaimStage::Evaluating { segments } => {
				WorkerClaim { segments: segments.to_vec(), sent_at: None }
			},
			_ => return,
		},
	};

	let pending: Vec<&Account<T>> = {
		let reports = Reports::<T>::get(id);
		validators.iter().filter(|a| !reports.iter().any(|(v, _)| *v == a.id)).collect()
	};
	if pending.is_empty() {
		return;
	}
	if state.sent_at.is_some_and(|sent| now < sent.saturating_add(RESEND_AFTER)) {
		return;
	}

	// Queues the jobs on first sight (and again after a node restart); idempotent.
	let (evaluate, replay) = jobs_of::<T>(claim, &state.segments);
	let (evaluate, replay) = (job_status(evaluate), job_status(replay));
	let report = match (&evaluate, &replay) {
		(JobStatus::Done(e), JobStatus::Done(r)) => match report_of(e, r) {
			Some(report) => report,
			None => {
				log::error!(target: LOG_TARGET, "claim {id}: engine returned outputs of the wrong kind");
				return;
			},
		},
		(JobStatus::Unavailable, _) | (_, JobStatus::Unavailable) => {
			log::warn!(target: LOG_TARGET, "claim {id}: no engine on this node, cannot evaluate");
			return;
		},
		(JobStatus::Failed(why), _) | (_, JobStatus::Failed(why)) => {
			log::warn!(
				target: LOG_TARGET,
				"claim {id}: engine job failed, abstaining: {}",
				core::str::from_utf8(why).unwrap_or("(not UTF-8)")
			);
			return;
		},
		_ => {
			if store.get::<WorkerClaim>() != Ok(Some(state.clone())) {
				log::info!(
					target: LOG_TARGET,
					"claim {id}: evaluation and replay of segments {:?} queued",
					state.segments
				);
				store.set(&state);
			}
			return;
		},
	};

	let keys = pending.iter().map(|a| a.public.clone()).collect();
	let sent = Signer::<T, T::AuthorityId>::all_accounts()
		.with_filter(keys)
		.send_signed_transaction(|_| Call::submit_report { claim: id, report });
	for (account, result) in &sent {
		match result {
			Ok(()) => {
				log::info!(target: LOG_TARGET, "claim {id}: report sent by {:?}: {report:?}", account.id)
			},
			Err(()) => {
				log::warn!(target: LOG_TARGET, "claim {id}: the pool refused the report of {:?}", account.id)
			},
		}
	}
	state.sent_at = Some(now);
	store.set(&state);
}
