//! # The validators' off-chain worker
//!
//! Runs after every imported block (`offchain_worker`) on nodes whose keystore holds a Blyan
//! worker key ([`crate::crypto`]) of an active validator. For each claim whose challenge is
//! drawn and whose reveal window has not passed (SPEC "Proof-of-Learning"):
//!
//! 1. **Replay.** It queues [`Job::ReplayClaim`] on the node's engine through the
//!    `blyan_engine` host functions: the engine checks that the manifest is bound to the
//!    claim (trainer, units and their parents at the base block, datasets, training
//!    parameters within the limits, results = last checkpoint) and replays the challenged
//!    segments.
//! 2. **Evaluate** only a claim that replays (`Match`): [`Job::EvaluateClaim`] with the
//!    claim's evaluation record reads the trainer's per-window losses of the model at the
//!    claim's base block and of the same model with the claim's candidates, recomputes the
//!    windows drawn from the claim's seed, and gives the record's totals when they agree
//!    (`EvaluationMismatch` when not). A claim that does not replay, or whose record does not
//!    check, is reported with losses 0: its verdict already rejects it, and every honest
//!    validator skips the same work, so their reports stay identical.
//! 3. **Commit.** Up to the claim's `commit_until`, one signed [`Call::commit_report`] per
//!    local validator key other than the trainer's, with
//!    `report_commitment(claim, account, report, salt)` and a fresh random salt per key.
//! 4. **Reveal.** After `commit_until`, up to `reveal_until`, one signed
//!    [`Call::reveal_report`] per key that committed.
//!
//! Jobs never block this worker: later runs poll them (`blyan_worker::poll`). The report and
//! the salts live in off-chain storage under `blyan/pol/claim/<id>` ([`WorkerClaim`]), which
//! survives a restart, so a validator that committed before a restart still reveals. A job the
//! engine reports as failed (a local problem, such as state pruned at the pinned block) is not
//! reported on: the validator abstains rather than commit to numbers it did not compute.
//! Commitments and reveals that did not reach the chain are sent again
//! `blyan_worker::RESEND_AFTER` blocks later.

use crate::{
	report_commitment, Call, Claim, ClaimId, ClaimStage, Claims, Commitments, Config, EvalReport,
	NextClaimId, ReplayVerdict, Reports, Validators,
};
use alloc::vec::Vec;
use blyan_engine_interface::{EvalCheck, Job, JobOutput, UnitPayload};
use blyan_primitives::Hash;
use blyan_worker::{Poll, Resend};
use codec::{Decode, Encode};
use frame_support::traits::Get;
use frame_system::{offchain::Account, pallet_prelude::BlockNumberFor};
use sp_runtime::traits::UniqueSaturatedInto;

/// Log target of the worker.
pub const LOG_TARGET: &str = "runtime::pol::worker";

/// Claims looked at per run, newest first. Every one of them is looked at: a claim whose
/// validators all committed early has its reveal window moved forward
/// (`CommitmentsComplete`), so a newer claim's window may end before an older one's.
pub const SCAN_CLAIMS: u64 = 64;

/// Key of the worker lock in off-chain storage.
pub const LOCK_KEY: &[u8] = b"blyan/pol/lock";

/// Prefix of the per-claim state keys.
pub const CLAIM_PREFIX: &[u8] = b"blyan/pol/claim/";

/// What the worker knows of a claim, in off-chain storage (SCALE).
#[derive(Clone, PartialEq, Eq, Debug, Default, Encode, Decode)]
pub struct WorkerClaim {
	/// The report, once the engine jobs finished.
	pub report: Option<EvalReport>,
	/// Salt of each local key that committed: (SCALE of the account, salt).
	pub salts: Vec<(Vec<u8>, Hash)>,
	/// When commitments were last sent.
	pub commit: Resend,
	/// When reveals were last sent.
	pub reveal: Resend,
}

/// Off-chain storage key of a claim's [`WorkerClaim`].
pub fn claim_key(id: ClaimId) -> Vec<u8> {
	blyan_worker::key_of(CLAIM_PREFIX, id)
}

