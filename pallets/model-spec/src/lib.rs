//! # Model-spec pallet (Chain A)
//!
//! ## Overview
//!
//! Chain A of Blyan (SPEC "Chain A — model specs"): the registry of model architectures
//! ([`ModelSpec`]) that the parameter DAG (Chain B) builds on, and of the migrations
//! (seed §10.9: add experts, widen the expert FFN, add layers) that move the model from one
//! spec to the next.
//!
//! Calls ([`Call`]), all gated by [`Config::SpecOrigin`] (root/sudo for now):
//! - [`Pallet::register_spec`]: registers a new spec under the next [`SpecId`].
//! - [`Pallet::record_migration`]: records that one registered spec grew into another.
//!
//! Other pallets see this one through [`blyan_primitives::ModelSpecs`]; clients through the
//! [`runtime_api::ModelSpecApi`] runtime API.
//!
//! ## Design
//!
//! - Spec ids are dense: `0, 1, 2, …` in registration order ([`NextSpecId`]).
//! - **Version rule** (the decision asked for by the brief): a new spec's [`SemVer`] must be
//!   strictly greater than the latest spec's version ([`Error::VersionNotIncreasing`]), and
//!   its generation must not be smaller than the latest spec's generation
//!   ([`Error::GenerationDecreasing`]). Versions therefore increase with the spec id, so a
//!   spec with a larger id is always the newer one, and a migration must go from a smaller
//!   id to a larger one ([`Error::MigrationNotForward`]).
//! - The architecture is checked with the engine's rules (`blyan_moe::Config::validate`,
//!   except its byte-level `vocab_size == 256`) and the chain's bounds [`Config::MaxLayers`]
//!   and [`Config::MaxExperts`]; see [`EngineConfig::check`].
//! - The validation dataset is stored as given; it is not checked against the dataset pallet
//!   (Chain D) here.
//! - A spec never changes after registration; at most one migration leads *into* a spec
//!   ([`Migrations`] is keyed by the target).
//!
//! ## Terms
//!
//! - **Spec**: one architecture plus the payload roots of its non-expert weights (backbone
//!   and one router gate per layer).
//! - **Generation**: how many growth steps (migrations) the model lineage has taken.
//! - **Migration**: a record `from → to` naming the growth step ([`MigrationKind`]).

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub use pallet::*;
pub use types::*;
pub use weights::WeightInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
pub mod runtime_api;
#[cfg(test)]
mod tests;
mod types;
pub mod weights;

use blyan_primitives::SpecId;
use frame_system::pallet_prelude::BlockNumberFor;

