//! Tests of the Proof-of-Learning pallet: every error, the challenge draw, commit and reveal,
//! the quorum decision with honest and adversarial trainers and validators (engine results
//! mocked as reports), expiry, deviations, deterrence, and the validators' worker against the
//! shared fake engine. `run_to` checks the pallet's invariants (`do_try_state`) after every
//! block.

use crate::{mock::*, *};
use blyan_primitives::DatasetId;
use blyan_test_support::dag;
use frame_support::{assert_noop, assert_ok, traits::fungible::InspectHold};

const UNIT: &[u8] = b"layer0.expert0";
/// The mock's second unit.
const UNIT2: &[u8] = b"layer0.expert1";
/// Parent loss of the honest reports, nano-nats per byte.
const PARENT_LOSS: u64 = 5_000_000_000;
/// Candidate loss 2 % below the parent.
const GOOD_LOSS: u64 = 4_900_000_000;
/// The mock's bond.
const BOND: u64 = 2_000;

fn parent() -> Hash {
	MockDag::accepted(UNIT).unwrap()
}

fn shares(list: &[(DatasetId, u32)]) -> BoundedVec<DatasetShare, MaxDatasets> {
	BoundedVec::truncate_from(
		list.iter()
			.map(|&(dataset, ratio_ppm)| DatasetShare { dataset, ratio_ppm })
			.collect(),
	)
}

/// 300 steps, K = 10 (30 segments), 8 × 64 tokens.
fn params() -> TrainingParams {
	TrainingParams { seed: 5, steps: 300, checkpoint_every: 10, batch_size: 8, seq_len: 64 }
}

type Input = ClaimInput<MaxDatasets, MaxUnitsPerClaim>;

/// The previous block: the base of claims made now.
fn base() -> u32 {
	(System::block_number() - 1) as u32
}

fn input(payload_n: u8, claimed_loss: u64) -> Input {
	ClaimInput {
		units: BoundedVec::truncate_from(vec![UnitUpdate {
			parent: parent(),
			payload_root: payload(payload_n),
			nonce: 0,
		}]),
		base: base(),
		manifest_root: payload(9),
		datasets: shares(&[(7, 600_000), (8, 400_000)]),
		params: params(),
		claimed_loss,
		eval_root: payload(10),
	}
}

/// A claim on `layer0.expert0` (payload `a`) and `layer0.expert1` (payload `b`).
fn two_unit_input(a: u8, b: u8, claimed_loss: u64) -> Input {
	let mut i = input(a, claimed_loss);
	let second = UnitUpdate {
		parent: MockDag::accepted(UNIT2).unwrap(),
		payload_root: payload(b),
		nonce: 0,
	};
	i.units.try_push(second).unwrap();
	i
}

/// The candidate block of the claim's only (or first) unit.
fn block_of(id: ClaimId) -> Hash {
	claim(id).blocks[0].block
}

fn submit(who: u64, payload_n: u8, claimed_loss: u64) -> ClaimId {
	assert_ok!(Pol::submit_claim(RuntimeOrigin::signed(who), input(payload_n, claimed_loss), BOND));
	NextClaimId::<Test>::get() - 1
}

fn report(parent_loss: u64, candidate_loss: u64, replay: ReplayVerdict) -> EvalReport {
	let digest = if replay == ReplayVerdict::Match { [0xd1; 32] } else { [0; 32] };
	EvalReport { parent_loss, candidate_loss, replay, replay_digest: digest }
}

fn honest() -> EvalReport {
	report(PARENT_LOSS, GOOD_LOSS, ReplayVerdict::Match)
}

fn failed(verdict: ReplayVerdict) -> EvalReport {
	report(0, 0, verdict)
}

fn events() -> Vec<Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|r| if let RuntimeEvent::Pol(e) = r.event { Some(e) } else { None })
		.collect()
}

fn claim(id: ClaimId) -> Claim<Test> {
	Claims::<Test>::get(id).unwrap()
}

fn stage(id: ClaimId) -> ClaimStage {
	claim(id).stage
}

fn held(who: u64) -> u64 {
	Balances::balance_on_hold(&RuntimeHoldReason::Pol(HoldReason::ClaimBond), &who)
}

fn free(who: u64) -> u64 {
	Balances::free_balance(who)
}

/// Submits a claim and runs to its challenge block.
fn challenged(who: u64, payload_n: u8, claimed_loss: u64) -> ClaimId {
	let id = submit(who, payload_n, claimed_loss);
	run_to(claim(id).challenge_at);
	assert_eq!(stage(id), ClaimStage::Evaluating);
	id
}

/// The salt validator `v` uses in the tests.
fn salt(v: u64) -> Hash {
	[v as u8; 32]
}

/// Commits `r` as validator `v`.
fn commit(id: ClaimId, v: u64, r: &EvalReport) {
	let c = report_commitment(id, &v, r, &salt(v));
	assert_ok!(Pol::commit_report(RuntimeOrigin::signed(v), id, c));
}

/// Reveals `r` as validator `v`.
fn reveal(id: ClaimId, v: u64, r: &EvalReport) -> DispatchResultWithPostInfo {
	Pol::reveal_report(RuntimeOrigin::signed(v), id, *r, salt(v))
}

fn to_reveal(id: ClaimId) {
	run_to(claim(id).commit_until + 1);
}

fn to_close(id: ClaimId) {
	run_to(claim(id).reveal_until + 1);
}

/// Commits every `(validator, report)`, runs to the reveal window and reveals them all.
fn commit_and_reveal(id: ClaimId, reports: &[(u64, EvalReport)]) {
	for (v, r) in reports {
		commit(id, *v, r);
	}
	to_reveal(id);
	for (v, r) in reports {
		assert_ok!(reveal(id, *v, r));
	}
}

#[test]
fn submit_claim_proposes_the_block_holds_the_bond_and_schedules_the_challenge() {
	new_test_ext().execute_with(|| {
		let id = submit(TRAINER, 1, GOOD_LOSS);
		let c = claim(id);
		assert_eq!(c.trainer, TRAINER);
		assert_eq!(c.blocks.len(), 1);
		assert_eq!(c.blocks[0].unit.to_vec(), UNIT.to_vec());
		assert_eq!(c.stage, ClaimStage::AwaitingChallenge);
		assert_eq!((c.challenge_at, c.commit_until, c.reveal_until), (3, 13, 17));
		let block = c.blocks[0].block;
		assert_eq!(block, child_id(TRAINER, &parent(), &payload(1)));
		assert!(dag::is_proposed(&block));
		assert_eq!(ClaimOfBlock::<Test>::get(block), Some(id));
		assert_eq!(held(TRAINER), BOND);
		assert_eq!(Challenges::<Test>::get(3).to_vec(), vec![id]);
		assert_eq!(Decisions::<Test>::get(18).to_vec(), vec![id]);
		assert_eq!(ClaimQuota::<Test>::get(TRAINER), (0, 1));
		assert_eq!(
			events(),
			vec![Event::ClaimSubmitted {
				claim: id,
				trainer: TRAINER,
				blocks: BoundedVec::truncate_from(vec![block]),
				bond: BOND,
				challenge_at: 3
			}]
		);
		assert_ok!(Pol::do_try_state());
	});
}

