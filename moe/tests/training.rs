//! Partial mining, checkpoints, the PoDL manifest, replay and the forgeries replay must catch.

mod common;

use std::collections::{BTreeSet, HashMap};

use blyan_moe::data::{DatasetClaim, PPM};
use blyan_moe::store::{parse_hash, MemStore, ModelIndex, UnitStore};
use blyan_moe::train::{replay_segment, train, verify_result, Manifest, TrainOutcome};
use blyan_moe::units::{all_units, UnitId};
use blyan_moe::Error;
use blyan_primitives::merkle_root;
use safetensors::SafeTensors;

const EXPERT: UnitId = UnitId::Expert { layer: 0, expert: 1 };

fn run(store: &MemStore, index: &ModelIndex, units: &[UnitId], steps: u64, k: u64) -> TrainOutcome {
	let units: BTreeSet<UnitId> = units.iter().copied().collect();
	let ds = [common::dataset_a(), common::dataset_b()];
	train(
		index,
		store,
		&units,
		&ds,
		&[PPM / 2, PPM / 2],
		&common::params(steps, k),
		&mut |_| Ok(()),
	)
	.unwrap()
}

fn datasets() -> Vec<blyan_moe::data::Dataset> {
	vec![common::dataset_a(), common::dataset_b()]
}

#[test]
fn train_one_expert_changes_only_that_unit() {
	let (store, index) = common::genesis();
	let out = run(&store, &index, &[EXPERT], 6, 2);
	for (name, hash) in &out.index.units {
		if name == "layer0.expert1" {
			assert_ne!(hash, &index.units[name]);
		} else {
			assert_eq!(hash, &index.units[name], "{name} must stay frozen");
		}
	}
	let m = &out.manifest;
	assert_eq!(m.checkpoints.len(), 4);
	assert_eq!(m.batch_hashes.len(), 6);
	let hashes: Vec<_> = m.batch_hashes.iter().map(|h| parse_hash("b", h).unwrap()).collect();
	assert_eq!(m.batch_root, hex::encode(merkle_root(&hashes)));
	assert_eq!(m.datasets[0].content_root, hex::encode(common::dataset_a().content_root()));
	m.check().unwrap();
}

#[test]
fn training_is_bitwise_deterministic() {
	let (store, index) = common::genesis();
	let a = run(&store, &index, &[EXPERT, UnitId::Router { layer: 0 }], 5, 1);
	let b = run(&store, &index, &[EXPERT, UnitId::Router { layer: 0 }], 5, 1);
	assert_eq!(a.manifest, b.manifest);
	assert_eq!(a.manifest.hash(), b.manifest.hash());
}

#[test]
fn the_router_receives_gradients() {
	let (store, index) = common::genesis();
	let out = run(&store, &index, &[UnitId::Router { layer: 1 }], 3, 3);
	assert_ne!(out.index.units["layer1.router"], index.units["layer1.router"]);
}

#[test]
fn every_segment_replays_bit_for_bit() {
	let (store, index) = common::genesis();
	let out = run(&store, &index, &all_units(&index.config), 6, 2);
	for s in 0..3 {
		let r = replay_segment(&out.manifest, s, &store, &datasets()).unwrap();
		assert_eq!(hex::encode(r.checkpoint), out.manifest.checkpoints[s + 1]);
	}
	verify_result(&out.manifest, &store).unwrap();
	assert!(matches!(
		replay_segment(&out.manifest, 3, &store, &datasets()),
		Err(Error::InvalidManifest(_))
	));
}

/// Rewrites one checkpoint payload with a tampered weight and stores it.
fn tamper_checkpoint(store: &MemStore, hash_hex: &str) -> String {
	let bytes = store.fetch(&parse_hash("c", hash_hex).unwrap()).unwrap().to_vec();
	let st = SafeTensors::deserialize(&bytes).unwrap();
	let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
	let mut owned: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = st
		.tensors()
		.into_iter()
		.map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
		.collect();
	owned.sort_by(|a, b| a.0.cmp(&b.0));
	let w = owned.iter_mut().find(|t| !t.0.starts_with("adamw.")).unwrap();
	w.3[0] ^= 0x01; // one ulp of one weight
	let views: Vec<_> = owned
		.iter()
		.map(|(n, d, s, b)| {
			(n.clone(), safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap())
		})
		.collect();
	let meta: Option<HashMap<String, String>> = meta.metadata().clone();
	hex::encode(store.put(&safetensors::serialize(views, meta).unwrap()).unwrap())
}

#[test]
fn replay_detects_altered_weights() {
	let (store, index) = common::genesis();
	let out = run(&store, &index, &[EXPERT], 4, 1);
	let mut forged = out.manifest.clone();
	forged.checkpoints[2] = tamper_checkpoint(&store, &forged.checkpoints[2]);
	// Segment 1 (checkpoint 1 -> 2) no longer ends where the manifest says.
	let r = replay_segment(&forged, 1, &store, &datasets());
	assert!(matches!(r, Err(Error::CheckpointMismatch { index: 2, .. })), "{r:?}");
	// A claimed result that is not the last checkpoint is caught too.
	let mut forged = out.manifest.clone();
	forged
		.result
		.insert(EXPERT.to_string(), index.units[&EXPERT.to_string()].clone());
	assert!(matches!(verify_result(&forged, &store), Err(Error::HashMismatch { .. })));
	// A checkpoint missing from the store cannot be replayed.
	let mut forged = out.manifest.clone();
	forged.checkpoints[1] = hex::encode([7u8; 32]);
	assert!(matches!(replay_segment(&forged, 1, &store, &datasets()), Err(Error::NotFound(_))));
}

