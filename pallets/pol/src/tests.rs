//! Tests of the Proof-of-Learning pallet: every error, the challenge draw, and the decision
//! rules with honest and adversarial trainers and validators (engine results mocked as
//! reports).

use crate::{mock::*, *};
use blyan_primitives::DatasetId;
use frame_support::{assert_noop, assert_ok, traits::fungible::InspectHold};

const UNIT: &[u8] = b"layer0.expert0";
/// Parent loss of the honest reports, nano-nats per byte.
const PARENT_LOSS: u64 = 5_000_000_000;
/// Candidate loss 2 % below the parent.
const GOOD_LOSS: u64 = 4_900_000_000;

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

fn input(payload_n: u8, claimed_loss: u64) -> ClaimInput<MaxDatasets> {
	ClaimInput {
		parent: parent(),
		payload_root: payload(payload_n),
		manifest_root: payload(9),
		datasets: shares(&[(7, 600_000), (8, 400_000)]),
		segments: 30,
		claimed_loss,
		nonce: 0,
	}
}

fn submit(who: u64, payload_n: u8, claimed_loss: u64) -> ClaimId {
	assert_ok!(Pol::submit_claim(
		RuntimeOrigin::signed(who),
		input(payload_n, claimed_loss),
		1_000
	));
	NextClaimId::<Test>::get() - 1
}

fn report(parent_loss: u64, candidate_loss: u64, replay: ReplayVerdict) -> EvalReport {
	EvalReport { parent_loss, candidate_loss, replay, replay_digest: [replay as u8; 32] }
}

fn honest() -> EvalReport {
	report(PARENT_LOSS, GOOD_LOSS, ReplayVerdict::Match)
}

fn events() -> Vec<Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|r| if let RuntimeEvent::Pol(e) = r.event { Some(e) } else { None })
		.collect()
}

fn stage(id: ClaimId) -> ClaimStage<u64, ReplaySegments> {
	Claims::<Test>::get(id).unwrap().stage
}

fn held(who: u64) -> u64 {
	Balances::balance_on_hold(&RuntimeHoldReason::Pol(HoldReason::ClaimBond), &who)
}

/// Submits a claim and runs to its challenge block (ChallengeDelay = 2).
fn challenged(who: u64, payload_n: u8, claimed_loss: u64) -> ClaimId {
	let id = submit(who, payload_n, claimed_loss);
	run_to(System::block_number() + 2);
	assert!(matches!(stage(id), ClaimStage::Evaluating { .. }));
	id
}

#[test]
fn submit_claim_proposes_the_block_holds_the_bond_and_schedules_the_challenge() {
	new_test_ext().execute_with(|| {
		let id = submit(TRAINER, 1, GOOD_LOSS);
		let claim = Claims::<Test>::get(id).unwrap();
		assert_eq!(claim.trainer, TRAINER);
		assert_eq!(claim.unit.to_vec(), UNIT.to_vec());
		assert_eq!(claim.stage, ClaimStage::AwaitingChallenge { at: 3 });
		assert_eq!(claim.deadline, 13);
		assert_eq!(claim.block, child_id(TRAINER, &parent(), &payload(1), 0));
		assert_eq!(dag_block(&claim.block).unwrap().status, Status::Proposed);
		assert_eq!(ClaimOfBlock::<Test>::get(claim.block), Some(id));
		assert_eq!(held(TRAINER), 1_000);
		assert_eq!(Challenges::<Test>::get(3).to_vec(), vec![id]);
		assert_eq!(Decisions::<Test>::get(14).to_vec(), vec![id]);
		assert_eq!(ClaimQuota::<Test>::get(TRAINER), (0, 1));
		assert_eq!(
			events(),
			vec![Event::ClaimSubmitted {
				claim: id,
				trainer: TRAINER,
				block: claim.block,
				bond: 1_000,
				challenge_at: 3
			}]
		);
	});
}

