//! Unit tests of the dataset pallet.

use crate::{mock::*, *};
use blyan_primitives::{DatasetId, Hash};
use codec::{Decode, Encode};
use frame_support::{assert_noop, assert_ok, traits::Hooks, BoundedVec};
use sp_runtime::{DispatchError, DispatchResult};

type Ev = crate::Event<Test>;

fn signed(who: u64) -> RuntimeOrigin {
	RuntimeOrigin::signed(who)
}

/// A content root unique to `n`.
fn root(n: u32) -> Hash {
	blyan_primitives::tile_hash(&n.to_le_bytes())
}

fn name() -> BoundedVec<u8, MaxNameLen> {
	b"wiki-en".to_vec().try_into().unwrap()
}

fn clean_report() -> QualityReport {
	QualityReport { english_permille: 1000, ..Default::default() }
}

/// Submits a dataset with content root `root(n)` and the given sizes and nonce.
fn submit_with(who: u64, n: u32, total_bytes: u64, samples: u64, nonce: u64) -> DispatchResult {
	submit_licensed(who, n, total_bytes, samples, nonce, b"CC-BY-4.0")
}

/// Submits a dataset under `licence`, otherwise as [`submit_with`].
fn submit_licensed(
	who: u64,
	n: u32,
	total_bytes: u64,
	samples: u64,
	nonce: u64,
	licence: &[u8],
) -> DispatchResult {
	Dataset::submit_dataset(
		signed(who),
		name(),
		1,
		licence.to_vec().try_into().unwrap(),
		b"https://example.org/wiki".to_vec().try_into().unwrap(),
		total_bytes,
		samples,
		root(n),
		text_root(n),
		vec![root(n + 1_000_000)].try_into().unwrap(),
		nonce,
	)
}

/// Payload root of the text of dataset `n` (held by the fake content store).
fn text_root(n: u32) -> Hash {
	let mut h = [0x55; 32];
	h[..4].copy_from_slice(&n.to_le_bytes());
	h
}

/// Submits a valid dataset with content root `root(n)`.
fn submit(who: u64, n: u32) -> DispatchResult {
	submit_with(who, n, 4_096, 100, 0)
}

/// Submits and passes the audit; returns the id and the last block of its vote.
fn open_vote(who: u64, n: u32) -> (DatasetId, u64) {
	let id = NextDatasetId::<Test>::get();
	assert_ok!(submit(who, n));
	assert_ok!(Dataset::report_audit(RuntimeOrigin::root(), id, clean_report()));
	let ends = System::block_number() + VoteWindow::get();
	assert_eq!(stage(id), Stage::CommunityVote { ends });
	(id, ends)
}

/// Casts `ayes` approving then `nays` rejecting votes from voters 1, 2, ….
fn cast(id: DatasetId, ayes: u64, nays: u64) {
	for who in 1..=ayes + nays {
		assert_ok!(Dataset::vote(signed(who), id, who <= ayes));
	}
}

/// Opens a vote for a dataset of `who`, casts the votes and runs the hook that closes it.
fn decide(who: u64, n: u32, ayes: u64, nays: u64) -> Stage<u64> {
	let (id, ends) = open_vote(who, n);
	cast(id, ayes, nays);
	run_to_block(ends + 1);
	stage(id)
}

fn stage(id: DatasetId) -> Stage<u64> {
	Datasets::<Test>::get(id).unwrap().stage
}

/// Submits a dataset under an unknown licence and reports a clean audit: auto-rejected.
fn auto_reject(who: u64, n: u32) {
	let id = NextDatasetId::<Test>::get();
	assert_ok!(submit_licensed(who, n, 4_096, 100, 0, b"proprietary"));
	assert_ok!(Dataset::report_audit(RuntimeOrigin::root(), id, clean_report()));
}

// ---------------------------------------------------------------------------------------
// submit_dataset