#[test]
fn every_bad_claim_has_its_error_and_changes_nothing() {
	new_test_ext().execute_with(|| {
		let o = || RuntimeOrigin::signed(TRAINER);
		let with = |f: &dyn Fn(&mut Input)| {
			let mut i = input(1, GOOD_LOSS);
			f(&mut i);
			Pol::submit_claim(o(), i, BOND)
		};
		assert_noop!(
			Pol::submit_claim(o(), input(1, GOOD_LOSS), BOND - 1),
			Error::<Test>::BondTooLow
		);
		assert_noop!(with(&|i| i.datasets = shares(&[])), Error::<Test>::NoDatasets);
		assert_noop!(
			with(&|i| i.datasets = shares(&[(7, 500_000), (7, 500_000)])),
			Error::<Test>::DuplicateDataset
		);
		assert_noop!(
			with(&|i| i.datasets = shares(&[(7, 500_000), (8, 400_000)])),
			Error::<Test>::RatiosDoNotSum
		);
		assert_noop!(
			with(&|i| i.datasets = shares(&[(7, 500_000), (99, 500_000)])),
			Error::<Test>::DatasetNotApproved
		);
		assert_noop!(
			with(&|i| i.datasets = shares(&[(7, 500_000), (0, 500_000)])),
			Error::<Test>::ValidationDatasetNamed
		);
		assert_noop!(with(&|i| i.params.steps = 0), Error::<Test>::StepsOutOfRange);
		assert_noop!(with(&|i| i.params.steps = 1_001), Error::<Test>::StepsOutOfRange);
		assert_noop!(
			with(&|i| i.params.checkpoint_every = 0),
			Error::<Test>::CheckpointIntervalOutOfRange
		);
		assert_noop!(with(&|i| i.params.checkpoint_every = 9), Error::<Test>::TooManySegments);
		assert_noop!(with(&|i| i.params.batch_size = 0), Error::<Test>::BatchSizeOutOfRange);
		assert_noop!(with(&|i| i.params.batch_size = 17), Error::<Test>::BatchSizeOutOfRange);
		assert_noop!(with(&|i| i.params.seq_len = 65), Error::<Test>::SeqLenOutOfRange);
		// Each dimension in range, their product not (16 × 64 > 512).
		assert_noop!(with(&|i| i.params.batch_size = 16), Error::<Test>::TooManyTokensPerStep);
		assert_noop!(with(&|i| i.units[0].parent = [0xee; 32]), Error::<Test>::UnknownParent);
		// A parent that exists but is not the unit's ParamIndex entry.
		let stale = dag::genesis_block(b"layer0.expert5");
		dag::set_accepted(b"layer0.expert5", [0x55; 32]);
		assert_noop!(with(&|i| i.units[0].parent = stale), Error::<Test>::ParentNotAccepted);
		// Unit sets: none, a unit twice (same parent, or two updates of one unit with
		// different payloads), a good first unit with a bad second one.
		assert_noop!(with(&|i| i.units.clear()), Error::<Test>::NoUnits);
		assert_noop!(
			with(&|i| i.units.try_push(i.units[0]).unwrap()),
			Error::<Test>::DuplicateUnit
		);
		assert_noop!(
			with(&|i| {
				let mut again = i.units[0];
				again.payload_root = payload(2);
				i.units.try_push(again).unwrap()
			}),
			Error::<Test>::DuplicateUnit
		);
		assert_noop!(
			with(&|i| {
				let bad = UnitUpdate { parent: stale, payload_root: payload(2), nonce: 0 };
				i.units.try_push(bad).unwrap()
			}),
			Error::<Test>::ParentNotAccepted
		);
		// The second unit's payload is unknown: the first unit's proposal is undone too.
		assert_noop!(
			Pol::submit_claim(o(), two_unit_input(1, 42, GOOD_LOSS), BOND),
			UNKNOWN_PAYLOAD
		);
		// The base block: not the claim's own block or later, not older than MaxBaseAge.
		assert_noop!(with(&|i| i.base = 1), Error::<Test>::BaseNotInPast);
		assert_noop!(with(&|i| i.base = u32::MAX), Error::<Test>::BaseNotInPast);
		run_to(MaxBaseAge::get() + 2);
		assert_noop!(with(&|i| i.base = 1), Error::<Test>::BaseTooOld);
		assert_noop!(with(&|i| i.base = 0), Error::<Test>::BaseTooOld);
		// A payload the content store does not hold: the DAG's error passes through.
		assert_noop!(Pol::submit_claim(o(), input(42, GOOD_LOSS), BOND), UNKNOWN_PAYLOAD);
		assert_noop!(
			Pol::submit_claim(RuntimeOrigin::signed(11), input(1, GOOD_LOSS), BOND),
			Error::<Test>::InsufficientBalance
		);
		assert_eq!(NextClaimId::<Test>::get(), 0);
	});
}

#[test]
fn a_claim_cannot_name_the_validation_dataset() {
	new_test_ext().execute_with(|| {
		let mut i = input(1, GOOD_LOSS);
		i.datasets = shares(&[(0, PPM)]);
		assert_noop!(
			Pol::submit_claim(RuntimeOrigin::signed(TRAINER), i.clone(), BOND),
			Error::<Test>::ValidationDatasetNamed
		);
		// The rule follows the spec: with another validation set, dataset 0 is fine.
		Validation::set(Some(8));
		assert_ok!(Pol::submit_claim(RuntimeOrigin::signed(TRAINER), i, BOND));
	});
}

#[test]
fn the_quota_counts_per_day_and_falls_with_trust() {
	new_test_ext().execute_with(|| {
		for n in 1..=5u8 {
			let mut i = input(n, GOOD_LOSS);
			i.units[0].nonce = u64::from(n);
			assert_ok!(Pol::submit_claim(RuntimeOrigin::signed(TRAINER), i, BOND));
			run_to(System::block_number() + 1);
		}
		assert_noop!(
			Pol::submit_claim(RuntimeOrigin::signed(TRAINER), input(6, GOOD_LOSS), BOND),
			Error::<Test>::QuotaExceeded
		);
		// A new day restarts the count.
		run_to(DayLength::get() + 1);
		let mut i = input(6, GOOD_LOSS);
		i.units[0].nonce = 6;
		assert_ok!(Pol::submit_claim(RuntimeOrigin::signed(TRAINER), i, BOND));
	});
}

#[test]
fn schedule_room_is_checked_before_anything_is_written() {
	new_test_ext().execute_with(|| {
		for n in 1..=3u8 {
			submit(TRAINER2, n, GOOD_LOSS);
		}
		assert_noop!(
			Pol::submit_claim(RuntimeOrigin::signed(TRAINER), input(4, GOOD_LOSS), BOND),
			Error::<Test>::ScheduleFull
		);
	});
}

#[test]
fn the_challenge_is_drawn_after_the_claim_over_the_parameters_segments() {
	new_test_ext().execute_with(|| {
		let id = submit(TRAINER, 1, GOOD_LOSS);
		run_to(2);
		let seed_block = System::block_hash(2);
		run_to(3);
		let c = claim(id);
		let expected = blyan_primitives::pol::challenge_segments(
			&seed_block.into(),
			id,
			params().segments(),
			2,
		);
		assert_eq!(c.segments.to_vec(), expected);
		assert_eq!(c.segments.len(), 2);
		// The seed the validators draw the checked evaluation batches from is stored: the
		// hash of a block after the claim's (the mock's block hashes are zero; e2e 10 checks
		// a real one).
		assert_eq!(c.seed, <[u8; 32]>::from(seed_block));
		assert!(c.segments.iter().all(|s| *s < 30));
		assert!(events().contains(&Event::ChallengeDrawn {
			claim: id,
			segments: c.segments.clone(),
			commit_until: 13,
			reveal_until: 17,
		}));
		// A claim of 1 segment is replayed whole: the count comes from its parameters, and the
		// engine refuses a manifest whose parameters differ (node tests).
		let mut i = input(2, GOOD_LOSS);
		i.params = TrainingParams { steps: 10, checkpoint_every: 10, ..params() };
		assert_ok!(Pol::submit_claim(RuntimeOrigin::signed(TRAINER2), i, BOND));
		let short = NextClaimId::<Test>::get() - 1;
		run_to(claim(short).challenge_at);
		assert_eq!(claim(short).segments.to_vec(), vec![0]);
	});
}

