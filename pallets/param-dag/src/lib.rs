//! # Parameter-DAG pallet (Chain B)
//!
//! ## Overview
//!
//! Chain B of Blyan (SPEC "Chain B — parameter DAG"): every piece of the model's weights
//! (the backbone, each layer's router, each expert) is a content-addressed
//! [`ParamBlock`] whose payload lives in the content store ([`Config::Content`]). Blocks
//! form a DAG through `depends_on`; [`ParamIndex`] maps each parameter name to its accepted
//! block, and [`AcceptedOrder`] lists the accepted blocks in a topological order.
//!
//! Calls ([`Call`]):
//! - [`Pallet::propose_block`] (any signed account, with a light proof of work): adds a
//!   `Proposed` block.
//! - [`Pallet::accept_block`] ([`Config::AcceptOrigin`]): `Proposed → Accepted`; the previous
//!   accepted block of the same name becomes `Superseded`.
//! - [`Pallet::reject_block`] ([`Config::AcceptOrigin`]): `Proposed → Rejected`.
//!
//! Clients read the DAG through [`runtime_api::ParamDagApi`].
//!
//! ## Design
//!
//! - **Block id.** `blake3(SCALE(spec, expert_name, layer_id, block_type, depends_on,
//!   payload_hash, payload_size, miner) ‖ SCALE(nonce))` ([`Pallet::block_id`]). SCALE
//!   encodes the `u64` nonce as 8 little-endian bytes, so the id is exactly the hash that
//!   `blyan_primitives::pow_ok(header_without_nonce, nonce, bits)` tests: the proof of work is
//!   "the id starts with [`Config::PowDifficulty`] zero bits" and costs no second hash.
//! - **Cycle-free by construction.** Every dependency must already be in [`Blocks`] when a
//!   block is proposed ([`Error::UnknownDependency`]), and a block's id commits to its
//!   dependency list, so a block can neither depend on itself nor on a later block: every
//!   edge points from a newer block to an older one, and there is no cycle. Diamonds
//!   (`D → B, C → A`) are ordinary DAGs and allowed.
//! - **Insertion cost O(dependencies), never O(chain).** `propose_block` reads one spec flag,
//!   one entry of [`Blocks`] per dependency plus one for the new id, the payload's length and
//!   the sequence counter; nothing iterates over existing blocks. The benchmark
//!   `propose_block(d, n)` measures this with up to 10^5 blocks already in the DAG.
//! - **Acceptance requires accepted dependencies** ([`Error::DependencyNotAccepted`]): each
//!   dependency must be `Accepted` or `Superseded` (that is, it was accepted at some point).
//!   Superseded parents are allowed because a newer version of an expert may legitimately
//!   have been trained from the version that was current when training began.
//! - **Topological order.** [`AcceptedOrder`] maps the acceptance position `0, 1, 2, …`
//!   (dense, counted by [`AcceptedCount`]) to the block id, and keeps superseded blocks (the
//!   history a syncing node replays). A block is appended only once all its dependencies
//!   have been accepted, so each dependency sits at a smaller position; reading positions
//!   `0..AcceptedCount` in order is therefore a topological order of the accepted DAG
//!   (dependencies first). Dense positions make that read a plain counter loop, with no
//!   ordered iteration over a hashed map needed. ([`ParamBlock::seq`], the proposal order,
//!   is also topological for all blocks, since a dependency must exist before its
//!   dependant is proposed.)
//! - **Payload references.** Proposing adds one reference to the payload
//!   ([`blyan_primitives::ContentStore::add_ref`]); rejecting or being superseded drops it,
//!   which makes the payload prunable after the content store's retention period (SPEC:
//!   "Superseded payloads may be pruned").
//! - **Names** are `backbone` (`Meta`, layer 0), `layer{l}.router` (`Router`, layer `l`) and
//!   `layer{l}.expert{e}` (`Expert`, layer `l`), decimal without leading zeros
//!   ([`ParamName`]). Whether `l` and `e` are within the spec's layer and expert counts is
//!   not checked: [`blyan_primitives::ModelSpecs`] only tells whether a spec exists.
//! - **Genesis blocks** ([`GenesisConfig::blocks`]) are inserted as accepted, without
//!   dependencies and without proof of work (nonce 0). Their spec and payload are not
//!   checked (genesis order between pallets is the runtime's choice); a payload reference is
//!   still taken, and a warning is logged if the content store does not know the payload.
//!
//! ## Terms
//!
//! - **Block**: one versioned parameter unit ([`ParamBlock`]), identified by its id (`Hash`).
//! - **Name**: which parameter the block is a version of; the key of [`ParamIndex`].
//! - **Supersede**: a newer accepted block of the same name replaces an older one.

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

