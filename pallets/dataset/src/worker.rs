//! # The auditors' off-chain worker
//!
//! Runs after every imported block (`offchain_worker`) on nodes whose keystore holds a Blyan
//! worker key (`pallet_pol::crypto`, key type `blyn`) of an account in `Config::Auditors` (the
//! validators). For each dataset in `AutoAudit` among the newest [`SCAN_DATASETS`] it:
//!
//! 1. queues the L0 pre-filter (SPEC "Chain D") on the node's engine through the
//!    `blyan_engine` host functions: [`Job::AuditDataset`] reads the record and its published
//!    text at the block the worker runs on, and measures toxicity, duplicates, PII and the
//!    English share;
//! 2. polls it in later runs (the job runs on the node's engine threads, never in this worker);
//! 3. once done, sends one signed [`Call::report_audit`] from its first auditor key with the
//!    figures as a [`QualityReport`] and whether the licence is in [`KNOWN_LICENCES`]. The
//!    pallet then applies the auto-reject rules or opens the community vote.
//!
//! Off-chain storage keeps, per dataset, the block at which the job was queued (so every run
//! asks the engine about the same job) and when the report was sent (`blyan/dataset/audit/<id>`,
//! [`AuditState`]); a report that did not reach the chain is sent again [`RESEND_AFTER`] blocks
//! later. A [`StorageLock`] (`blyan/dataset/lock`) keeps overlapping runs apart.
//!
//! Every auditor's worker reports; the first report included decides and the others fail with
//! `NotInAudit` (their fees are the price of not depending on one auditor being online).

use crate::{
	licence_known, Call, Config, Datasets, NextDatasetId, QualityReport, Stage, KNOWN_LICENCES,
};
use alloc::vec::Vec;
use blyan_engine_interface::{job_status, AuditFigures, Job, JobOutput, JobStatus};
use blyan_primitives::DatasetId;
use codec::{Decode, Encode};
use frame_support::traits::Contains;
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
pub const LOG_TARGET: &str = "runtime::dataset::worker";

/// Datasets looked at per run, newest first.
pub const SCAN_DATASETS: DatasetId = 256;

/// Blocks after sending a report before sending it again if the dataset is still in
/// `AutoAudit`.
pub const RESEND_AFTER: u32 = 5;

/// Longest time a run holds the worker lock, milliseconds.
pub const LOCK_MILLIS: u64 = 20_000;

/// Key of the worker lock in off-chain storage.
pub const LOCK_KEY: &[u8] = b"blyan/dataset/lock";

/// What the worker knows of a dataset's audit, in off-chain storage (SCALE).
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
pub struct AuditState {
	/// Block whose state the audit job reads.
	pub at: u32,
	/// Block at which the report was last sent, if ever.
	pub sent_at: Option<u32>,
}

/// Off-chain storage key of a dataset's [`AuditState`].
pub fn audit_key(id: DatasetId) -> Vec<u8> {
	let mut key = b"blyan/dataset/audit/".to_vec();
	key.extend_from_slice(&id.to_le_bytes());
	key
}

/// The quality report of the engine's audit figures (`out_of_range_permille` is not part of
/// the on-chain report).
pub fn quality_report(f: &AuditFigures) -> QualityReport {
	QualityReport {
		toxicity_permille: f.toxicity_permille,
		duplicate_permille: f.duplicate_permille,
		pii_permille: f.pii_permille,
		english_permille: f.english_permille,
	}
}

/// One run of the auditors' worker at block `now`.
pub fn run<T: Config>(now: BlockNumberFor<T>) {
	let Some(auditor) =
		Signer::<T, T::AuthorityId>::keystore_accounts().find(|a| T::Auditors::contains(&a.id))
	else {
		return;
	};
	let mut lock = StorageLock::<Time>::with_deadline(LOCK_KEY, Duration::from_millis(LOCK_MILLIS));
	let Ok(_guard) = lock.try_lock() else {
		log::debug!(target: LOG_TARGET, "another run holds the worker lock");
		return;
	};
	let now: u32 = now.unique_saturated_into();
	let next = NextDatasetId::<T>::get();
	for id in (next.saturating_sub(SCAN_DATASETS)..next).rev() {
		let Some(record) = Datasets::<T>::get(id) else { continue };
		if record.stage == Stage::AutoAudit {
			audit::<T>(id, &record.licence, &auditor, now);
		}
	}
}

/// Advances the audit of one dataset in `AutoAudit`.
fn audit<T: Config>(id: DatasetId, licence: &[u8], auditor: &Account<T>, now: u32) {
	let key = audit_key(id);
	let store = StorageValueRef::persistent(&key);
	let mut state = match store.get::<AuditState>() {
		Ok(Some(state)) => state,
		_ => AuditState { at: now, sent_at: None },
	};
	if state.sent_at.is_some_and(|sent| now < sent.saturating_add(RESEND_AFTER)) {
		return;
	}
	let figures = match job_status(Job::AuditDataset { at: state.at, dataset: id }) {
		JobStatus::Done(JobOutput::Audit(figures)) => figures,
		JobStatus::Done(_) => {
			log::error!(target: LOG_TARGET, "dataset {id}: engine returned an output of the wrong kind");
			return;
		},
		JobStatus::Unavailable => {
			log::warn!(target: LOG_TARGET, "dataset {id}: no engine on this node, cannot audit");
			return;
		},
		JobStatus::Failed(why) => {
			log::warn!(
				target: LOG_TARGET,
				"dataset {id}: audit failed, not reporting: {}",
				core::str::from_utf8(&why).unwrap_or("(not UTF-8)")
			);
			return;
		},
		_ => {
			if store.get::<AuditState>() != Ok(Some(state.clone())) {
				log::info!(target: LOG_TARGET, "dataset {id}: L0 audit queued");
				store.set(&state);
			}
			return;
		},
	};
	let report = quality_report(&figures);
	let known = licence_known(licence);
	if !known {
		log::info!(
			target: LOG_TARGET,
			"dataset {id}: licence is not one of the {} known SPDX ids",
			KNOWN_LICENCES.len()
		);
	}
	let sent = Signer::<T, T::AuthorityId>::any_account()
		.with_filter(alloc::vec![auditor.public.clone()])
		.send_signed_transaction(|_| Call::report_audit { id, report, licence_known: known });
	match sent {
		Some((_, Ok(()))) => {
			log::info!(target: LOG_TARGET, "dataset {id}: audit report sent: {report:?}, licence known: {known}")
		},
		_ => log::warn!(target: LOG_TARGET, "dataset {id}: the pool refused the audit report"),
	}
	state.sent_at = Some(now);
	store.set(&state);
}
