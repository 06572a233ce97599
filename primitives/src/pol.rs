//! The vocabulary of Proof-of-Learning (SPEC "Proof-of-Learning and Proof-of-Data-Learning"):
//! loss units, improvements, the training parameters a claim commits to and their limits,
//! the replay challenge, the replay verdict, validators' reports and their commitments, the
//! decision quorum, and the deterrence inequality. The runtime (pallet-pol, pallet-trainer),
//! the node's engine service and the `blyan-moe` CLI all use these definitions; none keeps a
//! copy.
//!
//! Units: losses are nano-nats per byte ([`NanoNatsPerByte`]); improvements and tolerances
//! are parts per million ([`PPM`]); balances are planck (`u128`); windows are blocks.

use crate::{DatasetId, Hash};
use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

/// One million: the denominator of every `*_ppm` value (parts per million).
pub const PPM: u32 = 1_000_000;

/// Sequential claim id (the first claim is 0).
pub type ClaimId = u64;

/// Validation loss in nano-nats per byte: `round(nats_per_byte × 10^9)`.
///
/// Validators compute the mean cross-entropy in nats per byte as an `f64` (bitwise
/// deterministic on CPU, docs/engine.md) and convert it with [`loss_from_nats_per_byte`], so
/// honest reports are identical integers. [`UNDECODABLE_LOSS`] stands for a candidate that is
/// not a valid unit payload.
pub type NanoNatsPerByte = u64;

/// The loss reported for a candidate payload that does not decode as the claimed unit (wrong
/// tensors, shapes, dtype or bytes): `u64::MAX`, so its improvement is maximally negative and
/// the claim fails `InsufficientImprovement`.
pub const UNDECODABLE_LOSS: NanoNatsPerByte = u64::MAX;

/// Converts nats per byte to [`NanoNatsPerByte`] (round half away from zero; negative and NaN
/// map to 0, values beyond `u64` saturate).
pub fn loss_from_nats_per_byte(nats_per_byte: f64) -> NanoNatsPerByte {
	let scaled = nats_per_byte * 1e9;
	if scaled.is_nan() || scaled <= 0.0 {
		0
	} else if scaled >= u64::MAX as f64 {
		u64::MAX
	} else {
		// `as` truncates; adding 0.5 first rounds half away from zero for positive values.
		(scaled + 0.5) as u64
	}
}

/// Nats per byte of a [`NanoNatsPerByte`] (for display).
pub fn nats_per_byte(loss: NanoNatsPerByte) -> f64 {
	loss as f64 / 1e9
}

/// Relative improvement `(parent − candidate) / parent` in parts per million, rounded toward
/// zero; negative when the candidate is worse. A parent loss of 0 gives 0.
///
/// SPEC "Proof-of-Learning": a claim is accepted when this is at least δ
/// (pallet-pol's `MinImprovement`, default 0.5 % = 5 000 ppm).
pub fn improvement_ppm(parent: NanoNatsPerByte, candidate: NanoNatsPerByte) -> i64 {
	if parent == 0 {
		return 0;
	}
	let diff = i128::from(parent) - i128::from(candidate);
	let ppm = diff.saturating_mul(i128::from(PPM)) / i128::from(parent);
	ppm.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Whether `a` and `b` differ by at most `tolerance_ppm` parts per million of the larger one.
pub fn within_ppm(a: u64, b: u64, tolerance_ppm: u32) -> bool {
	let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
	let diff = u128::from(hi - lo);
	diff.saturating_mul(u128::from(PPM)) <= u128::from(hi).saturating_mul(u128::from(tolerance_ppm))
}

/// The lower median of `values` (sorts them). `None` when empty.
pub fn lower_median<V: Ord + Copy>(values: &mut [V]) -> Option<V> {
	if values.is_empty() {
		return None;
	}
	values.sort_unstable();
	values.get((values.len() - 1) / 2).copied()
}

/// One dataset a trainer declares, with its mixing ratio (PoDL manifest, claim, engine jobs).
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	PartialOrd,
	Ord,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct DatasetShare {
	/// Approved dataset (Chain D).
	pub dataset: DatasetId,
	/// Share of training batches drawn from it, parts per million; the shares of a claim sum
	/// to exactly [`PPM`].
	pub ratio_ppm: u32,
}

/// The training hyper-parameters a claim commits to. The PoDL manifest must state exactly
/// these, and validators refuse a manifest that does not ([`ReplayVerdict::Unbound`]).
/// pallet-pol checks them against its [`ManifestLimits`] at `submit_claim`; the engine checks
/// them again before it allocates anything.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct TrainingParams {
	/// Seed of the batch stream.
	pub seed: u64,
	/// Optimiser steps.
	pub steps: u32,
	/// Steps per segment (K): a checkpoint every K steps.
	pub checkpoint_every: u32,
	/// Rows per batch.
	pub batch_size: u32,
	/// Bytes (tokens) per row.
	pub seq_len: u32,
}