#[test]
fn every_bad_claim_has_its_error_and_changes_nothing() {
	new_test_ext().execute_with(|| {
		let o = || RuntimeOrigin::signed(TRAINER);
		assert_noop!(Pol::submit_claim(o(), input(1, GOOD_LOSS), 99), Error::<Test>::BondTooLow);

		let mut i = input(1, GOOD_LOSS);
		i.datasets = shares(&[]);
		assert_noop!(Pol::submit_claim(o(), i, 1_000), Error::<Test>::NoDatasets);

		let mut i = input(1, GOOD_LOSS);
		i.datasets = shares(&[(7, 500_000), (7, 500_000)]);
		assert_noop!(Pol::submit_claim(o(), i, 1_000), Error::<Test>::DuplicateDataset);

		let mut i = input(1, GOOD_LOSS);
		i.datasets = shares(&[(7, 500_000), (8, 400_000)]);
		assert_noop!(Pol::submit_claim(o(), i, 1_000), Error::<Test>::RatiosDoNotSum);

		// A dataset the trainer did not get approved (unknown to Chain D).
		let mut i = input(1, GOOD_LOSS);
		i.datasets = shares(&[(7, 500_000), (99, 500_000)]);
		assert_noop!(Pol::submit_claim(o(), i, 1_000), Error::<Test>::DatasetNotApproved);

		let mut i = input(1, GOOD_LOSS);
		i.segments = 0;
		assert_noop!(Pol::submit_claim(o(), i, 1_000), Error::<Test>::NoSegments);

		let mut i = input(1, GOOD_LOSS);
		i.parent = [0xee; 32];
		assert_noop!(Pol::submit_claim(o(), i, 1_000), Error::<Test>::UnknownParent);

		// A payload the content store does not hold: the DAG's error passes through.
		assert_noop!(Pol::submit_claim(o(), input(42, GOOD_LOSS), 1_000), UNKNOWN_PAYLOAD);

		// More than the trainer's free balance.
		assert_noop!(
			Pol::submit_claim(o(), input(1, GOOD_LOSS), 1_000_000),
			Error::<Test>::InsufficientBalance
		);
		assert_eq!(NextClaimId::<Test>::get(), 0);
		assert!(events().is_empty());
	});
}

#[test]
fn a_claim_on_a_parent_that_is_no_longer_accepted_fails() {
	new_test_ext().execute_with(|| {
		let old = parent();
		let id = challenged(TRAINER, 1, GOOD_LOSS);
		assert_ok!(Pol::submit_report(RuntimeOrigin::signed(10), id, honest()));
		assert_ok!(Pol::submit_report(RuntimeOrigin::signed(11), id, honest()));
		assert_ne!(parent(), old);
		let mut i = input(2, GOOD_LOSS);
		i.parent = old;
		assert_noop!(
			Pol::submit_claim(RuntimeOrigin::signed(TRAINER2), i, 1_000),
			Error::<Test>::ParentNotAccepted
		);
	});
}

#[test]
fn a_duplicate_candidate_is_refused_by_the_dag() {
	new_test_ext().execute_with(|| {
		submit(TRAINER, 1, GOOD_LOSS);
		assert_noop!(
			Pol::submit_claim(RuntimeOrigin::signed(TRAINER), input(1, GOOD_LOSS), 1_000),
			DUPLICATE_BLOCK
		);
	});
}

#[test]
fn the_daily_quota_follows_trust_and_restarts_each_day() {
	new_test_ext().execute_with(|| {
		// MaxClaimsPerBlock = 3: spread the newbie's 5 claims over blocks.
		for n in 1..=5u8 {
			submit(TRAINER, n, GOOD_LOSS);
			System::set_block_number(System::block_number() + 1);
		}
		assert_noop!(
			Pol::submit_claim(RuntimeOrigin::signed(TRAINER), input(6, GOOD_LOSS), 1_000),
			Error::<Test>::QuotaExceeded
		);
		// A trusted trainer gets TrustedDailyClaims.
		TrainerTrust::<Test>::insert(
			TRAINER,
			Trust { level: TrustLevel::Trusted, ..Default::default() },
		);
		submit(TRAINER, 6, GOOD_LOSS);
		// A new day restarts the count.
		TrainerTrust::<Test>::remove(TRAINER);
		System::set_block_number(1_000);
		submit(TRAINER, 7, GOOD_LOSS);
		assert_eq!(ClaimQuota::<Test>::get(TRAINER), (1, 1));
	});
}

#[test]
fn a_full_schedule_block_fails_with_schedule_full() {
	new_test_ext().execute_with(|| {
		for n in 1..=3u8 {
			submit(if n % 2 == 0 { TRAINER2 } else { TRAINER }, n, GOOD_LOSS);
		}
		assert_noop!(
			Pol::submit_claim(RuntimeOrigin::signed(TRAINER2), input(4, GOOD_LOSS), 1_000),
			Error::<Test>::ScheduleFull
		);
	});
}

