//! Tests of the trainer: the mixing ratios, and the worker's whole cycle against the real
//! content store and Proof-of-Learning pallets with a fake engine, an in-memory off-chain
//! database and a test transaction pool.

use crate::mixing_ratios;

#[test]
fn ratios_follow_tier_weights_and_sum_to_one_million() {
	// Gold, Silver, Experimental: 1000 : 700 : 300 of 2000.
	assert_eq!(
		mixing_ratios(&[(3, 1000), (5, 700), (9, 300)]),
		vec![(3, 500_000), (5, 350_000), (9, 150_000)]
	);
	// Thirds: the remainder goes to the first dataset.
	let r = mixing_ratios(&[(1, 1000), (2, 1000), (3, 1000)]);
	assert_eq!(r, vec![(1, 333_334), (2, 333_333), (3, 333_333)]);
	assert_eq!(r.iter().map(|(_, p)| *p as u64).sum::<u64>(), 1_000_000);
}

#[test]
fn nothing_to_mix_gives_no_ratios_and_zero_weights_are_dropped() {
	assert!(mixing_ratios(&[]).is_empty());
	assert!(mixing_ratios(&[(1, 0)]).is_empty());
	assert_eq!(mixing_ratios(&[(1, 0), (2, 300)]), vec![(2, 1_000_000)]);
}

#[test]
fn many_datasets_still_sum_to_one_million() {
	let weights: Vec<(u32, u32)> = (0..43).map(|i| (i, [1000, 700, 300][i as usize % 3])).collect();
	let r = mixing_ratios(&weights);
	assert_eq!(r.len(), 43);
	assert_eq!(r.iter().map(|(_, p)| *p as u64).sum::<u64>(), 1_000_000);
	assert!(r.iter().all(|(_, p)| *p > 0));
}

#[test]
fn selections_name_units_prefixes_or_everything() {
	use crate::select_units;
	let units: Vec<(Vec<u8>, u64)> =
		["backbone", "layer0.router", "layer0.expert0", "layer1.router", "layer1.expert0"]
			.iter()
			.map(|u| (u.as_bytes().to_vec(), 1))
			.collect();
	let names = |sel: &str| -> Vec<String> {
		select_units(&units, sel.as_bytes())
			.into_iter()
			.map(|(u, _)| String::from_utf8(u).unwrap())
			.collect()
	};
	assert_eq!(names("*").len(), 5);
	assert_eq!(names("all").len(), 5);
	assert_eq!(names("layer1.*"), ["layer1.router", "layer1.expert0"]);
	assert_eq!(names("backbone, layer0.expert*"), ["backbone", "layer0.expert0"]);
	assert_eq!(names("layer0.router,layer0.router"), ["layer0.router"], "each unit once");
	assert_eq!(names("layer0.expert00").len(), 0);
	assert_eq!(names("").len(), 0);
	assert_eq!(names("layer1"), Vec::<String>::new(), "a prefix needs its *");
}

#[test]
fn the_schedule_packs_units_in_order_into_groups_within_the_budget() {
	use crate::schedule::{groups, units_at};
	let u = |n: &str, b: u64| (n.as_bytes().to_vec(), b);
	let units =
		vec![u("backbone", 5), u("r0", 1), u("e0", 3), u("e1", 3), u("big", 20), u("e2", 1)];
	let names = |g: Vec<Vec<Vec<u8>>>| -> Vec<Vec<String>> {
		g.into_iter()
			.map(|g| g.into_iter().map(|n| String::from_utf8(n).unwrap()).collect())
			.collect()
	};
	assert_eq!(
		names(groups(&units, 9, 64)),
		vec![vec!["backbone", "r0", "e0"], vec!["e1"], vec!["big"], vec!["e2"]]
	);
	assert_eq!(names(groups(&units, 100, 64)).len(), 1, "everything in one claim");
	assert_eq!(names(groups(&units, 100, 2)).len(), 3, "at most MaxUnitsPerClaim per claim");
	let g = groups(&units, 9, 64);
	assert_eq!(units_at(&g, 5), g[1], "round robin");
	assert!(units_at(&[], 3).is_empty());
}