#[test]
fn replay_detects_a_different_dataset_than_claimed() {
	let (store, index) = common::genesis();
	// Train on beta alone...
	let units: BTreeSet<UnitId> = [EXPERT].into();
	let out = train(
		&index,
		&store,
		&units,
		&[common::dataset_b()],
		&[PPM],
		&common::params(3, 1),
		&mut |_| Ok(()),
	)
	.unwrap();
	// ...but claim alpha (its real content root).
	let mut forged = out.manifest.clone();
	let a = common::dataset_a();
	forged.datasets = vec![DatasetClaim {
		name: a.name.clone(),
		content_root: hex::encode(a.content_root()),
		samples: a.samples.len() as u64,
		ratio_ppm: PPM,
	}];
	let r = replay_segment(&forged, 0, &store, &datasets());
	assert!(matches!(r, Err(Error::BatchMismatch { step: 0, .. })), "{r:?}");
	// Claiming alpha's name with beta's root is a dataset mismatch.
	let mut forged = out.manifest.clone();
	forged.datasets[0].name = "alpha".into();
	assert!(matches!(
		replay_segment(&forged, 0, &store, &datasets()),
		Err(Error::DatasetMismatch(_))
	));
}

#[test]
fn replay_detects_a_different_seed_or_batch_order() {
	let (store, index) = common::genesis();
	let out = run(&store, &index, &[EXPERT], 4, 2);
	let mut forged = out.manifest.clone();
	forged.params.seed += 1;
	assert!(matches!(
		replay_segment(&forged, 0, &store, &datasets()),
		Err(Error::BatchMismatch { step: 0, .. })
	));
	// Swapped batch order, with a consistent batch root.
	let mut forged: Manifest = out.manifest.clone();
	forged.batch_hashes.swap(0, 1);
	let hashes: Vec<_> = forged.batch_hashes.iter().map(|h| parse_hash("b", h).unwrap()).collect();
	forged.batch_root = hex::encode(merkle_root(&hashes));
	assert!(matches!(
		replay_segment(&forged, 0, &store, &datasets()),
		Err(Error::BatchMismatch { step: 0, .. })
	));
	// Swapped order without fixing the root: the manifest itself is rejected.
	let mut forged = out.manifest.clone();
	forged.batch_hashes.swap(2, 3);
	assert!(matches!(
		replay_segment(&forged, 1, &store, &datasets()),
		Err(Error::InvalidManifest(_))
	));
}

#[test]
fn train_fails_on_bad_parameters() {
	let (store, index) = common::genesis();
	let ds = datasets();
	let units: BTreeSet<UnitId> = [EXPERT].into();
	let mut p = common::params(0, 1);
	assert!(matches!(
		train(&index, &store, &units, &ds, &[PPM / 2, PPM / 2], &p, &mut |_| Ok(())),
		Err(Error::InvalidTraining(_))
	));
	p = common::params(2, 1);
	p.seq_len = 10_000;
	assert!(matches!(
		train(&index, &store, &units, &ds, &[PPM / 2, PPM / 2], &p, &mut |_| Ok(())),
		Err(Error::InvalidTraining(_))
	));
	let none = BTreeSet::new();
	assert!(matches!(
		train(&index, &store, &none, &ds, &[PPM / 2, PPM / 2], &common::params(2, 1), &mut |_| Ok(
			()
		)),
		Err(Error::InvalidTraining(_))
	));
	let ghost: BTreeSet<UnitId> = [UnitId::Expert { layer: 0, expert: 99 }].into();
	assert!(matches!(
		train(
			&index,
			&store,
			&ghost,
			&ds,
			&[PPM / 2, PPM / 2],
			&common::params(2, 1),
			&mut |_| Ok(())
		),
		Err(Error::UnknownUnit(_))
	));
}

#[test]
fn the_manifest_states_the_claims_parameters_and_the_size_bounds_hold() {
	use blyan_moe::train::{checkpoint_len_bound, step_memory_bound};
	use blyan_primitives::pol::TrainingParams;
	let (store, index) = common::genesis();
	let out = run(&store, &index, &[EXPERT], 6, 2);
	let m = &out.manifest;
	assert_eq!(
		m.claimed_params(),
		Some(TrainingParams {
			seed: 11,
			steps: 6,
			checkpoint_every: 2,
			batch_size: 4,
			seq_len: 16
		})
	);
	assert_eq!(m.trainer, "", "a run is bound to a trainer only by its caller");
	assert_eq!(Manifest::trainer_of(&[0xab, 0x01]), "0xab01");
	// Every checkpoint fits the bound a validator checks before fetching one.
	let bound = checkpoint_len_bound(&index.config, &[EXPERT].into());
	for c in &m.checkpoints {
		let len = store.fetch(&parse_hash("checkpoint", c).unwrap()).unwrap().len() as u64;
		assert!(len <= bound && bound < 2 * len + 8192, "{len} vs {bound}");
	}
	// The step memory bound grows with the batch and saturates instead of overflowing.
	let cfg = &index.config;
	assert!(step_memory_bound(cfg, 4, 16) < step_memory_bound(cfg, 8, 16));
	assert!(step_memory_bound(cfg, 4, 16) < step_memory_bound(cfg, 4, 32));
	assert!(step_memory_bound(cfg, 4, 16) < 64 << 20, "a tiny step is small");
	assert_eq!(step_memory_bound(cfg, 1 << 28, 1 << 20), u64::MAX);
}