#[test]
fn the_challenge_is_drawn_from_the_previous_block_hash() {
	new_test_ext().execute_with(|| {
		let id = submit(TRAINER, 1, GOOD_LOSS);
		run_to(2);
		assert_eq!(stage(id), ClaimStage::AwaitingChallenge { at: 3 });
		// Reports before the challenge are refused.
		assert_noop!(
			Pol::submit_report(RuntimeOrigin::signed(10), id, honest()),
			Error::<Test>::NotTakingReports
		);
		frame_system::BlockHash::<Test>::insert(2, sp_core::H256::repeat_byte(0xab));
		run_to(3);
		let expected = Pol::challenge_segments(&[0xab; 32], id, 30);
		assert_eq!(stage(id), ClaimStage::Evaluating { segments: expected.clone() });
		assert!(events().contains(&Event::ChallengeDrawn {
			claim: id,
			segments: expected,
			deadline: 13
		}));
	});
}

#[test]
fn challenge_segments_are_distinct_sorted_in_range_and_seed_dependent() {
	new_test_ext().execute_with(|| {
		for segments in [1u32, 2, 3, 30, 1_000] {
			for seed in 0..20u8 {
				let s = Pol::challenge_segments(&[seed; 32], 5, segments);
				assert_eq!(s.len() as u32, segments.min(2));
				assert!(s.windows(2).all(|w| w[0] < w[1]), "{s:?}");
				assert!(s.iter().all(|&i| i < segments));
			}
		}
		let draws: std::collections::BTreeSet<Vec<u32>> = (0..20u8)
			.map(|seed| Pol::challenge_segments(&[seed; 32], 5, 1_000).to_vec())
			.collect();
		assert!(draws.len() > 15, "different seeds give different challenges");
		assert_eq!(
			Pol::challenge_segments(&[1; 32], 5, 1_000),
			Pol::challenge_segments(&[1; 32], 5, 1_000)
		);
		assert_ne!(
			Pol::challenge_segments(&[1; 32], 5, 1_000),
			Pol::challenge_segments(&[1; 32], 6, 1_000)
		);
	});
}

#[test]
fn report_errors() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			Pol::submit_report(RuntimeOrigin::signed(10), 0, honest()),
			Error::<Test>::UnknownClaim
		);
		let id = challenged(TRAINER, 1, GOOD_LOSS);
		assert_noop!(
			Pol::submit_report(RuntimeOrigin::signed(TRAINER), id, honest()),
			Error::<Test>::NotValidator
		);
		assert_ok!(Pol::submit_report(RuntimeOrigin::signed(10), id, honest()));
		assert_noop!(
			Pol::submit_report(RuntimeOrigin::signed(10), id, honest()),
			Error::<Test>::DuplicateReport
		);
		run_to(14);
		assert_noop!(
			Pol::submit_report(RuntimeOrigin::signed(11), id, honest()),
			Error::<Test>::NotTakingReports
		);
	});
}

#[test]
fn reports_beyond_max_validators_are_refused() {
	new_test_ext().execute_with(|| {
		// 13 validators: the ⅔ threshold (9) is above MaxValidators (8).
		Validator::set((100..113).collect());
		let id = challenged(TRAINER, 1, GOOD_LOSS);
		for v in 100..108 {
			assert_ok!(Pol::submit_report(RuntimeOrigin::signed(v), id, honest()));
		}
		assert_noop!(
			Pol::submit_report(RuntimeOrigin::signed(108), id, honest()),
			Error::<Test>::TooManyReports
		);
	});
}

#[test]
fn an_honest_claim_is_accepted_at_two_thirds_and_pays_trainer_and_data() {
	new_test_ext().execute_with(|| {
		let old = parent();
		let id = challenged(TRAINER, 1, GOOD_LOSS);
		let block = Claims::<Test>::get(id).unwrap().block;
		assert_ok!(Pol::submit_report(RuntimeOrigin::signed(10), id, honest()));
		assert!(matches!(stage(id), ClaimStage::Evaluating { .. }), "1 of 3 is below ⅔");
		assert_ok!(Pol::submit_report(RuntimeOrigin::signed(11), id, honest()));
		assert_eq!(stage(id), ClaimStage::Accepted { median_ppm: 20_000 });
		assert_eq!(parent(), block, "ParamIndex moved");
		assert_eq!(dag_block(&old).unwrap().status, Status::Superseded);
		assert_eq!(held(TRAINER), 0);
		assert_eq!(Balances::free_balance(TRAINER), 10_050);
		assert_eq!(Balances::free_balance(CREATOR_A), 600);
		assert_eq!(Balances::free_balance(CREATOR_B), 400);
		let ev = events();
		assert!(ev.contains(&Event::ClaimAccepted {
			claim: id,
			block,
			median_ppm: 20_000,
			reward: 50
		}));
		assert!(ev.contains(&Event::DataContributorRewarded {
			claim: id,
			dataset: 7,
			creator: CREATOR_A,
			amount: 600
		}));
		assert!(ev.contains(&Event::DataContributorRewarded {
			claim: id,
			dataset: 8,
			creator: CREATOR_B,
			amount: 400
		}));
		assert_eq!(TrainerTrust::<Test>::get(TRAINER).consecutive_approvals, 1);
		// The third validator may still report until the deadline; it agrees, so nobody deviates.
		assert_ok!(Pol::submit_report(RuntimeOrigin::signed(12), id, honest()));
		run_to(14);
		assert_eq!(stage(id), ClaimStage::Accepted { median_ppm: 20_000 });
		assert!(Deviations::<Test>::iter().next().is_none());
	});
}

