//! The trainer's off-chain worker: one training cycle as a state machine kept in the
//! off-chain database (`blyan/trainer/state`, [`TrainerState`]), advanced by every worker run
//! (see the crate docs for the cycle). A [`StorageLock`] (`blyan/trainer/lock`) keeps
//! overlapping runs apart.
//!
//! Transactions are signed with the node's first Blyan worker key. Payloads are published in
//! one run (several transactions; the nonce is counted up within the run) and sent again
//! [`RESEND_AFTER`] blocks later for whatever has not reached the chain.

use crate::{mixing_ratios, Config, TrainableUnits, TrainingData, ENABLED_KEY};
use alloc::vec::Vec;
use blyan_engine_interface::{blyan_engine, job_status, Hash, Job, JobOutput, JobStatus};
use blyan_primitives::{merkle_root, tile_hash, ContentStore};
use codec::{Decode, Encode};
use frame_support::traits::Get;
use frame_system::{
	offchain::{Account, SendSignedTransaction, Signer},
	pallet_prelude::BlockNumberFor,
};
use pallet_pol::{ClaimId, ClaimInput, ClaimStage, DatasetShare, ParamDag};
use sp_runtime::{
	offchain::{
		storage::StorageValueRef,
		storage_lock::{StorageLock, Time},
		Duration,
	},
	traits::UniqueSaturatedInto,
	BoundedVec,
};

/// Log target of the worker.
pub const LOG_TARGET: &str = "runtime::trainer";

/// Off-chain database key of the [`TrainerState`].
pub const STATE_KEY: &[u8] = b"blyan/trainer/state";

/// Key of the worker lock.
pub const LOCK_KEY: &[u8] = b"blyan/trainer/lock";

/// Longest time a run holds the lock, milliseconds.
pub const LOCK_MILLIS: u64 = 20_000;

/// Blocks before publications or a claim that did not reach the chain are sent again.
pub const RESEND_AFTER: u32 = 5;

/// Blocks after sending a claim before the trainer gives up looking for it on chain.
pub const CLAIM_TIMEOUT: u32 = 20;

/// Claims scanned (newest first) to find the trainer's own.
pub const SCAN_CLAIMS: u64 = 64;

/// A finished training run, as the trainer claims it.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
pub struct Run {
	/// Unit name.
	pub unit: Vec<u8>,
	/// Parent block (the unit's accepted block when training started).
	pub parent: Hash,
	/// [`model_fingerprint`] when training started.
	pub model: Hash,
	/// Datasets and ratios (ppm).
	pub datasets: Vec<(u32, u32)>,
	/// Payload root of the trained unit.
	pub payload: Hash,
	/// Payload root of the PoDL manifest.
	pub manifest: Hash,
	/// Training segments.
	pub segments: u32,
	/// The parent's validation loss, nano-nats per byte.
	pub parent_loss: u64,
	/// The trained model's validation loss, nano-nats per byte.
	pub loss: u64,
	/// Checkpoint payload roots.
	pub checkpoints: Vec<Hash>,
}

/// Where the trainer stands.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
pub enum Phase {
	/// Nothing under way: the next run starts a training job.
	Idle,
	/// The engine trains `job` from `parent`.
	Training {
		/// The `Job::Train` submitted.
		job: Job,
		/// Parent block.
		parent: Hash,
		/// [`model_fingerprint`] at the start.
		model: Hash,
	},
	/// Publishing the unit and the manifest; then the claim.
	Publishing {
		/// The run.
		run: Run,
		/// When the publications were last sent.
		sent_at: Option<u32>,
	},
	/// The claim was sent at `sent_at`; waiting to see it on chain.
	Claiming {
		/// The run.
		run: Run,
		/// When the claim was sent.
		sent_at: u32,
	},
	/// The claim is on chain: answering its challenge, waiting for the decision.
	Claimed {
		/// The run.
		run: Run,
		/// Its claim.
		claim: ClaimId,
		/// When the challenged checkpoints were last sent.
		sent_at: Option<u32>,
	},
}

