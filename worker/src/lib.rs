//! # Off-chain worker scaffolding
//!
//! What every Blyan off-chain worker (the auditors' in pallet-dataset, the validators' in
//! pallet-pol, the trainer's in pallet-trainer) does the same way, written once:
//!
//! - [`with_lock`]: one run at a time. Workers run after every imported block, on a thread
//!   pool, with no timeout, so runs overlap; a persistent [`StorageLock`] under a key that
//!   starts with the pallet's name keeps a second run from sending the same transaction.
//! - [`load`] / [`store`]: typed state in the node's persistent off-chain database, which
//!   survives restarts.
//! - [`Resend`]: a transaction that did not reach the chain (dropped, or its nonce taken by
//!   another transaction of the same account) is sent again [`RESEND_AFTER`] blocks later.
//! - [`poll`]: an engine job's status as the worker acts on it; submitting a job is
//!   idempotent, so polling also queues jobs a restarted node forgot.
//! - [`keys`] and [`send`]: the node's Blyan worker keys, and one signed transaction from a
//!   chosen key, logged.

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

extern crate alloc;

use alloc::{string::String, vec::Vec};
use blyan_engine_interface::{job_status, Job, JobOutput, JobStatus};
use codec::{Decode, Encode};
use frame_system::offchain::{
	Account, AppCrypto, CreateSignedTransaction, SendSignedTransaction, Signer, SigningTypes,
};
use sp_runtime::offchain::{
	storage::StorageValueRef,
	storage_lock::{StorageLock, Time},
	Duration,
};

/// Blocks after sending before a transaction that did not take effect is sent again.
pub const RESEND_AFTER: u32 = 5;

/// Longest time a run holds a worker's lock, milliseconds. A run that crashed releases it
/// after this long.
pub const LOCK_MILLIS: u64 = 20_000;

/// Runs `f` holding the worker lock `key` (persistent off-chain storage, released when `f`
/// returns or after [`LOCK_MILLIS`]); `None` without running `f` when another run holds it.
pub fn with_lock<R>(key: &[u8], f: impl FnOnce() -> R) -> Option<R> {
	let mut lock = StorageLock::<Time>::with_deadline(key, Duration::from_millis(LOCK_MILLIS));
	let _guard = lock.try_lock().ok()?;
	Some(f())
}

/// The value stored under `key` in persistent off-chain storage, if any and decodable.
pub fn load<V: Decode>(key: &[u8]) -> Option<V> {
	StorageValueRef::persistent(key).get::<V>().ok().flatten()
}

/// Stores `value` under `key` in persistent off-chain storage.
pub fn store<V: Encode>(key: &[u8], value: &V) {
	StorageValueRef::persistent(key).set(value);
}

/// Removes `key` from persistent off-chain storage.
pub fn clear(key: &[u8]) {
	StorageValueRef::persistent(key).clear();
}

/// A storage key: `prefix` followed by the little-endian bytes of `id`.
pub fn key_of(prefix: &[u8], id: u64) -> Vec<u8> {
	let mut key = prefix.to_vec();
	key.extend_from_slice(&id.to_le_bytes());
	key
}

/// When a transaction was last sent, for resending.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Encode, Decode)]
pub struct Resend {
	/// Block at which it was last sent, if ever.
	pub sent_at: Option<u32>,
}

impl Resend {
	/// Whether to send at block `now`: never sent, or sent at least [`RESEND_AFTER`] blocks
	/// ago.
	pub fn due(&self, now: u32) -> bool {
		self.sent_at.is_none_or(|s| now >= s.saturating_add(RESEND_AFTER))
	}

	/// Records a send at block `now`.
	pub fn mark(&mut self, now: u32) {
		self.sent_at = Some(now);
	}
}

/// An engine job as a worker acts on it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Poll {
	/// Finished with this output.
	Ready(JobOutput),
	/// Queued or running (or just queued by this call).
	Pending,
	/// Failed; the engine's reason.
	Failed(String),
	/// This node has no engine (or the call did not come from an off-chain worker).
	NoEngine,
}

/// Where `job` stands, queueing it if the engine does not know it
/// (`blyan_engine_interface::job_status`).
pub fn poll(job: Job) -> Poll {
	match job_status(job) {
		JobStatus::Done(out) => Poll::Ready(out),
		JobStatus::Failed(why) => Poll::Failed(String::from_utf8_lossy(&why).into()),
		JobStatus::Unavailable => Poll::NoEngine,
		JobStatus::Unknown | JobStatus::Queued | JobStatus::Running { .. } => Poll::Pending,
	}
}

/// The node's Blyan worker keys (key type `A`), in keystore order.
pub fn keys<T: SigningTypes, A: AppCrypto<T::Public, T::Signature>>() -> Vec<Account<T>> {
	Signer::<T, A>::keystore_accounts().collect()
}

/// Sends `call` signed by `account` alone. Logs the outcome under `target` with `what`
/// naming the transaction; returns whether the pool took it.
pub fn send<T, A, C>(target: &str, account: &Account<T>, what: &str, call: C) -> bool
where
	T: CreateSignedTransaction<C>,
	A: AppCrypto<T::Public, T::Signature>,
	C: Clone,
{
	let sent = Signer::<T, A>::any_account()
		.with_filter(alloc::vec![account.public.clone()])
		.send_signed_transaction(|_| call.clone());
	match sent {
		Some((_, Ok(()))) => {
			log::info!(target: target, "{what} sent by {:?}", account.id);
			true
		},
		_ => {
			log::warn!(target: target, "the pool refused {what} of {:?}", account.id);
			false
		},
	}
}