use alloc::vec::Vec;
use blyan_primitives::{ContentStore, Hash, ModelSpecs, SpecId};
use codec::Encode;
use frame_support::{pallet_prelude::*, traits::DefensiveSaturating};
use frame_system::pallet_prelude::BlockNumberFor;

const LOG_TARGET: &str = "runtime::param-dag";

/// A stored parameter block of runtime `T`.
pub type ParamBlockOf<T> = ParamBlock<
	<T as frame_system::Config>::AccountId,
	BlockNumberFor<T>,
	<T as Config>::MaxNameLen,
	<T as Config>::MaxDependencies,
>;
/// DAG size (blocks) at which [`Call::propose_block`] is charged: the largest size its
/// benchmark measured.
pub const DAG_SIZE_WEIGHT: u32 = 100_000;

/// A bounded parameter name of runtime `T`.
pub type NameOf<T> = BoundedVec<u8, <T as Config>::MaxNameLen>;
/// A bounded dependency list of runtime `T`.
pub type DepsOf<T> = BoundedVec<Hash, <T as Config>::MaxDependencies>;
/// A genesis block: `(miner, spec, name, layer, block type, payload root, payload size in
/// bytes)`.
pub type GenesisBlockOf<T> =
	(<T as frame_system::Config>::AccountId, SpecId, Vec<u8>, u32, BlockType, Hash, u64);

/// What the benchmarks need from the runtime: a spec that [`Config::Specs`] knows and a
/// committed payload in [`Config::Content`]. Only compiled with `runtime-benchmarks`.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper {
	/// A spec id that exists (registering one if needed).
	fn spec() -> SpecId;
	/// The root and length (bytes) of a committed payload (committing one if needed).
	fn payload() -> (Hash, u64);
}

#[frame_support::pallet]
#[allow(clippy::too_many_arguments)]
pub mod pallet {
	use super::*;
	use frame_system::pallet_prelude::*;

	/// Configuration of the parameter-DAG pallet.
	#[pallet::config]
	pub trait Config: frame_system::Config<RuntimeEvent: From<Event<Self>>> {
		/// Chain A: which spec ids exist.
		type Specs: ModelSpecs;

		/// The content store holding the payloads.
		type Content: ContentStore;

		/// Origin allowed to accept or reject proposed blocks by hand (root: governance, for
		/// example the blocks of a migration). Blocks in [`Config::Claimed`] are not its to
		/// decide.
		type AcceptOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Blocks whose fate another pallet decides (the candidates of Proof-of-Learning
		/// claims): [`Call::accept_block`] and [`Call::reject_block`] refuse them with
		/// [`Error::UnderClaim`], so that no origin can accept a candidate without its
		/// validators' quorum, or reject one under evaluation.
		type Claimed: frame_support::traits::Contains<Hash>;

		/// Largest number of dependencies of one block. Runtime value: 16.
		#[pallet::constant]
		type MaxDependencies: Get<u32>;

		/// Longest parameter name, in bytes. Must be at least 8 (`backbone`). Runtime value:
		/// 32.
		#[pallet::constant]
		type MaxNameLen: Get<u32>;

		/// Proof-of-work difficulty of `propose_block`: the block id must start with this many
		/// zero bits (expected `2^bits` hashes for the miner). Runtime value: 8.
		#[pallet::constant]
		type PowDifficulty: Get<u32>;

		/// Weights of this pallet's calls.
		type WeightInfo: WeightInfo;

		/// Creates what the benchmarks need.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: crate::BenchmarkHelper;
	}

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// Storage version of this pallet.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);

	/// Every block ever proposed (any status), indexed by block id.
	#[pallet::storage]
	pub type Blocks<T: Config> =
		StorageMap<_, Blake2_128Concat, Hash, ParamBlockOf<T>, OptionQuery>;

	/// The accepted block of each parameter, indexed by parameter name.
	#[pallet::storage]
	pub type ParamIndex<T: Config> = StorageMap<_, Blake2_128Concat, NameOf<T>, Hash, OptionQuery>;

