//! Unit tests of the content store.

use crate::{
	mock::*, Error, Event, HoldReason, ManifestInfo, Manifests, TileData, TileInfo, Tiles,
};
use blyan_primitives::{
	merkle_root, payload_root, tile_hash, ContentStore as _, Hash, MAX_TILE_BYTES,
};
use codec::{Decode, Encode};
use frame_support::{
	assert_noop, assert_ok,
	traits::fungible::{Inspect, InspectHold, Mutate},
	BoundedVec,
};

type Store = crate::Pallet<Test>;

fn signed(who: u64) -> RuntimeOrigin {
	RuntimeOrigin::signed(who)
}

/// `n` pseudo-random bytes (no repeating period) that differ with `seed`.
fn data(n: usize, seed: u8) -> Vec<u8> {
	let mut out = Vec::with_capacity(n + 32);
	let mut k: u64 = 0;
	while out.len() < n {
		let mut input = vec![seed];
		input.extend_from_slice(&k.to_le_bytes());
		out.extend_from_slice(&tile_hash(&input));
		k += 1;
	}
	out.truncate(n);
	out
}

fn bounded(bytes: Vec<u8>) -> BoundedVec<u8, MaxTileBytes> {
	BoundedVec::try_from(bytes).expect("test tiles fit")
}

fn hashes(list: &[Hash]) -> BoundedVec<Hash, frame_support::traits::ConstU32<8>> {
	BoundedVec::try_from(list.to_vec()).expect("test manifests fit")
}

/// Publishes `bytes` as `who` and returns the tile hash.
fn publish(who: u64, bytes: Vec<u8>) -> Hash {
	let hash = tile_hash(&bytes);
	assert_ok!(Store::publish_tile(signed(who), bounded(bytes)));
	hash
}

/// Publishes and commits a manifest of the given tiles as `who`; returns root and tile hashes.
fn commit(who: u64, tiles: Vec<Vec<u8>>) -> (Hash, Vec<Hash>) {
	let list: Vec<Hash> = tiles.into_iter().map(|t| publish(who, t)).collect();
	let root = merkle_root(&list);
	assert_ok!(Store::commit_manifest(signed(who), hashes(&list), root));
	(root, list)
}

fn deposit(len: u64) -> Balance {
	TileDepositBase::get() + TileDepositPerByte::get() * len
}

fn held(who: u64) -> Balance {
	Balances::balance_on_hold(&HoldReason::TileDeposit.into(), &who)
}

// ---------------------------------------------------------------- publish_tile

#[test]
fn publish_tile_works() {
	new_test_ext().execute_with(|| {
		let bytes = data(700, 1);
		let hash = tile_hash(&bytes);
		assert_ok!(Store::publish_tile(signed(ALICE), bounded(bytes.clone())));

		let expected = deposit(700);
		assert_eq!(expected, 100 + 2 * 700);
		assert_eq!(
			Tiles::<Test>::get(hash),
			Some(TileInfo { owner: ALICE, len: 700, deposit: expected, refs: 0 })
		);
		assert_eq!(TileData::<Test>::get(hash).map(|b| b.into_inner()), Some(bytes.clone()));
		assert_eq!(Store::tile(hash), Some(bytes));
		assert_eq!(held(ALICE), expected);
		assert_eq!(Balances::balance(&ALICE), INITIAL - expected);
		assert_eq!(Balances::total_balance(&ALICE), INITIAL);
		System::assert_last_event(
			Event::TilePublished { hash, who: ALICE, len: 700, deposit: expected }.into(),
		);
	});
}

#[test]
fn publish_tile_accepts_exactly_max_tile_bytes() {
	new_test_ext().execute_with(|| {
		let hash = publish(ALICE, data(TILE as usize, 2));
		assert_eq!(Tiles::<Test>::get(hash).map(|t| t.len), Some(TILE));
		assert_eq!(held(ALICE), deposit(TILE as u64));
	});
}

#[test]
fn publish_tile_fails_when_tile_is_empty() {
	new_test_ext().execute_with(|| {
		assert_noop!(Store::publish_tile(signed(ALICE), bounded(vec![])), Error::<Test>::EmptyTile);
	});
}

