//! # Proof-of-Learning pallet
//!
//! Gates unit updates on the parameter DAG (Chain B) by the validators' own evaluation and a
//! partial replay of the trainer's training run (SPEC "Proof-of-Learning and
//! Proof-of-Data-Learning"). docs/pol.md has the threat table: each attack, the rule here that
//! stops it and the test that shows it.
//!
//! ## Lifecycle of a claim
//!
//! 1. **Claim.** A trainer calls [`Call::submit_claim`] with the units it updated (any set:
//!    backbone, routers, experts; for each its parent block, the unit's current `ParamIndex`
//!    entry, the new payload root and the parameter-DAG PoW nonce), the base block whose
//!    model the candidate is evaluated in, the payload root of its PoDL manifest, the
//!    datasets and mixing ratios, the training parameters ([`TrainingParams`]: seed, steps,
//!    K, batch size, sequence length), the claimed validation loss and a bond. The pallet
//!    checks the parameters against [`Config::ManifestLimits`], refuses the spec's validation
//!    dataset, adds one `Proposed` child block per unit to the DAG, holds the bond
//!    ([`HoldReason::ClaimBond`]) and schedules the challenge at
//!    `challenge_at = now + ChallengeDelay`. The segment count is `params.segments()`, never
//!    the trainer's separate word.
//! 2. **Challenge.** At `challenge_at`, `on_initialize` draws [`Config::ReplaySegments`]
//!    distinct segments with [`blyan_primitives::pol::challenge_segments`] from the hash of
//!    block `challenge_at − 1` (see "Randomness").
//! 3. **Commit.** Each active validator's off-chain worker replays the challenged segments,
//!    checks that the manifest is bound to the claim (its trainer is the claim's signer; it
//!    trains exactly the claim's units from the parents accepted at the base block; it
//!    repeats the claim's datasets and parameters; its last checkpoint holds exactly the
//!    candidate payloads), evaluates the model accepted at the base block and the same model
//!    with the claim's units replaced on the spec's validation set, and commits `report_commitment(claim, validator, report, salt)` with
//!    [`Call::commit_report`] up to and including `commit_until`. The trainer's own account
//!    cannot commit on its claim.
//!    Once every validator that may report has committed, the commit window ends at once
//!    and the reveal window is `RevealWindow` blocks from then ([`Event::CommitmentsComplete`]):
//!    nobody is left who could copy.
//! 4. **Reveal.** After `commit_until`, validators reveal `(report, salt)` with
//!    [`Call::reveal_report`] up to and including `reveal_until`. A reveal that does not open
//!    the validator's own commitment is refused; the validator's account is inside the hash,
//!    so copying another validator's commitment and reveal opens nothing.
//! 5. **Decision.** The reveal that makes ⌈⅔ · active validators⌉ *identical* reports decides
//!    the claim on that quorum report `q` (honest validators compute bitwise-identical
//!    reports):
//!    - *reject* `EngineMismatch` (no slash; `ExpiryFee` burnt, as for an expiry) when
//!      `q.replay` is `EngineMismatch`: the validators' engines cannot reproduce the trainer's;
//!    - *reject* `ReplayFailed` unless `q.replay` is `Match`;
//!    - *reject* `ClaimedLossNotReproduced` when the claimed loss is further than
//!      `ClaimTolerance` from `q.candidate_loss`;
//!    - *reject* `Superseded` (no slash) when another update of one of the claim's units was
//!      accepted since (checked after the two lies above, so neither hides behind another
//!      acceptance); updates of *other* units do not supersede a claim;
//!    - *reject* `InsufficientImprovement` when `(q.parent − q.candidate) / q.parent` is below
//!      `MinImprovement` (δ, ppm);
//!    - otherwise *accept*: every updated unit's `ParamIndex` moves to its new block, all of
//!      them in one storage transaction; the bond is released, the trainer receives
//!      `TrainerReward` and each dataset's creator `DataReward × ratio`.
//!
//!    A rejection rejects every candidate block of the claim.
//!
//!    A slashing rejection burns `SlashFraction` of the bond and records a failure in the
//!    trainer's [`Trust`]; an acceptance records a success.
//! 6. **Close.** At `reveal_until + 1` a claim still undecided **expires**: no quorum, so no
//!    decision either way. The block is rejected, `ExpiryFee` of the bond is burnt (a claim
//!    costs validators work, and an expired one must not be free), the rest is released, and
//!    the trainer's trust is unchanged. Then every validator that committed but did not reveal,
//!    and every revealed report that differs from the quorum's, is recorded in [`Deviations`]
//!    with [`Event::ReportDeviated`], the input of validator slashing.
//!
//! ## Deterrence
//!
//! A trainer who forges `f` of `S` segments passes a challenge of `r` segments with
//! probability `C(S − f, r) / C(S, r)`. [`Hooks::integrity_test`] asserts
//! [`blyan_primitives::pol::forgery_never_pays`]: for every `S ≤ max_segments` and every `f`,
//! the expected slash exceeds the expected reward, `(1 − q) · (TrainerReward + DataReward) <
//! q · SlashFraction · MinBond` (docs/pol.md, "Deterrence"), and
//! [`blyan_primitives::pol::window_lie_never_pays`]: a false window of the evaluation record,
//! checked with probability at least 1/32, does not pay either.
//!
//! ## Randomness
//!
//! The challenge seed is the hash of block `challenge_at − 1`, the first block after the
//! claim's inclusion block when `ChallengeDelay = 2`. The trainer cannot know it when
//! committing. The author of that block can bias it by trying many candidate blocks (or
//! withholding its block): docs/pol.md quantifies what that buys a colluding trainer. BABE's
//! VRF output replaces the block hash with the validator-economics work.
//!
//! ## Units
//!
//! Losses are nano-nats per byte (`u64`); improvements and tolerances are parts per million;
//! balances are planck; windows are blocks.

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub use pallet::*;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod types;
pub mod weights;
pub mod worker;

/// The Blyan worker key: an sr25519 key of its own key type (`blyn`) with which validators'
/// and trainers' off-chain workers sign their reports and claims.
///
/// The key's public bytes are the account that signs (`AccountId32` of the sr25519 public
/// key), so a validator uses the secret of its Aura key here: its reports then come from the
/// account that `Config::Validators` recognises. `--dev`, `--alice`, `--bob`, ... insert it
/// for the dev accounts; operators insert theirs with `blyan-node key insert --key-type blyn
/// --scheme sr25519` (docs/operator.md, "Keys").
pub mod crypto {
	use sp_runtime::KeyTypeId;

	/// Key type of Blyan worker keys in the node's keystore: `blyn`.
	pub const KEY_TYPE: KeyTypeId = KeyTypeId(*b"blyn");

	mod app {
		use sp_application_crypto::{app_crypto, sr25519};
		app_crypto!(sr25519, super::KEY_TYPE);
	}

	/// The worker's public key.
	pub type Public = app::Public;
	/// A worker's signature.
	pub type Signature = app::Signature;

	/// The worker key as `frame_system::offchain` signs with it: runtimes whose accounts are
	/// `MultiSigner`s (sr25519 accounts) use this as `Config::AuthorityId`.
	pub struct WorkerAuthId;