#[test]
fn commit_report_works_and_every_bad_commitment_has_its_error() {
	new_test_ext().execute_with(|| {
		let c = [1u8; 32];
		assert_noop!(
			Pol::commit_report(RuntimeOrigin::signed(10), 5, c),
			Error::<Test>::UnknownClaim
		);
		let id = submit(TRAINER, 1, GOOD_LOSS);
		assert_noop!(
			Pol::commit_report(RuntimeOrigin::signed(10), id, c),
			Error::<Test>::ChallengeNotDrawn
		);
		run_to(3);
		assert_noop!(
			Pol::commit_report(RuntimeOrigin::signed(99), id, c),
			Error::<Test>::NotValidator
		);
		assert_ok!(Pol::commit_report(RuntimeOrigin::signed(10), id, c));
		assert_eq!(Commitments::<Test>::get(id, 10), Some(c));
		assert_eq!(claim(id).commitments, 1);
		System::assert_last_event(Event::ReportCommitted { claim: id, validator: 10 }.into());
		assert_noop!(
			Pol::commit_report(RuntimeOrigin::signed(10), id, [2; 32]),
			Error::<Test>::AlreadyCommitted
		);
		run_to(14);
		assert_noop!(
			Pol::commit_report(RuntimeOrigin::signed(11), id, c),
			Error::<Test>::CommitWindowClosed
		);
	});
}

#[test]
fn commitments_are_bounded_by_max_validators() {
	new_test_ext().execute_with(|| {
		Validator::set((10..20).collect());
		let id = challenged(TRAINER, 1, GOOD_LOSS);
		for v in 10..18 {
			assert_ok!(Pol::commit_report(RuntimeOrigin::signed(v), id, [v as u8; 32]));
		}
		assert_noop!(
			Pol::commit_report(RuntimeOrigin::signed(18), id, [1; 32]),
			Error::<Test>::TooManyCommitments
		);
	});
}

#[test]
fn the_trainers_own_validator_account_cannot_report_on_its_claim() {
	new_test_ext().execute_with(|| {
		// Validator 10 trains too.
		let id = challenged(10, 1, GOOD_LOSS);
		let c = report_commitment(id, &10u64, &honest(), &salt(10));
		assert_noop!(Pol::commit_report(RuntimeOrigin::signed(10), id, c), Error::<Test>::OwnClaim);
		// The other two are ⌈⅔ · 3⌉ and decide.
		commit_and_reveal(id, &[(11, honest()), (12, honest())]);
		assert!(matches!(stage(id), ClaimStage::Accepted { .. }));
	});
}

#[test]
fn every_bad_reveal_has_its_error_and_changes_nothing() {
	new_test_ext().execute_with(|| {
		assert_noop!(reveal(4, 10, &honest()), Error::<Test>::UnknownClaim);
		let id = submit(TRAINER, 1, GOOD_LOSS);
		assert_noop!(reveal(id, 10, &honest()), Error::<Test>::RevealNotOpen);
		run_to(3);
		commit(id, 10, &honest());
		// Reports stay hidden while commitments are taken.
		assert_noop!(reveal(id, 10, &honest()), Error::<Test>::RevealNotOpen);
		to_reveal(id);
		assert_noop!(reveal(id, 11, &honest()), Error::<Test>::NoCommitment);
		// Another report, or the right report with another salt, does not open it.
		assert_noop!(
			reveal(id, 10, &failed(ReplayVerdict::Mismatch)),
			Error::<Test>::CommitmentMismatch
		);
		assert_noop!(
			Pol::reveal_report(RuntimeOrigin::signed(10), id, honest(), [0xff; 32]),
			Error::<Test>::CommitmentMismatch
		);
		assert_ok!(reveal(id, 10, &honest()));
		System::assert_last_event(
			Event::ReportRevealed { claim: id, validator: 10, report: honest() }.into(),
		);
		assert_noop!(reveal(id, 10, &honest()), Error::<Test>::AlreadyRevealed);
		run_to(claim(id).reveal_until + 1);
		assert_noop!(reveal(id, 10, &honest()), Error::<Test>::RevealWindowClosed);
	});
}

#[test]
fn the_commit_window_ends_once_every_eligible_validator_committed() {
	new_test_ext().execute_with(|| {
		let id = challenged(TRAINER, 1, GOOD_LOSS);
		let window_end = claim(id).commit_until;
		commit(id, 10, &honest());
		commit(id, 11, &honest());
		assert_eq!(claim(id).commit_until, window_end, "12 may still commit");
		assert_noop!(reveal(id, 10, &honest()), Error::<Test>::RevealNotOpen);
		commit(id, 12, &honest());
		let now = System::block_number();
		assert_eq!(claim(id).commit_until, now);
		// The window closes RevealWindow blocks from now, not from the planned end.
		assert_eq!(claim(id).reveal_until, now + RevealWindow::get());
		assert!(Decisions::<Test>::get(now + RevealWindow::get() + 1).contains(&id));
		assert!(!Decisions::<Test>::get(window_end + RevealWindow::get() + 1).contains(&id));
		System::assert_last_event(
			Event::CommitmentsComplete {
				claim: id,
				reveals_from: now + 1,
				reveal_until: now + RevealWindow::get(),
			}
			.into(),
		);
		// Reveals are taken from the next block.
		assert_noop!(reveal(id, 10, &honest()), Error::<Test>::RevealNotOpen);
		run_to(now + 1);
		assert_ok!(reveal(id, 10, &honest()));
		assert_ok!(reveal(id, 11, &honest()));
		assert!(matches!(stage(id), ClaimStage::Accepted { .. }));
		// A trainer that validates too is not waited for.
		let id = challenged(10, 2, GOOD_LOSS);
		commit(id, 11, &honest());
		commit(id, 12, &honest());
		assert_eq!(claim(id).commit_until, System::block_number());
	});
}

#[test]
fn a_copied_commitment_opens_nothing_and_the_copier_is_deviant() {
	new_test_ext().execute_with(|| {
		let id = challenged(TRAINER, 1, GOOD_LOSS);
		commit(id, 10, &honest());
		commit(id, 12, &honest());
		// Validator 11 copies 10's commitment from the pool or the state…
		let copied = Commitments::<Test>::get(id, 10).unwrap();
		assert_ok!(Pol::commit_report(RuntimeOrigin::signed(11), id, copied));
		to_reveal(id);
		assert_ok!(reveal(id, 10, &honest()));
		// …and then 10's revealed report and salt: its account is in the hash, so it fails.
		assert_noop!(
			Pol::reveal_report(RuntimeOrigin::signed(11), id, honest(), salt(10)),
			Error::<Test>::CommitmentMismatch
		);
		assert_ok!(reveal(id, 12, &honest()));
		assert!(matches!(stage(id), ClaimStage::Accepted { .. }));
		to_close(id);
		assert!(events().contains(&Event::ReportDeviated {
			claim: id,
			validator: 11,
			deviation: Deviation::NotRevealed,
			count: 1
		}));
		assert_eq!(Deviations::<Test>::get(11), 1);
		assert_eq!(Deviations::<Test>::get(10), 0);
		assert_eq!(Commitments::<Test>::iter_prefix(id).count(), 0, "dropped at close");
	});
}