/// Runs a claim to its decision with the three given reports; returns the final stage and
/// the amount slashed.
fn decide_with(
	claimed_loss: u64,
	reports: [EvalReport; 3],
) -> (ClaimStage<u64, ReplaySegments>, u64) {
	let id = challenged(TRAINER, 1, claimed_loss);
	for (v, r) in (10..13).zip(reports) {
		let _ = Pol::submit_report(RuntimeOrigin::signed(v), id, r);
	}
	run_to(14);
	let slashed = events()
		.iter()
		.find_map(
			|e| if let Event::ClaimRejected { slashed, .. } = e { Some(*slashed) } else { None },
		)
		.unwrap_or(0);
	(stage(id), slashed)
}

#[test]
fn a_claimed_improvement_the_payload_does_not_have_is_rejected_and_slashed() {
	new_test_ext().execute_with(|| {
		let old = parent();
		// The payload is worse than the parent; the trainer claimed 2 % better.
		let worse = report(PARENT_LOSS, 5_010_000_000, ReplayVerdict::Match);
		let (stage, slashed) = decide_with(GOOD_LOSS, [worse; 3]);
		assert_eq!(
			stage,
			ClaimStage::Rejected(RejectReason::InsufficientImprovement { median_ppm: -2_000 })
		);
		assert_eq!(slashed, 500);
		assert_eq!(Balances::free_balance(TRAINER), 9_500);
		assert_eq!(held(TRAINER), 0);
		assert_eq!(parent(), old, "ParamIndex did not move");
		let block = Claims::<Test>::get(0).unwrap().block;
		assert_eq!(dag_block(&block).unwrap().status, Status::Rejected);
		assert_eq!(TrainerTrust::<Test>::get(TRAINER).consecutive_rejections, 1);
		assert_eq!(Balances::free_balance(CREATOR_A), 0);
	});
}

#[test]
fn an_improvement_below_delta_is_rejected() {
	new_test_ext().execute_with(|| {
		// 0.4 % < δ = 0.5 %.
		let small = report(PARENT_LOSS, 4_980_000_000, ReplayVerdict::Match);
		let (stage, _) = decide_with(4_980_000_000, [small; 3]);
		assert_eq!(
			stage,
			ClaimStage::Rejected(RejectReason::InsufficientImprovement { median_ppm: 4_000 })
		);
	});
}

#[test]
fn a_forged_checkpoint_fails_the_replay_and_is_slashed() {
	new_test_ext().execute_with(|| {
		let forged = report(PARENT_LOSS, GOOD_LOSS, ReplayVerdict::Mismatch);
		let (stage, slashed) = decide_with(GOOD_LOSS, [forged; 3]);
		assert_eq!(stage, ClaimStage::Rejected(RejectReason::ReplayMismatch));
		assert_eq!(slashed, 500);
	});
}

#[test]
fn datasets_the_trainer_did_not_train_on_fail_the_replay() {
	new_test_ext().execute_with(|| {
		// The batches do not hash to the named datasets' batches: validators report Mismatch.
		let other = report(PARENT_LOSS, GOOD_LOSS, ReplayVerdict::Mismatch);
		let unavailable = report(PARENT_LOSS, GOOD_LOSS, ReplayVerdict::Unavailable);
		let (stage, slashed) = decide_with(GOOD_LOSS, [other, unavailable, other]);
		assert_eq!(stage, ClaimStage::Rejected(RejectReason::ReplayMismatch));
		assert_eq!(slashed, 500);
	});
}

