//! Tests of the parameter-DAG pallet.

use crate::{mock::*, *};
use blyan_primitives::{pow_ok, solve_pow};
use frame_support::{assert_noop, assert_ok};
use sp_runtime::DispatchError;

const P: Hash = [7; 32];
const P_LEN: u64 = 4096;

fn name(s: &str) -> NameOf<Test> {
	s.as_bytes().to_vec().try_into().unwrap()
}

fn deps(d: &[Hash]) -> DepsOf<Test> {
	d.to_vec().try_into().unwrap()
}

/// Proposes `layer0.expert{e}` by account 1 with the given deps; returns the id.
fn propose_expert(e: u32, d: &[Hash]) -> Hash {
	propose_as(1, &format!("layer0.expert{e}"), 0, BlockType::Expert, d, 0)
}

fn propose_as(who: u64, n: &str, layer: u32, ty: BlockType, d: &[Hash], nonce: u64) -> Hash {
	assert_ok!(ParamDag::propose_block(
		RuntimeOrigin::signed(who),
		0,
		name(n),
		layer,
		ty,
		deps(d),
		P,
		P_LEN,
		nonce
	));
	ParamDag::block_id(0, n.as_bytes(), layer, ty, d, &P, P_LEN, &who, nonce)
}

#[allow(clippy::too_many_arguments)]
fn propose_call(
	spec: SpecId,
	n: &str,
	layer: u32,
	ty: BlockType,
	d: &[Hash],
	payload: Hash,
	size: u64,
	nonce: u64,
) -> DispatchResult {
	ParamDag::propose_block(
		RuntimeOrigin::signed(1),
		spec,
		name(n),
		layer,
		ty,
		deps(d),
		payload,
		size,
		nonce,
	)
}

fn accept(id: Hash) {
	assert_ok!(ParamDag::accept_block(RuntimeOrigin::root(), id));
}

fn status(id: Hash) -> BlockStatus {
	Blocks::<Test>::get(id).unwrap().status
}

fn ext() -> blyan_test_support::CheckedExt {
	let mut e = new_test_ext();
	e.execute_with(|| commit_payload(P, P_LEN));
	e
}

#[test]
fn propose_block_works() {
	ext().execute_with(|| {
		let a = propose_expert(0, &[]);
		System::assert_last_event(
			Event::BlockProposed { id: a, expert_name: name("layer0.expert0"), miner: 1 }.into(),
		);
		run_to_block(4);
		let b = propose_as(2, "layer0.expert0", 0, BlockType::Expert, &[a], 9);
		let block = Blocks::<Test>::get(b).unwrap();
		assert_eq!(block.spec, 0);
		assert_eq!(block.expert_name, name("layer0.expert0"));
		assert_eq!(block.depends_on.to_vec(), vec![a]);
		assert_eq!(block.miner, 2);
		assert_eq!(block.nonce, 9);
		assert_eq!(block.status, BlockStatus::Proposed);
		assert_eq!(block.proposed_at, 4);
		assert_eq!(block.seq, 1);
		assert_eq!(Blocks::<Test>::get(a).unwrap().seq, 0);
		assert_eq!(NextSeq::<Test>::get(), 2);
		// One payload reference per proposed block.
		assert_eq!(refs(&P), Some(2));
		// Proposing does not accept.
		assert_eq!(ParamIndex::<Test>::get(name("layer0.expert0")), None);
		assert_eq!(AcceptedCount::<Test>::get(), 0);
	});
}

#[test]
fn propose_block_accepts_every_name_form() {
	ext().execute_with(|| {
		propose_as(1, "backbone", 0, BlockType::Meta, &[], 0);
		propose_as(1, "layer3.router", 3, BlockType::Router, &[], 0);
		propose_as(1, "layer12.expert0", 12, BlockType::Expert, &[], 0);
		propose_as(1, "layer0.expert255", 0, BlockType::Expert, &[], 0);
		assert_eq!(NextSeq::<Test>::get(), 4);
	});
}

