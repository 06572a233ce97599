//! The trainer's off-chain worker: one training cycle as a state machine kept in the
//! off-chain database (`blyan/trainer/state`, [`TrainerState`]), advanced by every worker run
//! (see the crate docs for the cycle), one run at a time (`blyan_worker::with_lock`,
//! `blyan/trainer/lock`).
//!
//! Transactions are signed with the trainer's key ([`trainer_key`]). Payloads are published
//! in one run (several transactions; the nonce is counted up within the run) and sent again
//! `blyan_worker::RESEND_AFTER` blocks later for whatever has not reached the chain. The
//! engine keeps a run's payloads on disk, so a node restarted between the claim and the
//! challenge still publishes the challenged checkpoints.

use crate::{
	mixing_ratios, training_params, Config, TrainableUnits, TrainingData, ENABLED_KEY, STEPS_KEY,
};
use alloc::vec::Vec;
use blyan_engine_interface::{blyan_engine, Hash, Job, JobOutput};
use blyan_primitives::{merkle_root, pol::TrainingParams, tile_hash, ContentStore};
use blyan_worker::{Poll, Resend};
use codec::{Decode, Encode};
use frame_support::traits::Get;
use frame_system::{offchain::Account, pallet_prelude::BlockNumberFor};
use pallet_pol::{ClaimId, ClaimInput, ClaimStage, DatasetShare, ParamDag, Validators};
use sp_runtime::{traits::UniqueSaturatedInto, BoundedVec};

/// Log target of the worker.
pub const LOG_TARGET: &str = "runtime::trainer";

/// Off-chain database key of the [`TrainerState`].
pub const STATE_KEY: &[u8] = b"blyan/trainer/state";

/// Key of the worker lock.
pub const LOCK_KEY: &[u8] = b"blyan/trainer/lock";

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
	pub datasets: Vec<DatasetShare>,
	/// Payload root of the trained unit.
	pub payload: Hash,
	/// Payload root of the PoDL manifest.
	pub manifest: Hash,
	/// The training parameters the claim states.
	pub params: TrainingParams,
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
		sent: Resend,
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
		sent: Resend,
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
	blyan_worker::load::<bool>(ENABLED_KEY).unwrap_or(false)
}

/// Steps per run: the node's [`STEPS_KEY`] when set, else the runtime's `Steps`.
pub fn steps<T: Config>() -> u32 {
	blyan_worker::load::<u32>(STEPS_KEY)
		.filter(|s| *s > 0)
		.unwrap_or_else(T::Steps::get)
}

/// The trainer's state (idle at unit 0 when none is stored).
pub fn state() -> TrainerState {
	blyan_worker::load(STATE_KEY).unwrap_or(TrainerState { next_unit: 0, phase: Phase::Idle })
}

/// The key the trainer signs with: the first local key that is not an active validator, or
/// the first key.
pub fn trainer_key<T: Config>() -> Option<Account<T>> {
	let keys = blyan_worker::keys::<T, <T as pallet_pol::Config>::AuthorityId>();
	let other = keys
		.iter()
		.position(|k| !<T as pallet_pol::Config>::Validators::is_validator(&k.id));
	keys.into_iter().nth(other.unwrap_or(0))
}

/// One run of the trainer's worker at block `now`.
pub fn run<T: Config>(now: BlockNumberFor<T>) {
	if !enabled() {
		return;
	}
	let Some(me) = trainer_key::<T>() else { return };
	let _ = blyan_worker::with_lock(LOCK_KEY, || {
		let now: u32 = now.unique_saturated_into();
		let before = state();
		let mut st = before.clone();
		st.phase = step::<T>(&me, &mut st.next_unit, before.phase.clone(), now);
		if st != before {
			blyan_worker::store(STATE_KEY, &st);
		}
	});
}

