//! Benchmarks of the Proof-of-Learning pallet: the two calls and the `on_initialize` hook
//! (challenge draws and window closes), each at its worst case.

use super::*;
use crate::Pallet as Pol;
use frame_benchmarking::v2::*;
use frame_support::traits::{fungible::Mutate, Hooks};
use frame_system::RawOrigin;

/// Funds `who` with a thousand times the minimum bond.
fn fund<T: Config>(who: &T::AccountId) -> BalanceOf<T> {
	let bond = T::MinBond::get();
	let amount = bond.saturating_mul(1_000u32.into());
	let _ = T::Currency::mint_into(who, amount);
	bond
}

/// A claim input on the `i`-th unit with `d` approved datasets (equal ratios, the remainder
/// on the first), submitted by `trainer`.
fn claim_input<T: Config>(trainer: &T::AccountId, i: u32, d: u32) -> ClaimInput<T::MaxDatasets> {
	let (parent, payload_root) = T::BenchmarkHelper::parent_and_payload(i);
	let creator: T::AccountId = account("creator", i, 0);
	let d = d.max(1);
	let each = PPM / d;
	let datasets: Vec<DatasetShare> = (0..d)
		.map(|k| DatasetShare {
			dataset: T::BenchmarkHelper::approved_dataset(&creator, i * 1_000 + k),
			ratio_ppm: if k == 0 { PPM - each * (d - 1) } else { each },
		})
		.collect();
	ClaimInput {
		parent,
		payload_root,
		manifest_root: payload_root,
		datasets: BoundedVec::truncate_from(datasets),
		segments: 1_000,
		claimed_loss: 4_900_000_000,
		nonce: T::BenchmarkHelper::solve_nonce(trainer, &parent, &payload_root),
	}
}

/// Submits the `i`-th claim (its own trainer and unit, `MaxDatasets` datasets).
fn new_claim<T: Config>(i: u32) -> ClaimId {
	let trainer: T::AccountId = account("trainer", i, 0);
	let bond = fund::<T>(&trainer);
	let input = claim_input::<T>(&trainer, i, T::MaxDatasets::get());
	Pol::<T>::do_submit_claim(trainer, input, bond).expect("benchmark claim is valid")
}

/// An honest report (2 % improvement, replay matched).
fn honest() -> EvalReport {
	EvalReport {
		parent_loss: 5_000_000_000,
		candidate_loss: 4_900_000_000,
		replay: ReplayVerdict::Match,
		replay_digest: [7; 32],
	}
}

/// A report different from every other `k`.
fn odd(k: u32) -> EvalReport {
	EvalReport { candidate_loss: 4_000_000_000 + u64::from(k), ..honest() }
}

/// `MaxValidators` validators; returns them.
fn validators<T: Config>() -> Vec<T::AccountId> {
	(0..T::MaxValidators::get())
		.map(|k| {
			let v: T::AccountId = account("validator", k, 0);
			T::BenchmarkHelper::make_validator(&v);
			v
		})
		.collect()
}

/// Moves claim `id` to `Evaluating` as the challenge draw does.
fn start_evaluation<T: Config>(id: ClaimId) {
	Claims::<T>::mutate(id, |c| {
		if let Some(c) = c {
			c.stage =
				ClaimStage::Evaluating { segments: BoundedVec::truncate_from(alloc::vec![0, 1]) };
		}
	});
}

#[benchmarks]
mod benches {
	use super::*;

	#[benchmark]
	fn submit_claim(d: Linear<1, { T::MaxDatasets::get() }>) {
		let trainer: T::AccountId = whitelisted_caller();
		let bond = fund::<T>(&trainer);
		let input = claim_input::<T>(&trainer, 0, d);

		#[extrinsic_call]
		_(RawOrigin::Signed(trainer), input, bond);

		assert_eq!(NextClaimId::<T>::get(), 1);
	}