#[test]
fn a_claimed_loss_that_is_not_reproduced_is_rejected() {
	new_test_ext().execute_with(|| {
		// A real 2 % improvement, but the trainer claimed 10 %.
		let (stage, slashed) = decide_with(4_500_000_000, [honest(); 3]);
		assert_eq!(
			stage,
			ClaimStage::Rejected(RejectReason::ClaimedLossNotReproduced { measured: GOOD_LOSS })
		);
		assert_eq!(slashed, 500);
	});
}

#[test]
fn a_validator_reporting_a_wrong_loss_is_recorded_as_deviant() {
	new_test_ext().execute_with(|| {
		let wrong = report(PARENT_LOSS, 4_000_000_000, ReplayVerdict::Match);
		let id = challenged(TRAINER, 1, GOOD_LOSS);
		// The deviant reports first: one wrong and one honest report do not agree, so the
		// claim waits; the second honest report makes two identical reports (⅔ of 3) and
		// decides over all three (medians are the honest values).
		assert_ok!(Pol::submit_report(RuntimeOrigin::signed(12), id, wrong));
		assert_ok!(Pol::submit_report(RuntimeOrigin::signed(10), id, honest()));
		assert!(matches!(stage(id), ClaimStage::Evaluating { .. }));
		assert_ok!(Pol::submit_report(RuntimeOrigin::signed(11), id, honest()));
		assert_eq!(stage(id), ClaimStage::Accepted { median_ppm: 20_000 });
		assert_eq!(Deviations::<Test>::get(12), 0, "recorded when the window closes");
		run_to(14);
		assert_eq!(Deviations::<Test>::get(12), 1);
		assert_eq!(Deviations::<Test>::get(10), 0);
		assert_eq!(Deviations::<Test>::get(11), 0);
		assert!(events().contains(&Event::ReportDeviated { claim: id, validator: 12, count: 1 }));
	});
}

#[test]
fn a_differing_replay_digest_is_deviant_and_no_majority_flags_nobody() {
	new_test_ext().execute_with(|| {
		let mut odd = honest();
		odd.replay_digest = [0x55; 32];
		let (_, _) = decide_with(GOOD_LOSS, [honest(), honest(), odd]);
		assert_eq!(Deviations::<Test>::get(12), 1);
	});
	new_test_ext().execute_with(|| {
		let a = report(PARENT_LOSS, GOOD_LOSS, ReplayVerdict::Match);
		let b = report(PARENT_LOSS, 4_800_000_000, ReplayVerdict::Match);
		let c = report(PARENT_LOSS, 4_700_000_000, ReplayVerdict::Match);
		let id = challenged(TRAINER, 1, GOOD_LOSS);
		assert_ok!(Pol::submit_report(RuntimeOrigin::signed(10), id, a));
		assert_ok!(Pol::submit_report(RuntimeOrigin::signed(11), id, b));
		assert_ok!(Pol::submit_report(RuntimeOrigin::signed(12), id, c));
		run_to(14);
		assert!(Deviations::<Test>::iter().next().is_none(), "no majority: nobody is flagged");
	});
}

#[test]
fn no_reports_rejects_without_slashing() {
	new_test_ext().execute_with(|| {
		let id = challenged(TRAINER, 1, GOOD_LOSS);
		run_to(13);
		assert!(matches!(stage(id), ClaimStage::Evaluating { .. }), "decided at deadline + 1");
		run_to(14);
		assert_eq!(stage(id), ClaimStage::Rejected(RejectReason::NoReports));
		assert_eq!(Balances::free_balance(TRAINER), 10_000);
		assert_eq!(held(TRAINER), 0);
		assert_eq!(TrainerTrust::<Test>::get(TRAINER), Trust::default());
	});
}

#[test]
fn a_competing_claim_accepted_first_supersedes_without_slashing() {
	new_test_ext().execute_with(|| {
		let first = submit(TRAINER, 1, GOOD_LOSS);
		let second = submit(TRAINER2, 2, GOOD_LOSS);
		run_to(3);
		for v in 10..12 {
			assert_ok!(Pol::submit_report(RuntimeOrigin::signed(v), first, honest()));
		}
		assert!(matches!(stage(first), ClaimStage::Accepted { .. }));
		for v in 10..12 {
			assert_ok!(Pol::submit_report(RuntimeOrigin::signed(v), second, honest()));
		}
		assert_eq!(stage(second), ClaimStage::Rejected(RejectReason::Superseded));
		assert_eq!(Balances::free_balance(TRAINER2), 10_000);
	});
}