	impl frame_system::offchain::AppCrypto<sp_runtime::MultiSigner, sp_runtime::MultiSignature>
		for WorkerAuthId
	{
		type RuntimeAppPublic = Public;
		type GenericPublic = sp_core::sr25519::Public;
		type GenericSignature = sp_core::sr25519::Signature;
	}
}

pub use blyan_primitives::trust::{Trust, TrustLevel};
pub use types::*;
pub use weights::WeightInfo;

use alloc::vec::Vec;
use blyan_primitives::Hash;
use frame_support::{
	pallet_prelude::*,
	traits::{
		fungible::{Inspect, InspectHold, Mutate, MutateHold},
		tokens::{Fortitude, Precision},
	},
};
use frame_system::pallet_prelude::*;
use sp_runtime::{
	traits::{Saturating, UniqueSaturatedInto, Zero},
	Perbill, Permill,
};

/// Balance type of [`Config::Currency`], in planck.
pub type BalanceOf<T> =
	<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

/// The revealed reports of a claim: validator and report, in reveal order.
pub type ReportsOf<T> =
	BoundedVec<(<T as frame_system::Config>::AccountId, EvalReport), <T as Config>::MaxValidators>;

/// The candidate block ids of a claim, in claim order (events).
pub type BlocksOf<T> = BoundedVec<Hash, <T as Config>::MaxUnitsPerClaim>;

