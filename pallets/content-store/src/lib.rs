//! # Content store pallet
//!
//! Keeps expert payloads and dataset content on chain, addressed by hash (SPEC "Chain B:
//! Payloads"; dataset content goes through the same store, SPEC "Chain D").
//!
//! ## Overview
//!
//! A payload (a safetensors file, a dataset shard) is published in two steps:
//!
//! 1. every **tile** of it is published with [`Call::publish_tile`], against a deposit held
//!    from the publisher (`TileDepositBase + TileDepositPerByte × len`);
//! 2. the ordered tile list is committed as a **manifest** with [`Call::commit_manifest`].
//!    The manifest is keyed by its **root**, the Merkle root of its tile hashes.
//!
//! Other pallets see the store through [`blyan_primitives::ContentStore`]: they check that
//! a root exists, read its size and take or drop references to it. A manifest that nobody
//! references any more can be removed by anyone with [`Call::prune`] once
//! [`Config::RetentionPeriod`] blocks have passed (snapshot compaction, seed §11.7); the
//! tiles it was the last user of go with it and their deposits return to their owners. A
//! tile that no manifest uses can be withdrawn by its owner at once with
//! [`Call::remove_tile`].
//!
//! Nodes read payloads through the [`runtime_api::ContentStoreApi`] runtime API and verify
//! the bytes against the root before serving them.
//!
//! ## Terms
//!
//! - **Tile**: at most [`Config::MaxTileBytes`] bytes (4 MiB in the runtime,
//!   [`blyan_primitives::MAX_TILE_BYTES`]), keyed by its tile hash,
//!   [`blyan_primitives::tile_hash`] = blake3 of its bytes.
//! - **Manifest**: an ordered list of at most [`Config::MaxTilesPerManifest`] tile hashes.
//! - **Root**: [`blyan_primitives::merkle_root`] of a manifest's tile hashes. When the tiles
//!   are the 4 MiB cuts of a payload, the root equals [`blyan_primitives::payload_root`] of
//!   the payload, i.e. the engine's unit hash, so a root read from an expert block or dataset
//!   record is directly the key of its content here.
//! - **Reference**: a claim by another pallet that a manifest must be kept. Unreferenced
//!   manifests are prunable after the retention period.
//!
//! ## Design
//!
//! - Tile metadata ([`Tiles`]) and tile bytes ([`TileData`]) are separate storage items so
//!   that reference counting never loads 4 MiB values.
//! - A tile is stored once however many manifests use it; [`TileInfo::refs`] counts the
//!   manifest slots pointing at it (a tile listed twice in one manifest counts twice).
//! - A committed manifest starts with zero references and `unreferenced_since = now`: if no
//!   pallet takes a reference within the retention period, anyone may prune it.
//! - Genesis payloads ([`GenesisConfig::payloads`]) are stored without deposit and pinned
//!   with one reference, so they are never prunable unless a pallet drops that reference.
//!
//! ### Why not `pallet-preimage`
//!
//! - Preimage keys its values by the runtime's `Hashing` (blake2-256), while Blyan addresses
//!   everything by blake3 payload roots that must equal the hashes the native engine
//!   computes.
//! - It has no notion of manifests (an ordered tile list reduced to a Merkle root) nor of
//!   retention-based pruning of unreferenced content.
//! - Its size cap is 4 MiB for a whole preimage, while expert payloads reach
//!   `MaxTilesPerManifest × 4 MiB` (256 MiB in the runtime).
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub use pallet::*;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod types;
pub mod weights;

pub use types::{ManifestInfo, TileInfo};
pub use weights::WeightInfo;

use alloc::vec::Vec;
use blyan_primitives::{merkle_root, tile_hash, ContentStore, Hash};
use frame_support::{
	traits::{
		fungible::{Inspect, MutateHold},
		tokens::Precision,
		Defensive, Get,
	},
	BoundedVec,
};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::traits::{Saturating, Zero};

/// Balance type of the [`Config::Currency`], in planck.
pub type BalanceOf<T> =
	<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