#[cfg(not(feature = "runtime-benchmarks"))]
mod worker {
	use crate::{
		mock::*,
		worker::{challenged_checkpoints, state, Phase},
		ENABLED_KEY, STEPS_KEY, UNITS_KEY,
	};
	use blyan_engine_interface::Job;
	use blyan_primitives::pol::{report_commitment, DatasetShare, TrainingParams};
	use blyan_test_support::{dag, offchain, FakeEngine};
	use blyan_worker::RESEND_AFTER;
	use frame_support::{assert_ok, traits::Hooks};
	use pallet_pol::{ClaimStage, EvalReport, ReplayVerdict};
	use sp_runtime::traits::Dispatchable;
	use std::sync::Arc;

	/// Externalities with the off-chain extensions, the fake engine finishing at `loss`,
	/// the local keys `keys`, and the trainer switched on (`enabled`).
	fn harness_with(
		keys: &[u64],
		loss: u64,
		enabled: bool,
	) -> (sp_io::TestExternalities, offchain::Pool, Arc<FakeEngine>, FakeRun) {
		let mut ext = new_test_ext();
		let engine = FakeEngine::new();
		let run = finish_training(&engine, loss);
		let pool = offchain::register(&mut ext, keys, Some(engine.clone()));
		if enabled {
			ext.execute_with(|| blyan_worker::store(ENABLED_KEY, &true));
		}
		(ext, pool, engine, run)
	}

	fn harness(
		loss: u64,
		enabled: bool,
	) -> (sp_io::TestExternalities, offchain::Pool, Arc<FakeEngine>, FakeRun) {
		harness_with(&[TRAINER], loss, enabled)
	}

	fn run_worker() {
		Trainer::offchain_worker(System::block_number());
	}

	/// Takes the pool's transactions and applies them as the chain would, in order; returns
	/// their calls.
	fn apply_pool(pool: &offchain::Pool) -> Vec<RuntimeCall> {
		let calls: Vec<(u64, RuntimeCall)> = offchain::take(pool);
		calls
			.into_iter()
			.map(|(signer, call)| {
				assert_eq!(signer, TRAINER);
				// A transaction sent after block N is included in N + 1 or later: the claim's
				// base block (N at the latest) is then in the past.
				if matches!(call, RuntimeCall::Pol(pallet_pol::Call::submit_claim { .. })) {
					run_to(System::block_number() + 1);
				}
				assert_ok!(call.clone().dispatch(RuntimeOrigin::signed(signer)));
				call
			})
			.collect()
	}

	fn run_to(n: u64) {
		while System::block_number() < n {
			let next = System::block_number() + 1;
			System::set_block_number(next);
			Pol::on_initialize(next);
		}
	}

	fn report() -> EvalReport {
		EvalReport {
			parent_loss: PARENT_LOSS,
			candidate_loss: 4_900_000_000,
			replay: ReplayVerdict::Match,
			replay_digest: [1; 32],
		}
	}

	/// Validators 10 and 11 commit and reveal `report()` on claim `id`.
	fn quorum_accepts(id: u64) {
		for v in [10u64, 11] {
			let c = report_commitment(id, &v, &report(), &[v as u8; 32]);
			assert_ok!(Pol::commit_report(RuntimeOrigin::signed(v), id, c));
		}
		run_to(pallet_pol::Claims::<Test>::get(id).unwrap().commit_until + 1);
		for v in [10u64, 11] {
			assert_ok!(Pol::reveal_report(RuntimeOrigin::signed(v), id, report(), [v as u8; 32]));
		}
	}

