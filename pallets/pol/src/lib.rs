//! # Proof-of-Learning pallet
//!
//! Gates expert updates on the parameter DAG (Chain B) by the validators' own evaluation
//! (SPEC "Proof-of-Learning and Proof-of-Data-Learning").
//!
//! ## Lifecycle of a claim
//!
//! 1. A trainer calls [`Call::submit_claim`] with the parent block (the unit's current
//!    `ParamIndex` entry), the payload root of the updated unit and of its PoDL manifest (both
//!    already committed in the content store), the datasets and mixing ratios, the number of
//!    training segments, the claimed validation loss, the parameter-DAG PoW nonce and a bond.
//!    The pallet adds the candidate to the DAG as a `Proposed` child of the parent, holds the
//!    bond (`HoldReason::ClaimBond`) and schedules the challenge: `AwaitingChallenge { at }`
//!    with `at = now + ChallengeDelay`.
//! 2. At block `at`, `on_initialize` draws the replay challenge: `ReplaySegments` distinct
//!    segment indices from `blake2_256(hash of block at − 1 ‖ claim id)`. That hash did not
//!    exist when the trainer committed (see "Randomness" below). The claim enters
//!    `Evaluating { segments }`; reports are taken up to and including its
//!    `deadline = at + EvaluationWindow`.
//! 3. Each active validator's off-chain worker fetches and verifies the payload, computes the
//!    parent's and the candidate's validation nats per byte on the spec's validation set,
//!    replays the challenged segments and calls [`Call::submit_report`].
//! 4. The claim is decided by the report that brings the number of *identical* reports to ⅔
//!    of the validators (rounded up) — honest validators compute bitwise-identical numbers —
//!    or else at block `deadline + 1` by `on_initialize`, over all reports:
//!    - *reject* `NoReports` when nobody reported, `Superseded` when another update of the
//!      unit was accepted meanwhile (both: bond returned, no slash);
//!    - *reject* `ReplayMismatch` unless more than half of the reports say `Match`;
//!    - *reject* `InsufficientImprovement` when the lower median of the per-report relative
//!      improvements `(parent − candidate) / parent` is below `MinImprovement` (δ, ppm);
//!    - *reject* `ClaimedLossNotReproduced` when the claimed loss is further than
//!      `ClaimTolerance` from the median measured candidate loss;
//!    - otherwise *accept*: `ParamIndex` moves to the new block, the bond is released, the
//!      trainer receives `TrainerReward`, and each dataset's creator receives
//!      `DataReward × ratio` (PoDL, SPEC "Proof-of-Learning").
//!
//!    A slashing rejection burns `SlashFraction` of the bond, releases the rest and records a
//!    failure in the trainer's [`Trust`] (five in a row demote; the daily claim quota falls
//!    from `TrustedDailyClaims` to `NewbieDailyClaims`). An acceptance records a success.
//! 5. A claim decided early still takes reports until its deadline. At `deadline + 1` all
//!    reports are compared with the majority report (the most frequent exact report, when
//!    more than half are equal to it — honest reports are bitwise identical): a report whose
//!    losses differ from it by more than `DeviationTolerance`, or whose replay verdict or
//!    digest differs, is recorded in [`Deviations`] with [`Event::ReportDeviated`], the input
//!    of validator slashing.
//!
//! ## Randomness
//!
//! The challenge seed is the hash of block `at − 1`, the first block after the claim's
//! inclusion block when `ChallengeDelay = 2`. A trainer cannot know it when committing. The
//! author of block `at − 1` can bias it: by reordering or dropping extrinsics it can try as
//! many candidate hashes as it can build and sign within its slot, or withhold the block
//! altogether (then the next author's block is used). A trainer colluding with that author
//! can therefore steer which segments are replayed; with r segments out of S, each try
//! succeeds with probability `C(S − f, r) / C(S, r)` where f is the number of forged
//! segments. Aura authors are known in advance, which makes collusion easier than with a
//! VRF (BABE). This is documented in docs/pol.md; the validator-economics work replaces the
//! seed with BABE's VRF output.
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
		fungible::{Inspect, Mutate, MutateHold},
		tokens::{Fortitude, Precision},
	},
};
use frame_system::pallet_prelude::*;
use sp_runtime::{
	traits::{Saturating, Zero},
	Perbill, Permill,
};

/// Balance type of [`Config::Currency`], in planck.
pub type BalanceOf<T> =
	<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

