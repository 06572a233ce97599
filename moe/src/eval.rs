//! Evaluation: mean cross-entropy over a validation text, in nats per byte, and the
//! per-window losses that a Proof-of-Learning claim commits to (docs/pol.md "Verification by
//! sampled windows").
//!
//! The text is cut into windows of `seq_len + 1` bytes with stride `seq_len` ([`windows`]), so
//! every byte after the first is predicted exactly once, the last window possibly shorter.
//! Each byte's loss is `min(−log p, MAX_BYTE_LOSS_NATS)`, computed in f32 by the model; a
//! window's loss is the sum of its bytes' losses in f64, position after position, rounded to
//! whole nano-nats ([`window_nano_nats`]); the text's loss is the integer sum over windows
//! divided by the bytes predicted. Windows of one length are evaluated in batches. A window's
//! loss may depend on the other windows of its batch (matrix sizes pick gemm's kernels), so a
//! claim's evaluation record is computed in fixed batches of [`RECORD_BATCH`] consecutive
//! windows, and validators recompute whole batches: they get the trainer's figures bit for
//! bit (`tests/windows.rs`).

use candle_core::{Device, Tensor, D};
use serde::Serialize;

use crate::model::{ExpertSource, Model, MoeMode};
use crate::{Error, Result};

/// Largest loss one byte contributes, nats (a probability below e^−16 ≈ 1.1·10^−7 counts as
/// that). It bounds what one window can hide: a window of `w` bytes weighs at most
/// `16 · w` nats in the sum (docs/pol.md "Verification by sampled windows").
pub const MAX_BYTE_LOSS_NATS: f32 = 16.0;

/// Result of an evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct EvalReport {
	/// Mean cross-entropy, nats per byte (`total_nano_nats / bytes / 10^9`).
	pub nats_per_byte: f64,
	/// The same in bits per byte (`nats / ln 2`).
	pub bits_per_byte: f64,
	/// Bytes predicted.
	pub bytes: u64,
	/// Sum of the per-byte losses, nats.
	pub total_nats: f64,
	/// Sum of the windows' losses, nano-nats ([`window_nano_nats`]).
	pub total_nano_nats: u64,
}

impl EvalReport {
	/// The report of windows with losses `nano_nats` (nano-nats each) over `bytes` predicted
	/// bytes.
	pub fn of_windows(nano_nats: &[u64], bytes: u64) -> Self {
		let total_nano_nats = nano_nats.iter().fold(0u64, |a, &x| a.saturating_add(x));
		let total_nats = total_nano_nats as f64 / 1e9;
		let nats_per_byte = if bytes == 0 { 0.0 } else { total_nats / bytes as f64 };
		EvalReport {
			nats_per_byte,
			bits_per_byte: nats_per_byte / std::f64::consts::LN_2,
			bytes,
			total_nats,
			total_nano_nats,
		}
	}

	/// The loss as the chain states it: [`nano_nats_per_byte`] of the windows' sum.
	pub fn chain_loss(&self) -> u64 {
		nano_nats_per_byte(u128::from(self.total_nano_nats), self.bytes)
	}
}

/// `sum` nano-nats over `bytes` bytes as nano-nats per byte, rounded half up (0 for no
/// bytes, saturating at `u64::MAX`): the chain's loss figure
/// (`blyan_primitives::pol::NanoNatsPerByte`).
pub fn nano_nats_per_byte(sum: u128, bytes: u64) -> u64 {
	if bytes == 0 {
		return 0;
	}
	let b = u128::from(bytes);
	u64::try_from((sum + b / 2) / b).unwrap_or(u64::MAX)
}

/// The evaluation windows of `text` for `seq_len` (see the module docs): window `i` is
/// `text[i·seq_len .. min(i·seq_len + seq_len + 1, len)]`; empty when `text` has fewer than
/// 2 bytes or `seq_len` is 0.
pub fn windows(text: &[u8], seq_len: usize) -> Vec<&[u8]> {
	if text.len() < 2 || seq_len == 0 {
		return Vec::new();
	}
	(0..text.len() - 1)
		.step_by(seq_len)
		.map(|start| &text[start..(start + seq_len + 1).min(text.len())])
		.collect()
}

/// Bytes predicted over all [`windows`] of `text` at `seq_len` (`len − 1` for a text of 2
/// bytes or more and `seq_len > 0`, else 0).
pub fn predicted_bytes(text: &[u8], seq_len: usize) -> u64 {
	windows(text, seq_len).iter().map(|w| (w.len() - 1) as u64).sum()
}