#[test]
fn five_rejections_demote_a_trusted_trainer() {
	new_test_ext().execute_with(|| {
		TrainerTrust::<Test>::insert(
			TRAINER,
			Trust { level: TrustLevel::Trusted, ..Default::default() },
		);
		let forged = report(PARENT_LOSS, GOOD_LOSS, ReplayVerdict::Mismatch);
		for n in 1..=5u8 {
			let id = challenged(TRAINER, n, GOOD_LOSS);
			for v in 10..12 {
				assert_ok!(Pol::submit_report(RuntimeOrigin::signed(v), id, forged));
			}
		}
		assert_eq!(TrainerTrust::<Test>::get(TRAINER).level, TrustLevel::Newbie);
		assert!(events()
			.contains(&Event::TrainerTrustChanged { trainer: TRAINER, level: TrustLevel::Newbie }));
		assert_eq!(Pol::daily_quota(TrustLevel::Newbie), 5);
	});
}

#[test]
fn arithmetic_helpers() {
	assert_eq!(loss_from_nats_per_byte(5.6701234567894), 5_670_123_457);
	assert_eq!(loss_from_nats_per_byte(-1.0), 0);
	assert_eq!(loss_from_nats_per_byte(f64::NAN), 0);
	assert_eq!(loss_from_nats_per_byte(1e30), u64::MAX);
	assert_eq!(improvement_ppm(1_000, 995), 5_000);
	assert_eq!(improvement_ppm(1_000, 1_010), -10_000);
	assert_eq!(improvement_ppm(0, 5), 0);
	assert!(within_ppm(1_000_000, 1_000_001, 1));
	assert!(!within_ppm(1_000_000, 1_000_002, 1));
	assert_eq!(lower_median(&mut [3, 1, 2]), Some(2));
	assert_eq!(lower_median(&mut [4, 1, 3, 2]), Some(2));
	assert_eq!(lower_median::<u32>(&mut []), None);
	assert!(RejectReason::ReplayMismatch.slashes());
	assert!(!RejectReason::NoReports.slashes());
	assert!(!RejectReason::Superseded.slashes());
}

#[test]
fn decision_threshold_is_two_thirds_rounded_up() {
	new_test_ext().execute_with(|| {
		for (n, t) in [(1u64, 1u32), (2, 2), (3, 2), (4, 3), (6, 4), (7, 5)] {
			Validator::set((0..n).collect());
			assert_eq!(Pol::decision_threshold(), t, "{n} validators");
		}
		Validator::set(vec![]);
		assert_eq!(Pol::decision_threshold(), 1);
	});
}

#[test]
fn insufficient_balance_maps_to_named_error() {
	new_test_ext().execute_with(|| {
		// Account 10 holds 1 planck.
		assert_noop!(
			Pol::submit_claim(RuntimeOrigin::signed(10), input(1, GOOD_LOSS), 100),
			Error::<Test>::InsufficientBalance
		);
	});
}

/// The validators' off-chain worker against a fake engine (`EngineExt`), an in-memory
/// off-chain database and a test transaction pool.
mod worker {
	use super::*;
	use crate::worker::{claim_key, WorkerClaim, RESEND_AFTER};
	use blyan_engine_interface::{
		job_id, EngineExt, EngineHost, Hash as EngineHash, Job, JobId, JobOutput, JobStatus,
		ReplayOutcome,
	};
	use codec::Decode;
	use frame_support::traits::Hooks;
	use sp_core::offchain::{
		testing::{PoolState, TestOffchainExt, TestTransactionPoolExt},
		OffchainDbExt, OffchainWorkerExt, TransactionPoolExt,
	};
	use sp_runtime::{generic::Preamble, testing::UintAuthorityId};
	use std::sync::{Arc, Mutex};

	/// The digest the fake engine's replays end in.
	const DIGEST: EngineHash = [0xd1; 32];

	/// How the fake engine answers.
	#[derive(Clone, Copy, PartialEq)]
	enum Mode {
		Running,
		Done,
		Failed,
	}

	/// Records submitted jobs and answers every status by `mode`.
	struct FakeEngine {
		jobs: Mutex<Vec<Job>>,
		mode: Mutex<Mode>,
	}

	impl FakeEngine {
		fn set(&self, mode: Mode) {
			*self.mode.lock().unwrap() = mode;
		}
		fn jobs(&self) -> Vec<Job> {
			self.jobs.lock().unwrap().clone()
		}
	}