#[test]
fn block_id_is_blake3_of_the_scale_header_and_the_pow_hash() {
	ext().execute_with(|| {
		let d = [[1u8; 32]];
		let header = ParamDag::header_without_nonce(
			0,
			b"layer1.router",
			1,
			BlockType::Router,
			&d,
			&P,
			5,
			&3,
		);
		let id = ParamDag::block_id(0, b"layer1.router", 1, BlockType::Router, &d, &P, 5, &3, 42);
		let full =
			(0u32, name("layer1.router"), 1u32, BlockType::Router, deps(&d), P, 5u64, 3u64, 42u64)
				.encode();
		assert_eq!(id, *blake3::hash(&full).as_bytes());
		// The id is the hash `pow_ok` tests.
		for bits in [0, 4, 8] {
			let nonce = solve_pow(&header, bits);
			let id =
				ParamDag::block_id(0, b"layer1.router", 1, BlockType::Router, &d, &P, 5, &3, nonce);
			assert!(blyan_primitives::leading_zero_bits(&id) >= bits);
			assert!(pow_ok(&header, nonce, bits));
		}
	});
}

#[test]
fn propose_block_fails_when_origin_is_unsigned() {
	ext().execute_with(|| {
		assert_noop!(
			ParamDag::propose_block(
				RuntimeOrigin::none(),
				0,
				name("backbone"),
				0,
				BlockType::Meta,
				deps(&[]),
				P,
				P_LEN,
				0
			),
			DispatchError::BadOrigin
		);
	});
}

#[test]
fn propose_block_fails_when_spec_is_unknown() {
	ext().execute_with(|| {
		assert_noop!(
			propose_call(2, "backbone", 0, BlockType::Meta, &[], P, P_LEN, 0),
			Error::<Test>::UnknownSpec
		);
	});
}

#[test]
fn propose_block_fails_when_expert_name_is_invalid() {
	ext().execute_with(|| {
		let cases: &[(&str, u32, BlockType)] = &[
			("", 0, BlockType::Meta),
			("backbone", 1, BlockType::Meta),
			("backbone", 0, BlockType::Expert),
			("layer", 0, BlockType::Router),
			("layer0", 0, BlockType::Router),
			("layer.router", 0, BlockType::Router),
			("layer0.router", 1, BlockType::Router),
			("layer0.router", 0, BlockType::Expert),
			("layer0.expert", 0, BlockType::Expert),
			("layer0.expert1", 1, BlockType::Expert),
			("layer0.expert1", 0, BlockType::Router),
			("layer01.expert1", 1, BlockType::Expert),
			("layer1.expert01", 1, BlockType::Expert),
			("layer1.expert-1", 1, BlockType::Expert),
			("layer+1.router", 1, BlockType::Router),
			("layer4294967296.router", 0, BlockType::Router),
			("layer1.expert1x", 1, BlockType::Expert),
			("layer1.routers", 1, BlockType::Router),
			("Layer1.router", 1, BlockType::Router),
		];
		for (n, layer, ty) in cases {
			assert_noop!(
				propose_call(0, n, *layer, *ty, &[], P, P_LEN, 0),
				Error::<Test>::InvalidExpertName
			);
		}
		// The largest layer number still parses.
		assert_ok!(propose_call(
			0,
			"layer4294967295.router",
			u32::MAX,
			BlockType::Router,
			&[],
			P,
			P_LEN,
			0
		));
	});
}

#[test]
fn propose_block_fails_when_dependency_is_duplicated() {
	ext().execute_with(|| {
		let a = propose_expert(0, &[]);
		let b = propose_expert(1, &[]);
		assert_noop!(
			propose_call(0, "layer0.expert2", 0, BlockType::Expert, &[a, b, a], P, P_LEN, 0),
			Error::<Test>::DuplicateDependency
		);
	});
}

#[test]
fn propose_block_fails_when_dependency_is_unknown() {
	ext().execute_with(|| {
		let a = propose_expert(0, &[]);
		assert_noop!(
			propose_call(0, "layer0.expert1", 0, BlockType::Expert, &[a, [9; 32]], P, P_LEN, 0),
			Error::<Test>::UnknownDependency
		);
	});
}