/// Sets up what the benchmarks need in the runtime: a parent block with a committed payload
/// for the child, an approved dataset, validators.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<AccountId> {
	/// Creates the `i`-th distinct unit's accepted parent block and a committed payload for
	/// its child. Returns `(parent block, child payload root)`.
	fn parent_and_payload(i: u32) -> (Hash, Hash);
	/// A parameter-DAG PoW nonce valid for the child of `parent` with `payload` by `miner`.
	fn solve_nonce(miner: &AccountId, parent: &Hash, payload: &Hash) -> u64;
	/// Creates an approved dataset with the given creator; returns its id.
	fn approved_dataset(creator: &AccountId, n: u32) -> blyan_primitives::DatasetId;
	/// Makes `who` an active validator.
	fn make_validator(who: &AccountId);
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;

	/// 2: claims over unit sets (`Claim::blocks`, `ClaimInput::units`, `ClaimInput::base`).
	/// 3: evaluation records (`ClaimInput::eval_root`, `Claim::seed`).
	/// Older claims are not migrated: no chain with them outlives its dev genesis.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(3);

	#[pallet::config]
	pub trait Config:
		frame_system::offchain::CreateSignedTransaction<Call<Self>>
		+ frame_system::Config<RuntimeEvent: From<Event<Self>>>
	{
		/// The worker key with which validators' off-chain workers sign their reports
		/// ([`crypto::WorkerAuthId`] in a runtime with sr25519 accounts).
		type AuthorityId: frame_system::offchain::AppCrypto<Self::Public, Self::Signature>;

		/// Currency of bonds and rewards. Bonds are held under [`HoldReason::ClaimBond`];
		/// rewards are minted.
		type Currency: MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ Mutate<Self::AccountId>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// The parameter DAG (Chain B).
		type Dag: ParamDag<Self::AccountId>;

		/// Approved datasets and the validation dataset (Chain D, Chain A).
		type Datasets: Datasets<Self::AccountId>;

		/// Active validators, whose reports count.
		type Validators: Validators<Self::AccountId>;

		/// Smallest bond of a claim, planck. With `SlashFraction`, `ReplaySegments` and
		/// `ManifestLimits::max_segments` it must make forgery unprofitable
		/// (`integrity_test`, docs/pol.md "Deterrence").
		#[pallet::constant]
		type MinBond: Get<BalanceOf<Self>>;

		/// Reward minted to the trainer of an accepted claim, planck (seed §23 base reward).
		#[pallet::constant]
		type TrainerReward: Get<BalanceOf<Self>>;

		/// Reward minted per accepted claim to the datasets' creators, split by mixing ratio
		/// (PoDL), planck.
		#[pallet::constant]
		type DataReward: Get<BalanceOf<Self>>;

		/// Share of the bond burnt when a claim is rejected through the trainer's fault.
		#[pallet::constant]
		type SlashFraction: Get<Perbill>;

		/// Share of the bond burnt when a claim expires without a quorum (the trainer is not
		/// proven at fault, but the validators' work is not free).
		#[pallet::constant]
		type ExpiryFee: Get<Perbill>;

		/// δ: the smallest relative improvement that accepts, ppm (SPEC default 0.5 % =
		/// 5 000 ppm).
		#[pallet::constant]
		type MinImprovement: Get<u32>;

		/// Largest distance between the claimed and the quorum's candidate loss, ppm.
		#[pallet::constant]
		type ClaimTolerance: Get<u32>;

		/// Largest distance of a revealed report's losses from the quorum's before it counts as
		/// deviant, ppm. Honest reports are bitwise identical, so this is tiny.
		#[pallet::constant]
		type DeviationTolerance: Get<u32>;

		/// Blocks between a claim's inclusion and the challenge draw; at least 2, so that the
		/// seed block (`challenge_at − 1`) comes after the claim's block.
		#[pallet::constant]
		type ChallengeDelay: Get<BlockNumberFor<Self>>;

		/// Blocks after the challenge during which validators evaluate and commit (the
		/// evaluation must fit in it on the slowest validator that should count).
		#[pallet::constant]
		type CommitWindow: Get<BlockNumberFor<Self>>;

		/// Blocks after the commit window during which validators reveal. Must be positive.
		#[pallet::constant]
		type RevealWindow: Get<BlockNumberFor<Self>>;

		/// r: training segments replayed per claim (all of them when a claim has fewer).
		#[pallet::constant]
		type ReplaySegments: Get<u32>;

		/// Bounds on a claim's training parameters and manifest size.
		#[pallet::constant]
		type ManifestLimits: Get<ManifestLimits>;

		/// Most datasets a claim may name.
		#[pallet::constant]
		type MaxDatasets: Get<u32>;

		/// Longest unit name, bytes (as pallet-param-dag's `MaxNameLen`).
		#[pallet::constant]
		type MaxUnitNameLen: Get<u32>;

		/// Most units one claim may update (the dev model has 37: a backbone, 4 routers and
		/// 32 experts).
		#[pallet::constant]
		type MaxUnitsPerClaim: Get<u32>;

		/// Oldest base block a claim may name, in blocks before the claim's block: how stale
		/// the model a candidate is evaluated in may be (docs/pol.md).
		#[pallet::constant]
		type MaxBaseAge: Get<BlockNumberFor<Self>>;

		/// Most validators, i.e. most commitments and reveals per claim.
		#[pallet::constant]
		type MaxValidators: Get<u32>;

		/// Most claims challenged or closed by `on_initialize` in one block.
		#[pallet::constant]
		type MaxClaimsPerBlock: Get<u32>;

		/// Length of a quota day, blocks.
		#[pallet::constant]
		type DayLength: Get<BlockNumberFor<Self>>;

		/// Claims per day of a newbie trainer.
		#[pallet::constant]
		type NewbieDailyClaims: Get<u32>;

		/// Claims per day of a trusted trainer.
		#[pallet::constant]
		type TrustedDailyClaims: Get<u32>;

		/// Weights of this pallet's calls and hooks.
		type WeightInfo: WeightInfo;

		/// Benchmark set-up.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: crate::BenchmarkHelper<Self::AccountId>;
	}

	/// Reasons for holding funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// A trainer's bond for an open claim.
		ClaimBond,
	}

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// Id of the next claim.
	#[pallet::storage]
	pub type NextClaimId<T: Config> = StorageValue<_, ClaimId, ValueQuery>;

	/// Claims by id (kept after the decision, with the final stage).
	#[pallet::storage]
	pub type Claims<T: Config> = StorageMap<_, Twox64Concat, ClaimId, Claim<T>>;

	/// The claim of each candidate block (every unit's block of a claim).
	#[pallet::storage]
	pub type ClaimOfBlock<T: Config> = StorageMap<_, Identity, Hash, ClaimId>;

	/// Report commitments by claim and validator, until the claim's window closes.
	#[pallet::storage]
	pub type Commitments<T: Config> =
		StorageDoubleMap<_, Twox64Concat, ClaimId, Blake2_128Concat, T::AccountId, Hash>;

	/// Revealed reports of a claim, in reveal order.
	#[pallet::storage]
	pub type Reports<T: Config> = StorageMap<_, Twox64Concat, ClaimId, ReportsOf<T>, ValueQuery>;

	/// Claims whose challenge is drawn at a block.
	#[pallet::storage]
	pub type Challenges<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<ClaimId, T::MaxClaimsPerBlock>,
		ValueQuery,
	>;

	/// Claims whose window closes at a block (`reveal_until + 1`): undecided ones expire, and
	/// deviant reports are recorded.
	#[pallet::storage]
	pub type Decisions<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<ClaimId, T::MaxClaimsPerBlock>,
		ValueQuery,
	>;

	/// Each trainer's trust (seed §12.3).
	#[pallet::storage]
	pub type TrainerTrust<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, Trust, ValueQuery>;

	/// `(day index, claims submitted that day)` per trainer.
	#[pallet::storage]
	pub type ClaimQuota<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, (u32, u32), ValueQuery>;

	/// Deviant reports and missed reveals per validator: the slashing input of the
	/// validator-economics work.
	#[pallet::storage]
	pub type Deviations<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, u32, ValueQuery>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A claim was submitted and its candidate blocks proposed.
		ClaimSubmitted {
			/// Claim id.
			claim: ClaimId,
			/// Trainer.
			trainer: T::AccountId,
			/// Candidate block of each updated unit in the parameter DAG, in claim order.
			blocks: BlocksOf<T>,
			/// Bond held, planck.
			bond: BalanceOf<T>,
			/// Block whose `on_initialize` draws the challenge.
			challenge_at: BlockNumberFor<T>,
		},
		/// The replay challenge of a claim was drawn; validators evaluate and commit now.
		ChallengeDrawn {
			/// Claim id.
			claim: ClaimId,
			/// Challenged segment indices, ascending.
			segments: BoundedVec<u32, T::ReplaySegments>,
			/// Last block taking commitments.
			commit_until: BlockNumberFor<T>,
			/// Last block taking reveals.
			reveal_until: BlockNumberFor<T>,
		},
		/// A validator committed to its report on a claim.
		ReportCommitted {
			/// Claim id.
			claim: ClaimId,
			/// Validator.
			validator: T::AccountId,
		},
		/// Every validator that may report on a claim has committed: the commit window ends
		/// early, reveals are taken from block `reveals_from` on, and up to `reveal_until`.
		CommitmentsComplete {
			/// Claim id.
			claim: ClaimId,
			/// First block taking reveals.
			reveals_from: BlockNumberFor<T>,
			/// Last block taking reveals.
			reveal_until: BlockNumberFor<T>,
		},
		/// A validator revealed its committed report.
		ReportRevealed {
			/// Claim id.
			claim: ClaimId,
			/// Validator.
			validator: T::AccountId,
			/// The report.
			report: EvalReport,
		},
		/// A claim was accepted: every updated unit's `ParamIndex` moved to its block.
		ClaimAccepted {
			/// Claim id.
			claim: ClaimId,
			/// The accepted blocks, in claim order.
			blocks: BlocksOf<T>,
			/// The quorum's relative improvement, ppm.
			improvement_ppm: i64,
			/// Reward minted to the trainer, planck.
			reward: BalanceOf<T>,
		},
		/// A dataset's creator was rewarded for an accepted claim (PoDL).
		DataContributorRewarded {
			/// Claim id.
			claim: ClaimId,
			/// Dataset.
			dataset: blyan_primitives::DatasetId,
			/// Its creator.
			creator: T::AccountId,
			/// Reward minted, planck.
			amount: BalanceOf<T>,
		},
		/// A claim was rejected by a quorum of identical reports.
		ClaimRejected {
			/// Claim id.
			claim: ClaimId,
			/// The rejected blocks, in claim order.
			blocks: BlocksOf<T>,
			/// Why.
			reason: RejectReason,
			/// Part of the bond burnt, planck: `SlashFraction` when the trainer was at fault,
			/// `ExpiryFee` for `EngineMismatch`, zero when `Superseded`.
			slashed: BalanceOf<T>,
		},
		/// A claim's reveal window ended without a quorum of identical reports: its blocks are
		/// rejected, `ExpiryFee` of the bond burnt.
		ClaimExpired {
			/// Claim id.
			claim: ClaimId,
			/// The rejected blocks, in claim order.
			blocks: BlocksOf<T>,
			/// Part of the bond burnt, planck.
			fee: BalanceOf<T>,
			/// Commitments received.
			commitments: u32,
			/// Reveals received.
			reveals: u32,
		},
		/// A validator's report deviated from the quorum, or it committed and did not reveal.
		ReportDeviated {
			/// Claim id.
			claim: ClaimId,
			/// Validator.
			validator: T::AccountId,
			/// How.
			deviation: Deviation,
			/// Deviations of this validator so far.
			count: u32,
		},
		/// A trainer's trust level changed.
		TrainerTrustChanged {
			/// Trainer.
			trainer: T::AccountId,
			/// New level.
			level: TrustLevel,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The bond is below `MinBond`.
		BondTooLow,
		/// The trainer cannot hold the bond.
		InsufficientBalance,
		/// The claim names no dataset.
		NoDatasets,
		/// A dataset appears twice in the claim.
		DuplicateDataset,
		/// A named dataset is unknown or not approved.
		DatasetNotApproved,
		/// The claim names the spec's public validation dataset.
		ValidationDatasetNamed,
		/// The mixing ratios do not sum to 1 000 000 ppm.
		RatiosDoNotSum,
		/// `params.steps` is 0 or above `ManifestLimits::max_steps`.
		StepsOutOfRange,
		/// `params.checkpoint_every` is 0 or above `params.steps`.
		CheckpointIntervalOutOfRange,
		/// `params` make more than `ManifestLimits::max_segments` segments.
		TooManySegments,
		/// `params.batch_size` is 0 or above `ManifestLimits::max_batch_size`.
		BatchSizeOutOfRange,
		/// `params.seq_len` is 0 or above `ManifestLimits::max_seq_len`.
		SeqLenOutOfRange,
		/// `batch_size × seq_len` is above `ManifestLimits::max_tokens_per_step`.
		TooManyTokensPerStep,
		/// The claim updates no unit.
		NoUnits,
		/// Two updates of the claim name the same unit.
		DuplicateUnit,
		/// A unit's parent block does not exist.
		UnknownParent,
		/// A unit's parent is not the unit's accepted block (`ParamIndex`).
		ParentNotAccepted,
		/// The base block is not before the claim's block.
		BaseNotInPast,
		/// The base block is more than `MaxBaseAge` blocks before the claim's block.
		BaseTooOld,
		/// The trainer used up today's claims.
		QuotaExceeded,
		/// Too many claims are already scheduled for the challenge or closing block.
		ScheduleFull,
		/// No claim with this id.
		UnknownClaim,
		/// The signer is not an active validator.
		NotValidator,
		/// The trainer's own account cannot report on its claim.
		OwnClaim,
		/// The challenge of the claim is not drawn yet.
		ChallengeNotDrawn,
		/// The claim's commit window has ended (or the claim is decided).
		CommitWindowClosed,
		/// This validator already committed on the claim.
		AlreadyCommitted,
		/// The claim already holds `MaxValidators` commitments.
		TooManyCommitments,
		/// The reveal window has not started: commitments are still taken.
		RevealNotOpen,
		/// The claim's reveal window has ended.
		RevealWindowClosed,
		/// This validator did not commit on the claim.
		NoCommitment,
		/// The revealed report and salt do not open this validator's commitment.
		CommitmentMismatch,
		/// This validator already revealed on the claim.
		AlreadyRevealed,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		/// Draws the challenges scheduled for `n` and closes the windows that ended at
		/// `n − 1`. At most `MaxClaimsPerBlock` of each.
		fn on_initialize(n: BlockNumberFor<T>) -> Weight {
			let challenges = Challenges::<T>::take(n);
			let closing = Decisions::<T>::take(n);
			for id in &challenges {
				Self::draw_challenge(*id);
			}
			// A window close rejects every block of an undecided claim: weighed per unit.
			let mut closed_units: u32 = 0;
			for id in &closing {
				closed_units = closed_units.saturating_add(Self::close_window(*id));
			}
			T::WeightInfo::on_initialize(challenges.len() as u32, closed_units)
		}

		/// The validators' worker ([`worker`]): replays and evaluates claims on the node's
		/// engine, commits and reveals the reports.
		fn offchain_worker(n: BlockNumberFor<T>) {
			worker::run::<T>(n);
		}

		fn integrity_test() {
			assert!(
				T::ChallengeDelay::get() >= 2u32.into(),
				"ChallengeDelay must be at least 2 so the seed block follows the claim's block"
			);
			assert!(!T::CommitWindow::get().is_zero(), "CommitWindow must be positive");
			assert!(!T::RevealWindow::get().is_zero(), "RevealWindow must be positive");
			assert!(T::ReplaySegments::get() > 0, "ReplaySegments must be positive");
			assert!(T::MaxClaimsPerBlock::get() > 0, "MaxClaimsPerBlock must be positive");
			assert!(T::MaxValidators::get() > 0, "MaxValidators must be positive");
			assert!(T::MaxUnitsPerClaim::get() > 0, "MaxUnitsPerClaim must be positive");
			assert!(!T::DayLength::get().is_zero(), "DayLength must be positive");
			assert!(
				T::ManifestLimits::get().max_segments > 0,
				"ManifestLimits::max_segments must be positive"
			);
			assert!(
				Self::forgery_never_pays(),
				"forging segments or evaluation windows must not pay: raise MinBond, \
				 SlashFraction or ReplaySegments, or lower ManifestLimits::max_segments \
				 (docs/pol.md, Deterrence)"
			);
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Claims that new payloads of a set of units lower the validation loss.
		///
		/// Origin: signed (the trainer). `input.units` bounded by `MaxUnitsPerClaim`,
		/// `input.datasets` by `MaxDatasets`; `input.params` within `ManifestLimits`;
		/// `input.base` a block number at most `MaxBaseAge` blocks in the past; `bond` in
		/// planck.
		///
		/// Errors: [`Error::BondTooLow`], [`Error::NoUnits`], [`Error::DuplicateUnit`],
		/// [`Error::BaseNotInPast`], [`Error::BaseTooOld`], [`Error::NoDatasets`],
		/// [`Error::DuplicateDataset`],
		/// [`Error::RatiosDoNotSum`], [`Error::ValidationDatasetNamed`],
		/// [`Error::DatasetNotApproved`], [`Error::StepsOutOfRange`],
		/// [`Error::CheckpointIntervalOutOfRange`], [`Error::TooManySegments`],
		/// [`Error::BatchSizeOutOfRange`], [`Error::SeqLenOutOfRange`],
		/// [`Error::TooManyTokensPerStep`], [`Error::UnknownParent`],
		/// [`Error::ParentNotAccepted`], [`Error::QuotaExceeded`], [`Error::ScheduleFull`],
		/// [`Error::InsufficientBalance`], and the parameter DAG's errors for the new block
		/// (unknown payload, invalid PoW, duplicate block). Emits [`Event::ClaimSubmitted`].
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::submit_claim(
			input.datasets.len() as u32,
			input.units.len() as u32,
		))]
		pub fn submit_claim(
			origin: OriginFor<T>,
			input: ClaimInput<T::MaxDatasets, T::MaxUnitsPerClaim>,
			bond: BalanceOf<T>,
		) -> DispatchResult {
			let trainer = ensure_signed(origin)?;
			Self::do_submit_claim(trainer, input, bond).map(|_| ())
		}

		// Call index 1 (`submit_report`, plain reports) was replaced by commit and reveal.

		/// Commits to a report on a claim: `commitment =
		/// blyan_primitives::pol::report_commitment(claim, signer, report, salt)`, revealed
		/// later with [`Call::reveal_report`].
		///
		/// Origin: signed by an active validator other than the claim's trainer. Taken from
		/// the challenge draw up to and including the claim's `commit_until`.
		///
		/// Errors: [`Error::UnknownClaim`], [`Error::ChallengeNotDrawn`],
		/// [`Error::CommitWindowClosed`], [`Error::NotValidator`], [`Error::OwnClaim`],
		/// [`Error::AlreadyCommitted`], [`Error::TooManyCommitments`]. Emits
		/// [`Event::ReportCommitted`].
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::commit_report())]
		pub fn commit_report(
			origin: OriginFor<T>,
			claim: ClaimId,
			commitment: Hash,
		) -> DispatchResult {
			let validator = ensure_signed(origin)?;
			Self::do_commit_report(validator, claim, commitment)
		}

		/// Reveals a committed report. The reveal that brings the number of identical reports
		/// to ⌈⅔ · active validators⌉ decides the claim; later reveals are taken until
		/// `reveal_until` and compared with the quorum when the window closes.
		///
		/// Origin: signed by a validator that committed on the claim. Taken after
		/// `commit_until` up to and including `reveal_until`.
		///
		/// Errors: [`Error::UnknownClaim`], [`Error::RevealNotOpen`],
		/// [`Error::RevealWindowClosed`], [`Error::NoCommitment`],
		/// [`Error::CommitmentMismatch`], [`Error::AlreadyRevealed`]. Emits
		/// [`Event::ReportRevealed`], and the decision's events when it decides.
		#[pallet::call_index(3)]
		#[pallet::weight(
			T::WeightInfo::reveal_report(T::MaxValidators::get()).saturating_add(
				T::WeightInfo::decide(T::MaxDatasets::get(), T::MaxUnitsPerClaim::get())
			)
		)]
		pub fn reveal_report(
			origin: OriginFor<T>,
			claim: ClaimId,
			report: EvalReport,
			salt: Hash,
		) -> DispatchResultWithPostInfo {
			let validator = ensure_signed(origin)?;
			let (reveals, decided) = Self::do_reveal_report(validator, claim, report, salt)?;
			let mut weight = T::WeightInfo::reveal_report(reveals);
			if let Some((datasets, units)) = decided {
				weight = weight.saturating_add(T::WeightInfo::decide(datasets, units));
			}
			Ok(Some(weight).into())
		}
	}
}