	impl EngineHost for FakeEngine {
		fn submit(&self, job: Job) -> JobId {
			let id = job_id(&job);
			let mut jobs = self.jobs.lock().unwrap();
			if !jobs.contains(&job) {
				jobs.push(job);
			}
			id
		}
		fn status(&self, id: &JobId) -> JobStatus {
			let jobs = self.jobs.lock().unwrap();
			let Some(job) = jobs.iter().find(|j| job_id(j) == *id) else {
				return JobStatus::Unknown;
			};
			match (*self.mode.lock().unwrap(), job) {
				(Mode::Running, _) => JobStatus::Running { done: 1, total: 3 },
				(Mode::Failed, _) => JobStatus::Failed(b"state pruned".to_vec()),
				(Mode::Done, Job::EvaluateClaim { .. }) => {
					JobStatus::Done(JobOutput::Losses { parent: PARENT_LOSS, candidate: GOOD_LOSS })
				},
				(Mode::Done, Job::ReplayClaim { .. }) => JobStatus::Done(JobOutput::Replay {
					outcome: ReplayOutcome::Match,
					digest: DIGEST,
				}),
				(Mode::Done, _) => JobStatus::Failed(b"not a validator job".to_vec()),
			}
		}
		fn output_tile(&self, _root: &EngineHash, _index: u32) -> Option<Vec<u8>> {
			None
		}
	}

	/// The report the fake engine's outputs make.
	fn engine_report() -> EvalReport {
		EvalReport {
			parent_loss: PARENT_LOSS,
			candidate_loss: GOOD_LOSS,
			replay: ReplayVerdict::Match,
			replay_digest: DIGEST,
		}
	}

	struct Harness {
		ext: sp_io::TestExternalities,
		pool: Arc<parking_lot::RwLock<PoolState>>,
		engine: Arc<FakeEngine>,
	}

	/// Test externalities with off-chain extensions, the local worker keys `keys`, and the
	/// fake engine when `with_engine`.
	fn harness(keys: &[u64], with_engine: bool) -> Harness {
		let mut ext = new_test_ext();
		let (offchain, _) = TestOffchainExt::new();
		ext.register_extension(OffchainDbExt::new(offchain.clone()));
		ext.register_extension(OffchainWorkerExt::new(offchain));
		let (pool_ext, pool_state) = TestTransactionPoolExt::new();
		ext.register_extension(TransactionPoolExt::new(pool_ext));
		let engine =
			Arc::new(FakeEngine { jobs: Mutex::new(vec![]), mode: Mutex::new(Mode::Running) });
		if with_engine {
			ext.register_extension(EngineExt::new(engine.clone()));
		}
		UintAuthorityId::set_all_keys(keys.iter().copied());
		Harness { ext, pool: pool_state, engine }
	}

	/// Runs the worker of the current block.
	fn run_worker() {
		Pol::offchain_worker(System::block_number());
	}

	/// Takes the pool's transactions as `(signer, claim, report)`.
	fn take_reports(pool: &Arc<parking_lot::RwLock<PoolState>>) -> Vec<(u64, ClaimId, EvalReport)> {
		let txs = core::mem::take(&mut pool.write().transactions);
		txs.into_iter()
			.map(|raw| {
				let tx = Extrinsic::decode(&mut &raw[..]).expect("a test extrinsic");
				let Preamble::Signed(signer, (), ()) = tx.preamble else { panic!("not signed") };
				let RuntimeCall::Pol(Call::submit_report { claim, report }) = tx.function else {
					panic!("not a report")
				};
				(signer, claim, report)
			})
			.collect()
	}

	#[test]
	fn queues_jobs_pinned_to_the_claim_and_reports_once_they_finish() {
		let Harness { mut ext, pool, engine } = harness(&[10], true);
		ext.execute_with(|| {
			let id = challenged(TRAINER, 1, GOOD_LOSS);
			let ClaimStage::Evaluating { segments } = stage(id) else { unreachable!() };
			run_worker();
			let jobs = engine.jobs();
			assert_eq!(
				jobs,
				vec![
					Job::EvaluateClaim { at: 1, unit: UNIT.to_vec(), candidate: payload(1) },
					Job::ReplayClaim {
						at: 1,
						unit: UNIT.to_vec(),
						candidate: payload(1),
						manifest: payload(9),
						datasets: vec![(7, 600_000), (8, 400_000)],
						segments: segments.to_vec(),
					},
				],
				"both jobs read the chain at the claim's inclusion block"
			);
			assert!(take_reports(&pool).is_empty(), "nothing to report while the jobs run");

			engine.set(Mode::Done);
			run_worker(); // queues the jobs
			run_worker(); // reports
			assert_eq!(take_reports(&pool), vec![(10, id, engine_report())]);
			assert_eq!(engine.jobs().len(), 2, "jobs are not queued twice");

			run_worker();
			assert!(take_reports(&pool).is_empty(), "a sent report is not sent again at once");
		});
	}