#[test]
fn blocks_cannot_depend_on_themselves() {
	// Cycle-freedom by construction: a block's id commits to its dependency list, so to
	// depend on itself a block would have to name an id that does not exist yet.
	ext().execute_with(|| {
		let n = "layer0.expert0";
		// Even naming exactly the id the block would have without the self-edge fails.
		let would_be =
			ParamDag::block_id(0, n.as_bytes(), 0, BlockType::Expert, &[], &P, P_LEN, &1, 0);
		assert_noop!(
			propose_call(0, n, 0, BlockType::Expert, &[would_be], P, P_LEN, 0),
			Error::<Test>::UnknownDependency
		);
		// And once that block exists, a block naming it is a different block (its id covers
		// the dependency), so the edge points from new to old: no cycle.
		let a = propose_expert(0, &[]);
		assert_eq!(a, would_be);
		let b = propose_expert(0, &[a]);
		assert_ne!(a, b);
		assert!(Blocks::<Test>::get(b).unwrap().seq > Blocks::<Test>::get(a).unwrap().seq);
	});
}

#[test]
fn propose_block_fails_when_payload_is_unknown() {
	ext().execute_with(|| {
		assert_noop!(
			propose_call(0, "backbone", 0, BlockType::Meta, &[], [8; 32], P_LEN, 0),
			Error::<Test>::UnknownPayload
		);
	});
}

#[test]
fn propose_block_fails_when_payload_size_mismatches() {
	ext().execute_with(|| {
		for size in [0, P_LEN - 1, P_LEN + 1] {
			assert_noop!(
				propose_call(0, "backbone", 0, BlockType::Meta, &[], P, size, 0),
				Error::<Test>::PayloadSizeMismatch
			);
		}
	});
}

#[test]
fn propose_block_fails_when_pow_is_invalid() {
	ext().execute_with(|| {
		PowDifficulty::set(8);
		let header =
			ParamDag::header_without_nonce(0, b"backbone", 0, BlockType::Meta, &[], &P, P_LEN, &1);
		let good = solve_pow(&header, 8);
		// Find a nonce that fails.
		let bad = (0..).find(|n| !pow_ok(&header, *n, 8)).unwrap();
		assert_noop!(
			propose_call(0, "backbone", 0, BlockType::Meta, &[], P, P_LEN, bad),
			Error::<Test>::InvalidPow
		);
		assert_ok!(propose_call(0, "backbone", 0, BlockType::Meta, &[], P, P_LEN, good));
		PowDifficulty::set(0);
	});
}

#[test]
fn propose_block_fails_when_block_already_exists() {
	ext().execute_with(|| {
		propose_expert(0, &[]);
		assert_noop!(
			propose_call(0, "layer0.expert0", 0, BlockType::Expert, &[], P, P_LEN, 0),
			Error::<Test>::BlockAlreadyExists
		);
		// Another nonce makes another block.
		assert_ok!(propose_call(0, "layer0.expert0", 0, BlockType::Expert, &[], P, P_LEN, 1));
	});
}

#[test]
fn accept_block_works() {
	ext().execute_with(|| {
		let a = propose_expert(0, &[]);
		accept(a);
		System::assert_last_event(
			Event::BlockAccepted { id: a, expert_name: name("layer0.expert0") }.into(),
		);
		assert_eq!(status(a), BlockStatus::Accepted);
		assert_eq!(ParamIndex::<Test>::get(name("layer0.expert0")), Some(a));
		assert_eq!(ParamDag::accepted(b"layer0.expert0"), Some(a));
		assert_eq!(AcceptedOrder::<Test>::get(0), Some(a));
		assert_eq!(AcceptedCount::<Test>::get(), 1);
		// Accepting keeps the payload reference.
		assert_eq!(refs(&P), Some(1));
	});
}

