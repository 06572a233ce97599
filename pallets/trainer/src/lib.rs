//! # Trainer pallet (an off-chain worker)
//!
//! The trainer role of SPEC "Proof-of-Learning": a node whose keystore holds a Blyan worker
//! key (`pallet_pol::crypto`, key type `blyn`) trains updates of any set of units on the
//! node's native engine, publishes them in the content store and claims the improvement through
//! `pallet_pol::Call::submit_claim`. The pallet has no storage, calls or events of its own;
//! everything it does on chain goes through signed extrinsics of pallet-content-store and
//! pallet-pol, which emit their own events.
//!
//! ## One training cycle ([`worker`])
//!
//! 1. **Pick** the next group of units by the [`schedule`] among the node's selection
//!    ([`UNITS_KEY`], `--trainer-units`; every unit of the model by default) and every approved training
//!    dataset (never the spec's validation set), mixed by tier weight (Gold 1.0, Silver 0.7,
//!    Experimental 0.3; SPEC "Chain D") as parts per million ([`mixing_ratios`],
//!    `blyan_primitives::shares`).
//! 2. **Train.** `Job::Train` on the engine (`blyan_engine` host functions) with the training
//!    parameters the claim will state ([`training_params`]: [`Config::Steps`] AdamW steps, or
//!    the node's `--train-steps`, a checkpoint every [`Config::CheckpointEvery`] steps,
//!    [`Config::BatchSize`] × [`Config::SeqLen`] batches), from the units' accepted blocks,
//!    with a manifest naming the trainer's account; then the validation nats per byte of the
//!    model at the start block (the claim's base) without and with the trained units. A result that does not beat the parent by the PoL threshold
//!    δ (`pallet_pol::Config::MinImprovement`) is dropped without claiming.
//! 3. **Publish** the units' payloads and the PoDL manifest (tiles, then the manifest
//!    commits). A run whose trained units moved meanwhile is dropped (its claim would be
//!    superseded); other units moving costs nothing, because the claim names the base block
//!    its loss was measured in.
//! 4. **Claim** once all are committed: `submit_claim` with each unit's parent block, payload
//!    and DAG PoW nonce, the base block, the manifest root, datasets, training parameters,
//!    the engine's loss and the smallest bond (`pallet_pol::Config::MinBond`). A base block
//!    too old to be included (`pallet_pol::Config::MaxBaseAge`) is first replaced by the
//!    current block, with the units evaluated again in the current model.
//! 5. **Answer the challenge.** When the claim's replay challenge is drawn, publish the start
//!    checkpoint of each challenged segment and the last checkpoint (whose trained tensors
//!    validators compare with the payload). The other checkpoints never reach the chain.
//! 6. When the claim is decided, start over with the schedule's next group.
//!
//! The trainer signs with the node's first Blyan worker key that is not an active validator,
//! or its first key when all are (a validator's account cannot report on its own claims, so
//! its claims need the other validators' quorum).
//!
//! The node switches the trainer on or off by writing [`ENABLED_KEY`] into the off-chain
//! database at start-up (`blyan-node --no-trainer` writes `false`; without the key the
//! trainer stays off), and may override the steps with [`STEPS_KEY`].

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub use pallet::*;

// The mock leaves out pallet-pol's benchmark helper.
#[cfg(all(test, not(feature = "runtime-benchmarks")))]
mod mock;
#[cfg(test)]
mod tests;
pub mod worker;

use alloc::vec::Vec;
use blyan_primitives::DatasetId;
use frame_support::traits::Get;

/// Off-chain database key (persistent storage) whose SCALE `bool` switches the trainer on.
pub const ENABLED_KEY: &[u8] = b"blyan/trainer/enabled";

/// Off-chain database key whose SCALE `u32` sets the steps per run (0 or absent: the
/// runtime's [`Config::Steps`]).
pub const STEPS_KEY: &[u8] = b"blyan/trainer/steps";