	#[test]
	fn a_report_that_did_not_reach_the_chain_is_sent_again_and_one_that_did_is_not() {
		let Harness { mut ext, pool, engine } = harness(&[10, 11], true);
		ext.execute_with(|| {
			let id = challenged(TRAINER, 1, GOOD_LOSS);
			engine.set(Mode::Done);
			run_worker(); // queues the jobs
			run_worker(); // reports
			let sent = take_reports(&pool);
			assert_eq!(sent, vec![(10, id, engine_report()), (11, id, engine_report())]);
			// Only validator 10's report lands.
			assert_ok!(Pol::submit_report(RuntimeOrigin::signed(10), id, engine_report()));
			run_to(System::block_number() + u64::from(RESEND_AFTER) - 1);
			run_worker();
			assert!(take_reports(&pool).is_empty(), "waits RESEND_AFTER blocks");
			run_to(System::block_number() + 1);
			run_worker();
			assert_eq!(take_reports(&pool), vec![(11, id, engine_report())]);
		});
	}

	#[test]
	fn only_local_keys_of_active_validators_work() {
		let Harness { mut ext, pool, engine } = harness(&[99, 10], true);
		ext.execute_with(|| {
			let id = challenged(TRAINER, 1, GOOD_LOSS);
			engine.set(Mode::Done);
			run_worker(); // queues the jobs
			run_worker(); // reports
			assert_eq!(take_reports(&pool), vec![(10, id, engine_report())], "99 is no validator");
		});
		let Harness { mut ext, pool, engine } = harness(&[99], true);
		ext.execute_with(|| {
			challenged(TRAINER, 1, GOOD_LOSS);
			engine.set(Mode::Done);
			run_worker(); // queues the jobs
			run_worker(); // reports
			assert!(engine.jobs().is_empty(), "a non-validator queues no work");
			assert!(take_reports(&pool).is_empty());
		});
	}

	#[test]
	fn without_an_engine_or_with_failed_jobs_nothing_is_reported() {
		let Harness { mut ext, pool, .. } = harness(&[10], false);
		ext.execute_with(|| {
			let id = challenged(TRAINER, 1, GOOD_LOSS);
			run_worker();
			assert!(take_reports(&pool).is_empty());
			let key = claim_key(id);
			let state = sp_runtime::offchain::storage::StorageValueRef::persistent(&key);
			assert_eq!(state.get::<WorkerClaim>(), Ok(None), "no state without an engine");
		});
		let Harness { mut ext, pool, engine } = harness(&[10], true);
		ext.execute_with(|| {
			challenged(TRAINER, 1, GOOD_LOSS);
			engine.set(Mode::Failed);
			run_worker();
			run_worker();
			assert!(take_reports(&pool).is_empty(), "the validator abstains");
		});
	}

	#[test]
	fn claims_awaiting_the_challenge_or_past_the_deadline_are_left_alone() {
		let Harness { mut ext, pool, engine } = harness(&[10], true);
		ext.execute_with(|| {
			engine.set(Mode::Done);
			let id = submit(TRAINER, 1, GOOD_LOSS);
			run_worker();
			assert!(engine.jobs().is_empty(), "the challenge is not drawn yet");
			let deadline = Claims::<Test>::get(id).unwrap().deadline;
			run_to(deadline + 1);
			run_worker();
			assert!(engine.jobs().is_empty() && take_reports(&pool).is_empty(), "window closed");
		});
	}

	#[test]
	fn a_claim_decided_early_is_still_reported_on_by_the_late_validator() {
		let Harness { mut ext, pool, engine } = harness(&[12], true);
		ext.execute_with(|| {
			let id = challenged(TRAINER, 1, GOOD_LOSS);
			engine.set(Mode::Done);
			run_worker(); // queues the jobs
			run_worker(); // reports
			let sent = take_reports(&pool);
			assert_eq!(sent, vec![(12, id, engine_report())]);
			// Two other validators decide the claim before 12's report lands.
			assert_ok!(Pol::submit_report(RuntimeOrigin::signed(10), id, engine_report()));
			assert_ok!(Pol::submit_report(RuntimeOrigin::signed(11), id, engine_report()));
			assert!(matches!(stage(id), ClaimStage::Accepted { .. }));
			run_to(System::block_number() + u64::from(RESEND_AFTER));
			run_worker();
			assert_eq!(take_reports(&pool), vec![(12, id, engine_report())], "until the deadline");
		});
	}
}