impl<T: Config> Pallet<T> {
	/// Index of the quota day containing `block`: `block / DayLength`.
	pub fn day_index(block: BlockNumberFor<T>) -> u32 {
		let day = block / T::DayLength::get();
		TryInto::<u32>::try_into(day).unwrap_or(u32::MAX)
	}

	/// Claims per day at a trust level.
	pub fn daily_quota(level: TrustLevel) -> u32 {
		match level {
			TrustLevel::Newbie => T::NewbieDailyClaims::get(),
			TrustLevel::Trusted => T::TrustedDailyClaims::get(),
		}
	}

	/// Identical reports needed to decide: ⌈⅔ · active validators⌉, at least 1.
	pub fn decision_threshold() -> u32 {
		decision_threshold(T::Validators::count())
	}

	/// The validators who may report on a claim of `trainer`: all active ones but the trainer.
	pub fn eligible_reporters(trainer: &T::AccountId) -> u32 {
		let n = T::Validators::count();
		if T::Validators::is_validator(trainer) {
			n.saturating_sub(1)
		} else {
			n
		}
	}

	/// Whether this configuration makes forging segments and lying in the evaluation record
	/// losing bets ([`blyan_primitives::pol::forgery_never_pays`] and
	/// [`blyan_primitives::pol::window_lie_never_pays`] with `SlashFraction · MinBond` as the
	/// slash and `TrainerReward + DataReward` as the gain).
	pub fn forgery_never_pays() -> bool {
		let slash: u128 = (T::SlashFraction::get() * T::MinBond::get()).unique_saturated_into();
		let gain: u128 = T::TrainerReward::get()
			.saturating_add(T::DataReward::get())
			.unique_saturated_into();
		blyan_primitives::pol::forgery_never_pays(
			T::ManifestLimits::get().max_segments,
			T::ReplaySegments::get(),
			slash,
			gain,
		) && blyan_primitives::pol::window_lie_never_pays(slash, gain)
	}