/// Off-chain database key whose SCALE `Vec<u8>` selects the units this trainer trains
/// ([`select_units`]; `blyan-node --trainer-units`). Absent: every unit.
pub const UNITS_KEY: &[u8] = b"blyan/trainer/units";

/// The units of `units` (name first) that a selection names, in `units`' order. The
/// selection is a comma-separated list of patterns: `*` or `all` (every unit), a unit name
/// (`layer0.router`), or a prefix ending in `*` (`layer1.*`, `layer0.expert*`). Spaces around
/// patterns are ignored; an empty selection selects nothing.
pub fn select_units<U: Clone>(units: &[(Vec<u8>, U)], selection: &[u8]) -> Vec<(Vec<u8>, U)> {
	let patterns: Vec<&[u8]> = selection
		.split(|b| *b == b',')
		.map(|p| p.trim_ascii())
		.filter(|p| !p.is_empty())
		.collect();
	let matches = |unit: &[u8]| {
		patterns.iter().any(|p: &&[u8]| {
			let p: &[u8] = p;
			if p == b"*" || p == b"all" {
				return true;
			}
			match p.strip_suffix(b"*") {
				Some(prefix) => unit.starts_with(prefix),
				None => unit == p,
			}
		})
	};
	units.iter().filter(|(u, _)| matches(u)).cloned().collect()
}

/// What the trainer trains next (docs/pol.md, "The trainer's schedule").
///
/// A training step costs about the same whichever units it updates (the forward and the
/// backward pass run through the whole network either way; docs/engine.md), so a claim over
/// many units lowers the loss far more per CPU-second than a claim over one expert: on the dev
/// model 300 steps of every unit reach 2.28 nats/byte where one expert reaches 5.30. What
/// bounds a claim is what it must publish: when its challenge is drawn, the trainer publishes
/// two start checkpoints and the last one (each about three times the units' payloads, with
/// the AdamW moments), and they must reach the chain before the validators stop waiting for
/// them. So the selected units are packed, in canonical order (backbone, then per layer the
/// router and its experts), into groups whose payloads sum to at most
/// [`Config::MaxClaimPayloadBytes`], and the trainer claims the groups in turn.
pub mod schedule {
	use alloc::vec::Vec;

	/// `units` (name, payload bytes) packed in order into groups of at most `max_bytes` of
	/// payload and at most `max_units` units; a unit larger than `max_bytes` is a group of its
	/// own.
	pub fn groups(units: &[(Vec<u8>, u64)], max_bytes: u64, max_units: usize) -> Vec<Vec<Vec<u8>>> {
		let mut out: Vec<Vec<Vec<u8>>> = Vec::new();
		let mut bytes = 0u64;
		for (name, size) in units {
			let fits = out
				.last()
				.is_some_and(|g| g.len() < max_units && bytes.saturating_add(*size) <= max_bytes);
			if fits {
				bytes = bytes.saturating_add(*size);
				if let Some(g) = out.last_mut() {
					g.push(name.clone());
				}
			} else {
				bytes = *size;
				out.push(alloc::vec![name.clone()]);
			}
		}
		out
	}

	/// The group at schedule position `position` (round robin); empty without groups.
	pub fn units_at(groups: &[Vec<Vec<u8>>], position: u32) -> Vec<Vec<u8>> {
		if groups.is_empty() {
			return Vec::new();
		}
		groups[position as usize % groups.len()].clone()
	}
}

/// Datasets the trainer may train on (implemented by the runtime over pallet-dataset).
pub trait TrainingData {
	/// Approved datasets other than the current spec's validation set, with their mixing
	/// weight in per mille (Gold 1000, Silver 700, Experimental 300), by ascending id.
	fn approved() -> Vec<(DatasetId, u32)>;
}

/// The units the trainer may update (implemented by the runtime over the latest model spec
/// and the parameter DAG).
pub trait TrainableUnits {
	/// Every unit of the current model in canonical order (`backbone`, then per layer
	/// `layer{l}.router` and its experts `layer{l}.expert{e}`), with the size of its accepted
	/// payload in bytes (0 when it has none).
	fn units() -> Vec<(Vec<u8>, u64)>;
}