#[test]
fn submit_dataset_works() {
	new_test_ext().execute_with(|| {
		assert_ok!(submit(7, 1));
		let record = Datasets::<Test>::get(0).unwrap();
		assert_eq!(record.creator, 7);
		assert_eq!(record.name.to_vec(), b"wiki-en".to_vec());
		assert_eq!(record.licence.to_vec(), b"CC-BY-4.0".to_vec());
		assert_eq!(record.content_root, root(1));
		assert_eq!(record.payload_root, text_root(1));
		assert_eq!(refs(&text_root(1)), 1, "the text is referenced while the dataset lives");
		assert_eq!(record.sample_hashes.to_vec(), vec![root(1_000_001)]);
		assert_eq!((record.total_bytes, record.samples), (4_096, 100));
		assert_eq!(record.stage, Stage::AutoAudit);
		assert_eq!(record.submitted_at, 1);
		assert_eq!(record.quality, None);
		assert_eq!(ByRoot::<Test>::get(root(1)), Some(0));
		assert_eq!(NextDatasetId::<Test>::get(), 1);
		assert_eq!(Quota::<Test>::get(7), (0, 1));

		let events: Vec<_> = System::events().into_iter().map(|r| r.event).collect();
		assert_eq!(
			events[events.len() - 2..],
			[
				RuntimeEvent::Dataset(Ev::DatasetSubmitted { id: 0, creator: 7 }),
				RuntimeEvent::Dataset(Ev::StageChanged { id: 0, stage: Stage::AutoAudit }),
			]
		);
	});
}

#[test]
fn submit_dataset_fails_when_empty() {
	new_test_ext().execute_with(|| {
		assert_noop!(submit_with(7, 1, 4_096, 0, 0), Error::<Test>::EmptyDataset);
		assert_noop!(submit_with(7, 1, 0, 100, 0), Error::<Test>::EmptyDataset);
	});
}

#[test]
fn submit_dataset_fails_when_pow_invalid() {
	new_test_ext().execute_with(|| {
		PowBits::set(8);
		let payload = Dataset::pow_payload(&name(), 1, &root(1));
		let bad = (0..).find(|n| !blyan_primitives::pow_ok(&payload, *n, 8)).unwrap();
		assert_noop!(submit_with(7, 1, 4_096, 100, bad), Error::<Test>::InvalidPow);
	});
}

#[test]
fn submit_dataset_works_with_solved_pow() {
	new_test_ext().execute_with(|| {
		PowBits::set(8);
		let payload = Dataset::pow_payload(&name(), 1, &root(1));
		let nonce = blyan_primitives::solve_pow(&payload, 8);
		assert_ok!(submit_with(7, 1, 4_096, 100, nonce));
		assert_eq!(stage(0), Stage::AutoAudit);
	});
}

#[test]
fn pow_payload_is_scale_of_name_version_root() {
	let r = root(9);
	let mut expected = vec![7u8 << 2]; // compact length 7
	expected.extend_from_slice(b"wiki-en");
	expected.extend_from_slice(&3u32.to_le_bytes());
	expected.extend_from_slice(&r);
	assert_eq!(Pallet::<Test>::pow_payload(b"wiki-en", 3, &r), expected);
}

#[test]
fn submit_dataset_fails_when_duplicate() {
	new_test_ext().execute_with(|| {
		assert_ok!(submit(7, 1));
		assert_noop!(submit(8, 1), Error::<Test>::DuplicateDataset);
	});
}

#[test]
fn submit_dataset_fails_when_quota_exceeded() {
	new_test_ext().execute_with(|| {
		for n in 0..NewbieDailyQuota::get() {
			assert_ok!(submit(7, n));
		}
		assert_eq!(Quota::<Test>::get(7), (0, 20));
		assert_noop!(submit(7, 100), Error::<Test>::QuotaExceeded);
		// Another account has its own quota.
		assert_ok!(submit(8, 100));
	});
}

#[test]
fn quota_resets_the_next_day() {
	new_test_ext().execute_with(|| {
		for n in 0..20 {
			assert_ok!(submit(7, n));
		}
		System::set_block_number(DayLength::get() - 1);
		assert_noop!(submit(7, 100), Error::<Test>::QuotaExceeded);
		System::set_block_number(DayLength::get());
		assert_ok!(submit(7, 100));
		assert_eq!(Quota::<Test>::get(7), (1, 1));
	});
}

#[test]
fn trusted_quota_respects_200_after_three_approvals() {
	new_test_ext().execute_with(|| {
		Voters::set((1..=3).collect());
		for n in 0..3 {
			assert!(matches!(decide(7, n, 2, 0), Stage::Approved(Tier::Gold)));
		}
		assert_eq!(TrustOf::<Test>::get(7).level, TrustLevel::Trusted);
		System::set_block_number(DayLength::get());
		for n in 10..210 {
			assert_ok!(submit(7, n));
		}
		assert_eq!(Quota::<Test>::get(7), (1, 200));
		assert_noop!(submit(7, 500), Error::<Test>::QuotaExceeded);
	});
}

#[test]
fn submit_dataset_fails_when_ids_exhausted() {
	new_test_ext().execute_with(|| {
		NextDatasetId::<Test>::put(u32::MAX);
		assert_noop!(submit(7, 1), Error::<Test>::DatasetIdsExhausted);
	});
}