/// The trainer's state in the off-chain database.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
pub struct TrainerState {
	/// Round-robin position of the next unit.
	pub next_unit: u32,
	/// Current phase.
	pub phase: Phase,
}

/// Whether the node switched the trainer on ([`ENABLED_KEY`]).
pub fn enabled() -> bool {
	StorageValueRef::persistent(ENABLED_KEY)
		.get::<bool>()
		.ok()
		.flatten()
		.unwrap_or(false)
}

/// The trainer's state (idle at unit 0 when none is stored).
pub fn state() -> TrainerState {
	StorageValueRef::persistent(STATE_KEY)
		.get::<TrainerState>()
		.ok()
		.flatten()
		.unwrap_or(TrainerState { next_unit: 0, phase: Phase::Idle })
}

/// One run of the trainer's worker at block `now`.
pub fn run<T: Config>(now: BlockNumberFor<T>) {
	if !enabled() {
		return;
	}
	let Some(me) = Signer::<T, <T as pallet_pol::Config>::AuthorityId>::keystore_accounts().next()
	else {
		return;
	};
	let mut lock = StorageLock::<Time>::with_deadline(LOCK_KEY, Duration::from_millis(LOCK_MILLIS));
	let Ok(_guard) = lock.try_lock() else { return };
	let now: u32 = now.unique_saturated_into();
	let before = state();
	let mut st = before.clone();
	st.phase = step::<T>(&me, &mut st.next_unit, before.phase.clone(), now);
	if st != before {
		StorageValueRef::persistent(STATE_KEY).set(&st);
	}
}

/// Advances one phase; returns the next.
fn step<T: Config>(me: &Account<T>, next_unit: &mut u32, phase: Phase, now: u32) -> Phase {
	match phase {
		Phase::Idle => start::<T>(next_unit, now),
		Phase::Training { job, parent, model } => match job_status(job.clone()) {
			JobStatus::Done(JobOutput::Trained {
				payload,
				manifest,
				segments,
				parent_loss,
				loss,
				checkpoints,
			}) => {
				let Job::Train { unit, datasets, .. } = job else { return Phase::Idle };
				let gain = pallet_pol::improvement_ppm(parent_loss, loss);
				let min = <T as pallet_pol::Config>::MinImprovement::get();
				log::info!(
					target: LOG_TARGET,
					"trained {}: validation {parent_loss} -> {loss} nano-nats/byte ({gain} ppm, δ = {min} ppm)",
					core::str::from_utf8(&unit).unwrap_or("?"),
				);
				if gain < i64::from(min) {
					log::info!(target: LOG_TARGET, "not enough improvement to claim; next unit");
					return Phase::Idle;
				}
				let run = Run {
					unit,
					parent,
					model,
					datasets,
					payload,
					manifest,
					segments,
					parent_loss,
					loss,
					checkpoints,
				};
				publish_then_claim::<T>(me, run, None, now)
			},
			JobStatus::Failed(why) => {
				log::warn!(target: LOG_TARGET, "training failed: {}", core::str::from_utf8(&why).unwrap_or("?"));
				Phase::Idle
			},
			JobStatus::Unavailable => {
				log::warn!(target: LOG_TARGET, "no engine on this node: the trainer cannot run");
				Phase::Idle
			},
			JobStatus::Done(_) => Phase::Idle,
			_ => Phase::Training { job, parent, model },
		},
		Phase::Publishing { run, sent_at } => publish_then_claim::<T>(me, run, sent_at, now),
		Phase::Claiming { run, sent_at } => match find_claim::<T>(&me.id, &run.payload) {
			Some(claim) => {
				log::info!(target: LOG_TARGET, "claim {claim} is on chain");
				Phase::Claimed { run, claim, sent_at: None }
			},
			None if now > sent_at.saturating_add(CLAIM_TIMEOUT) => {
				log::warn!(target: LOG_TARGET, "the claim did not reach the chain; next unit");
				Phase::Idle
			},
			None => Phase::Claiming { run, sent_at },
		},
		Phase::Claimed { run, claim, sent_at } => {
			let Some(c) = pallet_pol::Claims::<T>::get(claim) else { return Phase::Idle };
			match c.stage {
				ClaimStage::AwaitingChallenge { .. } => Phase::Claimed { run, claim, sent_at },
				ClaimStage::Evaluating { segments } => {
					let needed: Vec<Hash> = segments
						.iter()
						.filter_map(|s| run.checkpoints.get(*s as usize).copied())
						.collect();
					// Without the checkpoints the replays come out unavailable; nothing else
					// to do then but wait for the decision.
					let sent_at = publish::<T>(me, &needed, sent_at, now).unwrap_or(sent_at);
					Phase::Claimed { run, claim, sent_at }
				},
				ClaimStage::Accepted { median_ppm } => {
					log::info!(target: LOG_TARGET, "claim {claim} accepted ({median_ppm} ppm)");
					Phase::Idle
				},
				ClaimStage::Rejected(reason) => {
					log::warn!(target: LOG_TARGET, "claim {claim} rejected: {reason:?}");
					Phase::Idle
				},
			}
		},
	}
}

