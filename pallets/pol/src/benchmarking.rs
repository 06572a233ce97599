//! Benchmarks of the Proof-of-Learning pallet: the three calls, the decision a reveal may
//! trigger, and the `on_initialize` hook (challenge draws and window closes), each at its
//! worst case.

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

/// The largest training parameters the limits allow.
fn params<T: Config>() -> TrainingParams {
	let l = T::ManifestLimits::get();
	let k = l.max_steps.div_ceil(l.max_segments).max(1);
	let batch = l.max_batch_size.min(l.max_tokens_per_step / l.max_seq_len.max(1)).max(1);
	TrainingParams {
		seed: 1,
		steps: l.max_steps,
		checkpoint_every: k,
		batch_size: batch,
		seq_len: l.max_seq_len,
	}
}

/// A claim input of the `i`-th claim on `u` units of its own with `d` approved datasets
/// (equal ratios, the remainder on the first), submitted by `trainer`.
fn claim_input<T: Config>(
	trainer: &T::AccountId,
	i: u32,
	d: u32,
	u: u32,
) -> ClaimInput<T::MaxDatasets, T::MaxUnitsPerClaim> {
	let units: Vec<UnitUpdate> = (0..u.max(1))
		.map(|k| {
			let (parent, payload_root) =
				T::BenchmarkHelper::parent_and_payload(i * T::MaxUnitsPerClaim::get() + k);
			let nonce = T::BenchmarkHelper::solve_nonce(trainer, &parent, &payload_root);
			UnitUpdate { parent, payload_root, nonce }
		})
		.collect();
	let manifest_root = units[0].payload_root;
	// The base block must be before the claim's block.
	if frame_system::Pallet::<T>::block_number().is_zero() {
		frame_system::Pallet::<T>::set_block_number(1u32.into());
	}
	let now: u32 = frame_system::Pallet::<T>::block_number().unique_saturated_into();
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
		units: BoundedVec::truncate_from(units),
		base: now.saturating_sub(1),
		manifest_root,
		datasets: BoundedVec::truncate_from(datasets),
		params: params::<T>(),
		claimed_loss: 4_900_000_000,
		eval_root: [0xe7; 32],
	}
}