#[test]
fn two_thirds_identical_reveals_accept_and_pay_by_mixing_ratio() {
	new_test_ext().execute_with(|| {
		let id = challenged(TRAINER, 1, GOOD_LOSS);
		let before = free(TRAINER);
		let block = block_of(id);
		commit(id, 10, &honest());
		commit(id, 11, &honest());
		to_reveal(id);
		assert_ok!(reveal(id, 10, &honest()));
		assert_eq!(stage(id), ClaimStage::Evaluating, "one of three is no quorum");
		assert_ok!(reveal(id, 11, &honest()));
		assert_eq!(stage(id), ClaimStage::Accepted { improvement_ppm: 20_000 });
		assert_eq!(claim(id).quorum, Some(honest()));
		assert_eq!(MockDag::accepted(UNIT), Some(block));
		assert_eq!(held(TRAINER), 0);
		assert_eq!(free(TRAINER), before + BOND + TrainerReward::get());
		let ev = events();
		assert!(ev.contains(&Event::ClaimAccepted {
			claim: id,
			blocks: BoundedVec::truncate_from(vec![block]),
			improvement_ppm: 20_000,
			reward: 50
		}));
		assert!(ev.contains(&Event::DataContributorRewarded {
			claim: id,
			dataset: 7,
			creator: CREATOR_A,
			amount: 6
		}));
		assert!(ev.contains(&Event::DataContributorRewarded {
			claim: id,
			dataset: 8,
			creator: CREATOR_B,
			amount: 4
		}));
		assert_eq!(TrainerTrust::<Test>::get(TRAINER).consecutive_approvals, 1);
		to_close(id);
		assert!(!events().iter().any(|e| matches!(e, Event::ReportDeviated { .. })));
	});
}

#[test]
fn one_report_never_decides_the_claim_expires_with_a_fee() {
	new_test_ext().execute_with(|| {
		// The trainer's colluding validator alone reports a glowing result; nobody else does.
		let id = challenged(TRAINER, 1, GOOD_LOSS);
		let before = free(TRAINER);
		commit_and_reveal(id, &[(10, honest())]);
		assert_eq!(stage(id), ClaimStage::Evaluating);
		to_close(id);
		assert_eq!(stage(id), ClaimStage::Expired);
		let fee = ExpiryFee::get() * BOND;
		assert_eq!(fee, 100);
		assert_eq!(free(TRAINER), before + BOND - fee);
		assert_eq!(held(TRAINER), 0);
		assert_eq!(dag::block(&block_of(id)).unwrap().status, dag::Status::Rejected);
		assert_ne!(MockDag::accepted(UNIT), Some(block_of(id)));
		assert_eq!(TrainerTrust::<Test>::get(TRAINER), Trust::default(), "not a failure");
		assert!(events().contains(&Event::ClaimExpired {
			claim: id,
			blocks: BoundedVec::truncate_from(vec![block_of(id)]),
			fee,
			commitments: 1,
			reveals: 1
		}));
	});
}

#[test]
fn a_minority_cannot_accept_a_forged_claim() {
	new_test_ext().execute_with(|| {
		Validator::set(vec![10, 11, 12, 13]);
		let id = challenged(TRAINER, 1, GOOD_LOSS);
		let block = block_of(id);
		// 13 colludes with the trainer; two honest validators found the replay broken; 12 is
		// offline. ⌈⅔ · 4⌉ = 3 identical reports are needed either way.
		commit_and_reveal(
			id,
			&[
				(13, honest()),
				(10, failed(ReplayVerdict::Mismatch)),
				(11, failed(ReplayVerdict::Mismatch)),
			],
		);
		assert_eq!(stage(id), ClaimStage::Evaluating);
		to_close(id);
		assert_eq!(stage(id), ClaimStage::Expired, "no quorum, no acceptance");
		assert_ne!(MockDag::accepted(UNIT), Some(block));
	});
}

#[test]
fn the_quorum_rejects_and_slashes_every_replay_failure() {
	for verdict in [
		ReplayVerdict::Mismatch,
		ReplayVerdict::Unbound,
		ReplayVerdict::Unavailable,
		ReplayVerdict::EvaluationMismatch,
	] {
		new_test_ext().execute_with(|| {
			let id = challenged(TRAINER, 1, GOOD_LOSS);
			let before = free(TRAINER) + held(TRAINER);
			// The colluder's glowing report is outvoted by two identical honest ones.
			commit_and_reveal(id, &[(12, honest()), (10, failed(verdict)), (11, failed(verdict))]);
			assert_eq!(stage(id), ClaimStage::Rejected(RejectReason::ReplayFailed { verdict }));
			assert_eq!(free(TRAINER) + held(TRAINER), before - BOND, "the whole bond is burnt");
			assert_eq!(TrainerTrust::<Test>::get(TRAINER).consecutive_rejections, 1);
			assert_eq!(dag::block(&block_of(id)).unwrap().status, dag::Status::Rejected);
			to_close(id);
			assert!(events().contains(&Event::ReportDeviated {
				claim: id,
				validator: 12,
				deviation: Deviation::DiffersFromQuorum,
				count: 1
			}));
		});
	}
}

#[test]
fn a_quorum_of_engine_mismatches_rejects_without_a_slash_but_charges_the_expiry_fee() {
	new_test_ext().execute_with(|| {
		// The validators' CPUs cannot reproduce the trainer's engine: nobody judged the claim.
		let id = challenged(TRAINER, 1, GOOD_LOSS);
		let before = free(TRAINER) + held(TRAINER);
		let mismatch = failed(ReplayVerdict::EngineMismatch);
		commit_and_reveal(id, &[(10, mismatch), (11, mismatch)]);
		assert_eq!(stage(id), ClaimStage::Rejected(RejectReason::EngineMismatch));
		let fee = ExpiryFee::get() * BOND;
		assert!(fee > 0 && fee < BOND);
		assert_eq!(free(TRAINER), before - fee, "only the expiry fee is burnt");
		assert_eq!(held(TRAINER), 0);
		assert_eq!(TrainerTrust::<Test>::get(TRAINER), Trust::default(), "not a failure");
		assert_eq!(dag::block(&block_of(id)).unwrap().status, dag::Status::Rejected);
		assert_ne!(MockDag::accepted(UNIT), Some(block_of(id)));
		assert!(events().contains(&Event::ClaimRejected {
			claim: id,
			blocks: BoundedVec::truncate_from(vec![block_of(id)]),
			reason: RejectReason::EngineMismatch,
			slashed: fee,
		}));
	});
}

#[test]
fn an_engine_mismatch_minority_cannot_save_a_forged_claim() {
	new_test_ext().execute_with(|| {
		// The forger's colluding validator claims not to reproduce the engine; two honest
		// validators replayed and found the forgery: the slash stands.
		let id = challenged(TRAINER, 1, GOOD_LOSS);
		let before = free(TRAINER) + held(TRAINER);
		let forged = failed(ReplayVerdict::Mismatch);
		commit_and_reveal(
			id,
			&[(12, failed(ReplayVerdict::EngineMismatch)), (10, forged), (11, forged)],
		);
		assert_eq!(
			stage(id),
			ClaimStage::Rejected(RejectReason::ReplayFailed { verdict: ReplayVerdict::Mismatch })
		);
		assert_eq!(free(TRAINER) + held(TRAINER), before - BOND);
		to_close(id);
		assert!(events().contains(&Event::ReportDeviated {
			claim: id,
			validator: 12,
			deviation: Deviation::DiffersFromQuorum,
			count: 1
		}));
	});
}