/// A validator's report as stored: the validator and its report.
pub type ReportsOf<T> =
	BoundedVec<(<T as frame_system::Config>::AccountId, EvalReport), <T as Config>::MaxValidators>;

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

	const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);

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

		/// Approved datasets (Chain D).
		type Datasets: Datasets<Self::AccountId>;

		/// Active validators, whose reports count.
		type Validators: Validators<Self::AccountId>;

		/// Smallest bond of a claim, planck.
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

		/// δ: the smallest median relative improvement that accepts, ppm (SPEC default
		/// 0.5 % = 5 000 ppm).
		#[pallet::constant]
		type MinImprovement: Get<u32>;

		/// Largest distance between the claimed and the median measured candidate loss, ppm.
		#[pallet::constant]
		type ClaimTolerance: Get<u32>;

		/// Largest distance of a report's losses from the medians before it counts as
		/// deviant, ppm. Honest reports are bitwise identical, so this is tiny.
		#[pallet::constant]
		type DeviationTolerance: Get<u32>;

		/// Blocks between a claim's inclusion and the challenge draw; at least 2, so that the
		/// seed block (`at − 1`) comes after the claim's block.
		#[pallet::constant]
		type ChallengeDelay: Get<BlockNumberFor<Self>>;

		/// Blocks after the challenge during which reports are taken.
		#[pallet::constant]
		type EvaluationWindow: Get<BlockNumberFor<Self>>;

		/// r: training segments replayed per claim (fewer when the claim has fewer).
		#[pallet::constant]
		type ReplaySegments: Get<u32>;

		/// Most datasets a claim may name.
		#[pallet::constant]
		type MaxDatasets: Get<u32>;

		/// Longest unit name, bytes (as pallet-param-dag's `MaxNameLen`).
		#[pallet::constant]
		type MaxUnitNameLen: Get<u32>;

		/// Most validators, i.e. most reports per claim.
		#[pallet::constant]
		type MaxValidators: Get<u32>;

		/// Most claims challenged or decided by `on_initialize` in one block.
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

	/// The claim of each candidate block.
	#[pallet::storage]
	pub type ClaimOfBlock<T: Config> = StorageMap<_, Identity, Hash, ClaimId>;

	/// Reports of a claim, in arrival order.
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

	/// Claims whose report window closes at a block (their deadline + 1): undecided ones are
	/// decided, and all reports are checked for deviation.
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

	/// Deviant reports per validator: the slashing input of the validator-economics work.
	#[pallet::storage]
	pub type Deviations<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, u32, ValueQuery>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A claim was submitted and its candidate block proposed.
		ClaimSubmitted {
			/// Claim id.
			claim: ClaimId,
			/// Trainer.
			trainer: T::AccountId,
			/// Candidate block in the parameter DAG.
			block: Hash,
			/// Bond held, planck.
			bond: BalanceOf<T>,
			/// Block whose `on_initialize` draws the challenge.
			challenge_at: BlockNumberFor<T>,
		},
		/// The replay challenge of a claim was drawn; validators evaluate now.
		ChallengeDrawn {
			/// Claim id.
			claim: ClaimId,
			/// Challenged segment indices, ascending.
			segments: BoundedVec<u32, T::ReplaySegments>,
			/// Last block taking reports.
			deadline: BlockNumberFor<T>,
		},
		/// A validator reported on a claim.
		ReportSubmitted {
			/// Claim id.
			claim: ClaimId,
			/// Validator.
			validator: T::AccountId,
			/// The report.
			report: EvalReport,
		},
		/// A claim was accepted: `ParamIndex` moved to its block.
		ClaimAccepted {
			/// Claim id.
			claim: ClaimId,
			/// The accepted block.
			block: Hash,
			/// Median relative improvement, ppm.
			median_ppm: i64,
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
		/// A claim was rejected.
		ClaimRejected {
			/// Claim id.
			claim: ClaimId,
			/// The rejected block.
			block: Hash,
			/// Why.
			reason: RejectReason,
			/// Part of the bond burnt, planck (zero when the trainer was not at fault).
			slashed: BalanceOf<T>,
		},
		/// A report deviated from the majority of a claim's reports; recorded against its
		/// validator.
		ReportDeviated {
			/// Claim id.
			claim: ClaimId,
			/// Validator.
			validator: T::AccountId,
			/// Deviant reports of this validator so far.
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
		/// The mixing ratios do not sum to 1 000 000 ppm.
		RatiosDoNotSum,
		/// The claim has zero training segments.
		NoSegments,
		/// The parent block does not exist.
		UnknownParent,
		/// The parent is not the unit's accepted block (`ParamIndex`).
		ParentNotAccepted,
		/// The trainer used up today's claims.
		QuotaExceeded,
		/// Too many claims are already scheduled for the challenge or decision block.
		ScheduleFull,
		/// No claim with this id.
		UnknownClaim,
		/// The claim is not taking reports (challenge not drawn yet, or deadline passed).
		NotTakingReports,
		/// The signer is not an active validator.
		NotValidator,
		/// This validator already reported on the claim.
		DuplicateReport,
		/// The claim already holds `MaxValidators` reports.
		TooManyReports,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		/// Draws the challenges scheduled for `n` and decides the claims whose window ended.
		/// At most `MaxClaimsPerBlock` of each.
		fn on_initialize(n: BlockNumberFor<T>) -> Weight {
			let challenges = Challenges::<T>::take(n);
			let closing = Decisions::<T>::take(n);
			for id in &challenges {
				Self::draw_challenge(*id);
			}
			for id in &closing {
				Self::close_window(*id);
			}
			T::WeightInfo::on_initialize(challenges.len() as u32, closing.len() as u32)
		}

		/// The validators' worker ([`worker`]): queues evaluation and replay of claims that
		/// take reports on the node's engine, and reports the finished ones.
		fn offchain_worker(n: BlockNumberFor<T>) {
			worker::run::<T>(n);
		}

		fn integrity_test() {
			assert!(
				T::ChallengeDelay::get() >= 2u32.into(),
				"ChallengeDelay must be at least 2 so the seed block follows the claim's block"
			);
			assert!(T::ReplaySegments::get() > 0, "ReplaySegments must be positive");
			assert!(T::MaxClaimsPerBlock::get() > 0, "MaxClaimsPerBlock must be positive");
			assert!(T::MaxValidators::get() > 0, "MaxValidators must be positive");
			assert!(!T::DayLength::get().is_zero(), "DayLength must be positive");
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Claims that a new payload of a unit lowers the validation loss.
		///
		/// Origin: signed (the trainer). `input.datasets` bounded by `MaxDatasets`;
		/// `bond` in planck.
		///
		/// Errors: [`Error::BondTooLow`], [`Error::NoDatasets`], [`Error::DuplicateDataset`],
		/// [`Error::RatiosDoNotSum`], [`Error::DatasetNotApproved`], [`Error::NoSegments`],
		/// [`Error::UnknownParent`], [`Error::ParentNotAccepted`], [`Error::QuotaExceeded`],
		/// [`Error::ScheduleFull`], [`Error::InsufficientBalance`], and the parameter DAG's
		/// errors for the new block (unknown payload, invalid PoW, duplicate block).
		/// Emits [`Event::ClaimSubmitted`].
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::submit_claim(input.datasets.len() as u32))]
		pub fn submit_claim(
			origin: OriginFor<T>,
			input: ClaimInput<T::MaxDatasets>,
			bond: BalanceOf<T>,
		) -> DispatchResult {
			let trainer = ensure_signed(origin)?;
			Self::do_submit_claim(trainer, input, bond).map(|_| ())
		}

		/// Reports a validator's evaluation and replay of a claim. The report that brings the
		/// number of identical reports to ⅔ of the validators (rounded up) decides the claim;
		/// later reports are taken until the deadline and checked for deviation when the
		/// window closes.
		///
		/// Origin: signed by an active validator (its off-chain worker's Blyan key).
		///
		/// Errors: [`Error::UnknownClaim`], [`Error::NotTakingReports`], [`Error::NotValidator`],
		/// [`Error::DuplicateReport`], [`Error::TooManyReports`]. Emits
		/// [`Event::ReportSubmitted`], and the decision's events when it decides.
		#[pallet::call_index(1)]
		#[pallet::weight(
			T::WeightInfo::submit_report(T::MaxValidators::get())
				.saturating_add(T::WeightInfo::decide(T::MaxValidators::get()))
		)]
		pub fn submit_report(
			origin: OriginFor<T>,
			claim: ClaimId,
			report: EvalReport,
		) -> DispatchResultWithPostInfo {
			let validator = ensure_signed(origin)?;
			let (reports, decided) = Self::do_submit_report(validator, claim, report)?;
			let mut weight = T::WeightInfo::submit_report(reports);
			if decided {
				weight = weight.saturating_add(T::WeightInfo::decide(reports));
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

	/// Identical reports needed to decide before the deadline: ⅔ of the validators, rounded
	/// up, at least 1.
	pub fn decision_threshold() -> u32 {
		let n = T::Validators::count().max(1);
		n.saturating_mul(2).saturating_add(2) / 3
	}

	/// Checks and records a claim; see [`Call::submit_claim`]. Returns the claim id.
	pub fn do_submit_claim(
		trainer: T::AccountId,
		input: ClaimInput<T::MaxDatasets>,
		bond: BalanceOf<T>,
	) -> Result<ClaimId, DispatchError> {
		ensure!(bond >= T::MinBond::get(), Error::<T>::BondTooLow);
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
		for share in input.datasets.iter() {
			ensure!(
				T::Datasets::approved_creator(share.dataset).is_some(),
				Error::<T>::DatasetNotApproved
			);
		}
		ensure!(input.segments > 0, Error::<T>::NoSegments);
		let unit = T::Dag::unit_of(&input.parent).ok_or(Error::<T>::UnknownParent)?;
		ensure!(T::Dag::accepted(&unit) == Some(input.parent), Error::<T>::ParentNotAccepted);
		let unit: BoundedVec<u8, T::MaxUnitNameLen> =
			unit.try_into().map_err(|_| Error::<T>::UnknownParent)?;

		let now = frame_system::Pallet::<T>::block_number();
		let day = Self::day_index(now);
		let (quota_day, used) = ClaimQuota::<T>::get(&trainer);
		let used = if quota_day == day { used } else { 0 };
		ensure!(
			used < Self::daily_quota(TrainerTrust::<T>::get(&trainer).level),
			Error::<T>::QuotaExceeded
		);

		let challenge_at = now.saturating_add(T::ChallengeDelay::get());
		let decide_at = challenge_at
			.saturating_add(T::EvaluationWindow::get())
			.saturating_add(1u32.into());
		let id = NextClaimId::<T>::get();
		Challenges::<T>::try_mutate(challenge_at, |q| q.try_push(id))
			.map_err(|_| Error::<T>::ScheduleFull)?;
		Decisions::<T>::try_mutate(decide_at, |q| q.try_push(id))
			.map_err(|_| Error::<T>::ScheduleFull)?;

		let block =
			T::Dag::propose_child(&trainer, &input.parent, &input.payload_root, input.nonce)?;
		T::Currency::hold(&HoldReason::ClaimBond.into(), &trainer, bond)
			.map_err(|_| Error::<T>::InsufficientBalance)?;

		NextClaimId::<T>::put(id.saturating_add(1));
		ClaimQuota::<T>::insert(&trainer, (day, used.saturating_add(1)));
		ClaimOfBlock::<T>::insert(block, id);
		Claims::<T>::insert(
			id,
			Claim {
				trainer: trainer.clone(),
				block,
				unit,
				input,
				bond,
				submitted_at: now,
				deadline: challenge_at.saturating_add(T::EvaluationWindow::get()),
				stage: ClaimStage::AwaitingChallenge { at: challenge_at },
			},
		);
		Self::deposit_event(Event::ClaimSubmitted {
			claim: id,
			trainer,
			block,
			bond,
			challenge_at,
		});
		Ok(id)
	}

	/// The challenged segments of a claim with `segments` training segments:
	/// `min(ReplaySegments, segments)` distinct indices in `0..segments`, ascending, drawn from
	/// `seed` by hashing `seed ‖ claim ‖ counter` (blake2-256) until enough distinct ones came
	/// out (at most 8 · r + 8 draws; the rest are filled with the smallest unused indices, so
	/// the result is always complete).
	pub fn challenge_segments(
		seed: &[u8; 32],
		claim: ClaimId,
		segments: u32,
	) -> BoundedVec<u32, T::ReplaySegments> {
		let want = T::ReplaySegments::get().min(segments) as usize;
		let mut chosen: Vec<u32> = Vec::with_capacity(want);
		let mut counter: u32 = 0;
		while chosen.len() < want && counter < (want as u32).saturating_mul(8).saturating_add(8) {
			let h = sp_io::hashing::blake2_256(&(seed, claim, counter).encode());
			counter = counter.saturating_add(1);
			let v = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) % segments;
			if !chosen.contains(&v) {
				chosen.push(v);
			}
		}
		let mut next = 0;
		while chosen.len() < want {
			if !chosen.contains(&next) {
				chosen.push(next);
			}
			next = next.saturating_add(1);
		}
		chosen.sort_unstable();
		BoundedVec::truncate_from(chosen)
	}

	/// Draws the challenge of claim `id` in the current block `n` (seed: hash of block
	/// `n − 1`).
	fn draw_challenge(id: ClaimId) {
		let Some(mut claim) = Claims::<T>::get(id) else { return };
		if !matches!(claim.stage, ClaimStage::AwaitingChallenge { .. }) {
			return;
		}
		let n = frame_system::Pallet::<T>::block_number();
		let parent = frame_system::Pallet::<T>::block_hash(n.saturating_sub(1u32.into()));
		let mut seed = [0u8; 32];
		let bytes = parent.as_ref();
		let len = bytes.len().min(32);
		seed[..len].copy_from_slice(&bytes[..len]);
		let segments = Self::challenge_segments(&seed, id, claim.input.segments);
		let deadline = claim.deadline;
		claim.stage = ClaimStage::Evaluating { segments: segments.clone() };
		Claims::<T>::insert(id, claim);
		Self::deposit_event(Event::ChallengeDrawn { claim: id, segments, deadline });
	}

	/// Closes the report window of claim `id`: decides it if still undecided, then records
	/// the deviant reports.
	fn close_window(id: ClaimId) {
		let Some(claim) = Claims::<T>::get(id) else { return };
		if matches!(claim.stage, ClaimStage::Evaluating { .. }) {
			Self::decide(id, claim);
		}
		let reports = Reports::<T>::get(id);
		for validator in Self::deviants(&reports) {
			let count = Deviations::<T>::mutate(&validator, |c| {
				*c = c.saturating_add(1);
				*c
			});
			Self::deposit_event(Event::ReportDeviated { claim: id, validator, count });
		}
	}

	/// The validators whose reports deviate from the majority report: the most frequent
	/// exact report, if more than half of the reports are equal to it. A report deviates
	/// when a loss differs from the majority's by more than `DeviationTolerance`, or its
	/// replay verdict or digest differs. Without such a majority nobody is flagged.
	pub fn deviants(reports: &[(T::AccountId, EvalReport)]) -> Vec<T::AccountId> {
		let Some((reference, n)) = Self::mode(reports.iter().map(|(_, r)| *r)) else {
			return Vec::new();
		};
		if n.saturating_mul(2) <= reports.len() {
			return Vec::new();
		}
		let tol = T::DeviationTolerance::get();
		reports
			.iter()
			.filter(|(_, r)| {
				!within_ppm(r.parent_loss, reference.parent_loss, tol)
					|| !within_ppm(r.candidate_loss, reference.candidate_loss, tol)
					|| r.replay != reference.replay
					|| r.replay_digest != reference.replay_digest
			})
			.map(|(v, _)| v.clone())
			.collect()
	}

	/// Records a report; decides the claim when [`Self::decision_threshold`] reports are
	/// identical. Returns the number of reports the claim holds and whether it was decided
	/// (for the weight).
	pub fn do_submit_report(
		validator: T::AccountId,
		id: ClaimId,
		report: EvalReport,
	) -> Result<(u32, bool), DispatchError> {
		let claim = Claims::<T>::get(id).ok_or(Error::<T>::UnknownClaim)?;
		let now = frame_system::Pallet::<T>::block_number();
		ensure!(
			!matches!(claim.stage, ClaimStage::AwaitingChallenge { .. }) && now <= claim.deadline,
			Error::<T>::NotTakingReports
		);
		ensure!(T::Validators::is_validator(&validator), Error::<T>::NotValidator);
		let mut reports = Reports::<T>::get(id);
		ensure!(!reports.iter().any(|(v, _)| *v == validator), Error::<T>::DuplicateReport);
		reports
			.try_push((validator.clone(), report))
			.map_err(|_| Error::<T>::TooManyReports)?;
		let count = reports.len() as u32;
		let agreeing = Self::mode(reports.iter().map(|(_, r)| *r)).map_or(0, |(_, n)| n);
		Reports::<T>::insert(id, reports);
		Self::deposit_event(Event::ReportSubmitted { claim: id, validator, report });
		let decide = matches!(claim.stage, ClaimStage::Evaluating { .. })
			&& agreeing as u32 >= Self::decision_threshold();
		if decide {
			Self::decide(id, claim);
		}
		Ok((count, decide))
	}

	/// The verdict of a claim's reports, without side effects: `Ok(median_ppm)` to accept,
	/// or the rejection reason (checked in the order of the crate docs).
	pub fn evaluate_reports(
		claim: &Claim<T>,
		reports: &[(T::AccountId, EvalReport)],
	) -> Result<i64, RejectReason> {
		if reports.is_empty() {
			return Err(RejectReason::NoReports);
		}
		if T::Dag::accepted(&claim.unit) != Some(claim.input.parent) {
			return Err(RejectReason::Superseded);
		}
		let matches = reports.iter().filter(|(_, r)| r.replay == ReplayVerdict::Match).count();
		if matches.saturating_mul(2) <= reports.len() {
			return Err(RejectReason::ReplayMismatch);
		}
		let mut candidates: Vec<u64> = reports.iter().map(|(_, r)| r.candidate_loss).collect();
		let mut improvements: Vec<i64> = reports
			.iter()
			.map(|(_, r)| improvement_ppm(r.parent_loss, r.candidate_loss))
			.collect();
		// `reports` is non-empty, so both medians exist.
		let median_candidate = lower_median(&mut candidates).unwrap_or_default();
		let median_ppm = lower_median(&mut improvements).unwrap_or_default();
		if median_ppm < i64::from(T::MinImprovement::get()) {
			return Err(RejectReason::InsufficientImprovement { median_ppm });
		}
		if !within_ppm(claim.input.claimed_loss, median_candidate, T::ClaimTolerance::get()) {
			return Err(RejectReason::ClaimedLossNotReproduced { measured: median_candidate });
		}
		Ok(median_ppm)
	}

	/// The most frequent value and its count (the first one seen among equally frequent
	/// ones). O(n²) over at most `MaxValidators` values.
	fn mode<V: PartialEq + Copy>(values: impl Iterator<Item = V> + Clone) -> Option<(V, usize)> {
		let mut best: Option<(V, usize)> = None;
		for v in values.clone() {
			let n = values.clone().filter(|w| *w == v).count();
			if best.map_or(true, |(_, m)| n > m) {
				best = Some((v, n));
			}
		}
		best
	}

	/// Decides claim `id` by the verdict of [`Self::evaluate_reports`]: moves `ParamIndex`,
	/// the bond, the rewards and the trust.
	fn decide(id: ClaimId, mut claim: Claim<T>) {
		let reports = Reports::<T>::get(id);
		let verdict = Self::evaluate_reports(&claim, &reports);
		let reason = HoldReason::ClaimBond.into();
		let verdict = match verdict {
			// The DAG refuses only if the block is no longer `Proposed`: treat as superseded.
			Ok(median) => T::Dag::accept(&claim.block)
				.map(|_| median)
				.map_err(|_| RejectReason::Superseded),
			Err(r) => Err(r),
		};
		match verdict {
			Ok(median_ppm) => {
				let _ = T::Currency::release(
					&reason,
					&claim.trainer,
					claim.bond,
					Precision::BestEffort,
				);
				let reward = T::TrainerReward::get();
				let reward =
					T::Currency::mint_into(&claim.trainer, reward).unwrap_or_else(|_| Zero::zero());
				claim.stage = ClaimStage::Accepted { median_ppm };
				Self::deposit_event(Event::ClaimAccepted {
					claim: id,
					block: claim.block,
					median_ppm,
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
				let _ = T::Dag::reject(&claim.block);
				let mut slashed = Zero::zero();
				if reject.slashes() {
					let slash = T::SlashFraction::get() * claim.bond;
					slashed = T::Currency::burn_held(
						&reason,
						&claim.trainer,
						slash,
						Precision::BestEffort,
						Fortitude::Force,
					)
					.unwrap_or_else(|_| Zero::zero());
					Self::record_trust(&claim.trainer, false);
				}
				let rest = claim.bond.saturating_sub(slashed);
				let _ = T::Currency::release(&reason, &claim.trainer, rest, Precision::BestEffort);
				claim.stage = ClaimStage::Rejected(reject);
				Self::deposit_event(Event::ClaimRejected {
					claim: id,
					block: claim.block,
					reason: reject,
					slashed,
				});
			},
		}
		Claims::<T>::insert(id, claim);
	}

	/// Records an outcome in the trainer's trust and reports a level change.
	fn record_trust(trainer: &T::AccountId, success: bool) {
		let changed = TrainerTrust::<T>::mutate(trainer, |t| t.record(success));
		if let Some(level) = changed {
			Self::deposit_event(Event::TrainerTrustChanged { trainer: trainer.clone(), level });
		}
	}
}