/// A window's loss in whole nano-nats from its bytes' log-probabilities, in position order:
/// `round(10^9 · Σ min(−lp, MAX_BYTE_LOSS_NATS))`, summed in f64 (NaN counts as the maximum).
pub fn window_nano_nats(log_probs: &[f32]) -> u64 {
	let mut nats = 0f64;
	for &lp in log_probs {
		let loss = if lp.is_nan() { MAX_BYTE_LOSS_NATS } else { (-lp).min(MAX_BYTE_LOSS_NATS) };
		nats += f64::from(loss.max(0.0));
	}
	// `as` saturates; adding 0.5 rounds half away from zero for the non-negative sum.
	(nats * 1e9 + 0.5) as u64
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
	let all: Vec<u32> = (0..windows(text, seq_len).len() as u32).collect();
	let losses = evaluate_windows(model, experts, text, seq_len, batch_size, &all, progress)?;
	Ok(EvalReport::of_windows(&losses, predicted_bytes(text, seq_len)))
}

/// The losses of windows `select` (indices into [`windows`], ascending, each once) in
/// nano-nats ([`window_nano_nats`]), in the order of `select`. Selected windows of one length
/// run `batch_size` at a time. Progress goes to `progress(done, total)` in windows.
///
/// Errors: [`Error::InvalidTraining`] when `text` has fewer than 2 bytes, `seq_len` or
/// `batch_size` is out of range, or `select` is not ascending or names a window past the
/// last; expert-fetching errors.
pub fn evaluate_windows(
	model: &Model,
	experts: &mut dyn ExpertSource,
	text: &[u8],
	seq_len: usize,
	batch_size: usize,
	select: &[u32],
	progress: &mut dyn FnMut(usize, usize) -> Result<()>,
) -> Result<Vec<u64>> {
	if text.len() < 2 {
		return Err(Error::InvalidTraining("the validation text needs at least 2 bytes".into()));
	}
	if seq_len == 0 || seq_len > model.config().max_position_embeddings || batch_size == 0 {
		return Err(Error::InvalidTraining("seq_len or batch_size out of range".into()));
	}
	let all = windows(text, seq_len);
	if select.windows(2).any(|p| p[0] >= p[1])
		|| select.last().is_some_and(|&i| i as usize >= all.len())
	{
		return Err(Error::InvalidTraining("selected windows out of order or range".into()));
	}
	let chosen: Vec<&[u8]> = select.iter().map(|&i| all[i as usize]).collect();
	let total = chosen.len();
	let mut out = Vec::with_capacity(total);
	// Full windows go in batches; the last, shorter window (if selected) alone.
	for group in chosen.chunk_by(|a, b| a.len() == b.len()) {
		for chunk in group.chunks(batch_size) {
			let (b_sz, len) = (chunk.len(), chunk[0].len() - 1);
			let ids: Vec<u32> =
				chunk.iter().flat_map(|w| w[..len].iter().map(|&x| u32::from(x))).collect();
			let tgt: Vec<u32> =
				chunk.iter().flat_map(|w| w[1..].iter().map(|&x| u32::from(x))).collect();
			let ids = Tensor::from_vec(ids, (b_sz, len), &Device::Cpu)?;
			let tgt = Tensor::from_vec(tgt, (b_sz * len, 1), &Device::Cpu)?;
			// logits: (b_sz, len, vocab) → log-probabilities of the targets: (b_sz · len)
			let logits = model.forward(&ids, experts, MoeMode::Selective)?.logits;
			let logp = candle_nn::ops::log_softmax(
				&logits.reshape((b_sz * len, model.config().vocab_size))?,
				D::Minus1,
			)?;
			let picked: Vec<f32> = logp.gather(&tgt, 1)?.flatten_all()?.to_vec1()?;
			out.extend(picked.chunks(len).map(window_nano_nats));
			progress(out.len(), total)?;
		}
	}
	Ok(out)
}

/// Windows per forward pass of the evaluation an [`EvalRecord`] comes from, a consensus
/// constant: batch `b` is windows `[RECORD_BATCH · b, RECORD_BATCH · (b + 1))` (its full
/// windows in one forward pass, a shorter last window alone). Validators recompute whole
/// batches ([`batch_windows`]), so that everyone computes every window in the same batch: a
/// window's loss may depend on the other windows of its forward pass (gemm picks other
/// kernels and blockings for other matrix sizes; `moe/tests/windows.rs`). 8 evaluates as fast
/// as 16 on the dev model and halves what one false batch can hide.
pub const RECORD_BATCH: usize = 8;