	/// The `seq` the next proposed block gets (the number of blocks proposed so far,
	/// genesis blocks included).
	#[pallet::storage]
	pub type NextSeq<T: Config> = StorageValue<_, u64, ValueQuery>;

	/// Every block ever accepted (now `Accepted` or `Superseded`), indexed by acceptance
	/// position `0..AcceptedCount`. In key order this is a topological order of the
	/// accepted DAG: dependencies first.
	#[pallet::storage]
	pub type AcceptedOrder<T: Config> = StorageMap<_, Twox64Concat, u64, Hash, OptionQuery>;

	/// Number of entries of [`AcceptedOrder`] (the next acceptance position).
	#[pallet::storage]
	pub type AcceptedCount<T: Config> = StorageValue<_, u64, ValueQuery>;

	/// Events of the parameter-DAG pallet.
	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A block was proposed.
		BlockProposed {
			/// The block id.
			id: Hash,
			/// Its parameter name.
			expert_name: NameOf<T>,
			/// The proposing account.
			miner: T::AccountId,
		},
		/// A proposed block was accepted and is now the block of its name.
		BlockAccepted {
			/// The block id.
			id: Hash,
			/// Its parameter name.
			expert_name: NameOf<T>,
		},
		/// An accepted block was replaced by a newer accepted block of the same name.
		BlockSuperseded {
			/// The replaced block's id.
			id: Hash,
		},
		/// A proposed block was rejected.
		BlockRejected {
			/// The block id.
			id: Hash,
		},
	}

	/// Errors of the parameter-DAG pallet.
	#[pallet::error]
	pub enum Error<T> {
		/// The spec does not exist in Chain A.
		UnknownSpec,
		/// A dependency id is not a known block (also what a self-reference gives: a block's
		/// own id cannot exist before it).
		UnknownDependency,
		/// The same dependency is listed twice.
		DuplicateDependency,
		/// A block with this id already exists.
		BlockAlreadyExists,
		/// The content store has no committed payload with this root.
		UnknownPayload,
		/// `payload_size` differs from the committed payload's length.
		PayloadSizeMismatch,
		/// The block id does not start with `PowDifficulty` zero bits.
		InvalidPow,
		/// The name is not `backbone`, `layer{l}.router` or `layer{l}.expert{e}`, or does not
		/// agree with `block_type` and `layer_id`.
		InvalidExpertName,
		/// No block with this id.
		UnknownBlock,
		/// The block is not `Proposed` (only `Proposed → Accepted` and `Proposed → Rejected`
		/// are allowed).
		InvalidTransition,
		/// The block is the candidate of a Proof-of-Learning claim ([`Config::Claimed`]):
		/// only the claim's decision moves it.
		UnderClaim,
		/// A dependency of the block has not been accepted (it is `Proposed` or `Rejected`).
		DependencyNotAccepted,
	}

