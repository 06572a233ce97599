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

#[cfg(not(feature = "runtime-benchmarks"))]
mod worker {
	use crate::mock::*;
	use crate::worker::{state, Phase, RESEND_AFTER};
	use crate::ENABLED_KEY;
	use blyan_engine_interface::{EngineExt, Job};
	use codec::Decode;
	use frame_support::{assert_ok, traits::Hooks};
	use pallet_pol::{ClaimStage, EvalReport, ReplayVerdict};
	use sp_core::offchain::{
		testing::{PoolState, TestOffchainExt, TestTransactionPoolExt},
		OffchainDbExt, OffchainWorkerExt, TransactionPoolExt,
	};
	use sp_runtime::{generic::Preamble, testing::UintAuthorityId, traits::Dispatchable};
	use std::sync::Arc;

	type Pool = Arc<parking_lot::RwLock<PoolState>>;

	/// Externalities with the off-chain extensions, the fake engine finishing at `loss`,
	/// the trainer's key, and the trainer switched on (`enabled`).
	fn harness(loss: u64, enabled: bool) -> (sp_io::TestExternalities, Pool, Arc<FakeEngine>) {
		let mut ext = new_test_ext();
		let (offchain, _) = TestOffchainExt::new();
		ext.register_extension(OffchainDbExt::new(offchain.clone()));
		ext.register_extension(OffchainWorkerExt::new(offchain));
		let (pool, pool_state) = TestTransactionPoolExt::new();
		ext.register_extension(TransactionPoolExt::new(pool));
		let engine = Arc::new(FakeEngine::new(4_900_000_000));
		*engine.loss.lock().unwrap() = loss;
		ext.register_extension(EngineExt::new(engine.clone()));
		UintAuthorityId::set_all_keys([TRAINER]);
		if enabled {
			ext.execute_with(|| {
				sp_runtime::offchain::storage::StorageValueRef::persistent(ENABLED_KEY).set(&true)
			});
		}
		(ext, pool_state, engine)
	}

	fn run_worker() {
		Trainer::offchain_worker(System::block_number());
	}