#[test]
fn the_quorum_rejects_a_claim_without_improvement_or_with_an_inflated_loss() {
	new_test_ext().execute_with(|| {
		// Claimed truthfully, so the loss check passes and the improvement decides.
		let id = challenged(TRAINER, 1, PARENT_LOSS - PARENT_LOSS / 1_000);
		let flat = report(PARENT_LOSS, PARENT_LOSS - PARENT_LOSS / 1_000, ReplayVerdict::Match);
		commit_and_reveal(id, &[(10, flat), (11, flat)]);
		assert_eq!(
			stage(id),
			ClaimStage::Rejected(RejectReason::InsufficientImprovement { improvement_ppm: 1_000 })
		);
		// An undecodable candidate's loss is maximal: claiming a good loss for it is a lie, and
		// claiming the maximum is no improvement.
		let id = challenged(TRAINER2, 2, GOOD_LOSS);
		let garbage = report(PARENT_LOSS, UNDECODABLE_LOSS, ReplayVerdict::Match);
		commit_and_reveal(id, &[(10, garbage), (11, garbage)]);
		assert_eq!(
			stage(id),
			ClaimStage::Rejected(RejectReason::ClaimedLossNotReproduced {
				measured: UNDECODABLE_LOSS
			})
		);
		let id = challenged(TRAINER2, 5, UNDECODABLE_LOSS);
		commit_and_reveal(id, &[(10, garbage), (11, garbage)]);
		assert!(matches!(
			stage(id),
			ClaimStage::Rejected(RejectReason::InsufficientImprovement { .. })
		));
		// A real 2 % improvement claimed as 10 %.
		let id = challenged(TRAINER, 3, PARENT_LOSS - PARENT_LOSS / 10);
		commit_and_reveal(id, &[(10, honest()), (11, honest())]);
		assert_eq!(
			stage(id),
			ClaimStage::Rejected(RejectReason::ClaimedLossNotReproduced { measured: GOOD_LOSS })
		);
		// Within the 1 % tolerance is fine.
		let id = challenged(TRAINER2, 4, GOOD_LOSS - GOOD_LOSS / 200);
		commit_and_reveal(id, &[(10, honest()), (11, honest())]);
		assert!(matches!(stage(id), ClaimStage::Accepted { .. }));
	});
}

/// Submits `i` as `who` and runs to its challenge block.
fn challenged_input(who: u64, i: Input) -> ClaimId {
	assert_ok!(Pol::submit_claim(RuntimeOrigin::signed(who), i, BOND));
	let id = NextClaimId::<Test>::get() - 1;
	run_to(claim(id).challenge_at);
	id
}

#[test]
fn a_claim_over_two_units_is_accepted_as_one() {
	new_test_ext().execute_with(|| {
		let (p1, p2) = (parent(), MockDag::accepted(UNIT2).unwrap());
		let id = challenged_input(TRAINER, two_unit_input(1, 2, GOOD_LOSS));
		let c = claim(id);
		let blocks: Vec<Hash> = c.blocks.iter().map(|b| b.block).collect();
		assert_eq!(
			blocks,
			vec![child_id(TRAINER, &p1, &payload(1)), child_id(TRAINER, &p2, &payload(2))]
		);
		assert_eq!(c.blocks[1].unit.to_vec(), UNIT2.to_vec());
		assert!(blocks.iter().all(|b| ClaimOfBlock::<Test>::get(b) == Some(id)));
		assert_eq!(held(TRAINER), BOND, "one bond for the whole claim");
		commit_and_reveal(id, &[(10, honest()), (11, honest())]);
		assert!(matches!(stage(id), ClaimStage::Accepted { .. }));
		assert_eq!(MockDag::accepted(UNIT), Some(blocks[0]));
		assert_eq!(MockDag::accepted(UNIT2), Some(blocks[1]));
		assert!(events().iter().any(|e| matches!(e,
			Event::ClaimAccepted { claim, blocks: b, reward, .. }
				if *claim == id && b.to_vec() == blocks && *reward == TrainerReward::get())));
	});
}

#[test]
fn a_claim_over_two_units_is_rejected_as_one() {
	new_test_ext().execute_with(|| {
		let (p1, p2) = (parent(), MockDag::accepted(UNIT2).unwrap());
		let id = challenged_input(TRAINER, two_unit_input(1, 2, GOOD_LOSS));
		let worse = report(PARENT_LOSS, PARENT_LOSS + 1, ReplayVerdict::Match);
		commit_and_reveal(id, &[(10, worse), (11, worse)]);
		assert!(matches!(
			stage(id),
			ClaimStage::Rejected(RejectReason::ClaimedLossNotReproduced { .. })
		));
		for b in claim(id).blocks.iter() {
			assert_eq!(dag::block(&b.block).unwrap().status, dag::Status::Rejected);
		}
		assert_eq!((MockDag::accepted(UNIT), MockDag::accepted(UNIT2)), (Some(p1), Some(p2)));
	});
}

#[test]
fn an_expired_claim_over_two_units_rejects_both_blocks() {
	new_test_ext().execute_with(|| {
		let id = challenged_input(TRAINER, two_unit_input(1, 2, GOOD_LOSS));
		to_close(id);
		assert_eq!(stage(id), ClaimStage::Expired);
		for b in claim(id).blocks.iter() {
			assert_eq!(dag::block(&b.block).unwrap().status, dag::Status::Rejected);
		}
	});
}

/// Attack: a trainer bundles a unit whose block cannot be accepted any more with a good one,
/// hoping the good one is accepted alone. Acceptance is all or nothing.
#[test]
fn no_unit_of_a_claim_is_accepted_unless_all_are() {
	new_test_ext().execute_with(|| {
		let (p1, p2) = (parent(), MockDag::accepted(UNIT2).unwrap());
		let id = challenged_input(TRAINER, two_unit_input(1, 2, GOOD_LOSS));
		for v in [10, 11] {
			commit(id, v, &honest());
		}
		to_reveal(id);
		assert_ok!(reveal(id, 10, &honest()));
		// The second block stops being `Proposed` behind the pallet's back (the invariants
		// would flag it at the next block), and the next reveal decides.
		let second = claim(id).blocks[1].block;
		assert_ok!(dag::reject(&second));
		assert_ok!(reveal(id, 11, &honest()));
		assert_eq!(stage(id), ClaimStage::Rejected(RejectReason::Superseded));
		assert_eq!((MockDag::accepted(UNIT), MockDag::accepted(UNIT2)), (Some(p1), Some(p2)));
		assert_eq!(dag::block(&block_of(id)).unwrap().status, dag::Status::Rejected);
	});
}