/// Advances one phase; returns the next.
fn step<T: Config>(me: &Account<T>, next_unit: &mut u32, phase: Phase, now: u32) -> Phase {
	match phase {
		Phase::Idle => start::<T>(me, next_unit, now),
		Phase::Training { job, parent, model } => match blyan_worker::poll(job.clone()) {
			Poll::Ready(JobOutput::Trained {
				payload,
				manifest,
				params,
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
					params,
					parent_loss,
					loss,
					checkpoints,
				};
				publish_then_claim::<T>(me, run, Resend::default(), now)
			},
			Poll::Ready(_) => Phase::Idle,
			Poll::Failed(why) => {
				log::warn!(target: LOG_TARGET, "training failed: {why}");
				Phase::Idle
			},
			Poll::NoEngine => {
				log::warn!(target: LOG_TARGET, "no engine on this node: the trainer cannot run");
				Phase::Idle
			},
			Poll::Pending => Phase::Training { job, parent, model },
		},
		Phase::Publishing { run, sent } => publish_then_claim::<T>(me, run, sent, now),
		Phase::Claiming { run, sent_at } => match find_claim::<T>(&me.id, &run.payload) {
			Some(claim) => {
				log::info!(target: LOG_TARGET, "claim {claim} is on chain");
				Phase::Claimed { run, claim, sent: Resend::default() }
			},
			None if now > sent_at.saturating_add(CLAIM_TIMEOUT) => {
				log::warn!(target: LOG_TARGET, "the claim did not reach the chain; next unit");
				Phase::Idle
			},
			None => Phase::Claiming { run, sent_at },
		},
		Phase::Claimed { run, claim, sent } => {
			let Some(c) = pallet_pol::Claims::<T>::get(claim) else { return Phase::Idle };
			match c.stage {
				ClaimStage::AwaitingChallenge => Phase::Claimed { run, claim, sent },
				ClaimStage::Evaluating => {
					let needed = challenged_checkpoints(&run.checkpoints, &c.segments);
					// Without the checkpoints the replays come out unavailable; nothing else
					// to do then but wait for the decision.
					let sent = publish::<T>(me, &needed, sent, now).unwrap_or(sent);
					Phase::Claimed { run, claim, sent }
				},
				ClaimStage::Accepted { improvement_ppm } => {
					log::info!(target: LOG_TARGET, "claim {claim} accepted ({improvement_ppm} ppm)");
					Phase::Idle
				},
				ClaimStage::Rejected(reason) => {
					log::warn!(target: LOG_TARGET, "claim {claim} rejected: {reason:?}");
					Phase::Idle
				},
				ClaimStage::Expired => {
					log::warn!(target: LOG_TARGET, "claim {claim} expired without a quorum");
					Phase::Idle
				},
			}
		},
	}
}

/// What the validators of a challenge need: the start checkpoint of each challenged segment,
/// then the last checkpoint (whose trained tensors are compared with the payload).
pub fn challenged_checkpoints(checkpoints: &[Hash], segments: &[u32]) -> Vec<Hash> {
	let mut needed: Vec<Hash> =
		segments.iter().filter_map(|s| checkpoints.get(*s as usize).copied()).collect();
	if let Some(last) = checkpoints.last() {
		if !needed.contains(last) {
			needed.push(*last);
		}
	}
	needed
}