	/// Maps a [`ParamsError`] to its call error.
	fn params_error(e: ParamsError) -> Error<T> {
		match e {
			ParamsError::Steps => Error::<T>::StepsOutOfRange,
			ParamsError::CheckpointInterval => Error::<T>::CheckpointIntervalOutOfRange,
			ParamsError::Segments => Error::<T>::TooManySegments,
			ParamsError::BatchSize => Error::<T>::BatchSizeOutOfRange,
			ParamsError::SeqLen => Error::<T>::SeqLenOutOfRange,
			ParamsError::TokensPerStep => Error::<T>::TooManyTokensPerStep,
		}
	}

	/// Checks and records a claim; see [`Call::submit_claim`]. Returns the claim id.
	pub fn do_submit_claim(
		trainer: T::AccountId,
		input: ClaimInput<T::MaxDatasets, T::MaxUnitsPerClaim>,
		bond: BalanceOf<T>,
	) -> Result<ClaimId, DispatchError> {
		ensure!(bond >= T::MinBond::get(), Error::<T>::BondTooLow);
		ensure!(!input.units.is_empty(), Error::<T>::NoUnits);
		let now = frame_system::Pallet::<T>::block_number();
		let base: BlockNumberFor<T> = input.base.into();
		ensure!(base < now, Error::<T>::BaseNotInPast);
		ensure!(now.saturating_sub(base) <= T::MaxBaseAge::get(), Error::<T>::BaseTooOld);
		ensure!(!input.datasets.is_empty(), Error::<T>::NoDatasets);
		let mut sum: u64 = 0;
		for (i, share) in input.datasets.iter().enumerate() {
			ensure!(
				!input.datasets.iter().take(i).any(|s| s.dataset == share.dataset),
				Error::<T>::DuplicateDataset
			);
			sum = sum.saturating_add(u64::from(share.ratio_ppm));
		}
		ensure!(sum == u64::from(PPM), Error::<T>::RatiosDoNotSum);
		let validation = T::Datasets::validation_dataset();
		for share in input.datasets.iter() {
			ensure!(Some(share.dataset) != validation, Error::<T>::ValidationDatasetNamed);
			ensure!(
				T::Datasets::approved_creator(share.dataset).is_some(),
				Error::<T>::DatasetNotApproved
			);
		}
		T::ManifestLimits::get().check(&input.params).map_err(Self::params_error)?;
		// Each unit once, each from its accepted block. At most `MaxUnitsPerClaim` (64)
		// updates, so the pairwise duplicate check is cheap.
		let mut names: Vec<BoundedVec<u8, T::MaxUnitNameLen>> =
			Vec::with_capacity(input.units.len());
		for update in input.units.iter() {
			let unit = T::Dag::unit_of(&update.parent).ok_or(Error::<T>::UnknownParent)?;
			ensure!(!names.iter().any(|n| n[..] == unit[..]), Error::<T>::DuplicateUnit);
			ensure!(T::Dag::accepted(&unit) == Some(update.parent), Error::<T>::ParentNotAccepted);
			names.push(unit.try_into().map_err(|_| Error::<T>::UnknownParent)?);
		}

		let day = Self::day_index(now);
		let (quota_day, used) = ClaimQuota::<T>::get(&trainer);
		let used = if quota_day == day { used } else { 0 };
		ensure!(
			used < Self::daily_quota(TrainerTrust::<T>::get(&trainer).level),
			Error::<T>::QuotaExceeded
		);

		let challenge_at = now.saturating_add(T::ChallengeDelay::get());
		let commit_until = challenge_at.saturating_add(T::CommitWindow::get());
		let reveal_until = commit_until.saturating_add(T::RevealWindow::get());
		let close_at = reveal_until.saturating_add(1u32.into());
		ensure!(
			(Challenges::<T>::decode_len(challenge_at).unwrap_or(0) as u32)
				< T::MaxClaimsPerBlock::get()
				&& (Decisions::<T>::decode_len(close_at).unwrap_or(0) as u32)
					< T::MaxClaimsPerBlock::get(),
			Error::<T>::ScheduleFull
		);
		ensure!(
			T::Currency::can_hold(&HoldReason::ClaimBond.into(), &trainer, bond),
			Error::<T>::InsufficientBalance
		);

		// Last fallible steps: the DAG proposals are undone together when one fails.
		let blocks = frame_support::storage::with_transaction(|| {
			let mut blocks = Vec::with_capacity(input.units.len());
			for (update, unit) in input.units.iter().zip(names) {
				match T::Dag::propose_child(
					&trainer,
					&update.parent,
					&update.payload_root,
					update.nonce,
				) {
					Ok(block) => blocks.push(CandidateBlock { unit, block }),
					Err(e) => return sp_runtime::TransactionOutcome::Rollback(Err(e)),
				}
			}
			if T::Currency::hold(&HoldReason::ClaimBond.into(), &trainer, bond).is_err() {
				frame_support::defensive!("can_hold and hold disagree");
				return sp_runtime::TransactionOutcome::Rollback(Err(
					Error::<T>::InsufficientBalance.into(),
				));
			}
			sp_runtime::TransactionOutcome::Commit(Ok(blocks))
		})?;
		// As many as `input.units`, which is bounded by the same `MaxUnitsPerClaim`.
		let blocks: BoundedVec<CandidateBlock<T::MaxUnitNameLen>, T::MaxUnitsPerClaim> =
			BoundedVec::truncate_from(blocks);
		let id = NextClaimId::<T>::get();
		// Room was checked above; these cannot fail.
		let _ = Challenges::<T>::try_mutate(challenge_at, |q| q.try_push(id));
		let _ = Decisions::<T>::try_mutate(close_at, |q| q.try_push(id));
		NextClaimId::<T>::put(id.saturating_add(1));
		ClaimQuota::<T>::insert(&trainer, (day, used.saturating_add(1)));
		for b in blocks.iter() {
			ClaimOfBlock::<T>::insert(b.block, id);
		}
		let event_blocks = Self::block_ids(&blocks);
		Claims::<T>::insert(
			id,
			Claim {
				trainer: trainer.clone(),
				blocks,
				input,
				bond,
				submitted_at: now,
				challenge_at,
				commit_until,
				reveal_until,
				segments: BoundedVec::new(),
				seed: [0; 32],
				commitments: 0,
				quorum: None,
				stage: ClaimStage::AwaitingChallenge,
			},
		);
		Self::deposit_event(Event::ClaimSubmitted {
			claim: id,
			trainer,
			blocks: event_blocks,
			bond,
			challenge_at,
		});
		Ok(id)
	}