/// Claims on disjoint units do not invalidate each other: both are accepted, in either order.
#[test]
fn claims_on_disjoint_units_are_both_accepted() {
	new_test_ext().execute_with(|| {
		let a = challenged(TRAINER, 1, GOOD_LOSS);
		let mut i = input(2, GOOD_LOSS);
		i.units[0].parent = MockDag::accepted(UNIT2).unwrap();
		let b = challenged_input(TRAINER2, i);
		for v in [10, 11] {
			commit(a, v, &honest());
			commit(b, v, &honest());
		}
		to_reveal(b);
		for v in [10, 11] {
			assert_ok!(reveal(a, v, &honest()));
		}
		assert!(matches!(stage(a), ClaimStage::Accepted { .. }));
		for v in [10, 11] {
			assert_ok!(reveal(b, v, &honest()));
		}
		assert!(matches!(stage(b), ClaimStage::Accepted { .. }), "{:?}", stage(b));
		assert_eq!(MockDag::accepted(UNIT), Some(block_of(a)));
		assert_eq!(MockDag::accepted(UNIT2), Some(block_of(b)));
	});
}

/// A claim over several units is superseded when any one of them moved first, and then
/// nothing of it is accepted.
#[test]
fn a_claim_overlapping_an_accepted_one_is_superseded_without_a_slash() {
	new_test_ext().execute_with(|| {
		let p2 = MockDag::accepted(UNIT2).unwrap();
		let mut i = input(2, GOOD_LOSS);
		i.units[0].parent = p2;
		let single = challenged_input(TRAINER2, i);
		let both = challenged_input(TRAINER, two_unit_input(1, 3, GOOD_LOSS));
		for v in [10, 11] {
			commit(single, v, &honest());
			commit(both, v, &honest());
		}
		to_reveal(both);
		for v in [10, 11] {
			assert_ok!(reveal(single, v, &honest()));
		}
		let before = free(TRAINER) + held(TRAINER);
		let p1 = parent();
		for v in [10, 11] {
			assert_ok!(reveal(both, v, &honest()));
		}
		assert_eq!(stage(both), ClaimStage::Rejected(RejectReason::Superseded));
		assert_eq!(free(TRAINER) + held(TRAINER), before, "not slashed");
		assert_eq!(MockDag::accepted(UNIT), Some(p1), "its other unit did not move either");
		assert_eq!(MockDag::accepted(UNIT2), Some(block_of(single)));
	});
}

#[test]
fn the_base_may_be_exactly_max_base_age_old() {
	new_test_ext().execute_with(|| {
		run_to(MaxBaseAge::get() + 5);
		let mut i = input(1, GOOD_LOSS);
		i.base = 5;
		assert_ok!(Pol::submit_claim(RuntimeOrigin::signed(TRAINER), i.clone(), BOND));
		assert_eq!(claim(0).input.base, 5);
	});
}

#[test]
fn a_superseded_claim_is_not_slashed_but_a_stolen_one_is() {
	new_test_ext().execute_with(|| {
		let honest_claim = submit(TRAINER, 1, GOOD_LOSS);
		// A thief claims the same payload and manifest: validators find the manifest names
		// another trainer (`Unbound`).
		let stolen = submit(TRAINER2, 1, GOOD_LOSS);
		// An honest competitor on the same parent.
		let late = submit(TRAINER2, 2, GOOD_LOSS);
		run_to(claim(late).challenge_at);
		let thief_before = free(TRAINER2) + held(TRAINER2);
		for v in [10, 11] {
			commit(honest_claim, v, &honest());
			commit(stolen, v, &failed(ReplayVerdict::Unbound));
			commit(late, v, &honest());
		}
		to_reveal(late);
		for v in [10, 11] {
			assert_ok!(reveal(honest_claim, v, &honest()));
		}
		assert!(matches!(stage(honest_claim), ClaimStage::Accepted { .. }));
		// The unit moved on, but the replay verdict is checked first: the thief is slashed.
		for v in [10, 11] {
			assert_ok!(reveal(stolen, v, &failed(ReplayVerdict::Unbound)));
		}
		assert_eq!(
			stage(stolen),
			ClaimStage::Rejected(RejectReason::ReplayFailed { verdict: ReplayVerdict::Unbound })
		);
		assert_eq!(free(TRAINER2) + held(TRAINER2), thief_before - BOND);
		// The superseded competitor keeps its bond.
		let before = free(TRAINER2) + held(TRAINER2);
		for v in [10, 11] {
			assert_ok!(reveal(late, v, &honest()));
		}
		assert_eq!(stage(late), ClaimStage::Rejected(RejectReason::Superseded));
		assert_eq!(free(TRAINER2) + held(TRAINER2), before);
		assert_eq!(held(TRAINER2), 0);
	});
}

#[test]
fn an_inflated_claim_is_slashed_even_when_the_unit_moved_first() {
	new_test_ext().execute_with(|| {
		let honest_claim = submit(TRAINER, 1, GOOD_LOSS);
		// The same unit, a real candidate whose loss is claimed 10 % better than it is.
		let inflated = submit(TRAINER2, 2, GOOD_LOSS - GOOD_LOSS / 10);
		// And an honest competitor, whose claimed loss is the measured one.
		let late = submit(TRAINER2, 3, GOOD_LOSS);
		run_to(claim(late).challenge_at);
		for v in [10, 11] {
			for id in [honest_claim, inflated, late] {
				commit(id, v, &honest());
			}
		}
		to_reveal(late);
		for v in [10, 11] {
			assert_ok!(reveal(honest_claim, v, &honest()));
		}
		assert!(matches!(stage(honest_claim), ClaimStage::Accepted { .. }));
		// The unit moved, but the lie is judged first: the whole bond goes.
		let before = free(TRAINER2) + held(TRAINER2);
		for v in [10, 11] {
			assert_ok!(reveal(inflated, v, &honest()));
		}
		assert_eq!(
			stage(inflated),
			ClaimStage::Rejected(RejectReason::ClaimedLossNotReproduced { measured: GOOD_LOSS })
		);
		assert_eq!(free(TRAINER2) + held(TRAINER2), before - BOND);
		// The truthful competitor is only superseded.
		for v in [10, 11] {
			assert_ok!(reveal(late, v, &honest()));
		}
		assert_eq!(stage(late), ClaimStage::Rejected(RejectReason::Superseded));
		assert_eq!(free(TRAINER2) + held(TRAINER2), before - BOND);
	});
}

#[test]
fn expected_value_of_forging_is_negative_for_the_configured_constants() {
	new_test_ext().execute_with(|| {
		assert!(Pol::forgery_never_pays());
		<Pol as frame_support::traits::Hooks<u64>>::integrity_test();
		// The inequality by hand at the worst case (one forged segment of 32): the claim is
		// caught with probability 2/32, so the expected slash (2/32 · 2 000 = 125) exceeds
		// the expected gain (30/32 · 60 = 56.25). One false evaluation batch is caught with
		// probability 1/32: 1/32 · 2 000 = 62.5 against 31/32 · 60 = 58.1.
		let q = 2.0 / 32.0;
		let gain = (TrainerReward::get() + DataReward::get()) as f64;
		assert!(q * (SlashFraction::get() * MinBond::get()) as f64 > (1.0 - q) * gain);
		// Half the slash would make forging pay.
		assert!(!blyan_primitives::pol::forgery_never_pays(32, 2, 500, 60));
		assert!(!blyan_primitives::pol::window_lie_never_pays(1_800, 60), "31 · 60 = 1 860");
		assert!(blyan_primitives::pol::window_lie_never_pays(1_900, 60));
	});
}