#[test]
fn accept_block_supersedes_previous_block_of_the_name() {
	ext().execute_with(|| {
		let p2: Hash = [2; 32];
		commit_payload(p2, 10);
		let a = propose_expert(0, &[]);
		accept(a);
		assert_ok!(propose_call(0, "layer0.expert0", 0, BlockType::Expert, &[a], p2, 10, 0));
		let b =
			ParamDag::block_id(0, b"layer0.expert0", 0, BlockType::Expert, &[a], &p2, 10, &1, 0);
		assert_eq!(refs(&P), Some(1));
		assert_eq!(refs(&p2), Some(1));
		accept(b);
		System::assert_has_event(Event::BlockSuperseded { id: a }.into());
		System::assert_last_event(
			Event::BlockAccepted { id: b, expert_name: name("layer0.expert0") }.into(),
		);
		assert_eq!(status(a), BlockStatus::Superseded);
		assert_eq!(status(b), BlockStatus::Accepted);
		assert_eq!(ParamIndex::<Test>::get(name("layer0.expert0")), Some(b));
		// The superseded payload lost its reference, the new one keeps its.
		assert_eq!(refs(&P), Some(0));
		assert_eq!(refs(&p2), Some(1));
		// History stays in the order.
		assert_eq!(ParamDag::topological_order(), vec![a, b]);
	});
}

#[test]
fn accept_block_fails_when_origin_is_not_accept_origin() {
	ext().execute_with(|| {
		let a = propose_expert(0, &[]);
		assert_noop!(ParamDag::accept_block(RuntimeOrigin::signed(1), a), DispatchError::BadOrigin);
	});
}

#[test]
fn accept_block_fails_when_block_is_unknown() {
	ext().execute_with(|| {
		assert_noop!(
			ParamDag::accept_block(RuntimeOrigin::root(), [3; 32]),
			Error::<Test>::UnknownBlock
		);
	});
}

#[test]
fn accept_block_fails_when_block_is_not_proposed() {
	ext().execute_with(|| {
		let a = propose_expert(0, &[]);
		let r = propose_expert(1, &[]);
		accept(a);
		assert_ok!(ParamDag::reject_block(RuntimeOrigin::root(), r));
		let b = propose_expert(0, &[a]);
		accept(b); // a is now superseded
		for id in [a, b, r] {
			assert_noop!(
				ParamDag::accept_block(RuntimeOrigin::root(), id),
				Error::<Test>::InvalidTransition
			);
		}
	});
}

#[test]
fn accept_block_fails_when_dependency_not_accepted() {
	ext().execute_with(|| {
		let a = propose_expert(0, &[]);
		let b = propose_expert(1, &[a]);
		// a is only proposed.
		assert_noop!(
			ParamDag::accept_block(RuntimeOrigin::root(), b),
			Error::<Test>::DependencyNotAccepted
		);
		// a rejected: b can never be accepted.
		assert_ok!(ParamDag::reject_block(RuntimeOrigin::root(), a));
		assert_noop!(
			ParamDag::accept_block(RuntimeOrigin::root(), b),
			Error::<Test>::DependencyNotAccepted
		);
	});
}

#[test]
fn accept_block_allows_superseded_dependency() {
	ext().execute_with(|| {
		let a = propose_expert(0, &[]);
		accept(a);
		let a2 = propose_expert(0, &[a]);
		let child = propose_as(2, "layer0.expert0", 0, BlockType::Expert, &[a], 0);
		accept(a2);
		assert_eq!(status(a), BlockStatus::Superseded);
		accept(child);
		assert_eq!(status(a2), BlockStatus::Superseded);
		assert_eq!(ParamDag::accepted(b"layer0.expert0"), Some(child));
	});
}

#[test]
fn diamond_dependencies_are_allowed() {
	// A; B → A; C → A; D → B, C. The original Python implementation refused this.
	ext().execute_with(|| {
		let a = propose_as(1, "backbone", 0, BlockType::Meta, &[], 0);
		let b = propose_as(1, "layer0.router", 0, BlockType::Router, &[a], 0);
		let c = propose_as(1, "layer1.router", 1, BlockType::Router, &[a], 0);
		let d = propose_as(1, "layer0.expert0", 0, BlockType::Expert, &[b, c], 0);
		for id in [a, b, c, d] {
			accept(id);
		}
		assert_eq!(ParamDag::topological_order(), vec![a, b, c, d]);
		assert_eq!(Blocks::<Test>::get(d).unwrap().depends_on.to_vec(), vec![b, c]);
	});
}

