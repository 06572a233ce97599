//! # The auditors' off-chain worker
//!
//! Runs after every imported block (`offchain_worker`) on nodes whose keystore holds a Blyan
//! worker key (`pallet_pol::crypto`, key type `blyn`) of an account in `Config::Auditors` (the
//! validators). For each dataset in `AutoAudit` among the newest [`SCAN_DATASETS`] it:
//!
//! 1. queues the L0 pre-filter (SPEC "Chain D") on the node's engine through the
//!    `blyan_engine` host functions: [`Job::AuditDataset`] reads the record and its published
//!    text at the block the worker first saw it, and measures toxicity, duplicates, PII, the
//!    English share and the samples shared with the spec's validation set;
//! 2. polls it in later runs (`blyan_worker::poll`; the job runs on the node's engine threads,
//!    never in this worker);
//! 3. once done, sends one signed [`Call::report_audit`] from its first auditor key with the
//!    figures. The pallet checks the licence itself and applies the auto-reject rules or opens
//!    the community vote.
//!
//! Off-chain storage keeps, per dataset, the block at which the job was queued (so every run
//! asks the engine about the same job) and when the report was sent
//! (`blyan/dataset/audit/<id>`, [`AuditState`]); a report that did not reach the chain is sent
//! again `blyan_worker::RESEND_AFTER` blocks later. One run at a time
//! (`blyan_worker::with_lock`, `blyan/dataset/lock`).
//!
//! Every auditor's worker reports; the first report included decides and the others fail with
//! `NotInAudit` (their fees are the price of not depending on one auditor being online).

use crate::{Call, Config, Datasets, NextDatasetId, Stage};
use alloc::vec::Vec;
use blyan_engine_interface::{Job, JobOutput};
use blyan_primitives::DatasetId;
use blyan_worker::{Poll, Resend};
use codec::{Decode, Encode};
use frame_support::traits::Contains;
use frame_system::{offchain::Account, pallet_prelude::BlockNumberFor};
use sp_runtime::traits::UniqueSaturatedInto;

/// Log target of the worker.
pub const LOG_TARGET: &str = "runtime::dataset::worker";

/// Datasets looked at per run, newest first.
pub const SCAN_DATASETS: DatasetId = 256;

/// Key of the worker lock in off-chain storage.
pub const LOCK_KEY: &[u8] = b"blyan/dataset/lock";

/// Prefix of the per-dataset state keys.
pub const AUDIT_PREFIX: &[u8] = b"blyan/dataset/audit/";

/// What the worker knows of a dataset's audit, in off-chain storage (SCALE).
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
pub struct AuditState {
	/// Block whose state the audit job reads.
	pub at: u32,
	/// When the report was last sent.
	pub sent: Resend,
}

/// Off-chain storage key of a dataset's [`AuditState`].
pub fn audit_key(id: DatasetId) -> Vec<u8> {
	blyan_worker::key_of(AUDIT_PREFIX, u64::from(id))
}

/// One run of the auditors' worker at block `now`.
pub fn run<T: Config>(now: BlockNumberFor<T>) {
	let Some(auditor) = blyan_worker::keys::<T, T::AuthorityId>()
		.into_iter()
		.find(|a| T::Auditors::contains(&a.id))
	else {
		return;
	};
	let ran = blyan_worker::with_lock(LOCK_KEY, || {
		let now: u32 = now.unique_saturated_into();
		let next = NextDatasetId::<T>::get();
		for id in (next.saturating_sub(SCAN_DATASETS)..next).rev() {
			if Datasets::<T>::get(id).is_some_and(|r| r.stage == Stage::AutoAudit) {
				audit::<T>(id, &auditor, now);
			}
		}
	});
	if ran.is_none() {
		log::debug!(target: LOG_TARGET, "another run holds the worker lock");
	}
}

/// Advances the audit of one dataset in `AutoAudit`.
fn audit<T: Config>(id: DatasetId, auditor: &Account<T>, now: u32) {
	let key = audit_key(id);
	let stored: Option<AuditState> = blyan_worker::load(&key);
	let mut state = stored.clone().unwrap_or(AuditState { at: now, sent: Resend::default() });
	if !state.sent.due(now) {
		return;
	}
	let report = match blyan_worker::poll(Job::AuditDataset { at: state.at, dataset: id }) {
		Poll::Ready(JobOutput::Audit(figures)) => figures,
		Poll::Ready(_) => {
			log::error!(target: LOG_TARGET, "dataset {id}: engine returned an output of the wrong kind");
			return;
		},
		Poll::NoEngine => {
			log::warn!(target: LOG_TARGET, "dataset {id}: no engine on this node, cannot audit");
			return;
		},
		Poll::Failed(why) => {
			log::warn!(target: LOG_TARGET, "dataset {id}: audit failed, not reporting: {why}");
			return;
		},
		Poll::Pending => {
			if stored.is_none() {
				log::info!(target: LOG_TARGET, "dataset {id}: L0 audit queued");
				blyan_worker::store(&key, &state);
			}
			return;
		},
	};
	blyan_worker::send::<T, T::AuthorityId, _>(
		LOG_TARGET,
		auditor,
		&alloc::format!("dataset {id}: audit report {report:?}"),
		Call::<T>::report_audit { id, report },
	);
	state.sent.mark(now);
	blyan_worker::store(&key, &state);
}