#[test]
fn publish_tile_fails_when_tile_already_published() {
	new_test_ext().execute_with(|| {
		publish(ALICE, data(10, 3));
		// Same bytes from another account: same hash.
		assert_noop!(
			Store::publish_tile(signed(BOB), bounded(data(10, 3))),
			Error::<Test>::TileAlreadyPublished
		);
	});
}

#[test]
fn publish_tile_fails_when_balance_is_insufficient() {
	new_test_ext().execute_with(|| {
		// POOR holds 50 planck; the smallest deposit is 102.
		assert_noop!(
			Store::publish_tile(signed(POOR), bounded(vec![1])),
			Error::<Test>::InsufficientBalance
		);
	});
}

#[test]
fn publish_tile_rejects_bytes_over_max_tile_bytes() {
	new_test_ext().execute_with(|| {
		let max = MaxTileBytes::get() as usize;
		// The bounded type refuses to be built...
		assert!(BoundedVec::<u8, MaxTileBytes>::try_from(vec![0u8; max + 1]).is_err());

		// ...and a call carrying max + 1 bytes does not decode. A `Vec<u8>` has the same SCALE
		// layout as the bounded vector, so it stands in for the oversize argument.
		let ok_call =
			RuntimeCall::ContentStore(crate::Call::publish_tile { bytes: bounded(vec![0u8; max]) });
		let ok_encoded = ok_call.encode();
		assert_eq!(RuntimeCall::decode(&mut &ok_encoded[..]).ok(), Some(ok_call));
		// Pallet index, call index, then the bytes.
		let prefix = ok_encoded[..2].to_vec();
		assert_eq!(&ok_encoded[2..], &vec![0u8; max].encode()[..]);

		let mut too_big = prefix.clone();
		vec![0u8; max + 1].encode_to(&mut too_big);
		assert!(RuntimeCall::decode(&mut &too_big[..]).is_err());

		let mut pallet_call = vec![prefix[1]];
		vec![0u8; max + 1].encode_to(&mut pallet_call);
		assert!(crate::Call::<Test>::decode(&mut &pallet_call[..]).is_err());
		let mut pallet_ok = vec![prefix[1]];
		vec![0u8; max].encode_to(&mut pallet_ok);
		assert!(crate::Call::<Test>::decode(&mut &pallet_ok[..]).is_ok());
	});
}

// ---------------------------------------------------------------- commit_manifest

#[test]
fn commit_manifest_works() {
	new_test_ext().execute_with(|| {
		let a = publish(ALICE, data(TILE as usize, 4));
		let b = publish(ALICE, data(300, 5));
		let root = merkle_root(&[a, b]);
		run_to_block(3);
		assert_ok!(Store::commit_manifest(signed(BOB), hashes(&[a, b]), root));

		assert_eq!(
			Manifests::<Test>::get(root),
			Some(ManifestInfo {
				owner: BOB,
				tiles: hashes(&[a, b]),
				len: TILE as u64 + 300,
				refs: 0,
				unreferenced_since: Some(3),
			})
		);
		assert_eq!(Tiles::<Test>::get(a).map(|t| t.refs), Some(1));
		assert_eq!(Tiles::<Test>::get(b).map(|t| t.refs), Some(1));
		assert_eq!(Store::manifest_tiles(root), Some(vec![a, b]));
		let mut whole = data(TILE as usize, 4);
		whole.extend(data(300, 5));
		assert_eq!(Store::payload(root), Some(whole));
		System::assert_last_event(
			Event::ManifestCommitted { root, who: BOB, tiles: 2, len: TILE as u64 + 300 }.into(),
		);
	});
}

#[test]
fn commit_manifest_counts_a_repeated_tile_twice() {
	new_test_ext().execute_with(|| {
		let a = publish(ALICE, data(8, 6));
		let b = publish(ALICE, data(9, 7));
		let root = merkle_root(&[a, b, a]);
		assert_ok!(Store::commit_manifest(signed(ALICE), hashes(&[a, b, a]), root));
		assert_eq!(Tiles::<Test>::get(a).map(|t| t.refs), Some(2));
		assert_eq!(Tiles::<Test>::get(b).map(|t| t.refs), Some(1));
		assert_eq!(Store::payload(root).map(|p| p.len()), Some(8 + 9 + 8));
		assert_eq!(Store::payload_len(&root), Some(25));
	});
}