/// Number of record batches of `windows` windows.
pub fn record_batches(windows: usize) -> usize {
	windows.div_ceil(RECORD_BATCH)
}

/// The windows of record batches `batches` (ascending) of a text with `windows` windows,
/// ascending; batches past the last are ignored.
pub fn batch_windows(batches: &[u32], windows: usize) -> Vec<u32> {
	batches
		.iter()
		.flat_map(|&b| {
			let start = (b as usize).saturating_mul(RECORD_BATCH).min(windows);
			let end = start.saturating_add(RECORD_BATCH).min(windows);
			(start as u32)..(end as u32)
		})
		.collect()
}

/// Magic bytes that open an [`EvalRecord`].
pub const RECORD_MAGIC: &[u8; 16] = b"blyan/eval/v1\0\0\0";

/// A trainer's evaluation record (docs/pol.md "Verification by sampled windows"): for every
/// window of the validation text ([`windows`]), the loss of the base model and of the
/// candidate model in nano-nats ([`window_nano_nats`]). Encoded as [`RECORD_MAGIC`] then
/// `(base, candidate)` as two little-endian u64 per window: `16 + 16 · windows` bytes.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct EvalRecord {
	/// `(base, candidate)` nano-nats, one pair per window in window order.
	pub windows: Vec<(u64, u64)>,
}

impl EvalRecord {
	/// Encoded size of a record of `windows` windows, bytes.
	pub fn len_of(windows: usize) -> u64 {
		16 + 16 * windows as u64
	}

	/// The encoding (see the type docs).
	pub fn to_bytes(&self) -> Vec<u8> {
		let mut out = Vec::with_capacity(Self::len_of(self.windows.len()) as usize);
		out.extend_from_slice(RECORD_MAGIC);
		for (b, c) in &self.windows {
			out.extend_from_slice(&b.to_le_bytes());
			out.extend_from_slice(&c.to_le_bytes());
		}
		out
	}

	/// Decodes a record that must have exactly `windows` windows.
	///
	/// Errors: [`Error::InvalidTraining`] for another magic, a length other than
	/// [`EvalRecord::len_of`]`(windows)`.
	pub fn from_bytes(bytes: &[u8], windows: usize) -> Result<Self> {
		if bytes.len() as u64 != Self::len_of(windows) || !bytes.starts_with(RECORD_MAGIC) {
			return Err(Error::InvalidTraining(format!(
				"an evaluation record of {windows} windows has {} bytes opening with {:?}; it has {} bytes",
				Self::len_of(windows),
				RECORD_MAGIC,
				bytes.len()
			)));
		}
		let word = |c: &[u8]| u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
		Ok(EvalRecord {
			windows: bytes[16..].chunks_exact(16).map(|c| (word(&c[..8]), word(&c[8..]))).collect(),
		})
	}

	/// The base model's and the candidate's loss over all windows, nano-nats per byte of the
	/// `bytes` predicted: `(Σ base / bytes, Σ candidate / bytes)`, rounded half up.
	pub fn losses(&self, bytes: u64) -> (u64, u64) {
		let base = self.windows.iter().map(|w| u128::from(w.0)).sum();
		let cand = self.windows.iter().map(|w| u128::from(w.1)).sum();
		(nano_nats_per_byte(base, bytes), nano_nats_per_byte(cand, bytes))
	}
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
	let all: Vec<u32> = (0..windows(text, seq_len).len() as u32).collect();
	let losses = evaluate_index_windows(index, store, text, seq_len, batch_size, &all, progress)?;
	Ok(EvalReport::of_windows(&losses, predicted_bytes(text, seq_len)))
}

/// [`evaluate_windows`] of the model `index` (loaded from `store` as by [`evaluate_index`]).
///
/// Errors: those of [`evaluate_index`] and [`evaluate_windows`].
pub fn evaluate_index_windows(
	index: &crate::store::ModelIndex,
	store: &dyn crate::store::UnitStore,
	text: &[u8],
	seq_len: usize,
	batch_size: usize,
	select: &[u32],
	progress: &mut dyn FnMut(usize, usize) -> Result<()>,
) -> Result<Vec<u64>> {
	let weights = index.load_weights(store, None)?;
	let vb = crate::model::var_builder(&weights);
	let model = Model::new(&index.config, vb.clone())?;
	let mut experts = crate::model::ResidentExperts::new(&index.config, &vb)?;
	evaluate_windows(&model, &mut experts, text, seq_len, batch_size, select, progress)
}