	/// The block ids of a claim's candidate blocks, in claim order.
	pub fn block_ids(blocks: &[CandidateBlock<T::MaxUnitNameLen>]) -> BlocksOf<T> {
		BoundedVec::truncate_from(blocks.iter().map(|b| b.block).collect())
	}

	/// Rejects every candidate block of a claim (a block no longer `Proposed` is left as it
	/// is).
	fn reject_blocks(claim: &Claim<T>) {
		for b in claim.blocks.iter() {
			let _ = T::Dag::reject(&b.block);
		}
	}

	/// The challenged segments of claim `claim` with `segments` training segments, drawn from
	/// `seed` ([`blyan_primitives::pol::challenge_segments`] with `r = ReplaySegments`).
	pub fn challenge_segments(
		seed: &Hash,
		claim: ClaimId,
		segments: u32,
	) -> BoundedVec<u32, T::ReplaySegments> {
		BoundedVec::truncate_from(blyan_primitives::pol::challenge_segments(
			seed,
			claim,
			segments,
			T::ReplaySegments::get(),
		))
	}

	/// Draws the challenge of claim `id` in the current block `n` (seed: hash of block
	/// `n − 1`).
	fn draw_challenge(id: ClaimId) {
		let Some(mut claim) = Claims::<T>::get(id) else { return };
		if claim.stage != ClaimStage::AwaitingChallenge {
			return;
		}
		let n = frame_system::Pallet::<T>::block_number();
		let parent = frame_system::Pallet::<T>::block_hash(n.saturating_sub(1u32.into()));
		let mut seed = [0u8; 32];
		let bytes = parent.as_ref();
		let len = bytes.len().min(32);
		seed[..len].copy_from_slice(&bytes[..len]);
		let segments = Self::challenge_segments(&seed, id, claim.input.params.segments());
		claim.segments = segments.clone();
		claim.seed = seed;
		claim.stage = ClaimStage::Evaluating;
		let (commit_until, reveal_until) = (claim.commit_until, claim.reveal_until);
		Claims::<T>::insert(id, claim);
		Self::deposit_event(Event::ChallengeDrawn {
			claim: id,
			segments,
			commit_until,
			reveal_until,
		});
	}

	/// Records a commitment; see [`Call::commit_report`].
	pub fn do_commit_report(
		validator: T::AccountId,
		id: ClaimId,
		commitment: Hash,
	) -> DispatchResult {
		let mut claim = Claims::<T>::get(id).ok_or(Error::<T>::UnknownClaim)?;
		ensure!(claim.stage != ClaimStage::AwaitingChallenge, Error::<T>::ChallengeNotDrawn);
		let now = frame_system::Pallet::<T>::block_number();
		ensure!(
			claim.stage == ClaimStage::Evaluating && now <= claim.commit_until,
			Error::<T>::CommitWindowClosed
		);
		ensure!(T::Validators::is_validator(&validator), Error::<T>::NotValidator);
		ensure!(validator != claim.trainer, Error::<T>::OwnClaim);
		ensure!(!Commitments::<T>::contains_key(id, &validator), Error::<T>::AlreadyCommitted);
		ensure!(claim.commitments < T::MaxValidators::get(), Error::<T>::TooManyCommitments);
		claim.commitments = claim.commitments.saturating_add(1);
		Commitments::<T>::insert(id, &validator, commitment);
		let complete = claim.commitments >= Self::eligible_reporters(&claim.trainer);
		if complete {
			// Nobody else can commit: reveals may start with the next block, and the window
			// closes `RevealWindow` blocks later (when there is room in that block's queue).
			claim.commit_until = now;
			let reveal_until = now.saturating_add(T::RevealWindow::get());
			let (old_close, new_close) = (
				claim.reveal_until.saturating_add(1u32.into()),
				reveal_until.saturating_add(1u32.into()),
			);
			if new_close < old_close
				&& Decisions::<T>::try_mutate(new_close, |q| q.try_push(id)).is_ok()
			{
				Decisions::<T>::mutate(old_close, |q| q.retain(|c| *c != id));
				claim.reveal_until = reveal_until;
			}
		}
		let reveal_until = claim.reveal_until;
		Claims::<T>::insert(id, claim);
		Self::deposit_event(Event::ReportCommitted { claim: id, validator });
		if complete {
			Self::deposit_event(Event::CommitmentsComplete {
				claim: id,
				reveals_from: now.saturating_add(1u32.into()),
				reveal_until,
			});
		}
		Ok(())
	}

