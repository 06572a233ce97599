//! Benchmarks of the dataset pallet (v2 syntax).

use super::*;
use crate::Pallet as Dataset;
use alloc::vec;
use blyan_primitives::{DatasetId, Hash};
use frame_benchmarking::v2::*;
use frame_support::{
	traits::{EnsureOrigin, Get, Hooks},
	BoundedVec,
};
use frame_system::{pallet_prelude::BlockNumberFor, RawOrigin};
use sp_runtime::traits::{One, Saturating};

/// A content root unique to `n`.
fn root(n: u32) -> Hash {
	blyan_primitives::tile_hash(&n.to_le_bytes())
}

/// A name of `MaxNameLen` bytes.
fn full_name<T: Config>() -> BoundedVec<u8, T::MaxNameLen> {
	BoundedVec::truncate_from(vec![b'n'; T::MaxNameLen::get() as usize])
}

/// Submits a dataset of `creator` with root `root(n)` and `s` sample hashes, solving the PoW.
fn submit<T: Config>(creator: &T::AccountId, n: u32, s: u32) -> DatasetId {
	let name = full_name::<T>();
	let payload = Dataset::<T>::pow_payload(&name, 1, &root(n));
	let nonce = blyan_primitives::solve_pow(&payload, T::PowDifficulty::get());
	let hashes = (0..s).map(|i| root(i.saturating_add(1 << 20))).collect::<vec::Vec<_>>();
	Dataset::<T>::do_submit_dataset(
		creator.clone(),
		name,
		1,
		// A known licence, so that the audit opens the vote.
		BoundedVec::truncate_from(b"CC-BY-4.0".to_vec()),
		BoundedVec::truncate_from(vec![b'u'; T::MaxUriLen::get() as usize]),
		1 << 30,
		1 << 20,
		root(n),
		T::BenchmarkHelper::payload(n),
		BoundedVec::truncate_from(hashes),
		nonce,
	)
	.expect("fresh creator, fresh root and solved PoW; qed")
}

/// Submits a dataset and opens its vote; returns the id and the last block of the vote.
fn open_vote<T: Config>(creator: &T::AccountId, n: u32) -> (DatasetId, BlockNumberFor<T>) {
	let id = submit::<T>(creator, n, T::MaxSampleHashes::get());
	Dataset::<T>::do_report_audit(id, QualityReport::default())
		.expect("the dataset is in its audit and the queue has room; qed");
	let ends = frame_system::Pallet::<T>::block_number().saturating_add(T::VoteWindow::get());
	(id, ends)
}

/// Casts `Quorum` approving votes from fresh voters.
fn approve_with_quorum<T: Config>(id: DatasetId) {
	for i in 0..T::Quorum::get() {
		let voter: T::AccountId = account("voter", i, 0);
		T::BenchmarkHelper::make_voter(&voter);
		Dataset::<T>::do_vote(voter, id, true).expect("fresh voter in an open vote; qed");
	}
}

/// Leaves `creator` one approval short of promotion, so concluding makes the most writes.
fn near_promotion<T: Config>(creator: &T::AccountId) {
	TrustOf::<T>::insert(
		creator,
		Trust {
			level: TrustLevel::Newbie,
			consecutive_approvals: PROMOTE_AFTER_APPROVALS.saturating_sub(1),
			consecutive_rejections: 0,
		},
	);
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn submit_dataset(s: Linear<0, { T::MaxSampleHashes::get() }>) {
		let caller: T::AccountId = whitelisted_caller();
		let name = full_name::<T>();
		let payload = Dataset::<T>::pow_payload(&name, 1, &root(0));
		let nonce = blyan_primitives::solve_pow(&payload, T::PowDifficulty::get());
		let hashes = (0..s).map(root).collect::<vec::Vec<_>>();

		#[extrinsic_call]
		_(
			RawOrigin::Signed(caller.clone()),
			name,
			1,
			// A known licence, so that the audit opens the vote.
			BoundedVec::truncate_from(b"CC-BY-4.0".to_vec()),
			BoundedVec::truncate_from(vec![b'u'; T::MaxUriLen::get() as usize]),
			1 << 30,
			1 << 20,
			root(0),
			T::BenchmarkHelper::payload(0),
			BoundedVec::truncate_from(hashes),
			nonce,
		);

		assert_eq!(Datasets::<T>::get(0).map(|r| r.stage), Some(Stage::AutoAudit));
		assert_eq!(ByRoot::<T>::get(root(0)), Some(0));
	}

	/// Worst case: the audit opens the vote (queue read and write).
	#[benchmark]
	fn report_audit() -> Result<(), BenchmarkError> {
		let origin =
			T::AuditOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let creator: T::AccountId = account("creator", 0, 0);
		let id = submit::<T>(&creator, 0, T::MaxSampleHashes::get());

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, id, QualityReport::default());

		assert!(matches!(
			Datasets::<T>::get(id).map(|r| r.stage),
			Some(Stage::CommunityVote { .. })
		));
		Ok(())
	}

	#[benchmark]
	fn vote() {
		let creator: T::AccountId = account("creator", 0, 0);
		let (id, _) = open_vote::<T>(&creator, 0);
		let voter: T::AccountId = whitelisted_caller();
		T::BenchmarkHelper::make_voter(&voter);

		#[extrinsic_call]
		_(RawOrigin::Signed(voter.clone()), id, true);

		assert_eq!(Votes::<T>::get(id, &voter), Some(true));
	}

	/// Worst case: approval with a promotion of the creator.
	#[benchmark]
	fn finalize_vote() {
		let creator: T::AccountId = account("creator", 0, 0);
		let (id, ends) = open_vote::<T>(&creator, 0);
		approve_with_quorum::<T>(id);
		near_promotion::<T>(&creator);
		frame_system::Pallet::<T>::set_block_number(ends.saturating_add(One::one()));
		let caller: T::AccountId = whitelisted_caller();

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), id);

		assert!(matches!(Datasets::<T>::get(id).map(|r| r.stage), Some(Stage::Approved(_))));
		assert_eq!(TrustOf::<T>::get(&creator).level, TrustLevel::Trusted);
	}

	/// `n` votes close in the same block, each approving and promoting its creator.
	#[benchmark]
	fn on_initialize(n: Linear<0, { T::MaxClosingPerBlock::get() }>) {
		let mut ids = vec::Vec::new();
		let mut closing_at = frame_system::Pallet::<T>::block_number();
		for i in 0..n {
			let creator: T::AccountId = account("creator", i, 0);
			let (id, ends) = open_vote::<T>(&creator, i);
			approve_with_quorum::<T>(id);
			near_promotion::<T>(&creator);
			closing_at = ends.saturating_add(One::one());
			ids.push(id);
		}
		frame_system::Pallet::<T>::set_block_number(closing_at);

		#[block]
		{
			Dataset::<T>::on_initialize(closing_at);
		}

		for id in ids {
			assert!(matches!(Datasets::<T>::get(id).map(|r| r.stage), Some(Stage::Approved(_))));
		}
	}

	impl_benchmark_test_suite!(Dataset, crate::mock::new_test_ext(), crate::mock::Test);
}