#[test]
fn topological_order_puts_dependencies_first() {
	ext().execute_with(|| {
		// Proposed in one order, accepted in another: the order follows acceptance, and each
		// block's dependencies come before it.
		let a = propose_as(1, "backbone", 0, BlockType::Meta, &[], 0);
		let x = propose_expert(5, &[]);
		let b = propose_expert(0, &[a]);
		let c = propose_expert(1, &[a, x]);
		let d = propose_expert(2, &[c, b]);
		accept(x);
		accept(a);
		accept(c);
		accept(b);
		accept(d);
		let order = ParamDag::topological_order();
		assert_eq!(order, vec![x, a, c, b, d]);
		for (pos, id) in order.iter().enumerate() {
			for dep in Blocks::<Test>::get(id).unwrap().depends_on.iter() {
				let dep_pos = order.iter().position(|h| h == dep).unwrap();
				assert!(dep_pos < pos, "dependency after its dependant");
			}
		}
		assert_eq!(ParamDag::topological_order_page(1, 2), vec![a, c]);
		assert_eq!(ParamDag::topological_order_page(4, 10), vec![d]);
		assert_eq!(ParamDag::topological_order_page(5, 10), Vec::<Hash>::new());
		assert_eq!(ParamDag::topological_order_page(u64::MAX, u32::MAX), Vec::<Hash>::new());
	});
}

#[test]
fn reject_block_works() {
	ext().execute_with(|| {
		let a = propose_expert(0, &[]);
		assert_eq!(refs(&P), Some(1));
		assert_ok!(ParamDag::reject_block(RuntimeOrigin::root(), a));
		System::assert_last_event(Event::BlockRejected { id: a }.into());
		assert_eq!(status(a), BlockStatus::Rejected);
		assert_eq!(refs(&P), Some(0));
		assert_eq!(ParamIndex::<Test>::get(name("layer0.expert0")), None);
		assert_eq!(AcceptedCount::<Test>::get(), 0);
	});
}

#[test]
fn a_claimed_block_is_decided_by_its_claim_not_by_the_accept_origin() {
	ext().execute_with(|| {
		let a = propose_expert(0, &[]);
		Claims::set(vec![a]);
		assert_noop!(ParamDag::accept_block(RuntimeOrigin::root(), a), Error::<Test>::UnderClaim);
		assert_noop!(ParamDag::reject_block(RuntimeOrigin::root(), a), Error::<Test>::UnderClaim);
		// The claim's own decision goes through the helpers.
		assert_ok!(ParamDag::do_accept_block(a));
		assert_eq!(status(a), BlockStatus::Accepted);
	});
}

#[test]
fn reject_block_fails_when_origin_is_not_accept_origin() {
	ext().execute_with(|| {
		let a = propose_expert(0, &[]);
		assert_noop!(ParamDag::reject_block(RuntimeOrigin::signed(1), a), DispatchError::BadOrigin);
	});
}

#[test]
fn reject_block_fails_when_block_is_unknown() {
	ext().execute_with(|| {
		assert_noop!(
			ParamDag::reject_block(RuntimeOrigin::root(), [3; 32]),
			Error::<Test>::UnknownBlock
		);
	});
}

#[test]
fn reject_block_fails_when_block_is_not_proposed() {
	ext().execute_with(|| {
		let a = propose_expert(0, &[]);
		let r = propose_expert(1, &[]);
		accept(a);
		assert_ok!(ParamDag::reject_block(RuntimeOrigin::root(), r));
		for id in [a, r] {
			assert_noop!(
				ParamDag::reject_block(RuntimeOrigin::root(), id),
				Error::<Test>::InvalidTransition
			);
		}
	});
}