impl TrainingParams {
	/// Number of segments, `⌈steps / K⌉` (0 when K is 0): the challenge draws among
	/// `0..segments`.
	pub fn segments(&self) -> u32 {
		if self.checkpoint_every == 0 {
			return 0;
		}
		self.steps.div_ceil(self.checkpoint_every)
	}

	/// Tokens per step: `batch_size × seq_len` (saturating).
	pub fn tokens_per_step(&self) -> u64 {
		u64::from(self.batch_size).saturating_mul(u64::from(self.seq_len))
	}
}

/// Why [`TrainingParams`] are outside [`ManifestLimits`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ParamsError {
	/// `steps` is 0 or above `max_steps`.
	Steps,
	/// `checkpoint_every` is 0 or above `steps`.
	CheckpointInterval,
	/// More than `max_segments` segments.
	Segments,
	/// `batch_size` is 0 or above `max_batch_size`.
	BatchSize,
	/// `seq_len` is 0 or above `max_seq_len`.
	SeqLen,
	/// `batch_size × seq_len` above `max_tokens_per_step`.
	TokensPerStep,
}

/// Bounds on what one claim may ask of a validator (issue #9: a manifest must not be able to
/// exhaust a validator's memory or time). Runtime constants of pallet-pol; the worker passes
/// them to the engine with every replay, and the engine checks the manifest against them
/// before it fetches checkpoints or builds a batch.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct ManifestLimits {
	/// Most optimiser steps.
	pub max_steps: u32,
	/// Most segments (`⌈steps / K⌉`); the deterrence inequality is sized for this many.
	pub max_segments: u32,
	/// Most rows per batch.
	pub max_batch_size: u32,
	/// Most bytes per row.
	pub max_seq_len: u32,
	/// Most tokens per step (`batch_size × seq_len`): bounds the activations of one step.
	pub max_tokens_per_step: u32,
	/// Largest manifest payload, bytes: the engine does not fetch a bigger one.
	pub max_manifest_bytes: u32,
}

impl ManifestLimits {
	/// Checks `p` against the limits; the first failing bound in the order of
	/// [`ParamsError`].
	pub fn check(&self, p: &TrainingParams) -> Result<(), ParamsError> {
		if p.steps == 0 || p.steps > self.max_steps {
			return Err(ParamsError::Steps);
		}
		if p.checkpoint_every == 0 || p.checkpoint_every > p.steps {
			return Err(ParamsError::CheckpointInterval);
		}
		if p.segments() > self.max_segments {
			return Err(ParamsError::Segments);
		}
		if p.batch_size == 0 || p.batch_size > self.max_batch_size {
			return Err(ParamsError::BatchSize);
		}
		if p.seq_len == 0 || p.seq_len > self.max_seq_len {
			return Err(ParamsError::SeqLen);
		}
		if p.tokens_per_step() > u64::from(self.max_tokens_per_step) {
			return Err(ParamsError::TokensPerStep);
		}
		Ok(())
	}