/// The claim's units and candidate payloads, in claim order, as the engine's jobs name them.
pub fn unit_payloads<T: Config>(claim: &Claim<T>) -> Vec<UnitPayload> {
	claim
		.blocks
		.iter()
		.zip(claim.input.units.iter())
		.map(|(b, u)| (b.unit.to_vec(), u.payload_root))
		.collect()
}

/// The replay job of a claim: read at the claim's base block, where `ParamIndex` still names
/// the trained units' parents, with the pallet's manifest limits.
pub fn replay_job<T: Config>(claim: &Claim<T>) -> Job {
	Job::ReplayClaim {
		at: claim.input.base,
		trainer: claim.trainer.encode(),
		units: unit_payloads(claim),
		manifest: claim.input.manifest_root,
		datasets: claim.input.datasets.to_vec(),
		params: claim.input.params,
		segments: claim.segments.to_vec(),
		limits: T::ManifestLimits::get(),
	}
}

/// The evaluation job of claim `id`: the model accepted at the claim's base block, without and
/// with the claim's candidates (docs/pol.md, "What a candidate is evaluated against"), on the
/// windows of the trainer's evaluation record drawn from the claim's seed (docs/pol.md,
/// "Verification by sampled windows").
pub fn evaluate_job<T: Config>(id: ClaimId, claim: &Claim<T>) -> Job {
	Job::EvaluateClaim {
		at: claim.input.base,
		units: unit_payloads(claim),
		check: Some(EvalCheck { record: claim.input.eval_root, seed: claim.seed, claim: id }),
	}
}

/// One run of the validators' worker at block `now`.
pub fn run<T: Config>(now: BlockNumberFor<T>) {
	let validators: Vec<Account<T>> = blyan_worker::keys::<T, T::AuthorityId>()
		.into_iter()
		.filter(|a| T::Validators::is_validator(&a.id))
		.collect();
	if validators.is_empty() {
		return;
	}
	let ran = blyan_worker::with_lock(LOCK_KEY, || {
		let now: u32 = now.unique_saturated_into();
		let next = NextClaimId::<T>::get();
		for id in (next.saturating_sub(SCAN_CLAIMS)..next).rev() {
			let Some(claim) = Claims::<T>::get(id) else { continue };
			if now > claim.reveal_until.unique_saturated_into() {
				continue;
			}
			if claim.stage != ClaimStage::AwaitingChallenge {
				work_on::<T>(id, &claim, &validators, now);
			}
		}
	});
	if ran.is_none() {
		log::debug!(target: LOG_TARGET, "another run holds the worker lock");
	}
}

/// The report of a claim once the engine is done: `Ok(Some)` ready, `Ok(None)` pending,
/// `Err` to abstain (logged).
fn report_of<T: Config>(id: ClaimId, claim: &Claim<T>) -> Result<Option<EvalReport>, ()> {
	let abstain = |what: &str, why: &str| {
		log::warn!(target: LOG_TARGET, "claim {id}: {what}, abstaining: {why}");
		Err(())
	};
	let (verdict, digest) = match blyan_worker::poll(replay_job::<T>(claim)) {
		Poll::Ready(JobOutput::Replay { verdict, digest }) => (verdict, digest),
		Poll::Ready(other) => {
			return abstain("replay returned another output", &alloc::format!("{other:?}"))
		},
		Poll::Pending => return Ok(None),
		Poll::Failed(why) => return abstain("replay failed", &why),
		Poll::NoEngine => return abstain("no engine on this node", ""),
	};
	if verdict != ReplayVerdict::Match {
		return Ok(Some(EvalReport {
			parent_loss: 0,
			candidate_loss: 0,
			replay: verdict,
			replay_digest: [0; 32],
		}));
	}
	match blyan_worker::poll(evaluate_job::<T>(id, claim)) {
		Poll::Ready(JobOutput::Losses { parent, candidate, verdict, .. }) => {
			Ok(Some(if verdict == ReplayVerdict::Match {
				EvalReport {
					parent_loss: parent,
					candidate_loss: candidate,
					replay: verdict,
					replay_digest: digest,
				}
			} else {
				// A record that is missing, does not fit, or differs at a checked window:
				// reported like a failed replay, with losses 0.
				EvalReport {
					parent_loss: 0,
					candidate_loss: 0,
					replay: verdict,
					replay_digest: [0; 32],
				}
			}))
		},
		Poll::Ready(other) => {
			abstain("evaluation returned another output", &alloc::format!("{other:?}"))
		},
		Poll::Pending => Ok(None),
		Poll::Failed(why) => abstain("evaluation failed", &why),
		Poll::NoEngine => abstain("no engine on this node", ""),
	}
}