/// Stored record of a tile for runtime `T`.
pub type TileInfoOf<T> = TileInfo<<T as frame_system::Config>::AccountId, BalanceOf<T>>;

/// Bounded tile list of a manifest for runtime `T`.
pub type ManifestTilesOf<T> = BoundedVec<Hash, <T as Config>::MaxTilesPerManifest>;

/// Stored record of a manifest for runtime `T`.
pub type ManifestInfoOf<T> =
	ManifestInfo<<T as frame_system::Config>::AccountId, BlockNumberFor<T>, ManifestTilesOf<T>>;

/// Bytes of one tile for runtime `T`.
pub type TileBytesOf<T> = BoundedVec<u8, <T as Config>::MaxTileBytes>;

const LOG_TARGET: &str = "runtime::content-store";

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::pallet_prelude::*;
	use frame_system::pallet_prelude::*;

	/// The pallet's configuration.
	#[pallet::config]
	pub trait Config: frame_system::Config<RuntimeEvent: From<Event<Self>>> {
		/// Currency from which tile deposits are held (under [`HoldReason::TileDeposit`]).
		/// `Mutate` is needed only to fund accounts in benchmarks.
		type Currency: MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ frame_support::traits::fungible::Mutate<Self::AccountId>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// Largest tile, in bytes. Must be larger than zero. The runtime uses
		/// [`blyan_primitives::MAX_TILE_BYTES`] (4 MiB), which makes a manifest of full-size
		/// cuts have the engine's payload root; genesis payloads are cut at this size.
		#[pallet::constant]
		type MaxTileBytes: Get<u32>;

		/// Most tiles in one manifest. Must be larger than zero. The largest payload is
		/// `MaxTilesPerManifest × MaxTileBytes` bytes (runtime: 64 × 4 MiB = 256 MiB).
		#[pallet::constant]
		type MaxTilesPerManifest: Get<u32>;

		/// Fixed part of a tile's deposit, in planck.
		#[pallet::constant]
		type TileDepositBase: Get<BalanceOf<Self>>;

		/// Deposit per byte of a tile, in planck per byte.
		#[pallet::constant]
		type TileDepositPerByte: Get<BalanceOf<Self>>;

		/// Number of blocks an unreferenced manifest is kept before anyone may prune it.
		#[pallet::constant]
		type RetentionPeriod: Get<BlockNumberFor<Self>>;

		/// Weights of this pallet's calls.
		type WeightInfo: WeightInfo;
	}

	/// Reasons for which this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// Deposit for the storage taken by a published tile.
		#[codec(index = 0)]
		TileDeposit,
	}

	/// The pallet.
	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// Current storage version.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);

	/// Tile metadata, indexed by tile hash (blake3 of the bytes).
	#[pallet::storage]
	pub type Tiles<T: Config> = StorageMap<_, Identity, Hash, TileInfoOf<T>, OptionQuery>;

	/// Tile bytes, indexed by tile hash. Present exactly when [`Tiles`] has the key.
	#[pallet::storage]
	pub type TileData<T: Config> = StorageMap<_, Identity, Hash, TileBytesOf<T>, OptionQuery>;

	/// Committed manifests, indexed by root (Merkle root of the tile hashes).
	#[pallet::storage]
	pub type Manifests<T: Config> = StorageMap<_, Identity, Hash, ManifestInfoOf<T>, OptionQuery>;

	/// Events of this pallet.
	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A tile was published and its deposit held.
		TilePublished {
			/// Tile hash (blake3 of the bytes).
			hash: Hash,
			/// Publisher, who owns the tile and its deposit.
			who: T::AccountId,
			/// Size in bytes.
			len: u32,
			/// Deposit held, in planck.
			deposit: BalanceOf<T>,
		},
		/// A manifest was committed.
		ManifestCommitted {
			/// Root of the manifest.
			root: Hash,
			/// Account that committed it.
			who: T::AccountId,
			/// Number of tiles listed.
			tiles: u32,
			/// Payload size in bytes.
			len: u64,
		},
		/// An unreferenced manifest was pruned after its retention period.
		ManifestPruned {
			/// Root of the pruned manifest.
			root: Hash,
		},
		/// A tile was removed and its deposit returned to its owner.
		TileRemoved {
			/// Tile hash.
			hash: Hash,
			/// Deposit released to the owner, in planck.
			refunded: BalanceOf<T>,
		},
		/// A pallet took a reference to a manifest.
		ReferenceAdded {
			/// Root of the manifest.
			root: Hash,
			/// References after the change.
			refs: u32,
		},
		/// A pallet dropped a reference to a manifest.
		ReferenceDropped {
			/// Root of the manifest.
			root: Hash,
			/// References after the change; at zero the retention period starts.
			refs: u32,
		},
	}

	/// Errors of this pallet.
	#[pallet::error]
	pub enum Error<T> {
		/// The tile has no bytes.
		EmptyTile,
		/// A tile with these bytes is already stored.
		TileAlreadyPublished,
		/// The publisher cannot afford the tile deposit.
		InsufficientBalance,
		/// The manifest lists no tile.
		EmptyManifest,
		/// A tile of the manifest (or the tile to remove) is not stored.
		UnknownTile,
		/// The Merkle root of the listed tiles is not the given root.
		RootMismatch,
		/// A manifest with this root is already committed.
		ManifestAlreadyCommitted,
		/// No manifest with this root is committed.
		UnknownManifest,
		/// The manifest is still referenced (or pinned at genesis).
		StillReferenced,
		/// The manifest's retention period has not ended yet.
		RetentionNotOver,
		/// The caller does not own the tile.
		NotOwner,
		/// A manifest still uses the tile.
		TileInUse,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn integrity_test() {
			assert!(T::MaxTileBytes::get() > 0, "MaxTileBytes must be larger than zero");
			assert!(
				T::MaxTilesPerManifest::get() > 0,
				"MaxTilesPerManifest must be larger than zero"
			);
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	/// Payloads stored at genesis.
	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// `(owner, payload bytes)`. Each payload is cut into tiles of `MaxTileBytes` bytes,
		/// stored without deposit and committed as a manifest pinned with one reference.
		/// A payload must be non-empty and fit in `MaxTilesPerManifest` tiles; the same
		/// payload listed twice is pinned twice.
		pub payloads: Vec<(T::AccountId, Vec<u8>)>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			for (owner, payload) in &self.payloads {
				Pallet::<T>::store_genesis_payload(owner, payload);
			}
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Publishes one tile and holds its deposit
		/// (`TileDepositBase + TileDepositPerByte × len` planck).
		///
		/// - `origin`: signed; becomes the tile's owner.
		/// - `bytes`: the tile, 1 to `MaxTileBytes` bytes. Its key is blake3 of the bytes.
		///
		/// Errors: [`Error::EmptyTile`], [`Error::TileAlreadyPublished`],
		/// [`Error::InsufficientBalance`]. Emits [`Event::TilePublished`].
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::publish_tile(bytes.len() as u32))]
		pub fn publish_tile(origin: OriginFor<T>, bytes: TileBytesOf<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_publish_tile(who, bytes).map(|_| ())
		}

		/// Commits an ordered tile list as a manifest keyed by its Merkle root. Every tile's
		/// reference count grows by one per listing. The manifest starts unreferenced: it is
		/// prunable `RetentionPeriod` blocks later unless a pallet references it.
		///
		/// - `origin`: signed; recorded as the manifest's owner.
		/// - `tiles`: 1 to `MaxTilesPerManifest` stored tile hashes, in payload order.
		/// - `root`: [`blyan_primitives::merkle_root`] of `tiles`.
		///
		/// Errors: [`Error::EmptyManifest`], [`Error::RootMismatch`],
		/// [`Error::ManifestAlreadyCommitted`], [`Error::UnknownTile`].
		/// Emits [`Event::ManifestCommitted`].
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::commit_manifest(tiles.len() as u32))]
		pub fn commit_manifest(
			origin: OriginFor<T>,
			tiles: ManifestTilesOf<T>,
			root: Hash,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_commit_manifest(who, tiles, root)
		}

		/// Removes an unreferenced manifest whose retention period is over. Tiles that no
		/// other manifest uses are removed too and their deposits released to their owners.
		///
		/// - `origin`: any signed account.
		/// - `root`: the manifest's root.
		///
		/// Errors: [`Error::UnknownManifest`], [`Error::StillReferenced`],
		/// [`Error::RetentionNotOver`]. Emits one [`Event::TileRemoved`] per removed tile,
		/// then [`Event::ManifestPruned`].
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::prune(T::MaxTilesPerManifest::get()))]
		pub fn prune(origin: OriginFor<T>, root: Hash) -> DispatchResultWithPostInfo {
			ensure_signed(origin)?;
			let tiles = Self::do_prune(root)?;
			Ok(Some(T::WeightInfo::prune(tiles)).into())
		}

		/// Withdraws a tile that no manifest uses and releases its deposit.
		///
		/// - `origin`: signed; must be the tile's owner.
		/// - `hash`: the tile hash.
		///
		/// Errors: [`Error::UnknownTile`], [`Error::NotOwner`], [`Error::TileInUse`].
		/// Emits [`Event::TileRemoved`].
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::remove_tile())]
		pub fn remove_tile(origin: OriginFor<T>, hash: Hash) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_remove_tile(who, hash)
		}
	}
}