	/// A manifest size bound that fits any manifest within the other limits: 80 bytes per
	/// batch hash and checkpoint root (64 hex digits, quotes, comma, indentation), 512 bytes
	/// per dataset entry for up to `max_datasets` datasets, and 16 KiB for the rest (config,
	/// parent unit hashes, parameters).
	pub const fn manifest_bytes_for(max_steps: u32, max_segments: u32, max_datasets: u32) -> u32 {
		16 * 1024 + 80 * (max_steps + max_segments + 1) + 512 * max_datasets
	}
}

/// Outcome of a validator's replay of a claim's challenged segments (engine job
/// `ReplayClaim`). Only [`ReplayVerdict::Match`] can accept; the others are the trainer's
/// fault and slash its bond.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum ReplayVerdict {
	/// The manifest is bound to the claim (see [`ReplayVerdict::Unbound`]), its last
	/// checkpoint holds exactly the candidate payload, and every challenged segment, re-run
	/// from its start checkpoint on the committed batches, ended bitwise equal to the next
	/// committed checkpoint.
	Match,
	/// A challenged segment's batches did not hash to the committed batch hashes of the named
	/// datasets, or the segment ended elsewhere than the committed checkpoint.
	Mismatch,
	/// The manifest does not hold together with the claim: it is not valid JSON of the
	/// engine's manifest, exceeds the [`ManifestLimits`], names another trainer, unit,
	/// parent model, dataset list or training parameters, or its result is not the candidate
	/// or not the trained tensors of its last checkpoint.
	Unbound,
	/// The manifest or a needed checkpoint was not in the content store when the validator
	/// replayed (the trainer publishes them after the challenge), or the claim's evaluation
	/// record was not when it evaluated.
	Unavailable,
	/// The claim's evaluation record (`ClaimInput::eval_root`) is not one of the validation
	/// set's windows, or one of the windows drawn for checking
	/// ([`challenge_eval_batches`]) differs from the validator's own loss of that window for the
	/// base model or the candidate (docs/pol.md "Verification by sampled windows").
	EvaluationMismatch,
	/// The validator did not judge: the manifest's engine fingerprint differs from the
	/// validator's own (another CPU kind or build computes other bits, docs/engine.md
	/// "Determinism across CPU kinds"). A quorum on it rejects the claim without a slash.
	EngineMismatch,
}

/// A validator's evaluation of one claim (SPEC "Proof-of-Learning"). Honest validators compute
/// the same report bit for bit.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct EvalReport {
	/// Validation loss of the parent model, nano-nats per byte (0 when the replay failed: a
	/// claim that does not replay is not evaluated).
	pub parent_loss: NanoNatsPerByte,
	/// Validation loss with the candidate unit swapped in, nano-nats per byte
	/// ([`UNDECODABLE_LOSS`] for an undecodable payload; 0 when the replay failed).
	pub candidate_loss: NanoNatsPerByte,
	/// Replay outcome.
	pub replay: ReplayVerdict,
	/// Merkle root ([`crate::merkle_root`]) of the reproduced checkpoint roots in segment
	/// order, then the final checkpoint's root; zero unless `Match`.
	pub replay_digest: Hash,
}

/// Domain separator of report commitments.
const COMMITMENT_DOMAIN: &[u8] = b"blyan/pol/report-commitment/v1";

/// The commitment a validator submits before revealing its report:
/// `blake3(domain ‖ SCALE(claim, validator, report, salt))`.
///
/// The validator's own account is inside the hash, so copying another validator's commitment
/// and later its revealed `(report, salt)` does not open: the copier's reveal fails.
/// `salt` is 32 fresh random bytes per claim, kept by the validator until it reveals.
pub fn report_commitment<A: Encode>(
	claim: ClaimId,
	validator: &A,
	report: &EvalReport,
	salt: &Hash,
) -> Hash {
	let mut h = blake3::Hasher::new();
	h.update(COMMITMENT_DOMAIN);
	h.update(&(claim, validator, report, salt).encode());
	*h.finalize().as_bytes()
}

