//! Benchmarks of the parameter-DAG pallet.
//!
//! `propose_block(d, n)` varies the number of dependencies `d` and the number of blocks
//! already in the DAG `n` (10^3..10^5, written straight into storage). SPEC: "insertion
//! cost O(dependencies), never O(chain)" — the fitted slope on `n` must be ~0.

use super::*;
use crate::Pallet as ParamDag;
use frame_benchmarking::v2::*;
use frame_support::{storage::StoragePrefixedMap, traits::EnsureOrigin};
use frame_system::RawOrigin;

/// Largest `n` (blocks already in the DAG) of the `propose_block` benchmark: 10^5 for the
/// real benchmark run through the runtime. The pallet's own benchmark test suite
/// (`impl_benchmark_test_suite!`, a debug build) caps it at 10^4: the suite runs the
/// benchmark 12 times (6 values per component, the other component at its maximum) and
/// each run commits the filled state to a trie, which costs about 8 s per 10^5 entries in a
/// debug build (81 s for the whole suite at 10^5, measured on the 2-core dev machine).
const DAG_SIZE_MAX: u32 = if cfg!(test) { 10_000 } else { 100_000 };

/// Id of the `i`-th pre-existing benchmark block (any distinct 32 bytes will do; `Blocks`
/// hashes its keys with blake2 anyway).
fn filler_id(i: u32) -> Hash {
	let mut id = [0xf1; 32];
	id[..4].copy_from_slice(&i.to_le_bytes());
	id
}

/// Writes `n` accepted blocks straight into [`Blocks`] (no checks, no events), as the DAG of
/// a long-running chain would hold them; ids are [`filler_id`]`(0..n)`. Only `Blocks` grows
/// with `n`: it is the one map `propose_block` reads. To keep the benchmark test suite fast
/// the value is encoded once and the keys are built from the map's prefix (the same bytes
/// `Blocks::insert` would write).
fn fill_dag<T: Config>(n: u32, spec: SpecId, payload: Hash, size: u64) {
	let block: ParamBlockOf<T> = ParamBlock {
		spec,
		expert_name: BoundedVec::truncate_from(b"layer0.expert0".to_vec()),
		layer_id: 0,
		block_type: BlockType::Expert,
		depends_on: Default::default(),
		payload_hash: payload,
		payload_size: size,
		miner: account("filler", 0, 0),
		nonce: 0,
		status: BlockStatus::Accepted,
		proposed_at: Zero::zero(),
		seq: 0,
	};
	let value = block.encode();
	let prefix = Blocks::<T>::final_prefix();
	let mut key = Vec::with_capacity(prefix.len() + 16 + 32);
	for i in 0..n {
		let id = filler_id(i);
		key.clear();
		key.extend_from_slice(&prefix);
		key.extend_from_slice(&sp_io::hashing::blake2_128(&id));
		key.extend_from_slice(&id);
		frame_support::storage::unhashed::put_raw(&key, &value);
	}
	NextSeq::<T>::put(u64::from(n));
}

/// A block with the given name, dependencies and status, written straight into storage.
fn put_block<T: Config>(name: &[u8], deps: DepsOf<T>, status: BlockStatus, nonce: u64) -> Hash {
	let spec = T::BenchmarkHelper::spec();
	let (payload, size) = T::BenchmarkHelper::payload();
	let miner: T::AccountId = account("miner", 0, 0);
	let expert_name: NameOf<T> = BoundedVec::truncate_from(name.to_vec());
	let id = ParamDag::<T>::block_id(
		spec,
		&expert_name,
		0,
		BlockType::Expert,
		&deps,
		&payload,
		size,
		&miner,
		nonce,
	);
	let seq = NextSeq::<T>::get();
	NextSeq::<T>::put(seq.saturating_add(1));
	Blocks::<T>::insert(
		id,
		ParamBlock {
			spec,
			expert_name,
			layer_id: 0,
			block_type: BlockType::Expert,
			depends_on: deps,
			payload_hash: payload,
			payload_size: size,
			miner,
			nonce,
			status,
			proposed_at: Zero::zero(),
			seq,
		},
	);
	id
}

