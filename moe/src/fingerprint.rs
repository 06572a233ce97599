//! The engine fingerprint: whether this machine and this build compute the consensus path
//! (training steps, evaluation windows) bit for bit like another.
//!
//! Validators replay a trainer's segments and recompute its evaluation windows, and compare
//! bits. A CPU without FMA (gemm's scalar kernels round every product), another architecture,
//! another libm, a build with `-C target-cpu=native` (candle's vector code is chosen at compile
//! time), or an unpatched gemm on a CPU with another L1 cache (vendor/README.md) computes other
//! bits: an honest trainer would fail the replay. The fingerprint runs a small fixed workload
//! through the same code and hashes the result. The trainer writes it into the manifest
//! ([`crate::train::Manifest::engine`]); a validator whose own fingerprint differs does not
//! judge the claim and reports `ReplayVerdict::EngineMismatch`, which rejects it without a slash
//! (docs/engine.md "Determinism across CPU kinds").
//!
//! The workload (about 0.2 s on 2 cores): the `test` model initialised with seed 1, every unit
//! trained for [`STEPS`] AdamW steps on [`BATCH_SIZE`] × [`SEQ_LEN`] = 1 024 tokens of
//! [`PROBE_TEXT`] (so the weight gradients are sums of 1 024 products, deeper than one gemm
//! block), then one record batch of evaluation windows of the trained model. It is a sample:
//! a difference it misses can still fail a replay, which is why the kernels themselves are
//! also pinned (vendor/README.md).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use blyan_primitives::Hash;

use crate::data::Batch;
use crate::eval::{evaluate_windows, RECORD_BATCH};
use crate::model::{var_builder, Model, ResidentExperts};
use crate::optim::AdamWParams;
use crate::train::TrainState;
use crate::units::all_units;
use crate::{Config, Result};

/// Domain of the fingerprint hash; bump the version when the workload changes.
pub const DOMAIN: &[u8] = b"blyan/engine-fingerprint/v1";
/// Training steps of the workload.
pub const STEPS: usize = 2;
/// Rows per training batch.
pub const BATCH_SIZE: usize = 16;
/// Bytes per row (the `test` model's context).
pub const SEQ_LEN: usize = 64;
/// The workload's text, cycled.
pub const PROBE_TEXT: &[u8] = b"A fortune: the quick brown fox jumps over the lazy dog, \
	and every validator computes the same bits as the trainer did.\n%\n";

/// The fingerprint of this process's engine: `blake3(DOMAIN ‖ checkpoint ‖ window losses)`
/// of the workload in the module docs. Computed once per process and cached.
///
/// Errors: engine errors of the workload (none are expected on a working build).
pub fn engine_fingerprint() -> Result<Hash> {
	static CACHE: OnceLock<Hash> = OnceLock::new();
	if let Some(h) = CACHE.get() {
		return Ok(*h);
	}
	let h = compute()?;
	Ok(*CACHE.get_or_init(|| h))
}

/// `0x`-prefixed hex of [`engine_fingerprint`], the form the manifest carries.
///
/// Errors: those of [`engine_fingerprint`].
pub fn engine_fingerprint_hex() -> Result<String> {
	Ok(format!("0x{}", hex::encode(engine_fingerprint()?)))
}

fn probe_bytes(n: usize, offset: usize) -> Vec<u8> {
	(0..n).map(|i| PROBE_TEXT[(i + offset) % PROBE_TEXT.len()]).collect()
}

fn compute() -> Result<Hash> {
	let cfg = Config::test();
	let weights = crate::model::init_weights(&cfg, 1)?;
	let trained: BTreeSet<_> = all_units(&cfg).into_iter().collect();
	let mut state = TrainState::new(&cfg, weights, &trained, AdamWParams::with_lr(3e-3))?;
	for step in 0..STEPS {
		// Row r starts at byte 7·r + step of the cycled text; the target is the next byte.
		let mut inputs = Vec::with_capacity(BATCH_SIZE * SEQ_LEN);
		let mut targets = Vec::with_capacity(BATCH_SIZE * SEQ_LEN);
		for row in 0..BATCH_SIZE {
			let bytes = probe_bytes(SEQ_LEN + 1, 7 * row + step);
			inputs.extend(bytes[..SEQ_LEN].iter().map(|&b| u32::from(b)));
			targets.extend(bytes[1..].iter().map(|&b| u32::from(b)));
		}
		let batch = Batch { inputs, targets, hash: [0; 32] };
		state.step(&batch, BATCH_SIZE, SEQ_LEN)?;
	}
	let mut hasher = blake3::Hasher::new();
	hasher.update(DOMAIN);
	hasher.update(&state.checkpoint_bytes()?);

	let vb = var_builder(state.weights());
	let model = Model::new(&cfg, vb.clone())?;
	let mut experts = ResidentExperts::new(&cfg, &vb)?;
	let text = probe_bytes(RECORD_BATCH * SEQ_LEN + 1, 3);
	let select: Vec<u32> = (0..RECORD_BATCH as u32).collect();
	let losses = evaluate_windows(
		&model,
		&mut experts,
		&text,
		SEQ_LEN,
		RECORD_BATCH,
		&select,
		&mut |_, _| Ok(()),
	)?;
	for l in losses {
		hasher.update(&l.to_le_bytes());
	}
	Ok(*hasher.finalize().as_bytes())
}

/// A one-line description of the CPU features the engine's results depend on, for logs and
/// the `fingerprint` command: the architecture, then (x86) whether gemm's FMA kernels run
/// (`fma`, else its scalar kernels, which round each product) and which wider units exist
/// but are unused (gemm's AVX-512 kernels are not compiled: they need its nightly `x86-v4`
/// feature).
pub fn cpu_kind() -> String {
	#[cfg(target_arch = "x86_64")]
	{
		let mut out = String::from("x86_64");
		for (name, on) in [
			("fma", std::arch::is_x86_feature_detected!("fma")),
			("avx2", std::arch::is_x86_feature_detected!("avx2")),
			("avx512f(unused)", std::arch::is_x86_feature_detected!("avx512f")),
		] {
			if on {
				out.push(' ');
				out.push_str(name);
			}
		}
		out
	}
	#[cfg(not(target_arch = "x86_64"))]
	{
		std::env::consts::ARCH.to_string()
	}
}