#[test]
fn sample_hashes_respect_max_sample_hashes() {
	let too_many = vec![[0u8; 32]; MaxSampleHashes::get() as usize + 1];
	assert!(BoundedVec::<Hash, MaxSampleHashes>::try_from(too_many.clone()).is_err());
	// A call carrying more hashes cannot even be decoded.
	let encoded = too_many.encode();
	assert!(BoundedVec::<Hash, MaxSampleHashes>::decode(&mut &encoded[..]).is_err());
	let at_max = vec![[0u8; 32]; MaxSampleHashes::get() as usize];
	assert!(BoundedVec::<Hash, MaxSampleHashes>::try_from(at_max).is_ok());
}

#[test]
fn submit_dataset_fails_when_text_is_not_in_the_content_store() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			Dataset::submit_dataset(
				signed(7),
				name(),
				1,
				Default::default(),
				Default::default(),
				1,
				1,
				root(1),
				MISSING_PAYLOAD,
				Default::default(),
				0
			),
			Error::<Test>::UnknownPayload
		);
	});
}

#[test]
fn a_rejected_dataset_releases_its_text() {
	new_test_ext().execute_with(|| {
		assert_ok!(submit_licensed(7, 1, 4_096, 100, 0, b"proprietary"));
		assert_eq!(refs(&text_root(1)), 1);
		// Unknown licence: auto-rejected by the audit.
		assert_ok!(Dataset::report_audit(RuntimeOrigin::root(), 0, clean_report()));
		assert!(matches!(Datasets::<Test>::get(0).unwrap().stage, Stage::Rejected(_)));
		assert_eq!(refs(&text_root(1)), 0);
	});
}

#[test]
fn submit_dataset_fails_when_not_signed() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			Dataset::submit_dataset(
				RuntimeOrigin::none(),
				name(),
				1,
				Default::default(),
				Default::default(),
				1,
				1,
				root(1),
				text_root(1),
				Default::default(),
				0
			),
			DispatchError::BadOrigin
		);
	});
}

// ---------------------------------------------------------------------------------------
// report_audit

#[test]
fn report_audit_works() {
	new_test_ext().execute_with(|| {
		assert_ok!(submit(7, 1));
		let report = QualityReport { toxicity_permille: 5, ..clean_report() };
		assert_ok!(Dataset::report_audit(RuntimeOrigin::root(), 0, report));
		let record = Datasets::<Test>::get(0).unwrap();
		assert_eq!(record.stage, Stage::CommunityVote { ends: 11 });
		assert_eq!(record.quality, Some(report));
		assert_eq!(Closing::<Test>::get(12).to_vec(), vec![0]);
		System::assert_has_event(Ev::AuditReported { id: 0, passed: true }.into());
		System::assert_last_event(
			Ev::StageChanged { id: 0, stage: Stage::CommunityVote { ends: 11 } }.into(),
		);
	});
}

#[test]
fn report_audit_fails_when_origin_is_not_audit_origin() {
	new_test_ext().execute_with(|| {
		assert_ok!(submit(7, 1));
		assert_noop!(Dataset::report_audit(signed(1), 0, clean_report()), DispatchError::BadOrigin);
	});
}

#[test]
fn report_audit_fails_when_unknown_dataset() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			Dataset::report_audit(RuntimeOrigin::root(), 0, clean_report()),
			Error::<Test>::UnknownDataset
		);
	});
}

#[test]
fn report_audit_fails_when_not_in_audit() {
	new_test_ext().execute_with(|| {
		let (id, _) = open_vote(7, 1);
		assert_noop!(
			Dataset::report_audit(RuntimeOrigin::root(), id, clean_report()),
			Error::<Test>::NotInAudit
		);
	});
}

#[test]
fn report_audit_fails_when_report_out_of_range() {
	new_test_ext().execute_with(|| {
		assert_ok!(submit(7, 1));
		let report = QualityReport { english_permille: 1001, ..clean_report() };
		assert_noop!(
			Dataset::report_audit(RuntimeOrigin::root(), 0, report),
			Error::<Test>::ReportOutOfRange
		);
	});
}

#[test]
fn report_audit_fails_when_vote_queue_full() {
	new_test_ext().execute_with(|| {
		for n in 0..=MaxClosingPerBlock::get() {
			assert_ok!(submit(7, n));
		}
		for id in 0..MaxClosingPerBlock::get() {
			assert_ok!(Dataset::report_audit(RuntimeOrigin::root(), id, clean_report()));
		}
		let last = MaxClosingPerBlock::get();
		assert_noop!(
			Dataset::report_audit(RuntimeOrigin::root(), last, clean_report()),
			Error::<Test>::VoteQueueFull
		);
		// The next block has room.
		System::set_block_number(2);
		assert_ok!(Dataset::report_audit(RuntimeOrigin::root(), last, clean_report()));
	});
}