#[test]
fn genesis_inserts_accepted_blocks() {
	commit_payload(P, P_LEN);
	let q: Hash = [4; 32];
	commit_payload(q, 8);
	ext_with(vec![
		(1, 0, b"backbone".to_vec(), 0, BlockType::Meta, P, P_LEN),
		(2, 0, b"layer0.expert1".to_vec(), 0, BlockType::Expert, P, P_LEN),
		(2, 0, b"layer0.expert1".to_vec(), 0, BlockType::Expert, q, 8),
	])
	.execute_with(|| {
		let bb = ParamDag::block_id(0, b"backbone", 0, BlockType::Meta, &[], &P, P_LEN, &1, 0);
		let e1 =
			ParamDag::block_id(0, b"layer0.expert1", 0, BlockType::Expert, &[], &P, P_LEN, &2, 0);
		let e2 = ParamDag::block_id(0, b"layer0.expert1", 0, BlockType::Expert, &[], &q, 8, &2, 0);
		assert_eq!(ParamDag::topological_order(), vec![bb, e1, e2]);
		assert_eq!(ParamDag::accepted(b"backbone"), Some(bb));
		assert_eq!(ParamDag::accepted(b"layer0.expert1"), Some(e2));
		assert_eq!(status(e1), BlockStatus::Superseded);
		assert_eq!(Blocks::<Test>::get(bb).unwrap().seq, 0);
		assert_eq!(NextSeq::<Test>::get(), 3);
		assert_eq!(AcceptedCount::<Test>::get(), 3);
		// Backbone holds one reference to P; the superseded block gave its back.
		assert_eq!(refs(&P), Some(1));
		assert_eq!(refs(&q), Some(1));
	});
}

#[test]
#[should_panic(expected = "genesis param block: name must be")]
fn genesis_fails_when_name_is_invalid() {
	let _ = ext_with(vec![(1, 0, b"layer0.router".to_vec(), 1, BlockType::Router, P, P_LEN)]);
}

#[test]
#[should_panic(expected = "genesis param block: the same block is listed twice")]
fn genesis_fails_when_block_is_listed_twice() {
	let b = (1, 0, b"backbone".to_vec(), 0, BlockType::Meta, P, P_LEN);
	let _ = ext_with(vec![b.clone(), b]);
}

#[test]
fn integrity_test_passes() {
	use frame_support::traits::Hooks;
	new_test_ext().execute_with(|| {
		<ParamDag as Hooks<u64>>::integrity_test();
	});
}

#[test]
fn propose_child_copies_the_parents_header_and_depends_on_it() {
	ext().execute_with(|| {
		let parent = propose_as(1, "layer2.expert5", 2, BlockType::Expert, &[], 0);
		accept(parent);
		let child_payload = [8; 32];
		commit_payload(child_payload, 1234);
		let child = ParamDag::do_propose_child(3, parent, child_payload, 11).unwrap();
		// The id is the same header a client would hash for `propose_block`.
		assert_eq!(
			child,
			ParamDag::block_id(
				0,
				b"layer2.expert5",
				2,
				BlockType::Expert,
				&[parent],
				&child_payload,
				1234,
				&3,
				11
			)
		);
		let b = Blocks::<Test>::get(child).unwrap();
		assert_eq!(
			(b.layer_id, b.block_type, b.payload_size, b.status),
			(2, BlockType::Expert, 1234, BlockStatus::Proposed)
		);
		assert_eq!(b.depends_on.to_vec(), vec![parent]);
		assert_eq!(ParamDag::name_of(&child), Some(b"layer2.expert5".to_vec()));
		assert_eq!(ParamDag::name_of(&[0xee; 32]), None);
		// Unknown parent or payload: named errors, nothing written.
		assert_noop!(
			ParamDag::do_propose_child(3, [0xee; 32], child_payload, 0),
			Error::<Test>::UnknownDependency
		);
		assert_noop!(
			ParamDag::do_propose_child(3, parent, [0xdd; 32], 0),
			Error::<Test>::UnknownPayload
		);
	});
}