/// Submits the `i`-th claim (its own trainer and unit, `MaxDatasets` datasets).
fn new_claim<T: Config>(i: u32) -> ClaimId {
	let trainer: T::AccountId = account("trainer", i, 0);
	let bond = fund::<T>(&trainer);
	let input = claim_input::<T>(&trainer, i, T::MaxDatasets::get(), 1);
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

/// Draws claim `id`'s challenge as `on_initialize` does at its challenge block.
fn draw<T: Config>(id: ClaimId) {
	let at = Claims::<T>::get(id).map(|c| c.challenge_at).unwrap_or_default();
	Challenges::<T>::remove(at);
	Pol::<T>::draw_challenge(id);
}

/// Commits `report` for `validator` on claim `id` (salt = the validator's encoding hashed).
fn commit<T: Config>(id: ClaimId, validator: &T::AccountId, report: &EvalReport) -> Hash {
	let salt = sp_io::hashing::blake2_256(&validator.encode());
	let c = report_commitment(id, validator, report, &salt);
	Pol::<T>::do_commit_report(validator.clone(), id, c).expect("benchmark commitment is valid");
	salt
}

#[benchmarks]
mod benches {
	use super::*;

	#[benchmark]
	fn submit_claim(
		d: Linear<1, { T::MaxDatasets::get() }>,
		u: Linear<1, { T::MaxUnitsPerClaim::get() }>,
	) {
		let trainer: T::AccountId = whitelisted_caller();
		let bond = fund::<T>(&trainer);
		let input = claim_input::<T>(&trainer, 0, d, u);

		#[extrinsic_call]
		_(RawOrigin::Signed(trainer), input, bond);

		assert_eq!(NextClaimId::<T>::get(), 1);
	}

	#[benchmark]
	fn commit_report() {
		let vals = validators::<T>();
		let id = new_claim::<T>(0);
		draw::<T>(id);
		for v in vals.iter().skip(1) {
			commit::<T>(id, v, &honest());
		}
		let c = report_commitment(id, &vals[0], &honest(), &[1; 32]);

		#[extrinsic_call]
		_(RawOrigin::Signed(vals[0].clone()), id, c);

		assert_eq!(Claims::<T>::get(id).map(|c| c.commitments), Some(T::MaxValidators::get()));
	}

	/// The `v`-th reveal of a claim that does not decide it (all reports differ). The
	/// decision a reveal may trigger is charged separately ([`decide`]).
	#[benchmark]
	fn reveal_report(v: Linear<1, { T::MaxValidators::get() }>) {
		let vals = validators::<T>();
		let id = new_claim::<T>(0);
		draw::<T>(id);
		let salts: Vec<Hash> =
			(0..v).map(|k| commit::<T>(id, &vals[k as usize], &odd(k))).collect();
		let claim = Claims::<T>::get(id).expect("created above");
		frame_system::Pallet::<T>::set_block_number(claim.commit_until.saturating_add(1u32.into()));
		for k in 0..v - 1 {
			Pol::<T>::do_reveal_report(vals[k as usize].clone(), id, odd(k), salts[k as usize])
				.expect("benchmark reveal is valid");
		}
		let last = vals[(v - 1) as usize].clone();

		#[extrinsic_call]
		_(RawOrigin::Signed(last), id, odd(v - 1), salts[(v - 1) as usize]);

		assert_eq!(Reports::<T>::get(id).len() as u32, v);
	}

	/// Deciding a claim with `d` datasets and `u` units on an honest quorum report:
	/// acceptance, `u` `ParamIndex` moves, bond release and `d` data rewards — the path that
	/// does the most work.
	#[benchmark]
	fn decide(
		d: Linear<1, { T::MaxDatasets::get() }>,
		u: Linear<1, { T::MaxUnitsPerClaim::get() }>,
	) {
		let trainer: T::AccountId = account("trainer", 0, 0);
		let bond = fund::<T>(&trainer);
		let input = claim_input::<T>(&trainer, 0, d, u);
		let id = Pol::<T>::do_submit_claim(trainer, input, bond).expect("valid");
		draw::<T>(id);
		let claim = Claims::<T>::get(id).expect("created above");

		#[block]
		{
			Pol::<T>::decide(id, claim, honest());
		}

		assert!(matches!(Claims::<T>::get(id).map(|c| c.stage), Some(ClaimStage::Accepted { .. })));
	}

	/// `c` challenge draws and `e` window closes. Each closing claim is still undecided (it
	/// expires: fee, DAG rejection) and holds `MaxValidators` commitments of which half were
	/// revealed (the other half are recorded as deviant).
	#[benchmark]
	fn on_initialize(
		c: Linear<0, { T::MaxClaimsPerBlock::get() }>,
		e: Linear<0, { T::MaxClaimsPerBlock::get() }>,
	) {
		let vals = validators::<T>();
		let half = vals.len() / 2;
		let mut close_at = frame_system::Pallet::<T>::block_number();
		for i in 0..e {
			let id = new_claim::<T>(i);
			draw::<T>(id);
			let salts: Vec<Hash> = vals
				.iter()
				.enumerate()
				.map(|(k, v)| commit::<T>(id, v, &odd(k as u32)))
				.collect();
			let claim = Claims::<T>::get(id).expect("created above");
			frame_system::Pallet::<T>::set_block_number(
				claim.commit_until.saturating_add(1u32.into()),
			);
			for (k, v) in vals.iter().enumerate().take(half) {
				Pol::<T>::do_reveal_report(v.clone(), id, odd(k as u32), salts[k])
					.expect("valid reveal");
			}
			close_at = claim.reveal_until.saturating_add(1u32.into());
			frame_system::Pallet::<T>::set_block_number(claim.submitted_at);
		}
		// The claims to challenge are submitted so that their challenge falls on `close_at`.
		let submit_at = close_at.saturating_sub(T::ChallengeDelay::get());
		frame_system::Pallet::<T>::set_block_number(submit_at);
		for i in 0..c {
			new_claim::<T>(e + i);
		}
		let at = submit_at.saturating_add(T::ChallengeDelay::get());
		frame_system::Pallet::<T>::set_block_number(at);

		#[block]
		{
			Pol::<T>::on_initialize(at);
		}

		for id in 0..e {
			assert_eq!(Claims::<T>::get(u64::from(id)).map(|c| c.stage), Some(ClaimStage::Expired));
		}
		for id in e..e + c {
			assert_eq!(
				Claims::<T>::get(u64::from(id)).map(|c| c.stage),
				Some(ClaimStage::Evaluating)
			);
		}
	}

	impl_benchmark_test_suite!(Pol, crate::mock::new_test_ext(), crate::mock::Test);
}