	fn expected_params(steps: u32) -> TrainingParams {
		TrainingParams { seed: 1, steps, checkpoint_every: 10, batch_size: 16, seq_len: 64 }
	}

	/// The publications of a run, as `commit_manifest` roots in order.
	fn committed(calls: &[RuntimeCall]) -> Vec<[u8; 32]> {
		calls
			.iter()
			.filter_map(|c| match c {
				RuntimeCall::ContentStore(pallet_content_store::Call::commit_manifest {
					root,
					..
				}) => Some(*root),
				_ => None,
			})
			.collect()
	}

	#[test]
	fn trains_publishes_claims_answers_the_challenge_and_moves_on() {
		let (mut ext, pool, engine, run) = harness(4_900_000_000, true);
		ext.execute_with(|| {
			let parents: Vec<_> = UNITS.iter().map(|u| dag::accepted(u).unwrap()).collect();
			run_worker();
			assert_eq!(
				engine.jobs(),
				vec![Job::Train {
					at: 1,
					trainer: codec::Encode::encode(&TRAINER),
					units: UNITS.iter().map(|u| u.to_vec()).collect(),
					datasets: vec![
						DatasetShare { dataset: 1, ratio_ppm: 588_236 },
						DatasetShare { dataset: 2, ratio_ppm: 411_764 }
					],
					params: expected_params(40),
				}],
				"every unit at once, datasets by tier weight, the trainer named"
			);
			assert!(matches!(state().phase, Phase::Training { .. }));

			// Done: the units and the manifest are published (tile, then manifest commit).
			run_worker();
			let calls = apply_pool(&pool);
			assert_eq!(calls.len(), 8, "{calls:?}");
			assert!(matches!(
				calls[0],
				RuntimeCall::ContentStore(pallet_content_store::Call::publish_tile { .. })
			));
			assert_eq!(
				committed(&calls),
				vec![run.units[0], run.units[1], run.manifest, run.record]
			);

			// All on chain: one claim over both units, on the training block as its base.
			run_worker();
			let calls = apply_pool(&pool);
			let [RuntimeCall::Pol(pallet_pol::Call::submit_claim { input, bond })] = &calls[..]
			else {
				panic!("{calls:?}")
			};
			assert_eq!(*bond, 2_000, "the smallest bond");
			let units: Vec<_> = input.units.iter().map(|u| (u.parent, u.payload_root)).collect();
			assert_eq!(units, vec![(parents[0], run.units[0]), (parents[1], run.units[1])]);
			assert_eq!((input.base, input.manifest_root), (1, run.manifest));
			assert_eq!(input.eval_root, run.record, "the run's evaluation record");
			assert_eq!((input.params, input.claimed_loss), (expected_params(40), 4_900_000_000));
			assert_eq!(input.params.segments(), 4);

			run_worker();
			assert!(matches!(state().phase, Phase::Claimed { claim: 0, .. }));
			// The challenge: the challenged segments' start checkpoints and the last one.
			run_to(4);
			let segments = pallet_pol::Claims::<Test>::get(0).unwrap().segments;
			run_worker();
			let published = committed(&apply_pool(&pool));
			assert_eq!(published, challenged_checkpoints(&run.checkpoints, &segments));
			assert_eq!(published.last(), run.checkpoints.last());

			// Accepted: both units moved; the next run trains the next (here: the same) group.
			quorum_accepts(0);
			assert!(matches!(
				pallet_pol::Claims::<Test>::get(0).unwrap().stage,
				ClaimStage::Accepted { .. }
			));
			assert!(UNITS.iter().zip(&parents).all(|(u, p)| dag::accepted(u) != Some(*p)));
			run_worker();
			assert_eq!(state().phase, Phase::Idle);
			run_worker();
			let jobs = engine.jobs();
			assert!(matches!(&jobs[1], Job::Train { units, .. } if units.len() == 2), "{jobs:?}");
		});
	}