#[test]
fn commit_manifest_fails_when_manifest_is_empty() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			Store::commit_manifest(signed(ALICE), hashes(&[]), merkle_root(&[])),
			Error::<Test>::EmptyManifest
		);
	});
}

#[test]
fn commit_manifest_fails_when_a_tile_is_unknown() {
	new_test_ext().execute_with(|| {
		let a = publish(ALICE, data(8, 8));
		let missing = tile_hash(b"never published");
		assert_noop!(
			Store::commit_manifest(
				signed(ALICE),
				hashes(&[a, missing]),
				merkle_root(&[a, missing])
			),
			Error::<Test>::UnknownTile
		);
	});
}

#[test]
fn commit_manifest_fails_when_root_mismatches() {
	new_test_ext().execute_with(|| {
		let a = publish(ALICE, data(8, 9));
		let b = publish(ALICE, data(8, 10));
		// Order matters: the root of [b, a] is not the root of [a, b].
		assert_noop!(
			Store::commit_manifest(signed(ALICE), hashes(&[a, b]), merkle_root(&[b, a])),
			Error::<Test>::RootMismatch
		);
		// A plain hash of the tile is not its manifest root either.
		assert_noop!(
			Store::commit_manifest(signed(ALICE), hashes(&[a]), a),
			Error::<Test>::RootMismatch
		);
	});
}

#[test]
fn commit_manifest_fails_when_already_committed() {
	new_test_ext().execute_with(|| {
		let (root, list) = commit(ALICE, vec![data(8, 11)]);
		assert_noop!(
			Store::commit_manifest(signed(BOB), hashes(&list), root),
			Error::<Test>::ManifestAlreadyCommitted
		);
	});
}

#[test]
fn manifest_root_of_full_size_cuts_equals_payload_root() {
	new_test_ext().execute_with(|| {
		// Run at the runtime's tile size so the cuts are blyan_primitives' 4 MiB tiles.
		MaxTileBytes::set(MAX_TILE_BYTES as u32);
		Balances::set_balance(&ALICE, 100 * INITIAL);
		let payload = data(MAX_TILE_BYTES + 1000, 12);
		let cuts: Vec<Vec<u8>> = blyan_primitives::tiles(&payload).map(|c| c.to_vec()).collect();
		assert_eq!(cuts.len(), 2);
		let list: Vec<Hash> = cuts.into_iter().map(|c| publish(ALICE, c)).collect();
		let root = payload_root(&payload);
		assert_ok!(Store::commit_manifest(signed(ALICE), hashes(&list), root));
		assert_eq!(Store::payload(root), Some(payload.clone()));
		assert_eq!(Store::payload_len(&root), Some(payload.len() as u64));
		// `MaxTileBytes` is thread-local to this test: the invariant check at the end reads
		// the tiles with the size they were stored under.
	});
}

#[test]
fn manifest_root_of_mock_cuts_is_merkle_root_of_tile_hashes() {
	new_test_ext().execute_with(|| {
		let payload = data(3 * TILE as usize + 17, 13);
		let tiles: Vec<Vec<u8>> = payload.chunks(TILE as usize).map(|c| c.to_vec()).collect();
		let (root, list) = commit(ALICE, tiles);
		let expected: Vec<Hash> = payload.chunks(TILE as usize).map(tile_hash).collect();
		assert_eq!(list, expected);
		assert_eq!(root, merkle_root(&expected));
		assert_eq!(Store::payload(root), Some(payload));
	});
}

// ---------------------------------------------------------------- prune

#[test]
fn prune_works_after_retention() {
	new_test_ext().execute_with(|| {
		let (root, list) = commit(ALICE, vec![data(500, 14), data(200, 15)]);
		assert_eq!(held(ALICE), deposit(500) + deposit(200));
		run_to_block(1 + RetentionPeriod::get());

		// Anyone may prune.
		assert_ok!(Store::prune(signed(BOB), root));
		assert!(!Manifests::<Test>::contains_key(root));
		for hash in &list {
			assert!(!Tiles::<Test>::contains_key(hash));
			assert!(!TileData::<Test>::contains_key(hash));
		}
		assert_eq!(held(ALICE), 0);
		assert_eq!(Balances::balance(&ALICE), INITIAL);
		assert_eq!(Store::payload(root), None);
		System::assert_has_event(
			Event::TileRemoved { hash: list[0], refunded: deposit(500) }.into(),
		);
		System::assert_has_event(
			Event::TileRemoved { hash: list[1], refunded: deposit(200) }.into(),
		);
		System::assert_last_event(Event::ManifestPruned { root }.into());
	});
}