#[benchmarks]
mod benches {
	use super::*;

	#[benchmark]
	fn propose_block(
		d: Linear<0, { T::MaxDependencies::get() }>,
		n: Linear<1_000, DAG_SIZE_MAX>,
	) -> Result<(), BenchmarkError> {
		let spec = T::BenchmarkHelper::spec();
		let (payload, size) = T::BenchmarkHelper::payload();
		fill_dag::<T>(n, spec, payload, size);
		assert!(Blocks::<T>::contains_key(filler_id(n - 1)), "fill_dag writes real Blocks keys");
		let depends_on: DepsOf<T> =
			BoundedVec::truncate_from((0..d).map(filler_id).collect::<Vec<_>>());
		let caller: T::AccountId = whitelisted_caller();
		// Longest well-formed name within the bound, for the worst-case encoding.
		let name: NameOf<T> =
			BoundedVec::truncate_from(b"layer4294967295.expert4294967295".to_vec());
		let name_check = ParamName::parse(&name);
		let (layer_id, block_type) = match name_check {
			Some(ParamName::Expert { layer, .. }) => (layer, BlockType::Expert),
			// A runtime with a shorter MaxNameLen truncated the name; fall back.
			_ => (0, BlockType::Meta),
		};
		let name: NameOf<T> = if name_check.is_some() {
			name
		} else {
			BoundedVec::truncate_from(b"backbone".to_vec())
		};
		let header = ParamDag::<T>::header_without_nonce(
			spec,
			&name,
			layer_id,
			block_type,
			&depends_on,
			&payload,
			size,
			&caller,
		);
		let nonce = blyan_primitives::solve_pow(&header, T::PowDifficulty::get());
		let id = ParamDag::<T>::block_id(
			spec,
			&name,
			layer_id,
			block_type,
			&depends_on,
			&payload,
			size,
			&caller,
			nonce,
		);

		#[extrinsic_call]
		_(
			RawOrigin::Signed(caller),
			spec,
			name,
			layer_id,
			block_type,
			depends_on,
			payload,
			size,
			nonce,
		);

		assert_eq!(Blocks::<T>::get(id).map(|b| b.seq), Some(u64::from(n)));
		Ok(())
	}

	/// Worst case: `d` accepted dependencies to check and a previous block to supersede.
	#[benchmark]
	fn accept_block(d: Linear<0, { T::MaxDependencies::get() }>) -> Result<(), BenchmarkError> {
		let origin =
			T::AcceptOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let deps: Vec<Hash> = (0..d)
			.map(|i| {
				put_block::<T>(
					b"layer0.expert1",
					Default::default(),
					BlockStatus::Accepted,
					u64::from(i),
				)
			})
			.collect();
		let prev = put_block::<T>(b"layer0.expert0", Default::default(), BlockStatus::Proposed, 0);
		ParamDag::<T>::do_accept_block(prev).map_err(|_| BenchmarkError::Stop("setup: accept"))?;
		let id = put_block::<T>(
			b"layer0.expert0",
			BoundedVec::truncate_from(deps),
			BlockStatus::Proposed,
			1,
		);

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, id);

		assert_eq!(Blocks::<T>::get(prev).map(|b| b.status), Some(BlockStatus::Superseded));
		assert_eq!(
			ParamIndex::<T>::get(BoundedVec::truncate_from(b"layer0.expert0".to_vec())),
			Some(id)
		);
		Ok(())
	}

	#[benchmark]
	fn reject_block() -> Result<(), BenchmarkError> {
		let origin =
			T::AcceptOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let id = put_block::<T>(b"layer0.expert0", Default::default(), BlockStatus::Proposed, 0);

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, id);

		assert_eq!(Blocks::<T>::get(id).map(|b| b.status), Some(BlockStatus::Rejected));
		Ok(())
	}

	impl_benchmark_test_suite!(ParamDag, crate::mock::new_test_ext(), crate::mock::Test);
}