/// Mixing ratios in parts per million for datasets with the given weights (per mille),
/// proportional to the weights (`blyan_primitives::shares::ratios_ppm`: the rounding
/// remainder goes to the first dataset, so the ratios sum to exactly 1 000 000). Datasets
/// whose share rounds to zero are left out. Empty when there is nothing to mix.
pub fn mixing_ratios(weights: &[(DatasetId, u32)]) -> Vec<(DatasetId, u32)> {
	let w: Vec<u64> = weights.iter().map(|(_, w)| u64::from(*w)).collect();
	let Some(ratios) = blyan_primitives::shares::ratios_ppm(&w) else { return Vec::new() };
	weights
		.iter()
		.zip(ratios)
		.map(|((id, _), r)| (*id, r))
		.filter(|(_, r)| *r > 0)
		.collect()
}

/// The training parameters of a run that starts at block `now` with `steps` steps: K, batch
/// size and sequence length from the runtime, the seed from the block number.
pub fn training_params<T: Config>(now: u32, steps: u32) -> blyan_primitives::pol::TrainingParams {
	blyan_primitives::pol::TrainingParams {
		seed: u64::from(now),
		steps,
		checkpoint_every: T::CheckpointEvery::get(),
		batch_size: T::BatchSize::get(),
		seq_len: T::SeqLen::get(),
	}
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::pallet_prelude::*;
	use frame_system::pallet_prelude::*;

	#[pallet::config]
	pub trait Config:
		frame_system::Config
		+ pallet_pol::Config
		+ pallet_content_store::Config
		+ frame_system::offchain::CreateSignedTransaction<pallet_pol::Call<Self>>
		+ frame_system::offchain::CreateSignedTransaction<pallet_content_store::Call<Self>>
	{
		/// Datasets to train on, with tier weights.
		type Data: TrainingData;

		/// The model's units, among which the node's selection and the [`schedule`] pick.
		type Units: TrainableUnits;

		/// AdamW steps per training job.
		#[pallet::constant]
		type Steps: Get<u32>;

		/// Steps per training segment (K): the claim has `⌈Steps / K⌉` segments, and a
		/// validator's replay of r segments costs `r · K` steps.
		#[pallet::constant]
		type CheckpointEvery: Get<u32>;

		/// Largest sum of unit payload sizes one claim trains, bytes ([`schedule`]). Each
		/// published checkpoint is about three times as large; the three a challenge needs
		/// must fit the node's transaction pool (20 MiB by default) and reach the chain within
		/// the validators' wait.
		#[pallet::constant]
		type MaxClaimPayloadBytes: Get<u64>;

		/// Rows per training batch.
		#[pallet::constant]
		type BatchSize: Get<u32>;

		/// Bytes per training row.
		#[pallet::constant]
		type SeqLen: Get<u32>;
	}

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		/// The trainer's worker ([`worker`]).
		fn offchain_worker(n: BlockNumberFor<T>) {
			worker::run::<T>(n);
		}

		fn integrity_test() {
			assert!(T::Steps::get() > 0, "Steps must be positive");
			assert!(T::CheckpointEvery::get() > 0, "CheckpointEvery must be positive");
			let limits = <T as pallet_pol::Config>::ManifestLimits::get();
			assert!(
				limits.check(&training_params::<T>(0, T::Steps::get())).is_ok(),
				"the trainer's parameters must lie within pallet-pol's ManifestLimits"
			);
			let max_age: u32 = sp_runtime::traits::UniqueSaturatedInto::unique_saturated_into(
				<T as pallet_pol::Config>::MaxBaseAge::get(),
			);
			assert!(
				max_age > worker::BASE_MARGIN,
				"pallet-pol's MaxBaseAge must exceed the trainer's BASE_MARGIN, or no run is ever \
				 claimed on its base"
			);
		}
	}
}
