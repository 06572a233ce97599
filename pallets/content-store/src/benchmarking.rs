//! Benchmarks of the content store (v2 syntax). Each also runs as a unit test on the mock.

use super::*;
use crate::Pallet as ContentStore;
use alloc::{vec, vec::Vec};
use frame_benchmarking::v2::*;
use frame_support::traits::fungible::{Inspect as _, Mutate};
use frame_system::RawOrigin;

/// Gives `who` enough balance for `tiles` full-size tile deposits.
fn fund<T: Config>(who: &T::AccountId, tiles: u32) {
	let per_tile = ContentStore::<T>::tile_deposit(T::MaxTileBytes::get());
	let needed = per_tile
		.saturating_mul(tiles.saturating_add(1).into())
		.saturating_add(T::Currency::minimum_balance().saturating_mul(100u32.into()));
	T::Currency::set_balance(who, needed);
}

/// `len` bytes that differ with `seed`, so every tile has its own hash.
fn tile_bytes<T: Config>(len: u32, seed: u32) -> TileBytesOf<T> {
	let mut bytes = vec![0u8; len as usize];
	let tag = seed.to_le_bytes();
	for (b, t) in bytes.iter_mut().zip(tag.iter()) {
		*b = *t;
	}
	// Make a one-byte tile differ too (at most 256 one-byte tiles are needed).
	if let Some(first) = bytes.first_mut() {
		*first = seed as u8;
	}
	TileBytesOf::<T>::try_from(bytes).expect("len is at most MaxTileBytes; qed")
}

/// Publishes `n` distinct small tiles owned by `who`; returns their hashes.
fn publish_tiles<T: Config>(who: &T::AccountId, n: u32) -> Vec<Hash> {
	(0..n)
		.map(|i| {
			ContentStore::<T>::do_publish_tile(
				who.clone(),
				tile_bytes::<T>(4.min(T::MaxTileBytes::get()), i),
			)
			.expect("funded account publishes a fresh tile; qed")
		})
		.collect()
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn publish_tile(b: Linear<1, { T::MaxTileBytes::get() }>) {
		let caller: T::AccountId = whitelisted_caller();
		fund::<T>(&caller, 1);
		let bytes = tile_bytes::<T>(b, 0);
		let hash = tile_hash(&bytes);

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), bytes);

		assert!(Tiles::<T>::contains_key(hash));
	}

	#[benchmark]
	fn commit_manifest(t: Linear<1, { T::MaxTilesPerManifest::get() }>) {
		let caller: T::AccountId = whitelisted_caller();
		fund::<T>(&caller, t);
		let list = publish_tiles::<T>(&caller, t);
		let root = merkle_root(&list);
		let tiles = ManifestTilesOf::<T>::try_from(list).expect("t is at most the bound; qed");

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), tiles, root);

		assert!(Manifests::<T>::contains_key(root));
	}

	#[benchmark]
	fn prune(t: Linear<1, { T::MaxTilesPerManifest::get() }>) {
		let owner: T::AccountId = account("owner", 0, 0);
		fund::<T>(&owner, t);
		let list = publish_tiles::<T>(&owner, t);
		let root = merkle_root(&list);
		let tiles =
			ManifestTilesOf::<T>::try_from(list.clone()).expect("t is at most the bound; qed");
		ContentStore::<T>::do_commit_manifest(owner, tiles, root)
			.expect("tiles are published and the root matches; qed");
		// Worst case: every tile is last used here, so each is removed and refunded.
		let now = frame_system::Pallet::<T>::block_number();
		frame_system::Pallet::<T>::set_block_number(now.saturating_add(T::RetentionPeriod::get()));
		let caller: T::AccountId = whitelisted_caller();

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), root);

		assert!(!Manifests::<T>::contains_key(root));
		assert!(list.iter().all(|h| !Tiles::<T>::contains_key(h)));
	}

	#[benchmark]
	fn remove_tile() {
		let caller: T::AccountId = whitelisted_caller();
		fund::<T>(&caller, 1);
		let bytes = tile_bytes::<T>(T::MaxTileBytes::get(), 0);
		let hash = ContentStore::<T>::do_publish_tile(caller.clone(), bytes)
			.expect("funded account publishes a fresh tile; qed");

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), hash);

		assert!(!Tiles::<T>::contains_key(hash));
	}

	impl_benchmark_test_suite!(ContentStore, crate::mock::new_test_ext(), crate::mock::Test);
}