/// Reports `report` on a fresh dataset (with a known licence, or not) and returns its stage.
fn audit_stage(n: u32, report: QualityReport, licence_known: bool) -> Stage<u64> {
	let id = NextDatasetId::<Test>::get();
	let licence: &[u8] = if licence_known { b"CC-BY-4.0" } else { b"proprietary" };
	assert_ok!(submit_licensed(7, n, 4_096, 100, 0, licence));
	assert_ok!(Dataset::report_audit(RuntimeOrigin::root(), id, report));
	stage(id)
}

fn rejected(failure: AuditFailure) -> Stage<u64> {
	Stage::Rejected(RejectReason::AutoAudit(failure))
}

#[test]
fn auto_audit_respects_pii_limit() {
	new_test_ext().execute_with(|| {
		let at = QualityReport { pii_permille: 10, ..clean_report() };
		assert!(matches!(audit_stage(1, at, true), Stage::CommunityVote { .. }));
		let above = QualityReport { pii_permille: 11, ..clean_report() };
		assert_eq!(audit_stage(2, above, true), rejected(AuditFailure::PiiAboveLimit));
	});
}

#[test]
fn auto_audit_respects_toxicity_limit() {
	new_test_ext().execute_with(|| {
		let at = QualityReport { toxicity_permille: 100, ..clean_report() };
		assert!(matches!(audit_stage(1, at, true), Stage::CommunityVote { .. }));
		let above = QualityReport { toxicity_permille: 101, ..clean_report() };
		assert_eq!(audit_stage(2, above, true), rejected(AuditFailure::ToxicityAboveLimit));
	});
}

#[test]
fn auto_audit_respects_duplicate_limit() {
	new_test_ext().execute_with(|| {
		let at = QualityReport { duplicate_permille: 950, ..clean_report() };
		assert!(matches!(audit_stage(1, at, true), Stage::CommunityVote { .. }));
		let above = QualityReport { duplicate_permille: 951, ..clean_report() };
		assert_eq!(audit_stage(2, above, true), rejected(AuditFailure::DuplicatesAboveLimit));
	});
}

#[test]
fn auto_audit_rejects_a_dataset_sharing_samples_with_the_validation_set() {
	new_test_ext().execute_with(|| {
		let leak = QualityReport { validation_overlap: 1, ..clean_report() };
		assert_eq!(audit_stage(1, leak, true), rejected(AuditFailure::SharesValidationSamples));
		assert!(matches!(audit_stage(2, clean_report(), true), Stage::CommunityVote { .. }));
	});
}

#[test]
fn auto_audit_rejects_unknown_licence() {
	new_test_ext().execute_with(|| {
		assert_eq!(audit_stage(1, clean_report(), false), rejected(AuditFailure::UnknownLicence));
		System::assert_has_event(Ev::AuditReported { id: 0, passed: false }.into());
		System::assert_last_event(
			Ev::DatasetRejected {
				id: 0,
				reason: RejectReason::AutoAudit(AuditFailure::UnknownLicence),
			}
			.into(),
		);
		// Counts as a rejection for the creator; the content root is released.
		assert_eq!(TrustOf::<Test>::get(7).consecutive_rejections, 1);
		assert_eq!(ByRoot::<Test>::get(root(1)), None);
		assert_eq!(Closing::<Test>::iter().count(), 0);
		assert_ok!(submit(7, 1));
	});
}

// ---------------------------------------------------------------------------------------
// vote

#[test]
fn vote_works() {
	new_test_ext().execute_with(|| {
		let (id, ends) = open_vote(7, 1);
		assert_ok!(Dataset::vote(signed(1), id, true));
		System::assert_last_event(Ev::Voted { id, who: 1, approve: true }.into());
		// The last block of the window still accepts votes.
		System::set_block_number(ends);
		assert_ok!(Dataset::vote(signed(2), id, false));
		let record = Datasets::<Test>::get(id).unwrap();
		assert_eq!((record.ayes, record.nays), (1, 1));
		assert_eq!(Votes::<Test>::get(id, 1), Some(true));
		assert_eq!(Votes::<Test>::get(id, 2), Some(false));
	});
}

