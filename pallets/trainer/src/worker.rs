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
	mixing_ratios, schedule, select_units, training_params, Config, TrainableUnits, TrainingData,
	ENABLED_KEY, STEPS_KEY, UNITS_KEY,
};
use alloc::vec::Vec;
use blyan_engine_interface::{blyan_engine, Hash, Job, JobOutput};
use blyan_primitives::{merkle_root, pol::TrainingParams, tile_hash, ContentStore};
use blyan_worker::{Poll, Resend};
use codec::{Decode, Encode};
use frame_support::traits::Get;
use frame_system::{offchain::Account, pallet_prelude::BlockNumberFor};
use pallet_pol::{ClaimId, ClaimInput, ClaimStage, DatasetShare, ParamDag, UnitUpdate, Validators};
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

/// Blocks kept in hand for the claim's inclusion: a run is claimed on its base block only
/// while `now − base + BASE_MARGIN ≤ MaxBaseAge`; otherwise it is evaluated again in the
/// current model first.
pub const BASE_MARGIN: u32 = 10;

/// A finished training run, as the trainer claims it.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
pub struct Run {
	/// Names of the trained units.
	pub units: Vec<Vec<u8>>,
	/// Each unit's parent block (its accepted block when training started), in unit order.
	pub parents: Vec<Hash>,
	/// The base block: the block whose accepted model `parent_loss` and `loss` were measured
	/// in (training start, or the block of a later evaluation).
	pub base: u32,
	/// Datasets and ratios (ppm).
	pub datasets: Vec<DatasetShare>,
	/// Payload root of each trained unit, in unit order.
	pub payloads: Vec<Hash>,
	/// Payload root of the PoDL manifest.
	pub manifest: Hash,
	/// The training parameters the claim states.
	pub params: TrainingParams,
	/// Validation loss of the model accepted at `base`, nano-nats per byte.
	pub parent_loss: u64,
	/// Validation loss of that model with the trained units, nano-nats per byte.
	pub loss: u64,
	/// Payload root of the evaluation record of both losses (every validation window).
	pub record: Hash,
	/// Checkpoint payload roots.
	pub checkpoints: Vec<Hash>,
}