/// Starts a training job on the next unit, if there is data to train on.
fn start<T: Config>(next_unit: &mut u32, now: u32) -> Phase {
	let units = T::Units::experts();
	let datasets = mixing_ratios(&T::Data::approved());
	let max = <T as pallet_pol::Config>::MaxDatasets::get() as usize;
	if units.is_empty() || datasets.is_empty() || datasets.len() > max {
		log::debug!(target: LOG_TARGET, "nothing to train: {} units, {} datasets", units.len(), datasets.len());
		return Phase::Idle;
	}
	let unit = units[(*next_unit as usize) % units.len()].clone();
	*next_unit = next_unit.wrapping_add(1);
	let Some(parent) = <T as pallet_pol::Config>::Dag::accepted(&unit) else { return Phase::Idle };
	let job = Job::Train {
		at: now,
		unit: unit.clone(),
		datasets,
		steps: T::Steps::get(),
		checkpoint_every: T::CheckpointEvery::get(),
		seed: u64::from(now),
	};
	if blyan_engine::submit(job.clone()).is_none() {
		return Phase::Idle;
	}
	log::info!(
		target: LOG_TARGET,
		"training {} for {} steps at #{now}",
		core::str::from_utf8(&unit).unwrap_or("?"),
		T::Steps::get()
	);
	Phase::Training { job, parent, model: model_fingerprint::<T>() }
}

/// blake2-256 of every expert unit's accepted block: validators evaluate and replay a claim
/// against the whole model accepted at the claim's block, so a claim trained before another
/// unit moved would not reproduce.
pub fn model_fingerprint<T: Config>() -> Hash {
	let accepted: Vec<Option<Hash>> = T::Units::experts()
		.iter()
		.map(|u| <T as pallet_pol::Config>::Dag::accepted(u))
		.collect();
	sp_io::hashing::blake2_256(&accepted.encode())
}

/// Publishes the run's unit and manifest; once both are on chain, sends the claim.
fn publish_then_claim<T: Config>(
	me: &Account<T>,
	run: Run,
	sent_at: Option<u32>,
	now: u32,
) -> Phase {
	if model_fingerprint::<T>() != run.model {
		log::info!(target: LOG_TARGET, "the model changed since training started; next unit");
		return Phase::Idle;
	}
	let roots = [run.payload, run.manifest];
	if !roots.iter().all(pallet_content_store::Pallet::<T>::has_payload) {
		return match publish::<T>(me, &roots, sent_at, now) {
			Ok(sent_at) => Phase::Publishing { run, sent_at },
			Err(()) => Phase::Idle,
		};
	}
	let Some(nonce) =
		<T as pallet_pol::Config>::Dag::solve_child_nonce(&me.id, &run.parent, &run.payload)
	else {
		log::warn!(target: LOG_TARGET, "no PoW nonce found for the child block");
		return Phase::Idle;
	};
	let datasets: Vec<DatasetShare> = run
		.datasets
		.iter()
		.map(|(dataset, ratio_ppm)| DatasetShare { dataset: *dataset, ratio_ppm: *ratio_ppm })
		.collect();
	let Ok(datasets) = BoundedVec::try_from(datasets) else { return Phase::Idle };
	let input = ClaimInput {
		parent: run.parent,
		payload_root: run.payload,
		manifest_root: run.manifest,
		datasets,
		segments: run.segments,
		claimed_loss: run.loss,
		nonce,
	};
	let bond = <T as pallet_pol::Config>::MinBond::get();
	let sent = Signer::<T, <T as pallet_pol::Config>::AuthorityId>::any_account()
		.with_filter(alloc::vec![me.public.clone()])
		.send_signed_transaction(|_| pallet_pol::Call::submit_claim { input: input.clone(), bond });
	match sent {
		Some((_, Ok(()))) => {
			log::info!(target: LOG_TARGET, "claim sent: loss {} nano-nats/byte", run.loss)
		},
		_ => log::warn!(target: LOG_TARGET, "the pool refused the claim"),
	}
	Phase::Claiming { run, sent_at: now }
}