#[test]
fn vote_fails_when_not_voter() {
	new_test_ext().execute_with(|| {
		let (id, _) = open_vote(7, 1);
		assert_noop!(Dataset::vote(signed(4), id, true), Error::<Test>::NotVoter);
	});
}

#[test]
fn vote_fails_when_unknown_dataset() {
	new_test_ext().execute_with(|| {
		assert_noop!(Dataset::vote(signed(1), 9, true), Error::<Test>::UnknownDataset);
	});
}

#[test]
fn vote_fails_when_already_voted() {
	new_test_ext().execute_with(|| {
		let (id, _) = open_vote(7, 1);
		assert_ok!(Dataset::vote(signed(1), id, true));
		assert_noop!(Dataset::vote(signed(1), id, false), Error::<Test>::AlreadyVoted);
	});
}

#[test]
fn vote_fails_when_not_in_vote() {
	new_test_ext().execute_with(|| {
		assert_ok!(submit(7, 1));
		assert_noop!(Dataset::vote(signed(1), 0, true), Error::<Test>::NotInVote);
	});
}

#[test]
fn vote_fails_when_window_closed() {
	new_test_ext().execute_with(|| {
		let (id, ends) = open_vote(7, 1);
		// Skip the hooks so the vote is still open in storage after its window.
		System::set_block_number(ends + 1);
		assert_noop!(Dataset::vote(signed(1), id, true), Error::<Test>::VoteWindowClosed);
	});
}

// ---------------------------------------------------------------------------------------
// finalize_vote and the hook

#[test]
fn finalize_vote_works() {
	new_test_ext().execute_with(|| {
		let (id, ends) = open_vote(7, 1);
		cast(id, 2, 0);
		System::set_block_number(ends + 1);
		assert_ok!(Dataset::finalize_vote(signed(9), id));
		assert_eq!(stage(id), Stage::Approved(Tier::Gold));
		assert!(!Closing::<Test>::contains_key(ends + 1));
		assert_eq!(TrustOf::<Test>::get(7).consecutive_approvals, 1);
		System::assert_has_event(
			Ev::StageChanged { id, stage: Stage::Approved(Tier::Gold) }.into(),
		);
		System::assert_last_event(Ev::DatasetApproved { id, tier: Tier::Gold }.into());
		// The hook of that block finds nothing left to do.
		Dataset::on_initialize(ends + 1);
		assert_eq!(stage(id), Stage::Approved(Tier::Gold));
	});
}

#[test]
fn finalize_vote_fails_when_window_open() {
	new_test_ext().execute_with(|| {
		let (id, ends) = open_vote(7, 1);
		System::set_block_number(ends);
		assert_noop!(Dataset::finalize_vote(signed(9), id), Error::<Test>::VoteWindowOpen);
	});
}

#[test]
fn finalize_vote_fails_when_unknown_dataset() {
	new_test_ext().execute_with(|| {
		assert_noop!(Dataset::finalize_vote(signed(9), 3), Error::<Test>::UnknownDataset);
	});
}

#[test]
fn finalize_vote_fails_when_not_in_vote() {
	new_test_ext().execute_with(|| {
		assert_ok!(submit(7, 1));
		assert_noop!(Dataset::finalize_vote(signed(9), 0), Error::<Test>::NotInVote);
		let (id, ends) = open_vote(7, 2);
		cast(id, 2, 0);
		run_to_block(ends + 1);
		assert_noop!(Dataset::finalize_vote(signed(9), id), Error::<Test>::NotInVote);
	});
}

#[test]
fn on_initialize_concludes_ended_votes() {
	new_test_ext().execute_with(|| {
		let (a, ends) = open_vote(7, 1);
		let (b, _) = open_vote(8, 2);
		cast(a, 2, 0);
		cast(b, 0, 2);
		run_to_block(ends);
		assert!(matches!(stage(a), Stage::CommunityVote { .. }));
		run_to_block(ends + 1);
		assert_eq!(stage(a), Stage::Approved(Tier::Gold));
		assert_eq!(stage(b), Stage::Rejected(RejectReason::LowApproval));
		assert_eq!(Closing::<Test>::iter().count(), 0);
		// The rejected dataset released its root; the approved one kept it.
		assert_eq!(ByRoot::<Test>::get(root(1)), Some(a));
		assert_eq!(ByRoot::<Test>::get(root(2)), None);
	});
}

// ---------------------------------------------------------------------------------------
// Tiers and quorum