/// Identical reports needed to decide a claim: ⌈⅔ · validators⌉, at least 1.
pub fn decision_threshold(validators: u32) -> u32 {
	(u64::from(validators.max(1)) * 2).div_ceil(3) as u32
}

/// Domain separator of the challenge draw.
const CHALLENGE_DOMAIN: &[u8] = b"blyan/pol/challenge/v1";

/// The challenged segments of claim `claim` with `segments` training segments:
/// `min(r, segments)` distinct indices in `0..segments`, ascending, drawn from `seed` (on-chain
/// randomness that did not exist when the trainer committed).
///
/// Every subset of that size is equally likely: Floyd's sampling algorithm over uniform
/// integers read from the blake3 extendable output of
/// `domain ‖ seed ‖ claim (u64 LE) ‖ segments (u32 LE)`, with rejection sampling (no modulo
/// bias). At most `r` entries are held; nothing scales with `segments`.
pub fn challenge_segments(seed: &Hash, claim: ClaimId, segments: u32, r: u32) -> Vec<u32> {
	draw_distinct(CHALLENGE_DOMAIN, seed, claim, segments, r)
}

/// Domain separator of the draw of checked evaluation windows.
const WINDOWS_DOMAIN: &[u8] = b"blyan/pol/eval-windows/v1";

/// Validators recompute one in `EVAL_CHECK_DIVISOR` evaluation batches of a claim's
/// evaluation record (docs/pol.md "Verification by sampled windows"): a record with one false
/// batch passes with probability at most `1 − 1/EVAL_CHECK_DIVISOR`, which
/// [`window_lie_never_pays`] prices.
pub const EVAL_CHECK_DIVISOR: u32 = 32;

/// The evaluation batches validators recompute for claim `claim` whose record has `batches`
/// batches of windows: `⌈batches / EVAL_CHECK_DIVISOR⌉` distinct indices in `0..batches`,
/// ascending, drawn from the claim's challenge `seed` like [`challenge_segments`] (another
/// domain). Holds and draws `O(batches / 32)` entries with `O((batches / 32)²)` comparisons:
/// off-chain only.
pub fn challenge_eval_batches(seed: &Hash, claim: ClaimId, batches: u32) -> Vec<u32> {
	draw_distinct(WINDOWS_DOMAIN, seed, claim, batches, batches.div_ceil(EVAL_CHECK_DIVISOR))
}

/// Whether lying about any number of windows of an evaluation record has a negative expected
/// value for a trainer when a caught claim loses `slash` and a passing one earns at most
/// `gain` (planck): a false window lies in one of `b` batches, which is among the `⌈b / 32⌉`
/// checked with probability `q ≥ 1/32` (equality when 32 divides `b`); more false batches only
/// raise `q`, so the condition is `(1 − 1/32) · gain < slash / 32` — that of one forged segment
/// in 32 with one replayed ([`forgery_never_pays`]`(EVAL_CHECK_DIVISOR, 1, ..)`).
pub fn window_lie_never_pays(slash: u128, gain: u128) -> bool {
	forgery_never_pays(EVAL_CHECK_DIVISOR, 1, slash, gain)
}

/// `min(want, n)` distinct indices in `0..n`, ascending, uniform over subsets: Floyd's
/// algorithm over rejection-sampled integers from the blake3 XOF of
/// `domain ‖ seed ‖ claim (u64 LE) ‖ n (u32 LE)`.
fn draw_distinct(domain: &[u8], seed: &Hash, claim: ClaimId, segments: u32, r: u32) -> Vec<u32> {
	let want = r.min(segments);
	let mut h = blake3::Hasher::new();
	h.update(domain);
	h.update(seed);
	h.update(&claim.to_le_bytes());
	h.update(&segments.to_le_bytes());
	let mut stream = h.finalize_xof();
	let mut below = |n: u32| -> u32 {
		// Uniform in 0..n by rejection: accept x < n · ⌊2^64 / n⌋.
		let n64 = u64::from(n.max(1));
		let zone = u64::MAX - (u64::MAX % n64 + 1) % n64;
		loop {
			let mut buf = [0u8; 8];
			stream.fill(&mut buf);
			let x = u64::from_le_bytes(buf);
			if x <= zone {
				return (x % n64) as u32;
			}
		}
	};
	// Floyd: for j in S − r .. S, pick t in 0..=j; take t unless already taken, else j.
	let mut chosen: Vec<u32> = Vec::with_capacity(want as usize);
	for j in segments - want..segments {
		let t = below(j + 1);
		if chosen.contains(&t) {
			chosen.push(j);
		} else {
			chosen.push(t);
		}
	}
	chosen.sort_unstable();
	chosen
}