	#[test]
	fn the_node_selects_the_units_and_groups_take_turns() {
		// A claim may train one unit's payload: the two units take turns.
		let (mut ext, _, engine, _) = harness(PARENT_LOSS - PARENT_LOSS / 500, true);
		ext.execute_with(|| {
			MaxClaimPayloadBytes::set(UNIT_BYTES);
			for _ in 0..3 {
				run_worker(); // start
				run_worker(); // done, not claimed (below δ)
				run_to(System::block_number() + 1);
			}
			let trained: Vec<Vec<Vec<u8>>> = engine
				.jobs()
				.into_iter()
				.map(|j| match j {
					Job::Train { units, .. } => units,
					other => panic!("{other:?}"),
				})
				.collect();
			let u: Vec<Vec<u8>> = UNITS.iter().map(|u| u.to_vec()).collect();
			assert_eq!(trained, vec![vec![u[0].clone()], vec![u[1].clone()], vec![u[0].clone()]]);
		});
		// `--trainer-units layer0.expert1`: only that unit.
		let (mut ext, _, engine, _) = harness(4_900_000_000, true);
		ext.execute_with(|| {
			blyan_worker::store(UNITS_KEY, &b"layer0.expert1".to_vec());
			run_worker();
			assert!(
				matches!(&engine.jobs()[0], Job::Train { units, .. } if *units == vec![UNITS[1].to_vec()])
			);
		});
		// A selection that names nothing of the model: no training.
		let (mut ext, _, engine, _) = harness(4_900_000_000, true);
		ext.execute_with(|| {
			blyan_worker::store(UNITS_KEY, &b"layer7.*".to_vec());
			run_worker();
			assert!(engine.jobs().is_empty());
		});
	}

	#[test]
	fn the_node_sets_the_steps_and_the_claim_states_them() {
		let (mut ext, _, engine, _) = harness(4_900_000_000, true);
		ext.execute_with(|| {
			blyan_worker::store(STEPS_KEY, &20u32);
			run_worker();
			assert!(
				matches!(&engine.jobs()[0], Job::Train { params, .. } if *params == expected_params(20))
			);
		});
		// Steps beyond the chain's limits: no training at all.
		let (mut ext, _, engine, _) = harness(4_900_000_000, true);
		ext.execute_with(|| {
			blyan_worker::store(STEPS_KEY, &5_000u32);
			run_worker();
			assert!(engine.jobs().is_empty());
		});
	}

	#[test]
	fn the_trainer_signs_with_a_key_that_is_not_a_validator() {
		// Keys of validator 10 and of account 1: the trainer is 1.
		let (mut ext, _, engine, _) = harness_with(&[10, TRAINER], 4_900_000_000, true);
		ext.execute_with(|| {
			run_worker();
			assert!(matches!(&engine.jobs()[0], Job::Train { trainer, .. } if *trainer == codec::Encode::encode(&TRAINER)));
		});
	}

	#[test]
	fn a_result_below_the_threshold_is_not_claimed() {
		// 0.2 % better: below δ = 0.5 %.
		let (mut ext, pool, _, _) = harness(PARENT_LOSS - PARENT_LOSS / 500, true);
		ext.execute_with(|| {
			run_worker();
			run_worker();
			assert!(pool.read().transactions.is_empty(), "nothing published");
			assert_eq!(state().phase, Phase::Idle);
			assert_eq!(state().next_unit, 1, "next: the next group");
		});
	}

	#[test]
	fn switched_off_or_without_data_it_does_nothing() {
		let (mut ext, pool, engine, _) = harness(4_900_000_000, false);
		ext.execute_with(|| {
			run_worker();
			assert!(engine.jobs().is_empty() && pool.read().transactions.is_empty());
		});
		let (mut ext, _, engine, _) = harness(4_900_000_000, true);
		ext.execute_with(|| {
			Approved::set(vec![]);
			run_worker();
			assert!(engine.jobs().is_empty(), "no approved training data");
		});
	}