#[test]
fn tiers_respect_their_approval_thresholds() {
	new_test_ext().execute_with(|| {
		Voters::set((1..=20).collect());
		// One vote is 5 % of 20.
		let cases = [
			(15, Stage::Approved(Tier::Gold)),               // 75 %
			(14, Stage::Approved(Tier::Silver)),             // 70 %
			(12, Stage::Approved(Tier::Silver)),             // 60 %
			(11, Stage::Approved(Tier::Experimental)),       // 55 %
			(8, Stage::Approved(Tier::Experimental)),        // 40 %
			(7, Stage::Rejected(RejectReason::LowApproval)), // 35 %
		];
		for (n, (ayes, expected)) in cases.into_iter().enumerate() {
			assert_eq!(decide(30 + n as u64, n as u32, ayes, 20 - ayes), expected, "{ayes} ayes");
		}
	});
}

#[test]
fn vote_outcome_respects_exact_percent_boundaries() {
	new_test_ext().execute_with(|| {
		let outcome = Pallet::<Test>::vote_outcome;
		assert_eq!(outcome(75, 25), Ok(Tier::Gold));
		assert_eq!(outcome(74, 26), Ok(Tier::Silver));
		assert_eq!(outcome(60, 40), Ok(Tier::Silver));
		assert_eq!(outcome(59, 41), Ok(Tier::Experimental));
		assert_eq!(outcome(40, 60), Ok(Tier::Experimental));
		assert_eq!(outcome(39, 61), Err(RejectReason::LowApproval));
		// 2 of 3 is 66 % rounded down.
		assert_eq!(outcome(2, 1), Ok(Tier::Silver));
		assert_eq!(outcome(0, 2), Err(RejectReason::LowApproval));
	});
}

#[test]
fn vote_without_quorum_is_rejected() {
	new_test_ext().execute_with(|| {
		assert_eq!(decide(7, 1, 1, 0), Stage::Rejected(RejectReason::NoQuorum));
		System::assert_last_event(
			Ev::DatasetRejected { id: 0, reason: RejectReason::NoQuorum }.into(),
		);
		assert_eq!(decide(7, 2, 0, 0), Stage::Rejected(RejectReason::NoQuorum));
		assert_eq!(Pallet::<Test>::vote_outcome(1, 0), Err(RejectReason::NoQuorum));
		assert_eq!(Pallet::<Test>::vote_outcome(2, 0), Ok(Tier::Gold));
	});
}

#[test]
fn tier_mixing_weights_follow_spec() {
	assert_eq!(Tier::Gold.mixing_weight_permille(), 1000);
	assert_eq!(Tier::Silver.mixing_weight_permille(), 700);
	assert_eq!(Tier::Experimental.mixing_weight_permille(), 300);
	assert_eq!(Tier::from_approval_percent(100), Some(Tier::Gold));
	assert_eq!(Tier::from_approval_percent(39), None);
}

// ---------------------------------------------------------------------------------------
// Trust

#[test]
fn three_consecutive_approvals_promote() {
	new_test_ext().execute_with(|| {
		assert_eq!(decide(7, 1, 2, 0), Stage::Approved(Tier::Gold));
		assert_eq!(decide(7, 2, 2, 0), Stage::Approved(Tier::Gold));
		assert_eq!(TrustOf::<Test>::get(7).level, TrustLevel::Newbie);
		assert_eq!(decide(7, 3, 2, 0), Stage::Approved(Tier::Gold));
		assert_eq!(
			TrustOf::<Test>::get(7),
			Trust {
				level: TrustLevel::Trusted,
				consecutive_approvals: 3,
				consecutive_rejections: 0
			}
		);
		System::assert_last_event(Ev::TrustChanged { who: 7, level: TrustLevel::Trusted }.into());
	});
}

#[test]
fn a_rejection_breaks_the_approval_streak() {
	new_test_ext().execute_with(|| {
		decide(7, 1, 2, 0);
		decide(7, 2, 2, 0);
		auto_reject(7, 3);
		decide(7, 4, 2, 0);
		assert_eq!(
			TrustOf::<Test>::get(7),
			Trust {
				level: TrustLevel::Newbie,
				consecutive_approvals: 1,
				consecutive_rejections: 0
			}
		);
	});
}

#[test]
fn five_consecutive_rejections_demote() {
	new_test_ext().execute_with(|| {
		TrustOf::<Test>::insert(
			7,
			Trust {
				level: TrustLevel::Trusted,
				consecutive_approvals: 3,
				consecutive_rejections: 0,
			},
		);
		for n in 0..4 {
			auto_reject(7, n);
		}
		assert_eq!(TrustOf::<Test>::get(7).level, TrustLevel::Trusted);
		// A failed vote counts as well.
		assert_eq!(decide(7, 10, 0, 2), Stage::Rejected(RejectReason::LowApproval));
		assert_eq!(
			TrustOf::<Test>::get(7),
			Trust {
				level: TrustLevel::Newbie,
				consecutive_approvals: 0,
				consecutive_rejections: 5
			}
		);
		System::assert_last_event(Ev::TrustChanged { who: 7, level: TrustLevel::Newbie }.into());
		assert_eq!(Pallet::<Test>::daily_quota(TrustLevel::Newbie), 20);
	});
}