/// Probability, in parts per billion rounded up, that a challenge of `r` of `segments`
/// segments misses all `forged` ones: `C(S − f, r) / C(S, r) = Π_{i<r} (S − f − i)/(S − i)`.
/// 0 when `forged ≥ 1` and every segment is challenged.
pub fn miss_probability_ppb(segments: u32, forged: u32, r: u32) -> u64 {
	const ONE: u128 = 1_000_000_000;
	let (s, f) = (u128::from(segments), u128::from(forged.min(segments)));
	let mut p = ONE;
	for i in 0..u128::from(r.min(segments)) {
		if s - i == 0 || s - f < i + 1 {
			return 0;
		}
		// p · (S − f − i) / (S − i), rounded up: the bound stays on the trainer's side.
		p = (p * (s - f - i)).div_ceil(s - i);
	}
	p as u64
}

/// Whether forging any number of segments has a negative expected value for a trainer, at
/// every segment count up to `max_segments`, when `r` segments are replayed, a caught claim
/// loses `slash` (planck) and a passing claim earns at most `gain` (planck):
///
/// `(1 − q) · gain < q · slash` for all `1 ≤ f ≤ S ≤ max_segments`, where `q = 1 − miss` is the
/// probability that at least one forged segment is challenged (docs/pol.md, "Deterrence").
/// The worst case is one forged segment of the longest claim; the loop checks all.
pub fn forgery_never_pays(max_segments: u32, r: u32, slash: u128, gain: u128) -> bool {
	const ONE: u128 = 1_000_000_000;
	for s in 1..=max_segments {
		for f in 1..=s {
			let miss = u128::from(miss_probability_ppb(s, f, r));
			let caught = ONE - miss.min(ONE);
			// miss · gain < caught · slash, without overflow.
			let lhs = miss.checked_mul(gain);
			let rhs = caught.checked_mul(slash);
			let pays = match (lhs, rhs) {
				(Some(l), Some(r)) => l >= r,
				// Compare the quotients instead (both sides divided by ONE).
				_ => (gain / ONE).saturating_mul(miss) >= (slash / ONE).saturating_mul(caught),
			};
			if pays {
				return false;
			}
		}
	}
	true
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn losses_round_and_saturate() {
		assert_eq!(loss_from_nats_per_byte(5.5), 5_500_000_000);
		assert_eq!(loss_from_nats_per_byte(1.0e-9 * 2.5), 3);
		assert_eq!(loss_from_nats_per_byte(-1.0), 0);
		assert_eq!(loss_from_nats_per_byte(f64::NAN), 0);
		assert_eq!(loss_from_nats_per_byte(f64::INFINITY), u64::MAX);
		assert_eq!(improvement_ppm(5_000, 4_900), 20_000);
		assert_eq!(improvement_ppm(5_000, 5_100), -20_000);
		assert_eq!(improvement_ppm(0, 1), 0);
		assert!(improvement_ppm(5_000, UNDECODABLE_LOSS) < -1_000_000_000);
		assert!(within_ppm(1_000_000, 1_000_001, 1));
		assert!(!within_ppm(1_000_000, 1_000_002, 1));
		assert_eq!(lower_median(&mut [3, 1, 2, 4]), Some(2));
		assert_eq!(lower_median::<u8>(&mut []), None);
	}

	#[test]
	fn params_are_checked_against_every_limit() {
		let limits = ManifestLimits {
			max_steps: 100,
			max_segments: 10,
			max_batch_size: 8,
			max_seq_len: 32,
			max_tokens_per_step: 128,
			max_manifest_bytes: 1 << 20,
		};
		let ok = TrainingParams {
			seed: 1,
			steps: 100,
			checkpoint_every: 10,
			batch_size: 4,
			seq_len: 32,
		};
		assert_eq!(limits.check(&ok), Ok(()));
		assert_eq!(ok.segments(), 10);
		let with = |f: fn(&mut TrainingParams)| {
			let mut p = ok;
			f(&mut p);
			limits.check(&p)
		};
		assert_eq!(with(|p| p.steps = 0), Err(ParamsError::Steps));
		assert_eq!(with(|p| p.steps = 101), Err(ParamsError::Steps));
		assert_eq!(with(|p| p.checkpoint_every = 0), Err(ParamsError::CheckpointInterval));
		assert_eq!(with(|p| p.checkpoint_every = 101), Err(ParamsError::CheckpointInterval));
		assert_eq!(with(|p| p.checkpoint_every = 9), Err(ParamsError::Segments));
		assert_eq!(with(|p| p.batch_size = 0), Err(ParamsError::BatchSize));
		assert_eq!(with(|p| p.batch_size = 9), Err(ParamsError::BatchSize));
		assert_eq!(with(|p| p.seq_len = 0), Err(ParamsError::SeqLen));
		assert_eq!(with(|p| p.seq_len = 33), Err(ParamsError::SeqLen));
		assert_eq!(with(|p| p.batch_size = 5), Err(ParamsError::TokensPerStep));
		// A partial last segment counts.
		let p = TrainingParams { steps: 95, checkpoint_every: 10, ..ok };
		assert_eq!(p.segments(), 10);
		// u32::MAX everything is refused, never overflows.
		let huge = TrainingParams {
			seed: 0,
			steps: u32::MAX,
			checkpoint_every: 1,
			batch_size: u32::MAX,
			seq_len: u32::MAX,
		};
		assert!(limits.check(&huge).is_err());
		assert_eq!(huge.tokens_per_step(), u64::from(u32::MAX) * u64::from(u32::MAX));
	}

	#[test]
	fn the_challenge_is_distinct_sorted_complete_and_seed_dependent() {
		let seed = [7u8; 32];
		for segments in 0..40 {
			for r in 0..6 {
				let c = challenge_segments(&seed, 3, segments, r);
				assert_eq!(c.len() as u32, r.min(segments));
				assert!(c.windows(2).all(|w| w[0] < w[1]), "{c:?}");
				assert!(c.iter().all(|s| *s < segments));
			}
		}
		assert_eq!(challenge_segments(&seed, 3, 30, 2), challenge_segments(&seed, 3, 30, 2));
		let other_claim = challenge_segments(&seed, 4, 30, 2);
		let other_seed = challenge_segments(&[8u8; 32], 3, 30, 2);
		let base = challenge_segments(&seed, 3, 30, 2);
		assert!(other_claim != base || other_seed != base);
	}

	#[test]
	fn the_challenge_is_uniform() {
		// Each of 10 segments is challenged with probability r/S = 0.3; over 20 000 seeds the
		// count per segment is 6 000 ± 5σ (σ ≈ 65).
		let mut counts = [0u32; 10];
		for i in 0u32..20_000 {
			let mut seed = [0u8; 32];
			seed[..4].copy_from_slice(&i.to_le_bytes());
			for s in challenge_segments(&seed, 0, 10, 3) {
				counts[s as usize] += 1;
			}
		}
		for c in counts {
			assert!((5_675..=6_325).contains(&c), "{counts:?}");
		}
	}

	#[test]
	fn miss_probability_is_hypergeometric() {
		// C(28, 2) / C(30, 2) = 378 / 435.
		assert_eq!(miss_probability_ppb(30, 2, 2), (378u64 * 1_000_000_000).div_ceil(435));
		assert_eq!(miss_probability_ppb(30, 0, 2), 1_000_000_000);
		assert_eq!(miss_probability_ppb(2, 1, 2), 0, "everything is replayed");
		assert_eq!(miss_probability_ppb(30, 30, 2), 0);
		// One of S forged, r replayed: (S − r) / S.
		assert_eq!(miss_probability_ppb(32, 1, 2), 937_500_000);
	}

	#[test]
	fn forgery_pays_only_when_the_slash_is_small() {
		// S ≤ 32, r = 2: one forged segment escapes with probability 30/32, so the slash must
		// exceed 15 × the gain.
		assert!(forgery_never_pays(32, 2, 151, 10));
		assert!(!forgery_never_pays(32, 2, 150, 10));
		assert!(!forgery_never_pays(32, 2, 50, 10));
		// Planck-sized numbers do not overflow.
		let bly = 1_000_000_000_000u128;
		assert!(forgery_never_pays(32, 2, 100 * bly, 6 * bly));
		assert!(!forgery_never_pays(32, 2, 50 * bly, 6 * bly));
		assert!(forgery_never_pays(32, 2, u128::MAX / 2, 6 * bly));
	}

	#[test]
	fn checked_batches_are_one_in_32_distinct_and_apart_from_the_segments() {
		let seed = [9u8; 32];
		for n in [0u32, 1, 31, 32, 33, 64, 1_000, 1_970] {
			let w = challenge_eval_batches(&seed, 5, n);
			assert_eq!(w.len() as u32, n.div_ceil(EVAL_CHECK_DIVISOR));
			assert!(w.windows(2).all(|p| p[0] < p[1]) && w.iter().all(|i| *i < n), "{w:?}");
		}
		// Another domain than the segment draw: the same seed gives other indices.
		assert_ne!(
			challenge_eval_batches(&seed, 5, 1_000),
			challenge_segments(&seed, 5, 1_000, 32)
		);
		assert_ne!(
			challenge_eval_batches(&seed, 5, 1_000),
			challenge_eval_batches(&seed, 6, 1_000)
		);
		// A lie in one batch of 64 is caught by 2 checked of 64: probability 1/32.
		let caught = (0u32..6_400)
			.filter(|i| {
				let mut s = [0u8; 32];
				s[..4].copy_from_slice(&i.to_le_bytes());
				challenge_eval_batches(&s, 0, 64).contains(&17)
			})
			.count();
		// 200 expected, σ ≈ 14: ± 5σ.
		assert!((130..=270).contains(&caught), "{caught}");
	}

	#[test]
	fn a_window_lie_pays_only_when_the_slash_is_below_31_gains() {
		// (31/32) · gain < slash / 32  ⇔  slash > 31 · gain.
		assert!(window_lie_never_pays(311, 10));
		assert!(!window_lie_never_pays(310, 10));
		let bly = 1_000_000_000_000u128;
		assert!(window_lie_never_pays(200 * bly, 6 * bly));
		assert!(!window_lie_never_pays(180 * bly, 6 * bly));
	}

	#[test]
	fn commitments_bind_claim_validator_report_and_salt() {
		let report = EvalReport {
			parent_loss: 5,
			candidate_loss: 4,
			replay: ReplayVerdict::Match,
			replay_digest: [1; 32],
		};
		let c = report_commitment(1, &7u64, &report, &[9; 32]);
		assert_ne!(c, report_commitment(2, &7u64, &report, &[9; 32]));
		assert_ne!(c, report_commitment(1, &8u64, &report, &[9; 32]));
		assert_ne!(c, report_commitment(1, &7u64, &report, &[8; 32]));
		let other = EvalReport { candidate_loss: 3, ..report };
		assert_ne!(c, report_commitment(1, &7u64, &other, &[9; 32]));
	}

	#[test]
	fn the_threshold_is_two_thirds_rounded_up() {
		let t: Vec<u32> = (0..=7).map(decision_threshold).collect();
		assert_eq!(t, [1, 1, 2, 2, 3, 4, 4, 5]);
	}
}