	/// Genesis: blocks inserted as accepted, in list order, without dependencies or proof
	/// of work.
	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// `(miner, spec, name, layer, block type, payload root, payload size in bytes)`.
		/// A later entry with the same name supersedes an earlier one.
		pub blocks: Vec<GenesisBlockOf<T>>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			for (miner, spec, name, layer_id, block_type, payload_hash, payload_size) in
				&self.blocks
			{
				let expert_name: NameOf<T> = name.clone().try_into().expect(
					"genesis param block: name longer than MaxNameLen; fix paramDag.blocks; qed",
				);
				assert!(
					ParamName::parse(&expert_name).is_some_and(|p| name_agrees(
						&p,
						*block_type,
						*layer_id
					)),
					"genesis param block: name must be backbone/layer{{l}}.router/\
					 layer{{l}}.expert{{e}} agreeing with its block type and layer",
				);
				let depends_on = DepsOf::<T>::default();
				let id = Pallet::<T>::block_id(
					*spec,
					&expert_name,
					*layer_id,
					*block_type,
					&depends_on,
					payload_hash,
					*payload_size,
					miner,
					0,
				);
				assert!(
					!Blocks::<T>::contains_key(id),
					"genesis param block: the same block is listed twice",
				);
				if !T::Content::add_ref(payload_hash) {
					log::warn!(
						target: LOG_TARGET,
						"genesis param block {:?}: payload {:?} is not in the content store",
						core::str::from_utf8(&expert_name),
						payload_hash,
					);
				}
				let seq = NextSeq::<T>::get();
				NextSeq::<T>::put(seq.saturating_add(1));
				let block = ParamBlock {
					spec: *spec,
					expert_name,
					layer_id: *layer_id,
					block_type: *block_type,
					depends_on,
					payload_hash: *payload_hash,
					payload_size: *payload_size,
					miner: miner.clone(),
					nonce: 0,
					status: BlockStatus::Proposed,
					proposed_at: Zero::zero(),
					seq,
				};
				Pallet::<T>::mark_accepted(id, block);
			}
		}
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn integrity_test() {
			assert!(T::MaxNameLen::get() >= 8, "MaxNameLen must fit `backbone` (8 bytes)");
			assert!(T::PowDifficulty::get() <= 256, "PowDifficulty is at most 256 bits");
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Proposes a parameter block.
		///
		/// Origin: signed (the miner).
		/// - `spec`: an existing model spec.
		/// - `expert_name`, `layer_id`, `block_type`: which parameter ([`ParamName`]).
		/// - `depends_on`: ids of existing blocks it builds on, no duplicates.
		/// - `payload_hash`, `payload_size`: root and length (bytes) of a committed payload.
		/// - `nonce`: makes the block id start with [`Config::PowDifficulty`] zero bits.
		///
		/// Cost O(`depends_on.len()`), independent of the DAG's size.
		///
		/// Errors: [`Error::UnknownSpec`], [`Error::InvalidExpertName`],
		/// [`Error::DuplicateDependency`], [`Error::UnknownDependency`],
		/// [`Error::UnknownPayload`], [`Error::PayloadSizeMismatch`], [`Error::InvalidPow`],
		/// [`Error::BlockAlreadyExists`]. Emits [`Event::BlockProposed`].
		#[pallet::call_index(0)]
		// Charged at the benchmarked maximum DAG size (10^5 blocks): the number of storage
		// accesses is 4 + d whatever the size, but each trie read gets deeper as the state
		// grows (docs/benchmarks.md, "Parameter-DAG insertion").
		#[pallet::weight(T::WeightInfo::propose_block(depends_on.len() as u32, DAG_SIZE_WEIGHT))]
		pub fn propose_block(
			origin: OriginFor<T>,
			spec: SpecId,
			expert_name: NameOf<T>,
			layer_id: u32,
			block_type: BlockType,
			depends_on: DepsOf<T>,
			payload_hash: Hash,
			payload_size: u64,
			nonce: u64,
		) -> DispatchResult {
			let miner = ensure_signed(origin)?;
			Self::do_propose_block(
				miner,
				spec,
				expert_name,
				layer_id,
				block_type,
				depends_on,
				payload_hash,
				payload_size,
				nonce,
			)
			.map(|_| ())
		}

		/// Accepts a proposed block: it becomes the block of its name in [`ParamIndex`]
		/// (the previous one is superseded) and is appended to [`AcceptedOrder`].
		///
		/// Origin: [`Config::AcceptOrigin`].
		/// - `id`: a `Proposed` block whose dependencies are all accepted (or superseded).
		///
		/// Errors: [`Error::UnderClaim`], [`Error::UnknownBlock`], [`Error::InvalidTransition`],
		/// [`Error::DependencyNotAccepted`]. Emits [`Event::BlockSuperseded`] (when a block
		/// is replaced) and [`Event::BlockAccepted`].
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::accept_block(T::MaxDependencies::get()))]
		pub fn accept_block(origin: OriginFor<T>, id: Hash) -> DispatchResultWithPostInfo {
			T::AcceptOrigin::ensure_origin(origin)?;
			ensure!(
				!<T::Claimed as frame_support::traits::Contains<Hash>>::contains(&id),
				Error::<T>::UnderClaim
			);
			let deps = Self::do_accept_block(id)?;
			Ok(Some(T::WeightInfo::accept_block(deps)).into())
		}

		/// Rejects a proposed block and drops its payload reference.
		///
		/// Origin: [`Config::AcceptOrigin`].
		/// - `id`: a `Proposed` block.
		///
		/// Errors: [`Error::UnderClaim`], [`Error::UnknownBlock`], [`Error::InvalidTransition`].
		/// Emits [`Event::BlockRejected`].
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::reject_block())]
		pub fn reject_block(origin: OriginFor<T>, id: Hash) -> DispatchResult {
			T::AcceptOrigin::ensure_origin(origin)?;
			ensure!(
				!<T::Claimed as frame_support::traits::Contains<Hash>>::contains(&id),
				Error::<T>::UnderClaim
			);
			Self::do_reject_block(id)
		}
	}
}