#[test]
fn deviant_reports_are_recorded_against_the_quorum() {
	new_test_ext().execute_with(|| {
		let id = challenged(TRAINER, 1, GOOD_LOSS);
		let off = report(PARENT_LOSS, GOOD_LOSS + GOOD_LOSS / 100, ReplayVerdict::Match);
		commit(id, 12, &off);
		commit_and_reveal(id, &[(10, honest()), (11, honest())]);
		assert!(matches!(stage(id), ClaimStage::Accepted { .. }));
		// Revealing after the decision is still taken, and compared at close.
		assert_ok!(reveal(id, 12, &off));
		to_close(id);
		assert_eq!(Deviations::<Test>::get(12), 1);
		assert_eq!(Deviations::<Test>::get(10), 0);
	});
}

#[test]
fn trust_demotes_after_five_failures_and_the_quota_falls() {
	new_test_ext().execute_with(|| {
		TrainerTrust::<Test>::insert(
			TRAINER,
			Trust {
				level: TrustLevel::Trusted,
				consecutive_approvals: 0,
				consecutive_rejections: 0,
			},
		);
		for n in 1..=5u8 {
			let mut i = input(n, GOOD_LOSS);
			i.units[0].nonce = u64::from(n);
			assert_ok!(Pol::submit_claim(RuntimeOrigin::signed(TRAINER), i, BOND));
			let id = NextClaimId::<Test>::get() - 1;
			run_to(claim(id).challenge_at);
			commit_and_reveal(
				id,
				&[(10, failed(ReplayVerdict::Mismatch)), (11, failed(ReplayVerdict::Mismatch))],
			);
		}
		assert_eq!(TrainerTrust::<Test>::get(TRAINER).level, TrustLevel::Newbie);
		assert!(events()
			.contains(&Event::TrainerTrustChanged { trainer: TRAINER, level: TrustLevel::Newbie }));
		assert_eq!(Pol::daily_quota(TrustLevel::Newbie), 5);
	});
}

/// The validators' off-chain worker against the shared fake engine, an in-memory off-chain
/// database and a test transaction pool.
mod worker {
	use super::*;
	use crate::worker::{claim_key, WorkerClaim};
	use blyan_engine_interface::{Job, JobOutput, JobStatus};
	use blyan_test_support::{offchain, FakeEngine};
	use blyan_worker::RESEND_AFTER;
	use frame_support::traits::Hooks;
	use std::sync::Arc;

	/// The digest the fake engine's replays end in.
	const DIGEST: Hash = [0xd1; 32];

	/// Answers replays with `verdict` and evaluations with the honest losses.
	fn finish(engine: &FakeEngine, verdict: ReplayVerdict) {
		engine.answer(move |job| match job {
			Job::ReplayClaim { .. } => JobStatus::Done(JobOutput::Replay {
				verdict,
				digest: if verdict == ReplayVerdict::Match { DIGEST } else { [0; 32] },
			}),
			Job::EvaluateClaim { check, .. } => JobStatus::Done(JobOutput::Losses {
				parent: PARENT_LOSS,
				candidate: GOOD_LOSS,
				record: check.as_ref().map(|c| c.record).unwrap_or_default(),
				verdict: ReplayVerdict::Match,
			}),
			_ => JobStatus::Failed(b"not a validator job".to_vec()),
		});
	}

	#[test]
	fn the_evaluation_checks_the_claims_record_and_a_bad_record_is_reported_with_losses_0() {
		let Harness { mut ext, pool, engine } = harness(&[10], true);
		ext.execute_with(|| {
			let id = challenged(TRAINER, 1, GOOD_LOSS);
			let c = claim(id);
			run_worker();
			finish(&engine, ReplayVerdict::Match);
			run_worker();
			// The evaluation names the claim's record, its seed (drawn after the claim) and id.
			let jobs = engine.jobs();
			assert_eq!(
				jobs[1],
				Job::EvaluateClaim {
					at: 0,
					units: vec![(UNIT.to_vec(), payload(1))],
					check: Some(blyan_engine_interface::EvalCheck {
						record: payload(10),
						seed: c.seed,
						claim: id,
					}),
				}
			);
			// The engine finds a checked window that differs from the record.
			engine.answer(move |job| match job {
				Job::ReplayClaim { .. } => JobStatus::Done(JobOutput::Replay {
					verdict: ReplayVerdict::Match,
					digest: DIGEST,
				}),
				_ => JobStatus::Done(JobOutput::Losses {
					parent: 0,
					candidate: 0,
					record: payload(10),
					verdict: ReplayVerdict::EvaluationMismatch,
				}),
			});
			run_worker();
			assert_eq!(apply(&pool).len(), 1, "it commits");
			let state: WorkerClaim = blyan_worker::load(&claim_key(id)).unwrap();
			assert_eq!(
				state.report,
				Some(EvalReport {
					parent_loss: 0,
					candidate_loss: 0,
					replay: ReplayVerdict::EvaluationMismatch,
					replay_digest: [0; 32],
				})
			);
		});
	}

	struct Harness {
		ext: blyan_test_support::CheckedExt,
		pool: offchain::Pool,
		engine: Arc<FakeEngine>,
	}

	fn harness(keys: &[u64], with_engine: bool) -> Harness {
		let mut ext = new_test_ext();
		let engine = FakeEngine::new();
		let pool = offchain::register(&mut ext, keys, with_engine.then(|| engine.clone()));
		Harness { ext, pool, engine }
	}

	fn run_worker() {
		Pol::offchain_worker(System::block_number());
	}

	/// The pool's transactions, applied to the chain as their signers' calls.
	fn apply(pool: &offchain::Pool) -> Vec<(u64, Call<Test>)> {
		let calls: Vec<(u64, RuntimeCall)> = offchain::take(pool);
		calls
			.into_iter()
			.map(|(who, call)| {
				let RuntimeCall::Pol(call) = call else { panic!("not a pol call") };
				let _ = sp_runtime::traits::Dispatchable::dispatch(
					RuntimeCall::Pol(call.clone()),
					RuntimeOrigin::signed(who),
				);
				(who, call)
			})
			.collect()
	}

	#[test]
	fn replays_first_evaluates_a_matching_claim_then_commits_and_reveals() {
		let Harness { mut ext, pool, engine } = harness(&[10, 11], true);
		ext.execute_with(|| {
			let id = challenged(TRAINER, 1, GOOD_LOSS);
			let c = claim(id);
			run_worker();
			assert_eq!(
				engine.jobs(),
				vec![Job::ReplayClaim {
					at: 0,
					trainer: codec::Encode::encode(&TRAINER),
					units: vec![(UNIT.to_vec(), payload(1))],
					manifest: payload(9),
					datasets: c.input.datasets.to_vec(),
					params: params(),
					segments: c.segments.to_vec(),
					limits: Limits::get(),
				}],
				"only the replay is queued first, pinned to the claim's base block"
			);
			assert!(apply(&pool).is_empty(), "nothing to send while it runs");

			finish(&engine, ReplayVerdict::Match);
			run_worker(); // replay done: queues the evaluation
			assert_eq!(engine.jobs().len(), 2);
			assert!(apply(&pool).is_empty());
			run_worker(); // both done: commits
			let sent = apply(&pool);
			assert_eq!(sent.len(), 2);
			let state: WorkerClaim = blyan_worker::load(&claim_key(id)).unwrap();
			let report = EvalReport {
				parent_loss: PARENT_LOSS,
				candidate_loss: GOOD_LOSS,
				replay: ReplayVerdict::Match,
				replay_digest: DIGEST,
			};
			assert_eq!(state.report, Some(report));
			for (who, call) in &sent {
				let Call::commit_report { claim, commitment } = call else { panic!("{call:?}") };
				assert_eq!(*claim, id);
				let (_, salt) =
					state.salts.iter().find(|(a, _)| *a == codec::Encode::encode(who)).unwrap();
				assert_eq!(*commitment, report_commitment(id, who, &report, salt));
			}
			assert_eq!(claim(id).commitments, 2);
			run_worker();
			assert!(apply(&pool).is_empty(), "nothing more during the commit window");

			to_reveal(id);
			run_worker();
			let sent = apply(&pool);
			assert_eq!(sent.len(), 2);
			assert!(sent.iter().all(|(_, c)| matches!(c, Call::reveal_report { .. })));
			assert!(matches!(stage(id), ClaimStage::Accepted { .. }));
			assert_eq!(Reports::<Test>::get(id).len(), 2);
		});
	}