	/// Trains `layer0.expert0` alone and publishes it with its manifest and evaluation record
	/// (the pool's transactions applied).
	fn trained_first_unit_alone(pool: &offchain::Pool) {
		blyan_worker::store(UNITS_KEY, &UNITS[0].to_vec());
		run_worker();
		run_worker();
		assert_eq!(apply_pool(pool).len(), 6, "unit, manifest and evaluation record");
	}

	#[test]
	fn another_unit_moving_does_not_cost_the_run_and_lost_publications_are_resent() {
		let (mut ext, pool, _, run) = harness(4_900_000_000, true);
		ext.execute_with(|| {
			blyan_worker::store(UNITS_KEY, &UNITS[0].to_vec());
			run_worker();
			run_worker();
			// The publications were dropped: sent again RESEND_AFTER blocks later.
			let first = core::mem::take(&mut pool.write().transactions);
			assert_eq!(first.len(), 6);
			run_to(1 + u64::from(RESEND_AFTER) - 1);
			run_worker();
			assert!(pool.read().transactions.is_empty(), "not yet");
			run_to(1 + u64::from(RESEND_AFTER));
			run_worker();
			assert_eq!(apply_pool(&pool).len(), 6, "sent again");
			// Another unit moved meanwhile: the claim goes out all the same, on the old base.
			dag::set_accepted(UNITS[1], [9; 32]);
			run_worker();
			let calls = apply_pool(&pool);
			let [RuntimeCall::Pol(pallet_pol::Call::submit_claim { input, .. })] = &calls[..]
			else {
				panic!("{calls:?}")
			};
			assert_eq!((input.base, input.units[0].payload_root), (1, run.units[0]));
		});
	}

	#[test]
	fn a_trained_unit_that_moved_drops_the_run() {
		let (mut ext, pool, _, _) = harness(4_900_000_000, true);
		ext.execute_with(|| {
			trained_first_unit_alone(&pool);
			dag::set_accepted(UNITS[0], [9; 32]);
			run_worker();
			assert!(pool.read().transactions.is_empty(), "no claim: it would be superseded");
			assert_eq!(state().phase, Phase::Idle);
		});
	}

	#[test]
	fn a_base_too_old_to_claim_on_is_replaced_by_an_evaluation_in_the_current_model() {
		let (mut ext, pool, engine, run) = harness(4_900_000_000, true);
		ext.execute_with(|| {
			trained_first_unit_alone(&pool);
			// MaxBaseAge is 30: at block 22, 22 − 1 + BASE_MARGIN > 30.
			run_to(22);
			run_worker();
			assert!(pool.read().transactions.is_empty(), "no claim on the old base");
			assert!(matches!(state().phase, Phase::Reevaluating { .. }));
			assert_eq!(
				engine.jobs().last(),
				Some(&Job::EvaluateClaim {
					at: 22,
					units: vec![(UNITS[0].to_vec(), run.units[0])],
					check: None,
				})
			);
			// The new evaluation's record is published first, then the claim.
			run_worker();
			assert_eq!(committed(&apply_pool(&pool)), vec![run.record_again]);
			run_worker();
			let calls = apply_pool(&pool);
			let [RuntimeCall::Pol(pallet_pol::Call::submit_claim { input, .. })] = &calls[..]
			else {
				panic!("{calls:?}")
			};
			assert_eq!(input.base, 22, "the block the loss was measured in");
			assert_eq!(input.eval_root, run.record_again, "the record of the new evaluation");
		});
	}

	#[test]
	fn an_engine_that_lost_the_payloads_gives_up_the_run() {
		let (mut ext, pool, engine, _) = harness(4_900_000_000, true);
		ext.execute_with(|| {
			run_worker();
			engine.drop_outputs();
			run_worker();
			assert!(pool.read().transactions.is_empty());
			assert_eq!(state().phase, Phase::Idle);
		});
	}
}