#[test]
fn prune_keeps_tiles_other_manifests_use() {
	new_test_ext().execute_with(|| {
		let shared = publish(ALICE, data(40, 16));
		let own = publish(BOB, data(50, 17));
		let first = merkle_root(&[shared, own]);
		let second = merkle_root(&[shared]);
		assert_ok!(Store::commit_manifest(signed(ALICE), hashes(&[shared, own]), first));
		assert_ok!(Store::commit_manifest(signed(ALICE), hashes(&[shared]), second));
		assert_eq!(Tiles::<Test>::get(shared).map(|t| t.refs), Some(2));
		run_to_block(20);

		assert_ok!(Store::prune(signed(ALICE), first));
		assert_eq!(Tiles::<Test>::get(shared).map(|t| t.refs), Some(1));
		assert!(!Tiles::<Test>::contains_key(own));
		assert_eq!(held(ALICE), deposit(40));
		assert_eq!(held(BOB), 0);
		assert_eq!(Balances::balance(&BOB), INITIAL);
		assert_eq!(Store::payload(second), Some(data(40, 16)));
	});
}

#[test]
fn prune_removes_a_repeated_tile_once() {
	new_test_ext().execute_with(|| {
		let a = publish(ALICE, data(30, 18));
		let root = merkle_root(&[a, a]);
		assert_ok!(Store::commit_manifest(signed(ALICE), hashes(&[a, a]), root));
		run_to_block(11);
		assert_ok!(Store::prune(signed(BOB), root));
		assert!(!Tiles::<Test>::contains_key(a));
		assert_eq!(held(ALICE), 0);
		assert_eq!(Balances::balance(&ALICE), INITIAL);
	});
}

#[test]
fn prune_fails_when_manifest_is_unknown() {
	new_test_ext().execute_with(|| {
		assert_noop!(Store::prune(signed(ALICE), [7u8; 32]), Error::<Test>::UnknownManifest);
	});
}

#[test]
fn prune_fails_when_still_referenced() {
	new_test_ext().execute_with(|| {
		let (root, _) = commit(ALICE, vec![data(8, 19)]);
		assert!(Store::add_ref(&root));
		run_to_block(50);
		assert_noop!(Store::prune(signed(BOB), root), Error::<Test>::StillReferenced);
	});
}

#[test]
fn prune_fails_when_retention_not_over() {
	new_test_ext().execute_with(|| {
		let (root, _) = commit(ALICE, vec![data(8, 20)]);
		// Committed at block 1; prunable from block 11.
		run_to_block(10);
		assert_noop!(Store::prune(signed(BOB), root), Error::<Test>::RetentionNotOver);
		run_to_block(11);
		assert_ok!(Store::prune(signed(BOB), root));
	});
}

#[test]
fn prune_retention_restarts_when_the_last_reference_drops() {
	new_test_ext().execute_with(|| {
		let (root, _) = commit(ALICE, vec![data(8, 21)]);
		assert!(Store::add_ref(&root));
		assert!(Store::add_ref(&root));
		run_to_block(30);
		Store::remove_ref(&root);
		assert_noop!(Store::prune(signed(BOB), root), Error::<Test>::StillReferenced);
		run_to_block(40);
		Store::remove_ref(&root);
		assert_eq!(Manifests::<Test>::get(root).and_then(|m| m.unreferenced_since), Some(40));
		run_to_block(49);
		assert_noop!(Store::prune(signed(BOB), root), Error::<Test>::RetentionNotOver);
		run_to_block(50);
		assert_ok!(Store::prune(signed(BOB), root));
	});
}

// ---------------------------------------------------------------- remove_tile