	/// Records a reveal and decides the claim when [`Self::decision_threshold`] revealed
	/// reports are identical; see [`Call::reveal_report`]. Returns the number of reveals and,
	/// when it decided, the claim's numbers of datasets and units (for the weight).
	pub fn do_reveal_report(
		validator: T::AccountId,
		id: ClaimId,
		report: EvalReport,
		salt: Hash,
	) -> Result<(u32, Option<(u32, u32)>), DispatchError> {
		let claim = Claims::<T>::get(id).ok_or(Error::<T>::UnknownClaim)?;
		let now = frame_system::Pallet::<T>::block_number();
		ensure!(
			claim.stage != ClaimStage::AwaitingChallenge && now > claim.commit_until,
			Error::<T>::RevealNotOpen
		);
		ensure!(now <= claim.reveal_until, Error::<T>::RevealWindowClosed);
		let commitment = Commitments::<T>::get(id, &validator).ok_or(Error::<T>::NoCommitment)?;
		ensure!(
			report_commitment(id, &validator, &report, &salt) == commitment,
			Error::<T>::CommitmentMismatch
		);
		let mut reports = Reports::<T>::get(id);
		ensure!(!reports.iter().any(|(v, _)| *v == validator), Error::<T>::AlreadyRevealed);
		// At most one reveal per commitment, and commitments are bounded by MaxValidators.
		reports
			.try_push((validator.clone(), report))
			.map_err(|_| Error::<T>::TooManyCommitments)?;
		let count = reports.len() as u32;
		let agreeing = reports.iter().filter(|(_, r)| *r == report).count() as u32;
		Reports::<T>::insert(id, reports);
		Self::deposit_event(Event::ReportRevealed { claim: id, validator, report });
		if claim.stage == ClaimStage::Evaluating && agreeing >= Self::decision_threshold() {
			let sizes = (claim.input.datasets.len() as u32, claim.blocks.len() as u32);
			Self::decide(id, claim, report);
			return Ok((count, Some(sizes)));
		}
		Ok((count, None))
	}

	/// The verdict of a quorum report `q` on `claim`, without side effects: `Ok(improvement
	/// ppm)` to accept, or the rejection reason (checked in the order of the crate docs).
	pub fn verdict(claim: &Claim<T>, q: &EvalReport) -> Result<i64, RejectReason> {
		if q.replay == ReplayVerdict::EngineMismatch {
			return Err(RejectReason::EngineMismatch);
		}
		if q.replay != ReplayVerdict::Match {
			return Err(RejectReason::ReplayFailed { verdict: q.replay });
		}
		// A false claimed loss is a lie whatever happened to the unit since: checked before
		// `Superseded`, so an inflater cannot escape the slash behind another acceptance.
		if !within_ppm(claim.input.claimed_loss, q.candidate_loss, T::ClaimTolerance::get()) {
			return Err(RejectReason::ClaimedLossNotReproduced { measured: q.candidate_loss });
		}
		// Only the claim's own units: other units moving does not supersede it.
		let moved = claim
			.blocks
			.iter()
			.zip(claim.input.units.iter())
			.any(|(b, u)| T::Dag::accepted(&b.unit) != Some(u.parent));
		if moved {
			return Err(RejectReason::Superseded);
		}
		let improvement_ppm = improvement_ppm(q.parent_loss, q.candidate_loss);
		if improvement_ppm < i64::from(T::MinImprovement::get()) {
			return Err(RejectReason::InsufficientImprovement { improvement_ppm });
		}
		Ok(improvement_ppm)
	}

	/// Accepts every candidate block of a claim, or none: when the DAG refuses one (it
	/// refuses only a block that is no longer `Proposed`), the acceptances before it are
	/// rolled back.
	fn accept_blocks(claim: &Claim<T>) -> Result<(), DispatchError> {
		frame_support::storage::with_transaction(|| {
			for b in claim.blocks.iter() {
				if let Err(e) = T::Dag::accept(&b.block) {
					return sp_runtime::TransactionOutcome::Rollback(Err(e));
				}
			}
			sp_runtime::TransactionOutcome::Commit(Ok(()))
		})
	}

	/// Decides claim `id` on the quorum report `q` ([`Self::verdict`]): moves every updated
	/// unit's `ParamIndex` (all or none), the bond, the rewards and the trust.
	fn decide(id: ClaimId, mut claim: Claim<T>, q: EvalReport) {
		let reason = HoldReason::ClaimBond.into();
		let verdict = match Self::verdict(&claim, &q) {
			// The DAG refuses only a block no longer `Proposed`: treat as superseded.
			Ok(improvement) => Self::accept_blocks(&claim)
				.map(|_| improvement)
				.map_err(|_| RejectReason::Superseded),
			Err(r) => Err(r),
		};
		let blocks = Self::block_ids(&claim.blocks);
		claim.quorum = Some(q);
		match verdict {
			Ok(improvement_ppm) => {
				let _ = T::Currency::release(
					&reason,
					&claim.trainer,
					claim.bond,
					Precision::BestEffort,
				);
				let reward = T::Currency::mint_into(&claim.trainer, T::TrainerReward::get())
					.unwrap_or_else(|_| Zero::zero());
				claim.stage = ClaimStage::Accepted { improvement_ppm };
				Self::deposit_event(Event::ClaimAccepted {
					claim: id,
					blocks,
					improvement_ppm,
					reward,
				});
				for share in claim.input.datasets.iter() {
					let Some(creator) = T::Datasets::approved_creator(share.dataset) else {
						continue;
					};
					let amount = Permill::from_parts(share.ratio_ppm) * T::DataReward::get();
					if amount.is_zero() {
						continue;
					}
					if let Ok(amount) = T::Currency::mint_into(&creator, amount) {
						Self::deposit_event(Event::DataContributorRewarded {
							claim: id,
							dataset: share.dataset,
							creator,
							amount,
						});
					}
				}
				Self::record_trust(&claim.trainer, true);
			},
			Err(reject) => {
				Self::reject_blocks(&claim);
				let mut slashed = Zero::zero();
				if reject.slashes() {
					slashed = Self::burn_bond(&claim, T::SlashFraction::get());
					Self::record_trust(&claim.trainer, false);
				} else if reject == RejectReason::EngineMismatch {
					slashed = Self::burn_bond(&claim, T::ExpiryFee::get());
				}
				let rest = claim.bond.saturating_sub(slashed);
				let _ = T::Currency::release(&reason, &claim.trainer, rest, Precision::BestEffort);
				claim.stage = ClaimStage::Rejected(reject);
				Self::deposit_event(Event::ClaimRejected {
					claim: id,
					blocks,
					reason: reject,
					slashed,
				});
			},
		}
		Claims::<T>::insert(id, claim);
	}

	/// Burns `share` of the claim's held bond; returns what was burnt.
	fn burn_bond(claim: &Claim<T>, share: Perbill) -> BalanceOf<T> {
		T::Currency::burn_held(
			&HoldReason::ClaimBond.into(),
			&claim.trainer,
			share * claim.bond,
			Precision::BestEffort,
			Fortitude::Force,
		)
		.unwrap_or_else(|_| Zero::zero())
	}