impl<T: Config> Pallet<T> {
	/// The pallet's invariants (`try_state`; also run by the tests and the fuzz harness):
	///
	/// - `Tiles` and `TileData` have the same keys; a tile's bytes hash to its key and have
	///   its recorded length;
	/// - a tile's `refs` is the number of manifest slots that list it;
	/// - a manifest's key is the Merkle root of its tiles, all of which exist, and its `len` is
	///   the sum of their lengths;
	/// - a manifest has `unreferenced_since` exactly when it has no reference;
	/// - the deposits held from each account under `TileDeposit` are the deposits of the
	///   tiles it owns.
	///
	/// Cost: iterates every tile and manifest (off-chain only).
	#[cfg(any(feature = "std", feature = "try-runtime"))]
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use alloc::collections::btree_map::BTreeMap;
		use frame_support::{ensure, traits::fungible::InspectHold};
		let mut slots: BTreeMap<Hash, u32> = BTreeMap::new();
		for (root, m) in Manifests::<T>::iter() {
			ensure!(blyan_primitives::merkle_root(&m.tiles) == root, "a manifest's root is wrong");
			let mut len: u64 = 0;
			for t in m.tiles.iter() {
				let tile = Tiles::<T>::get(t).ok_or("a manifest lists a missing tile")?;
				len = len.saturating_add(u64::from(tile.len));
				*slots.entry(*t).or_default() += 1;
			}
			ensure!(len == m.len, "a manifest's length is not its tiles' lengths");
			ensure!(
				(m.refs == 0) == m.unreferenced_since.is_some(),
				"unreferenced_since disagrees with refs"
			);
		}
		let mut deposits: BTreeMap<T::AccountId, BalanceOf<T>> = BTreeMap::new();
		let mut tiles = 0usize;
		for (hash, info) in Tiles::<T>::iter() {
			tiles += 1;
			let bytes = TileData::<T>::get(hash).ok_or("a tile has no bytes")?;
			ensure!(
				blyan_primitives::tile_hash(&bytes) == hash,
				"a tile's bytes do not hash to it"
			);
			ensure!(bytes.len() as u32 == info.len, "a tile's length is wrong");
			ensure!(
				slots.get(&hash).copied().unwrap_or(0) == info.refs,
				"a tile's refs differ from the manifest slots listing it"
			);
			let d = deposits.entry(info.owner.clone()).or_default();
			*d = d.saturating_add(info.deposit);
		}
		ensure!(
			TileData::<T>::iter_keys().count() == tiles,
			"bytes of a tile that is not recorded"
		);
		for (who, deposit) in deposits {
			let held = T::Currency::balance_on_hold(&HoldReason::TileDeposit.into(), &who);
			ensure!(held == deposit, "held tile deposits differ from the tiles' deposits");
		}
		Ok(())
	}

	/// Deposit for a tile of `len` bytes: `TileDepositBase + TileDepositPerByte × len`, in
	/// planck (saturating).
	pub fn tile_deposit(len: u32) -> BalanceOf<T> {
		T::TileDepositBase::get()
			.saturating_add(T::TileDepositPerByte::get().saturating_mul(len.into()))
	}

	/// Publishes `bytes` as a tile owned by `who`; returns the tile hash.
	pub fn do_publish_tile(
		who: T::AccountId,
		bytes: TileBytesOf<T>,
	) -> Result<Hash, sp_runtime::DispatchError> {
		frame_support::ensure!(!bytes.is_empty(), Error::<T>::EmptyTile);
		let hash = tile_hash(&bytes);
		frame_support::ensure!(!Tiles::<T>::contains_key(hash), Error::<T>::TileAlreadyPublished);
		// A bounded vector's length fits its `u32` bound.
		let len = bytes.len() as u32;
		let deposit = Self::tile_deposit(len);
		T::Currency::hold(&HoldReason::TileDeposit.into(), &who, deposit)
			.map_err(|_| Error::<T>::InsufficientBalance)?;

		Tiles::<T>::insert(hash, TileInfo { owner: who.clone(), len, deposit, refs: 0 });
		TileData::<T>::insert(hash, bytes);
		Self::deposit_event(Event::TilePublished { hash, who, len, deposit });
		Ok(hash)
	}

	/// Commits `tiles` under `root` for `who`.
	pub fn do_commit_manifest(
		who: T::AccountId,
		tiles: ManifestTilesOf<T>,
		root: Hash,
	) -> sp_runtime::DispatchResult {
		frame_support::ensure!(!tiles.is_empty(), Error::<T>::EmptyManifest);
		frame_support::ensure!(merkle_root(&tiles) == root, Error::<T>::RootMismatch);
		frame_support::ensure!(
			!Manifests::<T>::contains_key(root),
			Error::<T>::ManifestAlreadyCommitted
		);
		let mut len: u64 = 0;
		for hash in tiles.iter() {
			let info = Tiles::<T>::get(hash).ok_or(Error::<T>::UnknownTile)?;
			len = len.saturating_add(u64::from(info.len));
		}

		for hash in tiles.iter() {
			Tiles::<T>::mutate(hash, |maybe| {
				if let Some(info) = maybe {
					info.refs = info.refs.saturating_add(1);
				}
			});
		}
		let count = tiles.len() as u32;
		let now = frame_system::Pallet::<T>::block_number();
		Manifests::<T>::insert(
			root,
			ManifestInfo { owner: who.clone(), tiles, len, refs: 0, unreferenced_since: Some(now) },
		);
		Self::deposit_event(Event::ManifestCommitted { root, who, tiles: count, len });
		Ok(())
	}

	/// Prunes the manifest `root`; returns how many tiles it listed (for the weight).
	pub fn do_prune(root: Hash) -> Result<u32, sp_runtime::DispatchError> {
		let manifest = Manifests::<T>::get(root).ok_or(Error::<T>::UnknownManifest)?;
		frame_support::ensure!(manifest.refs == 0, Error::<T>::StillReferenced);
		// `None` with no reference only happens for pinned content: treat it as referenced.
		let since = manifest.unreferenced_since.ok_or(Error::<T>::StillReferenced)?;
		let now = frame_system::Pallet::<T>::block_number();
		frame_support::ensure!(
			now >= since.saturating_add(T::RetentionPeriod::get()),
			Error::<T>::RetentionNotOver
		);

		Manifests::<T>::remove(root);
		for hash in manifest.tiles.iter() {
			let Some(mut info) = Tiles::<T>::get(hash) else {
				log::error!(target: LOG_TARGET, "manifest {:?} lists a missing tile {:?}", root, hash);
				continue;
			};
			info.refs = info.refs.saturating_sub(1);
			if info.refs == 0 {
				Self::remove_tile_and_refund(*hash, info);
			} else {
				Tiles::<T>::insert(hash, info);
			}
		}
		Self::deposit_event(Event::ManifestPruned { root });
		Ok(manifest.tiles.len() as u32)
	}

	/// Withdraws `who`'s unused tile `hash`.
	pub fn do_remove_tile(who: T::AccountId, hash: Hash) -> sp_runtime::DispatchResult {
		let info = Tiles::<T>::get(hash).ok_or(Error::<T>::UnknownTile)?;
		frame_support::ensure!(info.owner == who, Error::<T>::NotOwner);
		frame_support::ensure!(info.refs == 0, Error::<T>::TileInUse);

		Self::remove_tile_and_refund(hash, info);
		Ok(())
	}

	/// Removes a tile's record and bytes, releases its deposit and emits
	/// [`Event::TileRemoved`]. Callers have checked that nothing uses the tile.
	fn remove_tile_and_refund(hash: Hash, info: TileInfoOf<T>) {
		Tiles::<T>::remove(hash);
		TileData::<T>::remove(hash);
		let refunded = if info.deposit.is_zero() {
			Zero::zero()
		} else {
			T::Currency::release(
				&HoldReason::TileDeposit.into(),
				&info.owner,
				info.deposit,
				Precision::BestEffort,
			)
			.defensive_proof("the deposit was held when the tile was published; qed")
			.unwrap_or_else(|_| Zero::zero())
		};
		Self::deposit_event(Event::TileRemoved { hash, refunded });
	}

	/// Stores one genesis payload: cuts it into `MaxTileBytes` tiles, stores them without
	/// deposit and commits the manifest pinned with one reference.
	///
	/// Panics (genesis only) when the payload is empty or needs more than
	/// `MaxTilesPerManifest` tiles.
	fn store_genesis_payload(owner: &T::AccountId, payload: &[u8]) {
		assert!(!payload.is_empty(), "content-store genesis: a payload must not be empty");
		let max = T::MaxTileBytes::get() as usize;
		let mut hashes: Vec<Hash> = Vec::new();
		let mut cuts: Vec<&[u8]> = Vec::new();
		for cut in payload.chunks(max) {
			hashes.push(tile_hash(cut));
			cuts.push(cut);
		}
		let tiles = ManifestTilesOf::<T>::try_from(hashes)
			.expect("content-store genesis: a payload must fit in MaxTilesPerManifest tiles");
		let root = merkle_root(&tiles);
		if let Some(mut manifest) = Manifests::<T>::get(root) {
			// The same payload listed again: pin it once more.
			manifest.refs = manifest.refs.saturating_add(1);
			Manifests::<T>::insert(root, manifest);
			return;
		}
		for (hash, cut) in tiles.iter().zip(cuts) {
			if let Some(mut info) = Tiles::<T>::get(hash) {
				info.refs = info.refs.saturating_add(1);
				Tiles::<T>::insert(hash, info);
			} else {
				let bytes = TileBytesOf::<T>::try_from(cut.to_vec())
					.expect("chunks of MaxTileBytes bytes fit in MaxTileBytes; qed");
				let len = bytes.len() as u32;
				Tiles::<T>::insert(
					hash,
					TileInfo { owner: owner.clone(), len, deposit: Zero::zero(), refs: 1 },
				);
				TileData::<T>::insert(hash, bytes);
			}
		}
		Manifests::<T>::insert(
			root,
			ManifestInfo {
				owner: owner.clone(),
				tiles,
				len: payload.len() as u64,
				refs: 1,
				unreferenced_since: None,
			},
		);
	}

	/// The whole payload of manifest `root`: its tiles concatenated in order. `None` when the
	/// manifest is unknown (or, defensively, a tile is missing). The caller verifies the
	/// bytes against `root` before serving them.
	pub fn payload(root: Hash) -> Option<Vec<u8>> {
		let manifest = Manifests::<T>::get(root)?;
		let mut out = Vec::with_capacity(usize::try_from(manifest.len).unwrap_or(0));
		for hash in manifest.tiles.iter() {
			let bytes = TileData::<T>::get(hash)?;
			out.extend_from_slice(&bytes);
		}
		Some(out)
	}

	/// The ordered tile hashes of manifest `root`, if it is committed.
	pub fn manifest_tiles(root: Hash) -> Option<Vec<Hash>> {
		Manifests::<T>::get(root).map(|m| m.tiles.into_inner())
	}

	/// The bytes of tile `hash`, if it is stored.
	pub fn tile(hash: Hash) -> Option<Vec<u8>> {
		TileData::<T>::get(hash).map(|b| b.into_inner())
	}
}

