//! # Trainer pallet (an off-chain worker)
//!
//! The trainer role of SPEC "Proof-of-Learning": a node whose keystore holds a Blyan worker
//! key (`pallet_pol::crypto`, key type `blyn`) trains expert updates on the node's native
//! engine, publishes them in the content store and claims the improvement through
//! `pallet_pol::Call::submit_claim`. The pallet has no storage, calls or events of its own;
//! everything it does on chain goes through signed extrinsics of pallet-content-store and
//! pallet-pol, which emit their own events.
//!
//! ## One training cycle ([`worker`])
//!
//! 1. **Pick.** The next expert unit in round-robin order ([`Config::Units`], seed §8) and
//!    every approved training dataset (never the spec's validation set), mixed by tier weight
//!    (Gold 1.0, Silver 0.7, Experimental 0.3; SPEC "Chain D") as parts per million
//!    ([`mixing_ratios`], `blyan_primitives::shares`).
//! 2. **Train.** `Job::Train` on the engine (`blyan_engine` host functions) with the training
//!    parameters the claim will state ([`training_params`]: [`Config::Steps`] AdamW steps, or
//!    the node's `--train-steps`, a checkpoint every [`Config::CheckpointEvery`] steps,
//!    [`Config::BatchSize`] × [`Config::SeqLen`] batches), from the unit's accepted block,
//!    with a manifest naming the trainer's account; then the parent's and the result's
//!    validation nats per byte. A result that does not beat the parent by the PoL threshold
//!    δ (`pallet_pol::Config::MinImprovement`) is dropped without claiming.
//! 3. **Publish** the unit's payload and its PoDL manifest (tiles, then the manifest commit).
//! 4. **Claim** once both are committed: `submit_claim` with the parent block, payload and
//!    manifest roots, datasets, training parameters, the engine's loss, the DAG PoW nonce
//!    and the smallest bond (`pallet_pol::Config::MinBond`).
//! 5. **Answer the challenge.** When the claim's replay challenge is drawn, publish the start
//!    checkpoint of each challenged segment and the last checkpoint (whose trained tensors
//!    validators compare with the payload). The other checkpoints never reach the chain.
//! 6. When the claim is decided, start over with the next unit.
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

/// Datasets the trainer may train on (implemented by the runtime over pallet-dataset).
pub trait TrainingData {
	/// Approved datasets other than the current spec's validation set, with their mixing
	/// weight in per mille (Gold 1000, Silver 700, Experimental 300), by ascending id.
	fn approved() -> Vec<(DatasetId, u32)>;
}

/// The units the trainer updates (implemented by the runtime over the latest model spec).
pub trait TrainableUnits {
	/// Names of the expert units of the current model (`layer{l}.expert{e}`), in round-robin
	/// order.
	fn experts() -> Vec<Vec<u8>>;
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

		/// Units to train, round-robin.
		type Units: TrainableUnits;

		/// AdamW steps per training job.
		#[pallet::constant]
		type Steps: Get<u32>;

		/// Steps per training segment (K): the claim has `⌈Steps / K⌉` segments, and a
		/// validator's replay of r segments costs `r · K` steps.
		#[pallet::constant]
		type CheckpointEvery: Get<u32>;

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
		}
	}
}
