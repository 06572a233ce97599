//! Evaluation: mean cross-entropy over a validation text, in nats per byte.
//!
//! The text is cut into windows of `seq_len + 1` bytes with stride `seq_len`, so every byte
//! after the first is predicted exactly once, the last window possibly shorter. Per-byte
//! losses are computed in f32 by the model and summed in f64, window after window, position
//! after position: a fixed order, so the result is bitwise identical across thread counts
//! (tested in `tests/determinism.rs`).

use candle_core::{Device, Tensor, D};
use serde::Serialize;

use crate::model::{ExpertSource, Model, MoeMode};
use crate::{Error, Result};

/// Result of an evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct EvalReport {
	/// Mean cross-entropy, nats per byte.
	pub nats_per_byte: f64,
	/// The same in bits per byte (`nats / ln 2`).
	pub bits_per_byte: f64,
	/// Bytes predicted.
	pub bytes: u64,
	/// Sum of the per-byte losses, nats.
	pub total_nats: f64,
}

/// Evaluates `model` with `experts` on `text` (see the module docs); `batch_size` windows run
/// per forward pass. Progress goes to `progress(done, total)` in windows; an error it
/// returns (for example [`Error::Stopped`]) ends the evaluation with that error.
///
/// Errors: [`Error::InvalidTraining`] when `text` has fewer than 2 bytes or `seq_len` is out
/// of range; expert-fetching errors.
pub fn evaluate(
	model: &Model,
	experts: &mut dyn ExpertSource,
	text: &[u8],
	seq_len: usize,
	batch_size: usize,
	progress: &mut dyn FnMut(usize, usize) -> Result<()>,
) -> Result<EvalReport> {
	if text.len() < 2 {
		return Err(Error::InvalidTraining("the validation text needs at least 2 bytes".into()));
	}
	if seq_len == 0 || seq_len > model.config().max_position_embeddings || batch_size == 0 {
		return Err(Error::InvalidTraining("seq_len or batch_size out of range".into()));
	}
	let windows: Vec<&[u8]> = (0..text.len() - 1)
		.step_by(seq_len)
		.map(|start| &text[start..(start + seq_len + 1).min(text.len())])
		.collect();
	let total = windows.len();
	let mut total_nats = 0f64;
	let mut bytes = 0u64;
	let mut done = 0;
	// Full windows go in batches; the last, shorter window (if any) alone.
	for group in windows.chunk_by(|a, b| a.len() == b.len()) {
		for chunk in group.chunks(batch_size) {
			let (b_sz, len) = (chunk.len(), chunk[0].len() - 1);
			let ids: Vec<u32> =
				chunk.iter().flat_map(|w| w[..len].iter().map(|&x| u32::from(x))).collect();
			let tgt: Vec<u32> =
				chunk.iter().flat_map(|w| w[1..].iter().map(|&x| u32::from(x))).collect();
			let ids = Tensor::from_vec(ids, (b_sz, len), &Device::Cpu)?;
			let tgt = Tensor::from_vec(tgt, (b_sz * len, 1), &Device::Cpu)?;
			let logits = model.forward(&ids, experts, MoeMode::Selective)?.logits;
			let logp = candle_nn::ops::log_softmax(
				&logits.reshape((b_sz * len, model.config().vocab_size))?,
				D::Minus1,
			)?;
			let picked: Vec<f32> = logp.gather(&tgt, 1)?.flatten_all()?.to_vec1()?;
			for lp in picked {
				total_nats -= f64::from(lp);
			}
			bytes += (b_sz * len) as u64;
			done += b_sz;
			progress(done, total)?;
		}
	}
	let nats_per_byte = total_nats / bytes as f64;
	Ok(EvalReport {
		nats_per_byte,
		bits_per_byte: nats_per_byte / std::f64::consts::LN_2,
		bytes,
		total_nats,
	})
}

/// Default evaluation batch: windows per forward pass of [`evaluate_index`] callers (the CLI
/// and the node's validators use the same value; the result does not depend on it, see the
/// module docs).
pub const DEFAULT_EVAL_BATCH: usize = 16;

/// Loads every unit of `index` from `store` (hash-verified), builds the model and evaluates
/// it on `text` with windows of `seq_len` bytes ([`evaluate`]).
///
/// Errors: store and decoding errors of [`crate::store::ModelIndex::load_weights`]; those of
/// [`evaluate`].
pub fn evaluate_index(
	index: &crate::store::ModelIndex,
	store: &dyn crate::store::UnitStore,
	text: &[u8],
	seq_len: usize,
	batch_size: usize,
	progress: &mut dyn FnMut(usize, usize) -> Result<()>,
) -> Result<EvalReport> {
	let weights = index.load_weights(store, None)?;
	let vb = crate::model::var_builder(&weights);
	let model = Model::new(&index.config, vb.clone())?;
	let mut experts = crate::model::ResidentExperts::new(&index.config, &vb)?;
	evaluate(&model, &mut experts, text, seq_len, batch_size, progress)
}