/// The content store as other pallets see it. Each call costs one read and at most one
/// write of [`Manifests`]; the caller's weight must account for it.
impl<T: Config> ContentStore for Pallet<T> {
	fn has_payload(root: &Hash) -> bool {
		Manifests::<T>::contains_key(root)
	}

	fn payload_len(root: &Hash) -> Option<u64> {
		Manifests::<T>::get(root).map(|m| m.len)
	}

	/// Adds a reference and stops the retention clock. Emits [`Event::ReferenceAdded`].
	fn add_ref(root: &Hash) -> bool {
		let Some(mut manifest) = Manifests::<T>::get(root) else {
			return false;
		};
		manifest.refs = manifest.refs.saturating_add(1);
		manifest.unreferenced_since = None;
		let refs = manifest.refs;
		Manifests::<T>::insert(root, manifest);
		Self::deposit_event(Event::ReferenceAdded { root: *root, refs });
		true
	}

	/// Drops a reference; the last one starts the retention clock. Emits
	/// [`Event::ReferenceDropped`]. An unknown root or a manifest with no reference left is
	/// left unchanged.
	fn remove_ref(root: &Hash) {
		let Some(mut manifest) = Manifests::<T>::get(root) else {
			return;
		};
		if manifest.refs == 0 {
			log::warn!(target: LOG_TARGET, "remove_ref on unreferenced manifest {:?}", root);
			return;
		}
		manifest.refs = manifest.refs.saturating_sub(1);
		if manifest.refs == 0 {
			manifest.unreferenced_since = Some(frame_system::Pallet::<T>::block_number());
		}
		let refs = manifest.refs;
		Manifests::<T>::insert(root, manifest);
		Self::deposit_event(Event::ReferenceDropped { root: *root, refs });
	}
}

/// Runtime API through which nodes read stored content.
pub mod runtime_api {
	use alloc::vec::Vec;

	sp_api::decl_runtime_apis! {
		/// Reads payloads and manifests of the content store.
		///
		/// The runtime returns stored bytes as they are; a node verifies them against the
		/// root (`blyan_primitives::payload_root`, or `merkle_root` of the tile hashes) before
		/// serving them or using them.
		pub trait ContentStoreApi {
			/// The payload of manifest `root` (its tiles concatenated), if committed.
			fn payload(root: [u8; 32]) -> Option<Vec<u8>>;
			/// The ordered tile hashes of manifest `root`, if committed.
			fn manifest(root: [u8; 32]) -> Option<Vec<[u8; 32]>>;
			/// The bytes of one tile, if stored. Lets a node fetch a large payload tile by
			/// tile instead of in one call.
			fn tile(hash: [u8; 32]) -> Option<Vec<u8>>;
			/// The length in bytes of committed payload `root`, so that a reader can refuse a
			/// payload larger than it expects before fetching it.
			fn payload_len(root: [u8; 32]) -> Option<u64>;
		}
	}
}