#[test]
fn remove_tile_works() {
	new_test_ext().execute_with(|| {
		let hash = publish(ALICE, data(64, 22));
		assert_eq!(held(ALICE), deposit(64));
		assert_ok!(Store::remove_tile(signed(ALICE), hash));
		assert!(!Tiles::<Test>::contains_key(hash));
		assert!(!TileData::<Test>::contains_key(hash));
		assert_eq!(held(ALICE), 0);
		assert_eq!(Balances::balance(&ALICE), INITIAL);
		System::assert_last_event(Event::TileRemoved { hash, refunded: deposit(64) }.into());
	});
}

#[test]
fn remove_tile_withdraws_only_unused_tiles() {
	new_test_ext().execute_with(|| {
		// `a` is unused and goes at once; `b` is listed by a manifest and stays.
		let a = publish(ALICE, data(16, 23));
		let b = publish(BOB, data(16, 24));
		let root = merkle_root(&[b]);
		assert_ok!(Store::commit_manifest(signed(BOB), hashes(&[b]), root));
		assert_ok!(Store::remove_tile(signed(ALICE), a));
		assert_noop!(Store::remove_tile(signed(BOB), b), Error::<Test>::TileInUse);
	});
}

#[test]
fn remove_tile_fails_when_tile_is_unknown() {
	new_test_ext().execute_with(|| {
		assert_noop!(Store::remove_tile(signed(ALICE), [9u8; 32]), Error::<Test>::UnknownTile);
	});
}

#[test]
fn remove_tile_fails_when_caller_is_not_owner() {
	new_test_ext().execute_with(|| {
		let hash = publish(ALICE, data(16, 25));
		assert_noop!(Store::remove_tile(signed(BOB), hash), Error::<Test>::NotOwner);
	});
}

#[test]
fn remove_tile_fails_when_tile_in_use() {
	new_test_ext().execute_with(|| {
		let (_, list) = commit(ALICE, vec![data(16, 26)]);
		assert_noop!(Store::remove_tile(signed(ALICE), list[0]), Error::<Test>::TileInUse);
	});
}

// ---------------------------------------------------------------- ContentStore trait

#[test]
fn content_store_reports_payloads() {
	new_test_ext().execute_with(|| {
		let (root, _) = commit(ALICE, vec![data(TILE as usize, 27), data(5, 28)]);
		assert!(Store::has_payload(&root));
		assert_eq!(Store::payload_len(&root), Some(TILE as u64 + 5));
		let unknown = [1u8; 32];
		assert!(!Store::has_payload(&unknown));
		assert_eq!(Store::payload_len(&unknown), None);
		assert_eq!(Store::payload(unknown), None);
		assert_eq!(Store::manifest_tiles(unknown), None);
		assert_eq!(Store::tile(unknown), None);
	});
}

#[test]
fn add_ref_works() {
	new_test_ext().execute_with(|| {
		let (root, _) = commit(ALICE, vec![data(8, 29)]);
		assert!(Store::add_ref(&root));
		let m = Manifests::<Test>::get(root).unwrap();
		assert_eq!((m.refs, m.unreferenced_since), (1, None));
		System::assert_last_event(Event::ReferenceAdded { root, refs: 1 }.into());
		assert!(Store::add_ref(&root));
		assert_eq!(Manifests::<Test>::get(root).map(|m| m.refs), Some(2));
		System::assert_last_event(Event::ReferenceAdded { root, refs: 2 }.into());
	});
}

#[test]
fn add_ref_fails_when_manifest_is_unknown() {
	new_test_ext().execute_with(|| {
		frame_support::assert_storage_noop!(assert!(!Store::add_ref(&[3u8; 32])));
	});
}

#[test]
fn remove_ref_works() {
	new_test_ext().execute_with(|| {
		let (root, _) = commit(ALICE, vec![data(8, 30)]);
		assert!(Store::add_ref(&root));
		assert!(Store::add_ref(&root));
		run_to_block(5);
		Store::remove_ref(&root);
		let m = Manifests::<Test>::get(root).unwrap();
		assert_eq!((m.refs, m.unreferenced_since), (1, None));
		System::assert_last_event(Event::ReferenceDropped { root, refs: 1 }.into());
		Store::remove_ref(&root);
		let m = Manifests::<Test>::get(root).unwrap();
		assert_eq!((m.refs, m.unreferenced_since), (0, Some(5)));
		System::assert_last_event(Event::ReferenceDropped { root, refs: 0 }.into());
	});
}