	#[test]
	fn an_older_claim_is_worked_on_after_a_newer_one_closed_early() {
		// Claim `slow` is still being replayed when claim `fast` (newer) has every
		// commitment, so `fast`'s reveal window ends first. The worker must still commit on
		// `slow` once its jobs finish (the scan once stopped at the first closed claim).
		let Harness { mut ext, pool, engine } = harness(&[10], true);
		ext.execute_with(|| {
			let slow = submit(TRAINER, 1, GOOD_LOSS);
			let fast = submit(TRAINER, 2, GOOD_LOSS);
			run_to(claim(fast).challenge_at);
			run_worker(); // queues both replays; the engine answers neither yet
			assert!(apply(&pool).is_empty());
			// `fast` replays at once; `slow`'s replay is still running.
			let slow_payload = payload(1);
			engine.answer(move |job| match job {
				Job::ReplayClaim { units, .. } if units[0].1 == slow_payload => {
					JobStatus::Running { done: 0, total: 2 }
				},
				Job::ReplayClaim { .. } => JobStatus::Done(JobOutput::Replay {
					verdict: ReplayVerdict::Unbound,
					digest: [0; 32],
				}),
				_ => JobStatus::Failed(b"not a validator job".to_vec()),
			});
			commit(fast, 11, &failed(ReplayVerdict::Unbound));
			commit(fast, 12, &failed(ReplayVerdict::Unbound));
			run_worker(); // 10 commits on `fast`: complete, its reveal window moves forward
			assert!(
				matches!(apply(&pool).as_slice(), [(10, Call::commit_report { claim, .. })] if *claim == fast)
			);
			assert!(claim(fast).reveal_until < claim(slow).commit_until);
			// Past `fast`'s reveal window, `slow`'s replay finishes inside its commit window.
			to_close(fast);
			finish(&engine, ReplayVerdict::Unbound);
			run_worker();
			assert!(
				matches!(apply(&pool).as_slice(), [(10, Call::commit_report { claim, .. })] if *claim == slow),
				"the worker still commits on the older claim"
			);
			// `slow`'s reveal window: 10 reveals on it although `fast` closed long before.
			to_reveal(slow);
			assert!(System::block_number() > claim(fast).reveal_until);
			run_worker();
			let sent = apply(&pool);
			assert!(
				matches!(sent.as_slice(), [(10, Call::reveal_report { claim, .. })] if *claim == slow),
				"{sent:?}"
			);
		});
	}

	#[test]
	fn a_claim_that_does_not_replay_is_reported_without_evaluating_it() {
		let Harness { mut ext, pool, engine } = harness(&[10, 11], true);
		ext.execute_with(|| {
			let id = challenged(TRAINER, 1, GOOD_LOSS);
			finish(&engine, ReplayVerdict::Unbound);
			run_worker();
			run_worker();
			assert!(engine.jobs().iter().all(|j| matches!(j, Job::ReplayClaim { .. })));
			apply(&pool);
			to_reveal(id);
			run_worker();
			apply(&pool);
			assert_eq!(
				stage(id),
				ClaimStage::Rejected(RejectReason::ReplayFailed {
					verdict: ReplayVerdict::Unbound
				})
			);
			assert_eq!(Reports::<Test>::get(id)[0].1, failed(ReplayVerdict::Unbound));
		});
	}

	#[test]
	fn the_worker_does_not_report_on_its_own_claim() {
		let Harness { mut ext, pool, engine } = harness(&[10], true);
		ext.execute_with(|| {
			challenged(10, 1, GOOD_LOSS);
			finish(&engine, ReplayVerdict::Match);
			run_worker();
			run_worker();
			assert!(engine.jobs().is_empty(), "no work on its own claim");
			assert!(apply(&pool).is_empty());
		});
	}

	#[test]
	fn a_commitment_that_did_not_reach_the_chain_is_sent_again_with_the_same_salt() {
		let Harness { mut ext, pool, engine } = harness(&[10], true);
		ext.execute_with(|| {
			let id = challenged(TRAINER, 1, GOOD_LOSS);
			finish(&engine, ReplayVerdict::Match);
			run_worker(); // queues the replay
			run_worker(); // queues the evaluation
			run_worker(); // commits
			let first: Vec<(u64, RuntimeCall)> = offchain::take(&pool); // dropped
			assert_eq!(first.len(), 1);
			run_to(System::block_number() + u64::from(RESEND_AFTER) - 1);
			run_worker();
			assert!(apply(&pool).is_empty(), "waits RESEND_AFTER blocks");
			run_to(System::block_number() + 1);
			run_worker();
			let again = apply(&pool);
			assert_eq!(again.len(), 1);
			assert_eq!(RuntimeCall::Pol(again[0].1.clone()), first[0].1, "same commitment");
			assert!(Commitments::<Test>::get(id, 10).is_some());
		});
	}

	#[test]
	fn abstains_when_a_job_fails_or_there_is_no_engine() {
		let Harness { mut ext, pool, engine } = harness(&[10], true);
		ext.execute_with(|| {
			challenged(TRAINER, 1, GOOD_LOSS);
			engine.answer(|_| JobStatus::Failed(b"state pruned".to_vec()));
			run_worker();
			run_worker();
			assert!(apply(&pool).is_empty());
		});
		let Harness { mut ext, pool, .. } = harness(&[10], false);
		ext.execute_with(|| {
			challenged(TRAINER, 1, GOOD_LOSS);
			run_worker();
			assert!(apply(&pool).is_empty());
		});
	}

	#[test]
	fn only_local_keys_of_active_validators_work() {
		let Harness { mut ext, pool, engine } = harness(&[99], true);
		ext.execute_with(|| {
			challenged(TRAINER, 1, GOOD_LOSS);
			finish(&engine, ReplayVerdict::Match);
			run_worker();
			run_worker();
			assert!(engine.jobs().is_empty(), "a non-validator queues no work");
			assert!(apply(&pool).is_empty());
		});
	}

	#[test]
	fn a_restarted_worker_reveals_with_the_salt_it_stored() {
		let Harness { mut ext, pool, engine } = harness(&[10, 11], true);
		ext.execute_with(|| {
			let id = challenged(TRAINER, 1, GOOD_LOSS);
			finish(&engine, ReplayVerdict::Match);
			run_worker();
			run_worker();
			run_worker();
			assert_eq!(apply(&pool).len(), 2, "both committed");
			// The node restarts: its engine forgot every job; the off-chain database did not.
			engine.answer(|_| JobStatus::Unknown);
			to_reveal(id);
			run_worker();
			apply(&pool);
			assert!(matches!(stage(id), ClaimStage::Accepted { .. }));
		});
	}
}