/// A fresh salt for `account`'s commitment on claim `id`: the node's off-chain randomness,
/// hashed with the claim and the account.
fn fresh_salt(id: ClaimId, account: &[u8]) -> Hash {
	let seed = sp_io::offchain::random_seed();
	sp_io::hashing::blake2_256(&(seed, id, account).encode())
}

/// Advances the worker's state of one claim with a drawn challenge.
fn work_on<T: Config>(id: ClaimId, claim: &Claim<T>, validators: &[Account<T>], now: u32) {
	let commit_until: u32 = claim.commit_until.unique_saturated_into();
	let reveals = Reports::<T>::get(id);
	let eligible = validators.iter().filter(|a| a.id != claim.trainer);
	let (to_commit, to_reveal): (Vec<&Account<T>>, Vec<&Account<T>>) = if now <= commit_until {
		if claim.stage != ClaimStage::Evaluating {
			return;
		}
		(eligible.filter(|a| !Commitments::<T>::contains_key(id, &a.id)).collect(), Vec::new())
	} else {
		let pending = eligible
			.filter(|a| {
				Commitments::<T>::contains_key(id, &a.id)
					&& !reveals.iter().any(|(v, _)| *v == a.id)
			})
			.collect();
		(Vec::new(), pending)
	};
	if to_commit.is_empty() && to_reveal.is_empty() {
		return;
	}
	let key = claim_key(id);
	let before: WorkerClaim = blyan_worker::load(&key).unwrap_or_default();
	let mut state = before.clone();

	if !to_commit.is_empty() && state.commit.due(now) {
		let report = match state.report {
			Some(r) => r,
			None => match report_of::<T>(id, claim) {
				Ok(Some(r)) => {
					log::info!(target: LOG_TARGET, "claim {id}: report ready: {r:?}");
					state.report = Some(r);
					r
				},
				Ok(None) => return,
				Err(()) => return,
			},
		};
		for account in to_commit {
			let who = account.id.encode();
			let salt = match state.salts.iter().find(|(a, _)| *a == who) {
				Some((_, salt)) => *salt,
				None => {
					let salt = fresh_salt(id, &who);
					state.salts.push((who.clone(), salt));
					salt
				},
			};
			let commitment = report_commitment(id, &account.id, &report, &salt);
			// The salt is stored before the commitment leaves: a restart in between must not
			// lose what opens it.
			blyan_worker::store(&key, &state);
			blyan_worker::send::<T, T::AuthorityId, _>(
				LOG_TARGET,
				account,
				&alloc::format!("claim {id}: commitment"),
				Call::<T>::commit_report { claim: id, commitment },
			);
		}
		state.commit.mark(now);
	}

	if !to_reveal.is_empty() && state.reveal.due(now) {
		let Some(report) = state.report else {
			log::warn!(target: LOG_TARGET, "claim {id}: committed, but the report is lost");
			return;
		};
		for account in to_reveal {
			let who = account.id.encode();
			let Some((_, salt)) = state.salts.iter().find(|(a, _)| *a == who) else {
				log::warn!(target: LOG_TARGET, "claim {id}: no salt for {:?}", account.id);
				continue;
			};
			blyan_worker::send::<T, T::AuthorityId, _>(
				LOG_TARGET,
				account,
				&alloc::format!("claim {id}: reveal"),
				Call::<T>::reveal_report { claim: id, report, salt: *salt },
			);
		}
		state.reveal.mark(now);
	}
	if state != before {
		blyan_worker::store(&key, &state);
	}
}
