//! Types stored and exchanged by the Proof-of-Learning pallet (SPEC "Proof-of-Learning and
//! Proof-of-Data-Learning"). The protocol's vocabulary (losses, improvement, training
//! parameters, verdicts, reports, commitments) is `blyan_primitives::pol`, re-exported here.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound};
use frame_system::pallet_prelude::BlockNumberFor;
use scale_info::TypeInfo;
use sp_runtime::DispatchError;

use crate::{BalanceOf, Config};
use blyan_primitives::{DatasetId, Hash};

pub use blyan_primitives::pol::{
	decision_threshold, improvement_ppm, loss_from_nats_per_byte, report_commitment, within_ppm,
	ClaimId, DatasetShare, EvalReport, ManifestLimits, NanoNatsPerByte, ParamsError, ReplayVerdict,
	TrainingParams, PPM, UNDECODABLE_LOSS,
};

/// One unit a claim updates: the unit's accepted block and the new payload (SPEC
/// "Proof-of-Learning": a claim may update any set of units).
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
pub struct UnitUpdate {
	/// The accepted parameter-DAG block the update starts from (the unit's current
	/// `ParamIndex` entry). It names the unit.
	pub parent: Hash,
	/// Payload root of the updated unit, already committed in the content store.
	pub payload_root: Hash,
	/// Light proof-of-work nonce of the unit's new parameter-DAG block (pallet-param-dag's
	/// PoW).
	pub nonce: u64,
}

/// What a trainer commits to when claiming an improvement (SPEC "Proof-of-Learning").
///
/// The claim is decided as one: every unit's child block is accepted, or none is.
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
#[scale_info(skip_type_params(MaxDatasets, MaxUnits))]
#[codec(mel_bound())]
pub struct ClaimInput<
	MaxDatasets: frame_support::traits::Get<u32>,
	MaxUnits: frame_support::traits::Get<u32>,
> {
	/// The units updated, each at most once (a backbone, routers, experts, or all of them).
	pub units: BoundedVec<UnitUpdate, MaxUnits>,
	/// The block whose accepted model the candidate is evaluated in (docs/pol.md, "What a
	/// candidate is evaluated against"): validators compare that model with the same model
	/// whose updated units are replaced by the claim's payloads, and the claimed loss is the
	/// latter's. Before the claim's block and at most `Config::MaxBaseAge` blocks before it.
	/// Units the claim does not update may have moved since; the updated ones may not.
	pub base: u32,
	/// Payload root of the PoDL manifest (the engine's `manifest.json`, committed in the
	/// content store before the challenge): trainer, units, datasets, ratios, parameters,
	/// batch-hash root and the checkpoint roots every K steps. Validators read it to replay;
	/// it must name the claim's signer as its trainer, train exactly the claim's units from
	/// their parents, and repeat `datasets` and `params` exactly.
	pub manifest_root: Hash,
	/// Datasets trained on, with mixing ratios; never the spec's validation dataset.
	pub datasets: BoundedVec<DatasetShare, MaxDatasets>,
	/// Training parameters, within `Config::ManifestLimits`. The challenge draws among
	/// `params.segments()` segments.
	pub params: TrainingParams,
	/// The candidate's validation loss as the trainer measured it (the model at `base` with
	/// the claim's units replaced), nano-nats per byte.
	pub claimed_loss: NanoNatsPerByte,
	/// Payload root of the trainer's evaluation record (content store, published with the
	/// units): the loss of every validation window for the model at `base` and for the
	/// candidate, nano-nats (`blyan_moe::eval::EvalRecord`, `16 + 16 · windows` bytes). The
	/// decision uses the record's totals; validators recompute one window in
	/// `blyan_primitives::pol::EVAL_CHECK_DIVISOR`, drawn from the challenge seed, and a
	/// window that differs rejects the claim `ReplayFailed { EvaluationMismatch }` (docs/pol.md
	/// "Verification by sampled windows").
	pub eval_root: Hash,
}

/// One unit of a stored claim: its name and its candidate block (status `Proposed` until the
/// claim is decided).
#[derive(
	CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, Encode, Decode, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(MaxNameLen))]
#[codec(mel_bound())]
pub struct CandidateBlock<MaxNameLen: frame_support::traits::Get<u32>> {
	/// Name of the unit, for example `layer0.expert3`.
	pub unit: BoundedVec<u8, MaxNameLen>,
	/// Parameter-DAG block created for the unit's candidate.
	pub block: Hash,
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
	/// The quorum's replay verdict was not `Match`: a forged checkpoint chain, misnamed data,
	/// a manifest not bound to the claim, or checkpoints never published.
	ReplayFailed {
		/// The quorum's verdict.
		verdict: ReplayVerdict,
	},
	/// The quorum's relative improvement (ppm) was below `MinImprovement`.
	InsufficientImprovement {
		/// `(parent − candidate) / parent` of the quorum report, ppm (negative: worse).
		improvement_ppm: i64,
	},
	/// The claimed loss is further than `ClaimTolerance` from the quorum's candidate loss.
	ClaimedLossNotReproduced {
		/// The quorum's candidate loss, nano-nats per byte.
		measured: NanoNatsPerByte,
	},
	/// Another update of one of the claim's units was accepted first; its parent is no longer
	/// current. The bond is returned unslashed.
	Superseded,
	/// The quorum's verdict was `EngineMismatch`: the validators' engines do not reproduce the
	/// manifest's engine fingerprint, so nobody could check the claim. Not the trainer's lie:
	/// no slash and no trust change, but `ExpiryFee` of the bond is burnt, as for an expired
	/// claim (a bogus fingerprint must not make claims free).
	EngineMismatch,
}