	/// Takes the pool's transactions and applies them as the chain would, in order; returns
	/// their calls.
	fn apply_pool(pool: &Pool) -> Vec<RuntimeCall> {
		let txs = core::mem::take(&mut pool.write().transactions);
		txs.into_iter()
			.map(|raw| {
				let tx = Extrinsic::decode(&mut &raw[..]).unwrap();
				let Preamble::Signed(signer, (), ()) = tx.preamble else { panic!("not signed") };
				assert_eq!(signer, TRAINER);
				assert_ok!(tx.function.clone().dispatch(RuntimeOrigin::signed(signer)));
				tx.function
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

	#[test]
	fn trains_publishes_claims_answers_the_challenge_and_moves_on() {
		let (mut ext, pool, engine) = harness(4_900_000_000, true);
		ext.execute_with(|| {
			let parent = MockDag::accepted_of(UNITS[0]);
			run_worker();
			assert_eq!(
				*engine.jobs.lock().unwrap(),
				vec![Job::Train {
					at: 1,
					unit: UNITS[0].to_vec(),
					datasets: vec![(1, 588_236), (2, 411_764)],
					steps: 40,
					checkpoint_every: 10,
					seed: 1,
				}],
				"first unit round-robin, datasets by tier weight"
			);
			assert!(matches!(state().phase, Phase::Training { .. }));

			// Done: the unit and the manifest are published (tile, then manifest commit).
			run_worker();
			let calls = apply_pool(&pool);
			assert_eq!(calls.len(), 4, "{calls:?}");
			assert!(matches!(calls[0], RuntimeCall::ContentStore(pallet_content_store::Call::publish_tile { .. })));
			assert!(matches!(
				calls[1],
				RuntimeCall::ContentStore(pallet_content_store::Call::commit_manifest { root: r, .. }) if r == root("unit")
			));
			assert!(matches!(
				calls[3],
				RuntimeCall::ContentStore(pallet_content_store::Call::commit_manifest { root: r, .. }) if r == root("manifest")
			));

			// Both on chain: the claim.
			run_worker();
			let calls = apply_pool(&pool);
			let [RuntimeCall::Pol(pallet_pol::Call::submit_claim { input, bond })] = &calls[..] else {
				panic!("{calls:?}")
			};
			assert_eq!(*bond, 100, "the smallest bond");
			assert_eq!(input.parent, parent);
			assert_eq!((input.payload_root, input.manifest_root), (root("unit"), root("manifest")));
			assert_eq!((input.segments, input.claimed_loss, input.nonce), (4, 4_900_000_000, 7));
			assert_eq!(input.datasets.iter().map(|d| (d.dataset, d.ratio_ppm)).collect::<Vec<_>>(), vec![(1, 588_236), (2, 411_764)]);

			run_worker();
			assert!(matches!(state().phase, Phase::Claimed { claim: 0, .. }));
			// The challenge: only the challenged segments' start checkpoints are published.
			run_to(3);
			let ClaimStage::Evaluating { segments } = pallet_pol::Claims::<Test>::get(0).unwrap().stage else {
				panic!("not challenged")
			};
			run_worker();
			let published: Vec<_> = apply_pool(&pool)
				.into_iter()
				.filter_map(|c| match c {
					RuntimeCall::ContentStore(pallet_content_store::Call::commit_manifest { root, .. }) => Some(root),
					_ => None,
				})
				.collect();
			let ckpts = FakeEngine::checkpoints();
			assert_eq!(published, segments.iter().map(|s| ckpts[*s as usize]).collect::<Vec<_>>());

			// Decided: the next run trains the next unit.
			for v in [10, 11] {
				assert_ok!(Pol::submit_report(RuntimeOrigin::signed(v), 0, report()));
			}
			assert!(matches!(pallet_pol::Claims::<Test>::get(0).unwrap().stage, ClaimStage::Accepted { .. }));
			run_worker();
			assert_eq!(state().phase, Phase::Idle);
			run_worker();
			let jobs = engine.jobs.lock().unwrap().clone();
			assert!(matches!(&jobs[1], Job::Train { unit, .. } if unit == UNITS[1]), "{jobs:?}");
		});
	}

	#[test]
	fn a_result_below_the_threshold_is_not_claimed() {
		// 0.2 % better: below δ = 0.5 %.
		let (mut ext, pool, _) = harness(PARENT_LOSS - PARENT_LOSS / 500, true);
		ext.execute_with(|| {
			run_worker();
			run_worker();
			assert!(pool.read().transactions.is_empty(), "nothing published");
			assert_eq!(state().phase, Phase::Idle);
			assert_eq!(state().next_unit, 1);
		});
	}

	#[test]
	fn switched_off_or_without_data_it_does_nothing() {
		let (mut ext, pool, engine) = harness(4_900_000_000, false);
		ext.execute_with(|| {
			run_worker();
			assert!(engine.jobs.lock().unwrap().is_empty() && pool.read().transactions.is_empty());
		});
		let (mut ext, _, engine) = harness(4_900_000_000, true);
		ext.execute_with(|| {
			Approved::set(vec![]);
			run_worker();
			assert!(engine.jobs.lock().unwrap().is_empty(), "no approved training data");
		});
	}

	#[test]
	fn a_model_that_moved_since_training_is_not_claimed_and_lost_publications_are_resent() {
		let (mut ext, pool, _) = harness(4_900_000_000, true);
		ext.execute_with(|| {
			run_worker();
			run_worker();
			// The publications were dropped: sent again RESEND_AFTER blocks later.
			let first = core::mem::take(&mut pool.write().transactions);
			assert_eq!(first.len(), 4);
			run_to(1 + u64::from(RESEND_AFTER) - 1);
			run_worker();
			assert!(pool.read().transactions.is_empty(), "not yet");
			run_to(1 + u64::from(RESEND_AFTER));
			run_worker();
			assert_eq!(apply_pool(&pool).len(), 4, "sent again");
			// Another unit moved meanwhile: the run is dropped.
			MockDag::set_accepted(UNITS[1], [9; 32]);
			run_worker();
			assert!(pool.read().transactions.is_empty(), "no claim");
			assert_eq!(state().phase, Phase::Idle);
		});
	}
}