/// A stored model spec of runtime `T`.
pub type ModelSpecOf<T> = ModelSpec<BlockNumberFor<T>, <T as Config>::MaxLayers>;
/// A stored migration of runtime `T`.
pub type MigrationOf<T> = Migration<BlockNumberFor<T>>;
/// A genesis spec: `(config, version, generation, (validation dataset id, dataset version),
/// backbone payload root, router payload roots)`.
pub type GenesisSpec = (
	EngineConfig,
	SemVer,
	u32,
	(blyan_primitives::DatasetId, u32),
	blyan_primitives::Hash,
	alloc::vec::Vec<blyan_primitives::Hash>,
);

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use blyan_primitives::{DatasetId, Hash};
	use frame_support::pallet_prelude::*;
	use frame_system::pallet_prelude::*;

	/// Configuration of the model-spec pallet.
	#[pallet::config]
	pub trait Config: frame_system::Config<RuntimeEvent: From<Event<Self>>> {
		/// Origin allowed to register specs and record migrations (root for now; governance
		/// later).
		type SpecOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Largest number of decoder layers a spec may have, and so the largest number of
		/// router hashes it stores. Must be larger than zero. Runtime value: 64.
		#[pallet::constant]
		type MaxLayers: Get<u32>;

		/// Largest number of experts per layer a spec may have. Must be larger than zero.
		/// Runtime value: 256.
		#[pallet::constant]
		type MaxExperts: Get<u32>;

		/// Weights of this pallet's calls.
		type WeightInfo: WeightInfo;
	}

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// Storage version of this pallet.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);

	/// Registered specs, indexed by spec id.
	#[pallet::storage]
	pub type Specs<T: Config> = StorageMap<_, Twox64Concat, SpecId, ModelSpecOf<T>, OptionQuery>;

	/// The id the next registered spec gets (the number of specs registered so far).
	#[pallet::storage]
	pub type NextSpecId<T: Config> = StorageValue<_, SpecId, ValueQuery>;

	/// Recorded migrations, indexed by the spec they lead to (`to`).
	#[pallet::storage]
	pub type Migrations<T: Config> =
		StorageMap<_, Twox64Concat, SpecId, MigrationOf<T>, OptionQuery>;

	/// The most recently registered spec (the one with the highest version), if any.
	#[pallet::storage]
	pub type LatestSpec<T: Config> = StorageValue<_, SpecId, OptionQuery>;

	/// Events of the model-spec pallet.
	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A spec was registered.
		SpecRegistered {
			/// Its id.
			id: SpecId,
			/// Its version.
			version: SemVer,
			/// Its generation.
			generation: u32,
		},
		/// A migration between two specs was recorded.
		MigrationRecorded {
			/// The older spec.
			from: SpecId,
			/// The newer spec.
			to: SpecId,
		},
	}

	/// Errors of the model-spec pallet.
	#[pallet::error]
	pub enum Error<T> {
		/// The architecture breaks a rule: zero vocabulary or size, `hidden_size` not a
		/// multiple of the heads (or an odd head size), context below 2, top-k zero or above
		/// the experts, more layers than `MaxLayers` or more experts than `MaxExperts`.
		InvalidConfig,
		/// The number of router hashes differs from `num_hidden_layers`.
		RouterCountMismatch,
		/// The version is not strictly greater than the latest spec's version.
		VersionNotIncreasing,
		/// The generation is smaller than the latest spec's generation.
		GenerationDecreasing,
		/// All `u32` spec ids are used.
		SpecIdsExhausted,
		/// No spec with this id.
		UnknownSpec,
		/// A migration from a spec to itself.
		MigrationToSelf,
		/// A migration from a newer spec to an older one (`from > to`).
		MigrationNotForward,
		/// The migration kind does not describe the difference between the two configs.
		MigrationMismatch,
		/// A migration into this `to` spec is already recorded.
		MigrationAlreadyRecorded,
	}

	/// Genesis: an optional first spec, registered (and validated) at genesis as spec 0.
	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// `(config, version, generation, (validation dataset, dataset version), backbone
		/// payload root, router payload roots)`.
		pub initial_spec: Option<GenesisSpec>,
		#[serde(skip)]
		#[allow(missing_docs)]
		pub _phantom: core::marker::PhantomData<T>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			if let Some((config, version, generation, dataset, backbone, routers)) =
				&self.initial_spec
			{
				let routers: BoundedVec<Hash, T::MaxLayers> = routers.clone().try_into().expect(
					"genesis model spec: more router hashes than MaxLayers; fix the chain \
						 spec's modelSpec.initialSpec; qed",
				);
				Pallet::<T>::do_register_spec(
					*config,
					*version,
					*generation,
					*dataset,
					*backbone,
					routers,
				)
				.expect(
					"genesis model spec must pass register_spec's checks (the error names the \
					 broken rule); fix the chain spec's modelSpec.initialSpec; qed",
				);
			}
		}
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn integrity_test() {
			assert!(T::MaxLayers::get() > 0, "MaxLayers must be larger than zero");
			assert!(T::MaxExperts::get() > 0, "MaxExperts must be larger than zero");
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Registers a new model spec under the next spec id.
		///
		/// Origin: [`Config::SpecOrigin`].
		/// - `config`: the architecture ([`EngineConfig::check`]).
		/// - `version`: must be strictly greater than the latest spec's version.
		/// - `generation`: must be at least the latest spec's generation.
		/// - `validation_dataset`: `(dataset id, dataset version)` of the PoL validation set.
		/// - `backbone`: payload root of the non-expert weights.
		/// - `routers`: payload root of each layer's router, one per layer.
		///
		/// Errors: [`Error::InvalidConfig`], [`Error::RouterCountMismatch`],
		/// [`Error::VersionNotIncreasing`], [`Error::GenerationDecreasing`],
		/// [`Error::SpecIdsExhausted`]. Emits [`Event::SpecRegistered`].
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register_spec(routers.len() as u32))]
		pub fn register_spec(
			origin: OriginFor<T>,
			config: EngineConfig,
			version: SemVer,
			generation: u32,
			validation_dataset: (DatasetId, u32),
			backbone: Hash,
			routers: BoundedVec<Hash, T::MaxLayers>,
		) -> DispatchResult {
			T::SpecOrigin::ensure_origin(origin)?;
			Self::do_register_spec(
				config,
				version,
				generation,
				validation_dataset,
				backbone,
				routers,
			)
			.map(|_| ())
			.map_err(Into::into)
		}

		/// Records that spec `from` grew into spec `to` by `kind`.
		///
		/// Origin: [`Config::SpecOrigin`].
		/// - `from`, `to`: registered spec ids, `from < to`.
		/// - `kind`: the growth step; must describe exactly the difference of the configs
		///   ([`MigrationKind::matches`]).
		///
		/// Errors: [`Error::UnknownSpec`], [`Error::MigrationToSelf`],
		/// [`Error::MigrationNotForward`], [`Error::MigrationMismatch`],
		/// [`Error::MigrationAlreadyRecorded`]. Emits [`Event::MigrationRecorded`].
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::record_migration())]
		pub fn record_migration(
			origin: OriginFor<T>,
			from: SpecId,
			to: SpecId,
			kind: MigrationKind,
		) -> DispatchResult {
			T::SpecOrigin::ensure_origin(origin)?;
			Self::do_record_migration(from, to, kind)
		}
	}
}

