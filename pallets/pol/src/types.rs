//! Types stored and exchanged by the Proof-of-Learning pallet (SPEC "Proof-of-Learning and
//! Proof-of-Data-Learning").

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound};
use frame_system::pallet_prelude::BlockNumberFor;
use scale_info::TypeInfo;
use sp_runtime::DispatchError;

use crate::{BalanceOf, Config};
use blyan_primitives::{DatasetId, Hash};

/// Sequential claim id (the first claim is 0).
pub type ClaimId = u64;

/// One million: the denominator of every `*_ppm` value (parts per million).
pub const PPM: u32 = 1_000_000;

/// Validation loss in nano-nats per byte: `round(nats_per_byte × 10^9)`.
///
/// Validators compute nats per byte as an `f64` (bitwise deterministic on CPU, docs/engine.md)
/// and convert it with [`loss_from_nats_per_byte`], so honest reports are identical integers.
pub type NanoNatsPerByte = u64;

/// Converts nats per byte to [`NanoNatsPerByte`] (round half away from zero; negative and NaN
/// map to 0, values beyond `u64` saturate). Used off-chain by validators and trainers.
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

/// Relative improvement `(parent − candidate) / parent` in parts per million, rounded toward
/// zero; negative when the candidate is worse. A parent loss of 0 gives 0 (nothing to improve).
///
/// SPEC "Proof-of-Learning": the claim is accepted when the median of these values over the
/// validators' reports is at least δ (`Config::MinImprovement`).
pub fn improvement_ppm(parent: NanoNatsPerByte, candidate: NanoNatsPerByte) -> i64 {
	if parent == 0 {
		return 0;
	}
	let diff = i128::from(parent) - i128::from(candidate);
	let ppm = diff.saturating_mul(i128::from(PPM)) / i128::from(parent);
	// |ppm| ≤ 10^6 · u64::MAX / 1, which may exceed i64 only for absurd candidates.
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

/// One dataset a trainer declares in the PoDL manifest, with its mixing ratio.
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
pub struct DatasetShare {
	/// Approved dataset (Chain D).
	pub dataset: DatasetId,
	/// Share of training batches drawn from it, in parts per million; the shares of a claim
	/// sum to exactly [`PPM`].
	pub ratio_ppm: u32,
}

/// What a trainer commits to when claiming an improvement (SPEC "Proof-of-Learning").
#[derive(
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	DebugNoBound,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
#[scale_info(skip_type_params(MaxDatasets))]
#[codec(mel_bound())]
pub struct ClaimInput<MaxDatasets: frame_support::traits::Get<u32>> {
	/// The accepted parameter-DAG block the update starts from (the unit's current
	/// `ParamIndex` entry).
	pub parent: Hash,
	/// Payload root of the updated unit, already committed in the content store.
	pub payload_root: Hash,
	/// Payload root of the PoDL manifest (the engine's `manifest.json`, committed in the
	/// content store): datasets, ratios, seed, steps, learning rate, batch-hash root and the
	/// checkpoint roots every K steps. Validators read it to replay.
	pub manifest_root: Hash,
	/// Datasets trained on, with mixing ratios; must equal the manifest's list.
	pub datasets: BoundedVec<DatasetShare, MaxDatasets>,
	/// Number of training segments (K-step spans between checkpoints) in the manifest; the
	/// replay challenge picks among `0..segments`.
	pub segments: u32,
	/// The candidate's validation loss as the trainer measured it, in nano-nats per byte.
	pub claimed_loss: NanoNatsPerByte,
	/// Light proof-of-work nonce of the new parameter-DAG block (pallet-param-dag's PoW).
	pub nonce: u64,
}

/// Outcome of a validator's replay of the challenged segments.
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
	/// Every challenged segment, re-run from its start checkpoint on the committed batches,
	/// ended bitwise equal to the next committed checkpoint, and the batches matched the
	/// committed batch hashes of the named datasets.
	Match,
	/// A segment ended elsewhere, or a batch did not match its committed hash.
	Mismatch,
	/// The manifest or a needed checkpoint was not in the content store by the deadline, or
	/// did not match the claim (dataset list, segment count, result hash).
	Unavailable,
}

/// A validator's evaluation of one claim (SPEC "Proof-of-Learning").
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
	/// Validation loss of the parent model, nano-nats per byte.
	pub parent_loss: NanoNatsPerByte,
	/// Validation loss with the candidate unit swapped in, nano-nats per byte.
	pub candidate_loss: NanoNatsPerByte,
	/// Replay outcome.
	pub replay: ReplayVerdict,
	/// blake3 over the replayed segments' end-state hashes, in segment order: honest
	/// validators report the same value, so a differing one marks a deviant replay.
	pub replay_digest: Hash,
}