/// Publishes the payloads among `roots` that are not on chain yet (tiles not yet stored,
/// then the manifest commit), unless they were sent less than [`RESEND_AFTER`] blocks ago.
/// Returns when they were last sent, or `Err` when the engine no longer holds a payload
/// (for example after a node restart) or it does not fit the content store.
fn publish<T: Config>(
	me: &Account<T>,
	roots: &[Hash],
	sent_at: Option<u32>,
	now: u32,
) -> Result<Option<u32>, ()> {
	let missing: Vec<Hash> = roots
		.iter()
		.filter(|r| !pallet_content_store::Pallet::<T>::has_payload(r))
		.copied()
		.collect();
	if missing.is_empty() || sent_at.is_some_and(|s| now < s.saturating_add(RESEND_AFTER)) {
		return Ok(sent_at);
	}
	let signer = Signer::<T, <T as pallet_pol::Config>::AuthorityId>::any_account()
		.with_filter(alloc::vec![me.public.clone()]);
	for root in missing {
		let mut tiles = Vec::new();
		let mut index = 0u32;
		while let Some(bytes) = blyan_engine::output_tile(root, index) {
			let hash = tile_hash(&bytes);
			tiles.push(hash);
			index = index.saturating_add(1);
			if pallet_content_store::Tiles::<T>::contains_key(hash) {
				continue;
			}
			let Ok(bytes) = pallet_content_store::TileBytesOf::<T>::try_from(bytes) else {
				log::error!(target: LOG_TARGET, "a tile is larger than MaxTileBytes");
				return Err(());
			};
			let _ = signer.send_signed_transaction(|_| pallet_content_store::Call::publish_tile {
				bytes: bytes.clone(),
			});
		}
		if tiles.is_empty() || merkle_root(&tiles) != root {
			log::warn!(
				target: LOG_TARGET,
				"payload {:02x?}… is no longer held by the engine; giving up on this run",
				&root[..4]
			);
			return Err(());
		}
		let Ok(tiles) = pallet_content_store::ManifestTilesOf::<T>::try_from(tiles) else {
			log::error!(target: LOG_TARGET, "a payload has more than MaxTilesPerManifest tiles");
			return Err(());
		};
		let _ = signer.send_signed_transaction(|_| pallet_content_store::Call::commit_manifest {
			tiles: tiles.clone(),
			root,
		});
		log::info!(target: LOG_TARGET, "publishing payload {:02x?}… ({} tiles)", &root[..4], tiles.len());
	}
	Ok(Some(now))
}

/// The newest claim of `trainer` with candidate payload `payload`.
fn find_claim<T: Config>(trainer: &T::AccountId, payload: &Hash) -> Option<ClaimId> {
	let next = pallet_pol::NextClaimId::<T>::get();
	(next.saturating_sub(SCAN_CLAIMS)..next).rev().find(|id| {
		pallet_pol::Claims::<T>::get(id)
			.is_some_and(|c| c.trainer == *trainer && c.input.payload_root == *payload)
	})
}