impl<T: Config> Pallet<T> {
	/// The pallet's invariants (`try_state`; also run by the tests and the fuzz harness):
	/// every spec id is below `NextSpecId`; `LatestSpec` names an existing spec (and is set
	/// when one exists); every migration leads between existing specs, to its own key.
	///
	/// Cost: iterates every spec and migration (off-chain only).
	#[cfg(any(feature = "std", feature = "try-runtime"))]
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		let next = NextSpecId::<T>::get();
		let mut any = false;
		for (id, _) in Specs::<T>::iter() {
			any = true;
			frame_support::ensure!(id < next, "a spec id is at or above NextSpecId");
		}
		match LatestSpec::<T>::get() {
			Some(id) => {
				frame_support::ensure!(Specs::<T>::contains_key(id), "LatestSpec is missing")
			},
			None => frame_support::ensure!(!any, "specs exist but LatestSpec is unset"),
		}
		for (to, m) in Migrations::<T>::iter() {
			frame_support::ensure!(m.to == to, "a migration is stored under another spec");
			frame_support::ensure!(
				Specs::<T>::contains_key(m.from) && Specs::<T>::contains_key(m.to),
				"a migration between unknown specs"
			);
		}
		Ok(())
	}

	/// Checks and stores a new spec; returns its id. Used by [`Pallet::register_spec`] and the
	/// genesis build. Writes nothing on error.
	pub fn do_register_spec(
		config: EngineConfig,
		version: SemVer,
		generation: u32,
		validation_dataset: (blyan_primitives::DatasetId, u32),
		backbone: blyan_primitives::Hash,
		routers: frame_support::BoundedVec<blyan_primitives::Hash, T::MaxLayers>,
	) -> Result<SpecId, Error<T>> {
		use frame_support::traits::Get;
		config
			.check(T::MaxLayers::get(), T::MaxExperts::get())
			.map_err(|_| Error::<T>::InvalidConfig)?;
		if routers.len() != config.num_hidden_layers as usize {
			return Err(Error::<T>::RouterCountMismatch);
		}
		if let Some(latest) = LatestSpec::<T>::get().and_then(Specs::<T>::get) {
			if version <= latest.version {
				return Err(Error::<T>::VersionNotIncreasing);
			}
			if generation < latest.generation {
				return Err(Error::<T>::GenerationDecreasing);
			}
		}
		let id = NextSpecId::<T>::get();
		let next = id.checked_add(1).ok_or(Error::<T>::SpecIdsExhausted)?;

		Specs::<T>::insert(
			id,
			ModelSpec {
				config,
				version,
				generation,
				validation_dataset,
				backbone,
				routers,
				registered_at: frame_system::Pallet::<T>::block_number(),
			},
		);
		NextSpecId::<T>::put(next);
		LatestSpec::<T>::put(id);
		Self::deposit_event(Event::SpecRegistered { id, version, generation });
		Ok(id)
	}

	/// Checks and stores a migration record. Used by [`Pallet::record_migration`].
	pub fn do_record_migration(
		from: SpecId,
		to: SpecId,
		kind: MigrationKind,
	) -> frame_support::dispatch::DispatchResult {
		let from_spec = Specs::<T>::get(from).ok_or(Error::<T>::UnknownSpec)?;
		let to_spec = Specs::<T>::get(to).ok_or(Error::<T>::UnknownSpec)?;
		frame_support::ensure!(from != to, Error::<T>::MigrationToSelf);
		frame_support::ensure!(from < to, Error::<T>::MigrationNotForward);
		frame_support::ensure!(
			kind.matches(&from_spec.config, &to_spec.config),
			Error::<T>::MigrationMismatch
		);
		frame_support::ensure!(
			!Migrations::<T>::contains_key(to),
			Error::<T>::MigrationAlreadyRecorded
		);

		Migrations::<T>::insert(
			to,
			Migration { from, to, kind, at: frame_system::Pallet::<T>::block_number() },
		);
		Self::deposit_event(Event::MigrationRecorded { from, to });
		Ok(())
	}

	/// The spec `id` in the runtime API's form ([`ModelSpecInfo`]).
	pub fn spec_info(id: SpecId) -> Option<ModelSpecInfo> {
		use sp_runtime::traits::UniqueSaturatedInto;
		Specs::<T>::get(id).map(|s| ModelSpecInfo {
			config: s.config,
			version: s.version,
			generation: s.generation,
			validation_dataset: s.validation_dataset,
			backbone: s.backbone,
			routers: s.routers.into_inner(),
			registered_at: s.registered_at.unique_saturated_into(),
		})
	}

	/// The latest registered spec id, if any.
	pub fn latest() -> Option<SpecId> {
		LatestSpec::<T>::get()
	}
}

impl<T: Config> blyan_primitives::ModelSpecs for Pallet<T> {
	fn spec_exists(id: SpecId) -> bool {
		Specs::<T>::contains_key(id)
	}
}