#[test]
fn remove_ref_changes_nothing_when_unknown_or_unreferenced() {
	new_test_ext().execute_with(|| {
		let (root, _) = commit(ALICE, vec![data(8, 31)]);
		run_to_block(4);
		frame_support::assert_storage_noop!(Store::remove_ref(&[4u8; 32]));
		frame_support::assert_storage_noop!(Store::remove_ref(&root));
		assert_eq!(Manifests::<Test>::get(root).and_then(|m| m.unreferenced_since), Some(1));
	});
}

// ---------------------------------------------------------------- genesis

#[test]
fn genesis_payload_is_retrievable_byte_identical() {
	let payload = data(2 * TILE as usize + 500, 32);
	let small = data(10, 33);
	new_test_ext_with(vec![(ALICE, payload.clone()), (BOB, small.clone())]).execute_with(|| {
		let expected: Vec<Hash> = payload.chunks(TILE as usize).map(tile_hash).collect();
		assert_eq!(expected.len(), 3);
		let root = merkle_root(&expected);
		assert_eq!(Store::payload(root), Some(payload.clone()));
		assert_eq!(Store::manifest_tiles(root), Some(expected.clone()));
		assert_eq!(Store::payload_len(&root), Some(payload.len() as u64));
		let m = Manifests::<Test>::get(root).unwrap();
		assert_eq!((m.owner, m.refs, m.unreferenced_since), (ALICE, 1, None));
		for hash in &expected {
			let t = Tiles::<Test>::get(hash).unwrap();
			assert_eq!((t.owner, t.deposit, t.refs), (ALICE, 0, 1));
		}
		assert_eq!(held(ALICE), 0);
		let small_root = merkle_root(&[tile_hash(&small)]);
		assert_eq!(Store::payload(small_root), Some(small.clone()));

		// Pinned: not prunable until the pin is dropped and the retention runs out.
		run_to_block(100);
		assert_noop!(Store::prune(signed(BOB), root), Error::<Test>::StillReferenced);
		Store::remove_ref(&root);
		run_to_block(110);
		assert_ok!(Store::prune(signed(BOB), root));
		System::assert_has_event(Event::TileRemoved { hash: expected[0], refunded: 0 }.into());
		assert!(!Tiles::<Test>::contains_key(expected[0]));
		assert_eq!(Balances::balance(&ALICE), INITIAL);
	});
}

#[test]
fn genesis_pins_a_repeated_payload_twice_and_shares_tiles() {
	let payload = data(TILE as usize + 1, 34);
	// Shares its first tile with `payload`.
	let prefix = payload[..TILE as usize].to_vec();
	new_test_ext_with(vec![
		(ALICE, payload.clone()),
		(BOB, payload.clone()),
		(BOB, prefix.clone()),
	])
	.execute_with(|| {
		let root = payload_root_mock(&payload);
		assert_eq!(Manifests::<Test>::get(root).map(|m| m.refs), Some(2));
		let first = tile_hash(&prefix);
		assert_eq!(Tiles::<Test>::get(first).map(|t| t.refs), Some(2));
		assert_eq!(Store::payload(payload_root_mock(&prefix)), Some(prefix.clone()));
	});
}

fn payload_root_mock(payload: &[u8]) -> Hash {
	let list: Vec<Hash> = payload.chunks(TILE as usize).map(tile_hash).collect();
	merkle_root(&list)
}

#[test]
#[should_panic(expected = "must not be empty")]
fn genesis_rejects_an_empty_payload() {
	new_test_ext_with(vec![(ALICE, vec![])]);
}

#[test]
#[should_panic(expected = "MaxTilesPerManifest")]
fn genesis_rejects_a_payload_over_max_tiles() {
	new_test_ext_with(vec![(ALICE, vec![1u8; 8 * TILE as usize + 1])]);
}

#[test]
fn integrity_test_passes() {
	use frame_support::traits::IntegrityTest;
	ContentStore::integrity_test();
}