/// Starts a training job on the next unit, if there is data to train on.
fn start<T: Config>(me: &Account<T>, next_unit: &mut u32, now: u32) -> Phase {
	let units = T::Units::experts();
	let datasets = mixing_ratios(&T::Data::approved());
	let max = <T as pallet_pol::Config>::MaxDatasets::get() as usize;
	if units.is_empty() || datasets.is_empty() || datasets.len() > max {
		log::debug!(
			target: LOG_TARGET,
			"nothing to train: {} units, {} datasets",
			units.len(),
			datasets.len()
		);
		return Phase::Idle;
	}
	let unit = units[(*next_unit as usize) % units.len()].clone();
	*next_unit = next_unit.wrapping_add(1);
	let Some(parent) = <T as pallet_pol::Config>::Dag::accepted(&unit) else { return Phase::Idle };
	let params = training_params::<T>(now, steps::<T>());
	if let Err(e) = <T as pallet_pol::Config>::ManifestLimits::get().check(&params) {
		log::warn!(target: LOG_TARGET, "training parameters {params:?} exceed the limits: {e:?}");
		return Phase::Idle;
	}
	let datasets = datasets
		.into_iter()
		.map(|(dataset, ratio_ppm)| DatasetShare { dataset, ratio_ppm })
		.collect();
	let job = Job::Train { at: now, trainer: me.id.encode(), unit: unit.clone(), datasets, params };
	if blyan_engine::submit(job.clone()).is_none() {
		return Phase::Idle;
	}
	log::info!(
		target: LOG_TARGET,
		"training {} for {} steps at #{now}",
		core::str::from_utf8(&unit).unwrap_or("?"),
		params.steps
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
fn publish_then_claim<T: Config>(me: &Account<T>, run: Run, sent: Resend, now: u32) -> Phase {
	if model_fingerprint::<T>() != run.model {
		log::info!(target: LOG_TARGET, "the model changed since training started; next unit");
		return Phase::Idle;
	}
	let roots = [run.payload, run.manifest];
	if !roots.iter().all(pallet_content_store::Pallet::<T>::has_payload) {
		return match publish::<T>(me, &roots, sent, now) {
			Ok(sent) => Phase::Publishing { run, sent },
			Err(()) => Phase::Idle,
		};
	}
	let Some(nonce) =
		<T as pallet_pol::Config>::Dag::solve_child_nonce(&me.id, &run.parent, &run.payload)
	else {
		log::warn!(target: LOG_TARGET, "no PoW nonce found for the child block");
		return Phase::Idle;
	};
	let Ok(datasets) = BoundedVec::try_from(run.datasets.clone()) else { return Phase::Idle };
	let input = ClaimInput {
		parent: run.parent,
		payload_root: run.payload,
		manifest_root: run.manifest,
		datasets,
		params: run.params,
		claimed_loss: run.loss,
		nonce,
	};
	let bond = <T as pallet_pol::Config>::MinBond::get();
	blyan_worker::send::<T, <T as pallet_pol::Config>::AuthorityId, _>(
		LOG_TARGET,
		me,
		&alloc::format!("claim (loss {} nano-nats/byte)", run.loss),
		pallet_pol::Call::<T>::submit_claim { input, bond },
	);
	Phase::Claiming { run, sent_at: now }
}

/// Publishes the payloads among `roots` that are not on chain yet (tiles not yet stored,
/// then the manifest commit), unless they were sent less than `RESEND_AFTER` blocks ago.
/// Returns when they were last sent, or `Err` when the engine no longer holds a payload or it
/// does not fit the content store.
fn publish<T: Config>(
	me: &Account<T>,
	roots: &[Hash],
	mut sent: Resend,
	now: u32,
) -> Result<Resend, ()> {
	let missing: Vec<Hash> = roots
		.iter()
		.filter(|r| !pallet_content_store::Pallet::<T>::has_payload(r))
		.copied()
		.collect();
	if missing.is_empty() || !sent.due(now) {
		return Ok(sent);
	}
	let send = |what: &str, call: pallet_content_store::Call<T>| {
		blyan_worker::send::<T, <T as pallet_pol::Config>::AuthorityId, _>(
			LOG_TARGET, me, what, call,
		)
	};
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
			send("a tile", pallet_content_store::Call::publish_tile { bytes });
		}
		if tiles.is_empty() || merkle_root(&tiles) != root {
			log::warn!(
				target: LOG_TARGET,
				"payload {:02x?}… is not held by the engine; giving up on this run",
				&root[..4]
			);
			return Err(());
		}
		let count = tiles.len();
		let Ok(tiles) = pallet_content_store::ManifestTilesOf::<T>::try_from(tiles) else {
			log::error!(target: LOG_TARGET, "a payload has more than MaxTilesPerManifest tiles");
			return Err(());
		};
		send(
			&alloc::format!("payload {:02x?}… ({count} tiles)", &root[..4]),
			pallet_content_store::Call::commit_manifest { tiles, root },
		);
	}
	sent.mark(now);
	Ok(sent)
}

/// The newest claim of `trainer` with candidate payload `payload`.
fn find_claim<T: Config>(trainer: &T::AccountId, payload: &Hash) -> Option<ClaimId> {
	let next = pallet_pol::NextClaimId::<T>::get();
	(next.saturating_sub(SCAN_CLAIMS)..next).rev().find(|id| {
		pallet_pol::Claims::<T>::get(id)
			.is_some_and(|c| c.trainer == *trainer && c.input.payload_root == *payload)
	})
}