/// Why a claim was rejected.
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
pub enum RejectReason {
	/// The median relative improvement (ppm) was below `MinImprovement`.
	InsufficientImprovement {
		/// The median over the reports, ppm (negative: the candidate is worse).
		median_ppm: i64,
	},
	/// Fewer than half of the reports found the replays matching.
	ReplayMismatch,
	/// The claimed loss is further than `ClaimTolerance` from the median measured one.
	ClaimedLossNotReproduced {
		/// Median candidate loss over the reports, nano-nats per byte.
		measured: NanoNatsPerByte,
	},
	/// The evaluation window ended without a single report. The bond is returned unslashed:
	/// the trainer is not at fault.
	NoReports,
	/// Another update of the same unit was accepted first; the parent is no longer current.
	/// The bond is returned unslashed.
	Superseded,
}

impl RejectReason {
	/// Whether the trainer's bond is slashed (the trainer is at fault).
	pub fn slashes(&self) -> bool {
		!matches!(self, RejectReason::NoReports | RejectReason::Superseded)
	}
}

/// Where a claim stands.
#[derive(
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	DebugNoBound,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
#[scale_info(skip_type_params(MaxSegments))]
#[codec(mel_bound(BlockNumber: MaxEncodedLen))]
pub enum ClaimStage<
	BlockNumber: Clone + PartialEq + Eq + core::fmt::Debug,
	MaxSegments: frame_support::traits::Get<u32>,
> {
	/// Submitted; the replay challenge is drawn at block `at` from the hash of block `at − 1`,
	/// which did not exist when the trainer committed.
	AwaitingChallenge {
		/// Block whose `on_initialize` draws the challenge.
		at: BlockNumber,
	},
	/// Validators evaluate and replay; reports are taken up to and including the claim's
	/// `deadline`.
	Evaluating {
		/// Challenged segment indices, ascending, distinct, each `< segments`.
		segments: BoundedVec<u32, MaxSegments>,
	},
	/// Accepted: the unit's `ParamIndex` entry moved to the claim's block.
	Accepted {
		/// Median relative improvement over the reports, ppm.
		median_ppm: i64,
	},
	/// Rejected for the given reason.
	Rejected(RejectReason),
}

/// A claim as stored.
#[derive(
	CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, Encode, Decode, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound())]
pub struct Claim<T: Config> {
	/// The trainer (signer of `submit_claim`), whose bond is held.
	pub trainer: T::AccountId,
	/// Parameter-DAG block created for the candidate (status `Proposed` until decided).
	pub block: Hash,
	/// Name of the unit, for example `layer0.expert3`.
	pub unit: BoundedVec<u8, T::MaxUnitNameLen>,
	/// What the trainer committed to.
	pub input: ClaimInput<T::MaxDatasets>,
	/// Bond held from the trainer, planck.
	pub bond: BalanceOf<T>,
	/// Block of submission.
	pub submitted_at: BlockNumberFor<T>,
	/// Last block that takes reports (`challenge block + EvaluationWindow`). A claim decided
	/// early by ⅔ of the reports still takes the others until then; at `deadline + 1` all
	/// reports are compared and deviant ones recorded.
	pub deadline: BlockNumberFor<T>,
	/// Current stage.
	pub stage: ClaimStage<BlockNumberFor<T>, T::ReplaySegments>,
}

/// The parameter DAG as this pallet uses it (implemented by the runtime over
/// pallet-param-dag).
pub trait ParamDag<AccountId> {
	/// Name of the unit a block updates (for example `layer0.expert3`), if the block exists.
	fn unit_of(block: &Hash) -> Option<alloc::vec::Vec<u8>>;
	/// The accepted block of a unit (`ParamIndex`).
	fn accepted(unit: &[u8]) -> Option<Hash>;
	/// Adds a `Proposed` child of `parent` (same spec, unit, layer and type) with the given
	/// payload, checking the payload exists, the PoW and duplicates. Returns the block id.
	fn propose_child(
		miner: &AccountId,
		parent: &Hash,
		payload_root: &Hash,
		nonce: u64,
	) -> Result<Hash, DispatchError>;
	/// Accepts a proposed block: `ParamIndex` moves to it and the previous one is superseded.
	fn accept(block: &Hash) -> Result<(), DispatchError>;
	/// Rejects a proposed block.
	fn reject(block: &Hash) -> Result<(), DispatchError>;
	/// A PoW nonce that makes the child of `parent` with `payload_root` by `miner` valid
	/// (for trainers' off-chain workers; `None` when the parent or payload is unknown or no
	/// nonce was found within the search bound).
	fn solve_child_nonce(miner: &AccountId, parent: &Hash, payload_root: &Hash) -> Option<u64>;
}

/// Approved datasets as this pallet uses them (implemented by the runtime over
/// pallet-dataset).
pub trait Datasets<AccountId> {
	/// The creator of an approved dataset; `None` when the dataset is unknown or not approved.
	fn approved_creator(id: DatasetId) -> Option<AccountId>;
}

/// The active validators whose reports count (the Aura authorities for now).
pub trait Validators<AccountId> {
	/// Whether `who` is an active validator.
	fn is_validator(who: &AccountId) -> bool;
	/// Number of active validators.
	fn count() -> u32;
}