	/// Closes the window of claim `id`: an undecided claim expires; then missed reveals and
	/// reports that differ from the quorum are recorded, and the commitments are dropped.
	/// Returns the number of units whose blocks were rejected here (for the weight; at least
	/// 1 per closed window).
	fn close_window(id: ClaimId) -> u32 {
		let Some(mut claim) = Claims::<T>::get(id) else { return 1 };
		let reports = Reports::<T>::get(id);
		let units = (claim.blocks.len() as u32).max(1);
		if claim.stage == ClaimStage::Evaluating {
			Self::reject_blocks(&claim);
			let fee = Self::burn_bond(&claim, T::ExpiryFee::get());
			let rest = claim.bond.saturating_sub(fee);
			let _ = T::Currency::release(
				&HoldReason::ClaimBond.into(),
				&claim.trainer,
				rest,
				Precision::BestEffort,
			);
			claim.stage = ClaimStage::Expired;
			Self::deposit_event(Event::ClaimExpired {
				claim: id,
				blocks: Self::block_ids(&claim.blocks),
				fee,
				commitments: claim.commitments,
				reveals: reports.len() as u32,
			});
			Claims::<T>::insert(id, &claim);
		}
		let committed: Vec<T::AccountId> =
			Commitments::<T>::drain_prefix(id).map(|(v, _)| v).collect();
		for validator in committed {
			if !reports.iter().any(|(v, _)| *v == validator) {
				Self::record_deviation(id, validator, Deviation::NotRevealed);
			}
		}
		if let Some(q) = claim.quorum {
			let tol = T::DeviationTolerance::get();
			for (validator, r) in reports.iter() {
				let differs = !within_ppm(r.parent_loss, q.parent_loss, tol)
					|| !within_ppm(r.candidate_loss, q.candidate_loss, tol)
					|| r.replay != q.replay
					|| r.replay_digest != q.replay_digest;
				if differs {
					Self::record_deviation(id, validator.clone(), Deviation::DiffersFromQuorum);
				}
			}
		}
		units
	}

	fn record_deviation(claim: ClaimId, validator: T::AccountId, deviation: Deviation) {
		let count = Deviations::<T>::mutate(&validator, |c| {
			*c = c.saturating_add(1);
			*c
		});
		Self::deposit_event(Event::ReportDeviated { claim, validator, deviation, count });
	}

	/// Records an outcome in the trainer's trust and reports a level change.
	fn record_trust(trainer: &T::AccountId, success: bool) {
		let changed = TrainerTrust::<T>::mutate(trainer, |t| t.record(success));
		if let Some(level) = changed {
			Self::deposit_event(Event::TrainerTrustChanged { trainer: trainer.clone(), level });
		}
	}

	/// The pallet's invariants (`try_state`; also run by the tests and the fuzz harness):
	///
	/// - every claim below `NextClaimId` exists, and none at or above it;
	/// - a claim updates at least one unit, each once, with one block per update;
	/// - `ClaimOfBlock` maps each of a claim's blocks to the claim;
	/// - the bonds held under `ClaimBond` add up, per trainer, to the bonds of the trainer's
	///   open claims;
	/// - an open claim's DAG blocks are all still `Proposed`, and it is scheduled for its challenge
	///   (awaiting) and for its close;
	/// - its commitments are counted exactly, at most `MaxValidators`, and the revealed
	///   reports come from committed validators, at most one each;
	/// - a drawn challenge has `min(r, segments)` distinct ascending segments below the
	///   segment count;
	/// - the windows are ordered `submitted_at < challenge_at ≤ commit_until < reveal_until`;
	/// - a claim decided by a quorum holds the quorum report.
	///
	/// Cost: iterates every claim (off-chain only).
	#[cfg(any(feature = "std", feature = "try-runtime"))]
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use alloc::collections::btree_map::BTreeMap;
		let next = NextClaimId::<T>::get();
		let mut bonds: BTreeMap<T::AccountId, BalanceOf<T>> = BTreeMap::new();
		let mut count: u64 = 0;
		for (id, claim) in Claims::<T>::iter() {
			count = count.saturating_add(1);
			ensure!(id < next, "a claim id is at or above NextClaimId");
			ensure!(!claim.blocks.is_empty(), "a claim without units");
			ensure!(claim.blocks.len() == claim.input.units.len(), "blocks and units differ");
			for (i, b) in claim.blocks.iter().enumerate() {
				ensure!(ClaimOfBlock::<T>::get(b.block) == Some(id), "ClaimOfBlock is wrong");
				ensure!(
					!claim.blocks.iter().take(i).any(|c| c.unit == b.unit),
					"a claim updates a unit twice"
				);
			}
			ensure!(
				claim.submitted_at < claim.challenge_at
					&& claim.challenge_at <= claim.commit_until
					&& claim.commit_until < claim.reveal_until,
				"claim windows out of order"
			);
			let now = frame_system::Pallet::<T>::block_number();
			let open = !claim.stage.is_final();
			let closed = now > claim.reveal_until;
			let close_at = claim.reveal_until.saturating_add(1u32.into());
			if open {
				ensure!(!closed, "a claim past its window is still open");
				let b = bonds.entry(claim.trainer.clone()).or_default();
				*b = b.saturating_add(claim.bond);
				ensure!(
					claim.blocks.iter().all(|b| T::Dag::is_proposed(&b.block)),
					"an open claim's block is not Proposed"
				);
			}
			if closed {
				ensure!(
					Commitments::<T>::iter_prefix(id).next().is_none(),
					"a closed claim keeps commitments"
				);
			} else {
				ensure!(
					Decisions::<T>::get(close_at).contains(&id),
					"a claim is not scheduled to close"
				);
				let committed = Commitments::<T>::iter_prefix(id).count() as u32;
				ensure!(committed == claim.commitments, "commitment count is wrong");
				ensure!(committed <= T::MaxValidators::get(), "too many commitments");
				let reports = Reports::<T>::get(id);
				for (i, (v, _)) in reports.iter().enumerate() {
					ensure!(Commitments::<T>::contains_key(id, v), "a reveal without commitment");
					ensure!(
						!reports.iter().take(i).any(|(w, _)| w == v),
						"two reveals by one validator"
					);
				}
			}
			match claim.stage {
				ClaimStage::AwaitingChallenge => {
					ensure!(claim.segments.is_empty(), "segments drawn before the challenge");
					ensure!(
						Challenges::<T>::get(claim.challenge_at).contains(&id),
						"a claim awaiting its challenge is not scheduled"
					);
				},
				_ => {
					let s = claim.input.params.segments();
					let want = T::ReplaySegments::get().min(s) as usize;
					ensure!(claim.segments.len() == want, "wrong number of challenged segments");
					ensure!(
						claim.segments.windows(2).all(|w| w[0] < w[1])
							&& claim.segments.iter().all(|x| *x < s),
						"challenged segments not distinct, sorted and in range"
					);
				},
			}
			if matches!(claim.stage, ClaimStage::Accepted { .. } | ClaimStage::Rejected(_)) {
				ensure!(claim.quorum.is_some(), "a decided claim without its quorum report");
			}
		}
		ensure!(count == next, "claims are missing below NextClaimId");
		let bonds_of = bonds.clone();
		for (trainer, bond) in bonds {
			let held = T::Currency::balance_on_hold(&HoldReason::ClaimBond.into(), &trainer);
			ensure!(held == bond, "held bonds differ from the open claims' bonds");
		}
		for (who, _) in frame_system::Account::<T>::iter() {
			let held = T::Currency::balance_on_hold(&HoldReason::ClaimBond.into(), &who);
			if !held.is_zero() {
				ensure!(
					bonds_of.contains_key(&who),
					"an account holds a claim bond without an open claim"
				);
			}
		}
		Ok(())
	}
}