// ---------------------------------------------------------------------------------------
// Genesis and read helpers

#[test]
fn genesis_datasets_are_approved() {
	let genesis = vec![
		(5, b"validation".to_vec(), b"MIT".to_vec(), root(1), text_root(1), 1_000, 10, Tier::Gold),
		(6, b"extra".to_vec(), b"CC0-1.0".to_vec(), root(2), text_root(2), 2_000, 20, Tier::Silver),
	];
	new_test_ext_with(genesis).execute_with(|| {
		assert_eq!(NextDatasetId::<Test>::get(), 2);
		assert_eq!(ByRoot::<Test>::get(root(2)), Some(1));
		let record = Datasets::<Test>::get(0).unwrap();
		assert_eq!(record.creator, 5);
		assert_eq!(record.stage, Stage::Approved(Tier::Gold));
		assert_eq!(record.licence.to_vec(), b"MIT".to_vec());
		assert_eq!(record.payload_root, text_root(1));
		assert_eq!(refs(&text_root(1)), 1, "genesis datasets reference their text");
		assert_eq!((record.total_bytes, record.samples, record.version), (1_000, 10, 1));

		// A submitted (not yet approved) dataset is not listed.
		assert_ok!(submit(7, 3));
		assert_eq!(Pallet::<Test>::approved_datasets(), vec![(0, Tier::Gold), (1, Tier::Silver)]);
		assert_eq!(Pallet::<Test>::approved_for_api(), vec![(0, 0), (1, 1)]);
		let bytes = Pallet::<Test>::dataset_encoded(1).unwrap();
		let decoded = DatasetRecord::<Test>::decode(&mut &bytes[..]).unwrap();
		assert_eq!(decoded, Datasets::<Test>::get(1).unwrap());
		assert_eq!(Pallet::<Test>::dataset_encoded(9), None);
	});
}

#[test]
fn integrity_test_passes_for_mock() {
	new_test_ext().execute_with(|| {
		<Dataset as Hooks<u64>>::integrity_test();
	});
}

#[test]
fn an_auditor_may_report_signed() {
	new_test_ext().execute_with(|| {
		assert_ok!(submit(7, 1));
		assert_ok!(Dataset::report_audit(signed(AUDITOR), 0, clean_report()));
		assert!(matches!(stage(0), Stage::CommunityVote { .. }));
	});
}

#[test]
fn known_licences_are_exact_spdx_ids() {
	assert!(licence_known(b"CC-BY-4.0"));
	assert!(licence_known(b"LicenseRef-public-domain"));
	assert!(!licence_known(b"cc-by-4.0"));
	assert!(!licence_known(b"proprietary"));
	assert!(!licence_known(b""));
}

/// The auditors' off-chain worker against the shared fake engine, an in-memory off-chain
/// database and a test transaction pool.
mod worker {
	use super::*;
	use crate::worker::{audit_key, AuditState};
	use blyan_engine_interface::{AuditFigures, Job, JobOutput, JobStatus};
	use blyan_test_support::{offchain, FakeEngine};
	use blyan_worker::{Resend, RESEND_AFTER};
	use std::sync::Arc;

	/// Figures of a dataset with 2 % PII: above the 1 % auto-reject limit.
	const PII_HEAVY: AuditFigures = AuditFigures {
		toxicity_permille: 3,
		duplicate_permille: 1,
		pii_permille: 20,
		english_permille: 990,
		out_of_range_permille: 0,
		validation_overlap: 0,
	};
	/// Figures of a clean dataset.
	const CLEAN: AuditFigures = AuditFigures { pii_permille: 0, ..PII_HEAVY };

	/// Makes the engine finish every audit with `figures`.
	fn finish(engine: &FakeEngine, figures: AuditFigures) {
		engine.answer(move |job| match job {
			Job::AuditDataset { .. } => JobStatus::Done(JobOutput::Audit(figures)),
			_ => JobStatus::Failed(b"not an audit".to_vec()),
		});
	}