	/// The `v`-th report of a claim that does not decide it (all reports differ). The
	/// decision a report may trigger is charged separately ([`decide`]).
	#[benchmark]
	fn submit_report(v: Linear<1, { T::MaxValidators::get() }>) {
		let vals = validators::<T>();
		let id = new_claim::<T>(0);
		start_evaluation::<T>(id);
		let before: Vec<(T::AccountId, EvalReport)> =
			(0..v - 1).map(|k| (vals[k as usize].clone(), odd(k))).collect();
		Reports::<T>::insert(id, BoundedVec::truncate_from(before));
		let last = vals[(v - 1) as usize].clone();

		#[extrinsic_call]
		_(RawOrigin::Signed(last), id, honest());

		assert_eq!(Reports::<T>::get(id).len() as u32, v);
		assert!(matches!(
			Claims::<T>::get(id).map(|c| c.stage),
			Some(ClaimStage::Evaluating { .. })
		));
	}

	/// Deciding a claim with `v` reports (one odd, the rest honest): medians, acceptance,
	/// `ParamIndex` move, bond release and `MaxDatasets` data rewards — the acceptance path,
	/// which does the most work.
	#[benchmark]
	fn decide(v: Linear<1, { T::MaxValidators::get() }>) {
		let vals = validators::<T>();
		let id = new_claim::<T>(0);
		start_evaluation::<T>(id);
		let reports: Vec<(T::AccountId, EvalReport)> = (0..v)
			.map(|k| (vals[k as usize].clone(), if k == 0 && v > 2 { odd(0) } else { honest() }))
			.collect();
		Reports::<T>::insert(id, BoundedVec::truncate_from(reports));
		let claim = Claims::<T>::get(id).expect("created above");

		#[block]
		{
			Pol::<T>::decide(id, claim);
		}

		assert!(matches!(Claims::<T>::get(id).map(|c| c.stage), Some(ClaimStage::Accepted { .. })));
	}

	/// `c` challenge draws and `e` window closes, each undecided with `MaxValidators` reports
	/// (medians, deviants, acceptance, `MaxDatasets` rewards).
	#[benchmark]
	fn on_initialize(
		c: Linear<0, { T::MaxClaimsPerBlock::get() }>,
		e: Linear<0, { T::MaxClaimsPerBlock::get() }>,
	) {
		let vals = validators::<T>();
		let now = frame_system::Pallet::<T>::block_number();
		let at = now.saturating_add(T::ChallengeDelay::get());
		let own_decision =
			at.saturating_add(T::EvaluationWindow::get()).saturating_add(1u32.into());
		for i in 0..e {
			let id = new_claim::<T>(i);
			// Leave the schedule queues to the claims built below.
			Challenges::<T>::remove(at);
			Decisions::<T>::remove(own_decision);
			start_evaluation::<T>(id);
			// One odd report per claim, the rest honest: accepted, one deviant.
			let reports: Vec<(T::AccountId, EvalReport)> = vals
				.iter()
				.enumerate()
				.map(|(k, v)| (v.clone(), if k == 0 { odd(0) } else { honest() }))
				.collect();
			Reports::<T>::insert(id, BoundedVec::truncate_from(reports));
			Decisions::<T>::mutate(at, |q| {
				let _ = q.try_push(id);
			});
		}
		for i in 0..c {
			// Scheduled for its challenge at `at` by the submission itself.
			new_claim::<T>(e + i);
			Decisions::<T>::remove(own_decision);
		}
		frame_system::Pallet::<T>::set_block_number(at);

		#[block]
		{
			Pol::<T>::on_initialize(at);
		}

		for id in 0..e {
			assert!(matches!(
				Claims::<T>::get(u64::from(id)).map(|c| c.stage),
				Some(ClaimStage::Accepted { .. })
			));
		}
		for id in e..e + c {
			assert!(matches!(
				Claims::<T>::get(u64::from(id)).map(|c| c.stage),
				Some(ClaimStage::Evaluating { .. })
			));
		}
	}

	impl_benchmark_test_suite!(Pol, crate::mock::new_test_ext(), crate::mock::Test);
}