/// Where the trainer stands.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
pub enum Phase {
	/// Nothing under way: the next run starts a training job.
	Idle,
	/// The engine trains `job` from `parents`.
	Training {
		/// The `Job::Train` submitted.
		job: Job,
		/// Each unit's parent block, in the job's unit order.
		parents: Vec<Hash>,
	},
	/// Publishing the units and the manifest; then the claim.
	Publishing {
		/// The run.
		run: Run,
		/// When the publications were last sent.
		sent: Resend,
	},
	/// The run's base block became too old to claim on: the engine evaluates the published
	/// units again in the model accepted at `job`'s block, the new base.
	Reevaluating {
		/// The run.
		run: Run,
		/// The `Job::EvaluateClaim` submitted.
		job: Job,
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
	/// Position of the next group in the schedule ([`crate::schedule`], round robin).
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

/// The node's unit selection ([`UNITS_KEY`]; `*`, every unit, when unset).
pub fn selection() -> Vec<u8> {
	blyan_worker::load::<Vec<u8>>(UNITS_KEY).unwrap_or_else(|| b"*".to_vec())
}

/// The trainer's state (idle at position 0 when none is stored).
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
		Phase::Training { job, parents } => match blyan_worker::poll(job.clone()) {
			Poll::Ready(JobOutput::Trained {
				payloads,
				manifest,
				params,
				parent_loss,
				loss,
				record,
				checkpoints,
			}) => {
				let Job::Train { at, units, datasets, .. } = job else { return Phase::Idle };
				if !improves::<T>(&units, parent_loss, loss) {
					return Phase::Idle;
				}
				if payloads.len() != units.len()
					|| payloads.iter().zip(&units).any(|(p, u)| p.0 != *u)
				{
					log::warn!(target: LOG_TARGET, "the engine returned other units than trained");
					return Phase::Idle;
				}
				let run = Run {
					units,
					parents,
					base: at,
					datasets,
					payloads: payloads.into_iter().map(|(_, p)| p).collect(),
					manifest,
					params,
					parent_loss,
					loss,
					record,
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
			Poll::Pending => Phase::Training { job, parents },
		},
		Phase::Publishing { run, sent } => publish_then_claim::<T>(me, run, sent, now),
		Phase::Reevaluating { run, job } => match blyan_worker::poll(job.clone()) {
			Poll::Ready(JobOutput::Losses { parent, candidate, record, .. }) => {
				let Job::EvaluateClaim { at, .. } = job else { return Phase::Idle };
				if !improves::<T>(&run.units, parent, candidate) {
					return Phase::Idle;
				}
				let run = Run { base: at, parent_loss: parent, loss: candidate, record, ..run };
				publish_then_claim::<T>(me, run, Resend::default(), now)
			},
			Poll::Pending => Phase::Reevaluating { run, job },
			Poll::Ready(_) | Poll::Failed(_) | Poll::NoEngine => {
				log::warn!(target: LOG_TARGET, "evaluating the run again failed; next run");
				Phase::Idle
			},
		},
		Phase::Claiming { run, sent_at } => match find_claim::<T>(&me.id, &run.manifest) {
			Some(claim) => {
				log::info!(target: LOG_TARGET, "claim {claim} is on chain");
				Phase::Claimed { run, claim, sent: Resend::default() }
			},
			None if now > sent_at.saturating_add(CLAIM_TIMEOUT) => {
				log::warn!(target: LOG_TARGET, "the claim did not reach the chain; next run");
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

/// Whether `parent → loss` beats pallet-pol's δ; logs the figures.
fn improves<T: Config>(units: &[Vec<u8>], parent: u64, loss: u64) -> bool {
	let gain = pallet_pol::improvement_ppm(parent, loss);
	let min = <T as pallet_pol::Config>::MinImprovement::get();
	log::info!(
		target: LOG_TARGET,
		"{}: validation {parent} -> {loss} nano-nats/byte ({gain} ppm, δ = {min} ppm)",
		describe(units),
	);
	if gain < i64::from(min) {
		log::info!(target: LOG_TARGET, "not enough improvement to claim");
	}
	gain >= i64::from(min)
}

/// Unit names for a log line: one name, or the first and the count.
fn describe(units: &[Vec<u8>]) -> alloc::string::String {
	let first = units.first().map(|u| core::str::from_utf8(u).unwrap_or("?")).unwrap_or("");
	match units.len() {
		1 => alloc::string::String::from(first),
		n => alloc::format!("{n} units ({first}, …)"),
	}
}

/// The schedule's groups ([`schedule::groups`]) of the units the node selected
/// ([`selection`]) among the model's ([`Config::Units`]).
pub fn groups<T: Config>() -> Vec<Vec<Vec<u8>>> {
	let selected = select_units(&T::Units::units(), &selection());
	let max_units = <T as pallet_pol::Config>::MaxUnitsPerClaim::get() as usize;
	schedule::groups(&selected, T::MaxClaimPayloadBytes::get(), max_units)
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

/// Starts a training job on the units at the schedule's position, if there is data to train
/// on.
fn start<T: Config>(me: &Account<T>, next_unit: &mut u32, now: u32) -> Phase {
	let groups = groups::<T>();
	let datasets = mixing_ratios(&T::Data::approved());
	let max = <T as pallet_pol::Config>::MaxDatasets::get() as usize;
	if groups.is_empty() || datasets.is_empty() || datasets.len() > max {
		log::debug!(
			target: LOG_TARGET,
			"nothing to train: {} groups of units selected, {} datasets",
			groups.len(),
			datasets.len()
		);
		return Phase::Idle;
	}
	let units = schedule::units_at(&groups, *next_unit);
	*next_unit = next_unit.wrapping_add(1);
	let mut parents = Vec::with_capacity(units.len());
	for unit in &units {
		let Some(parent) = <T as pallet_pol::Config>::Dag::accepted(unit) else {
			log::warn!(target: LOG_TARGET, "{} has no accepted block", describe(&units));
			return Phase::Idle;
		};
		parents.push(parent);
	}
	let params = training_params::<T>(now, steps::<T>());
	if let Err(e) = <T as pallet_pol::Config>::ManifestLimits::get().check(&params) {
		log::warn!(target: LOG_TARGET, "training parameters {params:?} exceed the limits: {e:?}");
		return Phase::Idle;
	}
	let datasets = datasets
		.into_iter()
		.map(|(dataset, ratio_ppm)| DatasetShare { dataset, ratio_ppm })
		.collect();
	let job =
		Job::Train { at: now, trainer: me.id.encode(), units: units.clone(), datasets, params };
	if blyan_engine::submit(job.clone()).is_none() {
		return Phase::Idle;
	}
	log::info!(
		target: LOG_TARGET,
		"training {} for {} steps at #{now}",
		describe(&units),
		params.steps
	);
	Phase::Training { job, parents }
}

/// Publishes the run's units, manifest and evaluation record; once they are on chain, sends
/// the claim on the
/// run's base block, or first evaluates the run again in the current model when the base is
/// too old to be included ([`BASE_MARGIN`]). A run whose trained units moved meanwhile is
/// dropped (its claim would be superseded); other units moving does not matter.
fn publish_then_claim<T: Config>(me: &Account<T>, run: Run, sent: Resend, now: u32) -> Phase {
	let moved = run
		.units
		.iter()
		.zip(&run.parents)
		.any(|(u, p)| <T as pallet_pol::Config>::Dag::accepted(u) != Some(*p));
	if moved {
		log::info!(target: LOG_TARGET, "a trained unit moved since training started; next run");
		return Phase::Idle;
	}
	let mut roots = run.payloads.clone();
	roots.push(run.manifest);
	roots.push(run.record);
	if !roots.iter().all(pallet_content_store::Pallet::<T>::has_payload) {
		return match publish::<T>(me, &roots, sent, now) {
			Ok(sent) => Phase::Publishing { run, sent },
			Err(()) => Phase::Idle,
		};
	}
	let max_age: u32 = <T as pallet_pol::Config>::MaxBaseAge::get().unique_saturated_into();
	if now.saturating_sub(run.base).saturating_add(BASE_MARGIN) > max_age {
		let units = run.units.iter().cloned().zip(run.payloads.iter().copied()).collect();
		let job = Job::EvaluateClaim { at: now, units, check: None };
		if blyan_engine::submit(job.clone()).is_none() {
			return Phase::Idle;
		}
		log::info!(target: LOG_TARGET, "base #{} is too old: evaluating again at #{now}", run.base);
		return Phase::Reevaluating { run, job };
	}
	let mut updates = Vec::with_capacity(run.units.len());
	for (parent, payload) in run.parents.iter().zip(&run.payloads) {
		let Some(nonce) =
			<T as pallet_pol::Config>::Dag::solve_child_nonce(&me.id, parent, payload)
		else {
			log::warn!(target: LOG_TARGET, "no PoW nonce found for a child block");
			return Phase::Idle;
		};
		updates.push(UnitUpdate { parent: *parent, payload_root: *payload, nonce });
	}
	let (Ok(units), Ok(datasets)) =
		(BoundedVec::try_from(updates), BoundedVec::try_from(run.datasets.clone()))
	else {
		return Phase::Idle;
	};
	let input = ClaimInput {
		units,
		base: run.base,
		manifest_root: run.manifest,
		datasets,
		params: run.params,
		claimed_loss: run.loss,
		eval_root: run.record,
	};
	let bond = <T as pallet_pol::Config>::MinBond::get();
	blyan_worker::send::<T, <T as pallet_pol::Config>::AuthorityId, _>(
		LOG_TARGET,
		me,
		&alloc::format!(
			"claim on {} (loss {} nano-nats/byte at #{})",
			describe(&run.units),
			run.loss,
			run.base
		),
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

/// The newest claim of `trainer` on the run with PoDL manifest `manifest`.
fn find_claim<T: Config>(trainer: &T::AccountId, manifest: &Hash) -> Option<ClaimId> {
	let next = pallet_pol::NextClaimId::<T>::get();
	(next.saturating_sub(SCAN_CLAIMS)..next).rev().find(|id| {
		pallet_pol::Claims::<T>::get(id)
			.is_some_and(|c| c.trainer == *trainer && c.input.manifest_root == *manifest)
	})
}