	/// Test externalities with off-chain extensions, the fake engine and local keys `keys`.
	fn harness(keys: &[u64]) -> (blyan_test_support::CheckedExt, offchain::Pool, Arc<FakeEngine>) {
		let mut ext = new_test_ext();
		let engine = FakeEngine::new();
		let pool = offchain::register(&mut ext, keys, Some(engine.clone()));
		(ext, pool, engine)
	}

	fn take_calls(pool: &offchain::Pool) -> Vec<(u64, RuntimeCall)> {
		offchain::take(pool)
	}

	/// Applies a worker's transaction as the chain would.
	fn apply(signer: u64, call: RuntimeCall) {
		use sp_runtime::traits::Dispatchable;
		assert_ok!(call.dispatch(signed(signer)));
	}

	fn run_worker() {
		Dataset::offchain_worker(System::block_number());
	}

	#[test]
	fn audits_a_dataset_and_its_report_opens_the_vote() {
		let (mut ext, pool, engine) = harness(&[AUDITOR]);
		ext.execute_with(|| {
			assert_ok!(submit(7, 1));
			run_worker();
			assert_eq!(engine.jobs(), vec![Job::AuditDataset { at: 1, dataset: 0 }]);
			assert!(take_calls(&pool).is_empty(), "nothing to report while the audit runs");
			assert_eq!(
				blyan_worker::load::<AuditState>(&audit_key(0)),
				Some(AuditState { at: 1, sent: Resend::default() })
			);

			// Later runs ask about the same job (pinned to block 1).
			run_to_block(3);
			finish(&engine, CLEAN);
			run_worker();
			let calls = take_calls(&pool);
			assert_eq!(engine.jobs().len(), 1);
			assert_eq!(
				calls,
				vec![(AUDITOR, RuntimeCall::Dataset(Call::report_audit { id: 0, report: CLEAN }))]
			);
			let (signer, call) = calls.into_iter().next().unwrap();
			apply(signer, call);
			assert!(matches!(stage(0), Stage::CommunityVote { .. }));
			run_to_block(3 + u64::from(RESEND_AFTER));
			run_worker();
			assert!(take_calls(&pool).is_empty(), "the dataset left AutoAudit");
		});
	}

	#[test]
	fn a_pii_heavy_dataset_is_auto_rejected_through_the_worker() {
		let (mut ext, pool, engine) = harness(&[AUDITOR]);
		ext.execute_with(|| {
			assert_ok!(submit(7, 1));
			finish(&engine, PII_HEAVY);
			run_worker(); // queues the audit
			run_worker(); // reports it
			let (signer, call) = take_calls(&pool).pop().expect("a report");
			apply(signer, call);
			assert_eq!(
				stage(0),
				Stage::Rejected(RejectReason::AutoAudit(AuditFailure::PiiAboveLimit))
			);
		});
	}

	#[test]
	fn an_unknown_licence_is_judged_by_the_pallet_not_the_auditor() {
		let (mut ext, pool, engine) = harness(&[AUDITOR]);
		ext.execute_with(|| {
			assert_ok!(submit_licensed(7, 1, 4_096, 100, 0, b"proprietary"));
			finish(&engine, CLEAN);
			run_worker(); // queues the audit
			run_worker(); // reports it
			let (signer, call) = take_calls(&pool).pop().expect("a report");
			assert_eq!(call, RuntimeCall::Dataset(Call::report_audit { id: 0, report: CLEAN }));
			apply(signer, call);
			assert_eq!(
				stage(0),
				Stage::Rejected(RejectReason::AutoAudit(AuditFailure::UnknownLicence))
			);
		});
	}

	#[test]
	fn a_report_that_did_not_land_is_sent_again_and_non_auditors_do_nothing() {
		let (mut ext, pool, engine) = harness(&[AUDITOR]);
		ext.execute_with(|| {
			assert_ok!(submit(7, 1));
			finish(&engine, CLEAN);
			run_worker(); // queues the audit
			run_worker(); // reports it
			assert_eq!(take_calls(&pool).len(), 1);
			run_to_block(1 + u64::from(RESEND_AFTER) - 1);
			run_worker();
			assert!(take_calls(&pool).is_empty(), "waits RESEND_AFTER blocks");
			run_to_block(1 + u64::from(RESEND_AFTER));
			run_worker();
			assert_eq!(take_calls(&pool).len(), 1, "sent again");
		});
		let (mut ext, pool, engine) = harness(&[1, 2]);
		ext.execute_with(|| {
			assert_ok!(submit(7, 1));
			finish(&engine, CLEAN);
			run_worker();
			assert!(engine.jobs().is_empty() && take_calls(&pool).is_empty());
		});
	}
}