impl<T: Config> Pallet<T> {
	/// The pallet's invariants (`try_state`; also run by the tests and the fuzz harness):
	///
	/// - `ParamIndex` names, for each unit, an `Accepted` block of that name, and every
	///   `Accepted` block is its unit's `ParamIndex` entry;
	/// - every dependency of a block exists and was proposed before it (`seq` smaller), so
	///   the DAG has no cycle; every `seq` is below `NextSeq`;
	/// - `AcceptedOrder` holds exactly the positions `0..AcceptedCount`, each a block that
	///   was accepted, dependencies first, each block once.
	///
	/// Cost: iterates every block (off-chain only).
	#[cfg(any(feature = "std", feature = "try-runtime"))]
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		let next_seq = NextSeq::<T>::get();
		let mut accepted = 0usize;
		for (id, block) in Blocks::<T>::iter() {
			ensure!(block.seq < next_seq, "a block's seq is at or above NextSeq");
			for dep in block.depends_on.iter() {
				let Some(d) = Blocks::<T>::get(dep) else {
					return Err("a dependency does not exist".into());
				};
				ensure!(d.seq < block.seq, "a dependency was proposed after its dependant");
			}
			if block.status == BlockStatus::Accepted {
				accepted += 1;
				ensure!(
					ParamIndex::<T>::get(&block.expert_name) == Some(id),
					"an accepted block is not its unit's ParamIndex entry"
				);
			}
		}
		let mut indexed = 0usize;
		for (name, id) in ParamIndex::<T>::iter() {
			indexed += 1;
			let block = Blocks::<T>::get(id).ok_or("ParamIndex names a missing block")?;
			ensure!(block.status == BlockStatus::Accepted, "ParamIndex names a block not accepted");
			ensure!(block.expert_name == name, "ParamIndex names a block of another unit");
		}
		ensure!(indexed == accepted, "accepted blocks and ParamIndex entries differ");
		let count = AcceptedCount::<T>::get();
		ensure!(
			AcceptedOrder::<T>::iter().count() as u64 == count,
			"AcceptedOrder has entries beyond AcceptedCount"
		);
		let mut seen = alloc::collections::BTreeSet::new();
		for pos in 0..count {
			let id = AcceptedOrder::<T>::get(pos).ok_or("a gap in AcceptedOrder")?;
			let block = Blocks::<T>::get(id).ok_or("AcceptedOrder names a missing block")?;
			ensure!(block.status.was_accepted(), "AcceptedOrder names a block never accepted");
			for dep in block.depends_on.iter() {
				ensure!(seen.contains(dep), "AcceptedOrder lists a block before a dependency");
			}
			ensure!(seen.insert(id), "AcceptedOrder lists a block twice");
		}
		Ok(())
	}

	/// SCALE encoding of a block header without its nonce: the bytes a miner grinds with
	/// `blyan_primitives::solve_pow(&header, T::PowDifficulty::get())`.
	#[allow(clippy::too_many_arguments)]
	pub fn header_without_nonce(
		spec: SpecId,
		expert_name: &[u8],
		layer_id: u32,
		block_type: BlockType,
		depends_on: &[Hash],
		payload_hash: &Hash,
		payload_size: u64,
		miner: &T::AccountId,
	) -> Vec<u8> {
		// A bounded vector encodes exactly like the slice.
		(spec, expert_name, layer_id, block_type, depends_on, payload_hash, payload_size, miner)
			.encode()
	}

	/// The id of a block: `blake3(header_without_nonce ‖ nonce as 8 little-endian bytes)`,
	/// i.e. blake3 of the SCALE encoding of all header fields, and the very hash that
	/// `blyan_primitives::pow_ok(header_without_nonce, nonce, bits)` tests.
	#[allow(clippy::too_many_arguments)]
	pub fn block_id(
		spec: SpecId,
		expert_name: &[u8],
		layer_id: u32,
		block_type: BlockType,
		depends_on: &[Hash],
		payload_hash: &Hash,
		payload_size: u64,
		miner: &T::AccountId,
		nonce: u64,
	) -> Hash {
		let header = Self::header_without_nonce(
			spec,
			expert_name,
			layer_id,
			block_type,
			depends_on,
			payload_hash,
			payload_size,
			miner,
		);
		let mut h = blake3::Hasher::new();
		h.update(&header);
		h.update(&nonce.encode());
		*h.finalize().as_bytes()
	}

	/// Checks and stores a proposed block; returns its id. Writes nothing on error.
	#[allow(clippy::too_many_arguments)]
	pub fn do_propose_block(
		miner: T::AccountId,
		spec: SpecId,
		expert_name: NameOf<T>,
		layer_id: u32,
		block_type: BlockType,
		depends_on: DepsOf<T>,
		payload_hash: Hash,
		payload_size: u64,
		nonce: u64,
	) -> Result<Hash, DispatchError> {
		ensure!(T::Specs::spec_exists(spec), Error::<T>::UnknownSpec);
		ensure!(
			ParamName::parse(&expert_name).is_some_and(|p| name_agrees(&p, block_type, layer_id)),
			Error::<T>::InvalidExpertName
		);
		// O(d log d) with d ≤ MaxDependencies.
		let mut sorted: Vec<Hash> = depends_on.to_vec();
		sorted.sort_unstable();
		ensure!(sorted.windows(2).all(|w| w[0] != w[1]), Error::<T>::DuplicateDependency);
		for dep in depends_on.iter() {
			ensure!(Blocks::<T>::contains_key(dep), Error::<T>::UnknownDependency);
		}
		ensure!(T::Content::has_payload(&payload_hash), Error::<T>::UnknownPayload);
		ensure!(
			T::Content::payload_len(&payload_hash) == Some(payload_size),
			Error::<T>::PayloadSizeMismatch
		);
		let id = Self::block_id(
			spec,
			&expert_name,
			layer_id,
			block_type,
			&depends_on,
			&payload_hash,
			payload_size,
			&miner,
			nonce,
		);
		ensure!(
			blyan_primitives::leading_zero_bits(&id) >= T::PowDifficulty::get(),
			Error::<T>::InvalidPow
		);
		ensure!(!Blocks::<T>::contains_key(id), Error::<T>::BlockAlreadyExists);
		// `add_ref` changes nothing when it fails, so this is still before any write.
		ensure!(T::Content::add_ref(&payload_hash), Error::<T>::UnknownPayload);

		let seq = NextSeq::<T>::get();
		NextSeq::<T>::put(seq.saturating_add(1));
		Blocks::<T>::insert(
			id,
			ParamBlock {
				spec,
				expert_name: expert_name.clone(),
				layer_id,
				block_type,
				depends_on,
				payload_hash,
				payload_size,
				miner: miner.clone(),
				nonce,
				status: BlockStatus::Proposed,
				proposed_at: frame_system::Pallet::<T>::block_number(),
				seq,
			},
		);
		Self::deposit_event(Event::BlockProposed { id, expert_name, miner });
		Ok(id)
	}

	/// Proposes an update of `parent`'s unit: a block with the parent's spec, name, layer and
	/// type, `depends_on = [parent]`, and the given committed payload (its size read from the
	/// content store). Used by the Proof-of-Learning pallet for claims. The PoW is over this
	/// header as in [`Self::block_id`]. Writes nothing on error.
	///
	/// Errors: [`Error::UnknownDependency`] (no such parent), [`Error::UnknownPayload`], and
	/// those of [`Self::do_propose_block`].
	pub fn do_propose_child(
		miner: T::AccountId,
		parent: Hash,
		payload_hash: Hash,
		nonce: u64,
	) -> Result<Hash, DispatchError> {
		let p = Blocks::<T>::get(parent).ok_or(Error::<T>::UnknownDependency)?;
		let size = T::Content::payload_len(&payload_hash).ok_or(Error::<T>::UnknownPayload)?;
		let deps: DepsOf<T> = BoundedVec::truncate_from(alloc::vec![parent]);
		Self::do_propose_block(
			miner,
			p.spec,
			p.expert_name,
			p.layer_id,
			p.block_type,
			deps,
			payload_hash,
			size,
			nonce,
		)
	}

	/// The smallest PoW nonce for the child of `parent` with payload `payload_hash` by `miner`
	/// (the block [`Self::do_propose_child`] would add): `blyan_primitives::solve_pow` over
	/// its header. `None` when the parent or the payload is unknown. Expected work:
	/// `2^PowDifficulty` blake3 hashes, so this is for off-chain workers and benchmarks.
	pub fn child_nonce(miner: &T::AccountId, parent: &Hash, payload_hash: &Hash) -> Option<u64> {
		let p = Blocks::<T>::get(parent)?;
		let size = T::Content::payload_len(payload_hash)?;
		let header = Self::header_without_nonce(
			p.spec,
			&p.expert_name,
			p.layer_id,
			p.block_type,
			&[*parent],
			payload_hash,
			size,
			miner,
		);
		Some(blyan_primitives::solve_pow(&header, T::PowDifficulty::get()))
	}

	/// The unit name of a block, if it exists.
	pub fn name_of(id: &Hash) -> Option<Vec<u8>> {
		Blocks::<T>::get(id).map(|b| b.expert_name.into_inner())
	}

	/// Accepts a proposed block; returns its number of dependencies (for the weight).
	/// Writes nothing on error.
	pub fn do_accept_block(id: Hash) -> Result<u32, DispatchError> {
		let block = Blocks::<T>::get(id).ok_or(Error::<T>::UnknownBlock)?;
		ensure!(block.status == BlockStatus::Proposed, Error::<T>::InvalidTransition);
		for dep in block.depends_on.iter() {
			// Blocks are never removed, so a missing dependency cannot happen; treat it as
			// not accepted rather than panicking.
			let accepted = Blocks::<T>::get(dep).is_some_and(|d| d.status.was_accepted());
			ensure!(accepted, Error::<T>::DependencyNotAccepted);
		}
		let deps = block.depends_on.len() as u32;
		Self::mark_accepted(id, block);
		Ok(deps)
	}

	/// Writes an accepted block (already checked): supersedes the previous block of its name,
	/// updates [`ParamIndex`], appends to [`AcceptedOrder`], emits the events.
	fn mark_accepted(id: Hash, mut block: ParamBlockOf<T>) {
		let name = block.expert_name.clone();
		if let Some(prev_id) = ParamIndex::<T>::get(&name) {
			if let Some(mut prev) = Blocks::<T>::get(prev_id) {
				prev.status = BlockStatus::Superseded;
				T::Content::remove_ref(&prev.payload_hash);
				Blocks::<T>::insert(prev_id, prev);
				Self::deposit_event(Event::BlockSuperseded { id: prev_id });
			}
		}
		block.status = BlockStatus::Accepted;
		Blocks::<T>::insert(id, block);
		ParamIndex::<T>::insert(&name, id);
		let pos = AcceptedCount::<T>::get();
		AcceptedOrder::<T>::insert(pos, id);
		AcceptedCount::<T>::put(pos.defensive_saturating_add(1));
		Self::deposit_event(Event::BlockAccepted { id, expert_name: name });
	}

	/// Rejects a proposed block. Writes nothing on error.
	pub fn do_reject_block(id: Hash) -> DispatchResult {
		let mut block = Blocks::<T>::get(id).ok_or(Error::<T>::UnknownBlock)?;
		ensure!(block.status == BlockStatus::Proposed, Error::<T>::InvalidTransition);

		block.status = BlockStatus::Rejected;
		T::Content::remove_ref(&block.payload_hash);
		Blocks::<T>::insert(id, block);
		Self::deposit_event(Event::BlockRejected { id });
		Ok(())
	}

	/// All accepted (and superseded) block ids, dependencies first. Reads
	/// `AcceptedCount` entries: for clients (runtime API), not for extrinsics.
	pub fn topological_order() -> Vec<Hash> {
		Self::topological_order_page(0, u32::MAX)
	}

	/// Up to `max` ids of [`AcceptedOrder`] from position `start` on, in order.
	pub fn topological_order_page(start: u64, max: u32) -> Vec<Hash> {
		let end = AcceptedCount::<T>::get().min(start.saturating_add(u64::from(max)));
		(start..end).filter_map(AcceptedOrder::<T>::get).collect()
	}

	/// The accepted block of a parameter name, if any.
	pub fn accepted(name: &[u8]) -> Option<Hash> {
		let name: NameOf<T> = name.to_vec().try_into().ok()?;
		ParamIndex::<T>::get(name)
	}

	/// The payload root of a parameter name's accepted block, if any.
	pub fn accepted_payload(name: &[u8]) -> Option<Hash> {
		Self::accepted(name).and_then(Blocks::<T>::get).map(|b| b.payload_hash)
	}
}