impl RejectReason {
	/// Whether the trainer's bond is slashed (the trainer is at fault).
	pub fn slashes(&self) -> bool {
		!matches!(self, RejectReason::Superseded | RejectReason::EngineMismatch)
	}
}

/// Why a validator's report was recorded as deviant.
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
pub enum Deviation {
	/// The revealed report differs from the quorum's (a loss beyond `DeviationTolerance`, or
	/// another verdict or digest).
	DiffersFromQuorum,
	/// The validator committed but did not reveal in the reveal window.
	NotRevealed,
}

/// Where a claim stands. The block bounds of each phase are in the [`Claim`].
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
pub enum ClaimStage {
	/// Submitted; the replay challenge is drawn at block `challenge_at` from the hash of block
	/// `challenge_at − 1`, which did not exist when the trainer committed.
	AwaitingChallenge,
	/// Challenge drawn. Validators commit `report_commitment(..)` up to and including block
	/// `commit_until`, then reveal up to and including `reveal_until`.
	Evaluating,
	/// Accepted: every updated unit's `ParamIndex` entry moved to the claim's block for it.
	Accepted {
		/// The quorum's relative improvement, ppm.
		improvement_ppm: i64,
	},
	/// Rejected for the given reason.
	Rejected(RejectReason),
	/// No ⌈⅔⌉ quorum of identical reports by `reveal_until`: rejected without a slash; the bond
	/// paid `ExpiryFee`.
	Expired,
}

impl ClaimStage {
	/// Whether the claim is decided (accepted, rejected or expired).
	pub fn is_final(&self) -> bool {
		!matches!(self, ClaimStage::AwaitingChallenge | ClaimStage::Evaluating)
	}
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
	/// The candidate block of every updated unit, in the order of `input.units`.
	pub blocks: BoundedVec<CandidateBlock<T::MaxUnitNameLen>, T::MaxUnitsPerClaim>,
	/// What the trainer committed to.
	pub input: ClaimInput<T::MaxDatasets, T::MaxUnitsPerClaim>,
	/// Bond held from the trainer, planck.
	pub bond: BalanceOf<T>,
	/// Block of submission.
	pub submitted_at: BlockNumberFor<T>,
	/// Block whose `on_initialize` draws the challenge (`submitted_at + ChallengeDelay`).
	pub challenge_at: BlockNumberFor<T>,
	/// Last block taking commitments (`challenge_at + CommitWindow`).
	pub commit_until: BlockNumberFor<T>,
	/// Last block taking reveals (`commit_until + RevealWindow`); at the next block the window
	/// closes: an undecided claim expires and deviant reports are recorded.
	pub reveal_until: BlockNumberFor<T>,
	/// Challenged segment indices, ascending (empty until drawn).
	pub segments: BoundedVec<u32, T::ReplaySegments>,
	/// The challenge seed (hash of block `challenge_at − 1`; zero until drawn): validators
	/// draw the evaluation windows they recompute from it
	/// (`blyan_primitives::pol::challenge_eval_batches`).
	pub seed: Hash,
	/// Commitments received.
	pub commitments: u32,
	/// The report of the ⌈⅔⌉ quorum that decided the claim, once decided by one.
	pub quorum: Option<EvalReport>,
	/// Current stage.
	pub stage: ClaimStage,
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
	/// Whether a block exists and is still `Proposed` (for `try_state`).
	fn is_proposed(block: &Hash) -> bool;
	/// A PoW nonce that makes the child of `parent` with `payload_root` by `miner` valid
	/// (for trainers' off-chain workers; `None` when the parent or payload is unknown or no
	/// nonce was found within the search bound).
	fn solve_child_nonce(miner: &AccountId, parent: &Hash, payload_root: &Hash) -> Option<u64>;
}

/// Approved datasets as this pallet uses them (implemented by the runtime over
/// pallet-dataset and the model spec).
pub trait Datasets<AccountId> {
	/// The creator of an approved dataset; `None` when the dataset is unknown or not approved.
	fn approved_creator(id: DatasetId) -> Option<AccountId>;
	/// The current model spec's public validation dataset, which no claim may train on.
	fn validation_dataset() -> Option<DatasetId>;
}

/// The active validators whose reports count (the Aura authorities for now).
pub trait Validators<AccountId> {
	/// Whether `who` is an active validator.
	fn is_validator(who: &AccountId) -> bool;
	/// Number of active validators.
	fn count() -> u32;
}
