//! Per-window evaluation (docs/pol.md "Verification by sampled windows"): whole record
//! batches evaluated on their own reproduce the full run's windows bit for bit, on the dev
//! model and on the test model; the evaluation record round-trips and refuses other lengths.

mod common;

use blyan_moe::eval::{
	batch_windows, evaluate, evaluate_windows, record_batches, windows, EvalRecord,
	MAX_BYTE_LOSS_NATS, RECORD_BATCH,
};
use blyan_moe::model::{init_weights, var_builder, Model, ResidentExperts};
use blyan_moe::store::{MemStore, ModelIndex};
use blyan_moe::Config;

fn model(cfg: &Config) -> (Model, ResidentExperts) {
	let store = MemStore::default();
	let index = ModelIndex::save_weights(cfg, &init_weights(cfg, 3).unwrap(), &store).unwrap();
	let w = index.load_weights(&store, None).unwrap();
	let vb = var_builder(&w);
	(Model::new(cfg, vb.clone()).unwrap(), ResidentExperts::new(cfg, &vb).unwrap())
}

#[test]
fn record_batches_evaluated_alone_reproduce_the_full_run() {
	// The dev chain's model (`tiny`, 128-byte windows) and the test model (64-byte windows):
	// 41 windows each, the last one short, so the last batch is partial.
	for cfg in [Config::tiny(), Config::test()] {
		let seq = cfg.max_position_embeddings;
		let (m, mut e) = model(&cfg);
		let text = common::fortune_text(&["calm", "wild", "grey", "odd"], 200);
		let text = &text.as_bytes()[..seq * 40 + 57.min(seq - 1)];
		let n = windows(text, seq).len();
		assert_eq!((n, record_batches(n)), (41, 6));
		let all: Vec<u32> = (0..n as u32).collect();
		let full = evaluate_windows(&m, &mut e, text, seq, RECORD_BATCH, &all, &mut |_, _| Ok(()))
			.unwrap();
		let report = evaluate(&m, &mut e, text, seq, RECORD_BATCH, &mut |_, _| Ok(())).unwrap();
		assert_eq!(report.total_nano_nats, full.iter().sum::<u64>());
		for batches in [vec![0u32], vec![1, 4], vec![5], vec![0, 2, 5], vec![3]] {
			let select = batch_windows(&batches, n);
			let part =
				evaluate_windows(&m, &mut e, text, seq, RECORD_BATCH, &select, &mut |_, _| Ok(()))
					.unwrap();
			let want: Vec<u64> = select.iter().map(|&i| full[i as usize]).collect();
			assert_eq!(part, want, "seq {seq}, batches {batches:?}");
		}
		// Out of order, repeated or out of range: refused.
		for bad in [vec![3u32, 2], vec![4, 4], vec![41]] {
			assert!(evaluate_windows(&m, &mut e, text, seq, 8, &bad, &mut |_, _| Ok(())).is_err());
		}
	}
	assert_eq!(batch_windows(&[0, 5, 9], 41), [0, 1, 2, 3, 4, 5, 6, 7, 40]);
}

#[test]
fn a_bytes_loss_is_capped_and_the_record_round_trips() {
	// Capped at MAX_BYTE_LOSS_NATS per byte; NaN counts as the cap.
	let cap = (f64::from(MAX_BYTE_LOSS_NATS) * 1e9) as u64;
	assert_eq!(blyan_moe::eval::window_nano_nats(&[-1000.0, f32::NAN]), 2 * cap);
	assert_eq!(blyan_moe::eval::window_nano_nats(&[-0.5, -0.25]), 750_000_000);
	let rec = EvalRecord { windows: vec![(1, 2), (u64::MAX, 0), (7, 9)] };
	let bytes = rec.to_bytes();
	assert_eq!(bytes.len() as u64, EvalRecord::len_of(3));
	assert_eq!(EvalRecord::from_bytes(&bytes, 3).unwrap(), rec);
	assert!(EvalRecord::from_bytes(&bytes, 2).is_err());
	assert!(EvalRecord::from_bytes(&bytes[..bytes.len() - 1], 3).is_err());
	let mut other = bytes.clone();
	other[0] ^= 1;
	assert!(EvalRecord::from_bytes(&other, 3).is_err());
	// (1 + 7) / 4 bytes and (2 + 9) / 4 = 2.75, rounded half up.
	let (b, c) = EvalRecord { windows: vec![(1, 2), (7, 9)] }.losses(4);
	assert_eq!((b, c), (2, 3));
}
