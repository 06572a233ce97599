//! # Dataset pallet (Chain D)
//!
//! Registers training datasets, runs them through the audit and community vote of
//! SPEC "Chain D — datasets" (seed §13.3), and keeps the spam guards of seed §12.3.
//!
//! ## Overview
//!
//! A creator submits a dataset record ([`Call::submit_dataset`]): name, version, SPDX
//! licence, source URI, sizes, the blake3 Merkle root of the samples and some sample hashes.
//! No token is needed; instead the submission carries a light proof-of-work and counts
//! against a daily quota that depends on the creator's trust level.
//!
//! The lifecycle is `Pending → AutoAudit → CommunityVote → Approved(tier) | Rejected(reason)`:
//!
//! 1. [`Call::submit_dataset`] stores the record and moves it straight from `Pending` to
//!    `AutoAudit` (events `DatasetSubmitted` then `StageChanged`).
//! 2. The validators' off-chain pre-filter reports through [`Call::report_audit`]
//!    (`Config::AuditOrigin`) the figures its engine measured
//!    (`blyan_primitives::audit::AuditFigures`). The dataset is rejected automatically when
//!    PII > 1 %, toxicity > 10 %, duplicates > 95 %, its licence is not one of
//!    [`KNOWN_LICENCES`] (the pallet checks the licence itself), or any of its samples is in
//!    the spec's public validation set; otherwise it enters
//!    `CommunityVote { ends: now + VoteWindow }`.
//! 3. Registered voters (`Config::VoterSet`) cast one vote each with [`Call::vote`] up to and
//!    including block `ends`.
//! 4. At block `ends + 1` the `on_initialize` hook concludes the vote (at most
//!    `MaxClosingPerBlock` datasets per block); [`Call::finalize_vote`] lets anyone conclude an
//!    ended vote by hand as well. Fewer votes than `Quorum` reject with `NoQuorum`; otherwise
//!    the approval `ayes · 100 / (ayes + nays)` (rounded down) gives Gold ≥ 75, Silver ≥ 60,
//!    Experimental ≥ 40, else `Rejected(LowApproval)`.
//!
//! Every concluded dataset updates its creator's [`Trust`]: three approvals in a row promote
//! a newbie (quota `NewbieDailyQuota` → `TrustedDailyQuota`), five rejections in a row demote
//! a trusted creator (seed §12.3). Auto-audit rejections count as rejections.
//!
//! ## Design
//!
//! - **Proof-of-work.** `blyan_primitives::pow_ok(payload, nonce, PowDifficulty)` with
//!   `payload = SCALE((name, version, content_root))`, i.e. the compact-length-prefixed name
//!   bytes, the little-endian `u32` version and the 32 root bytes ([`Pallet::pow_payload`]).
//!   Clients find the nonce with `blyan_primitives::solve_pow`.
//! - **Quota.** The day index is `block_number / DayLength`; [`Quota`] keeps `(day, used)`
//!   per account and restarts the count on a new day. Only successful submissions count.
//! - **De-duplication.** [`ByRoot`] maps each content root to its dataset; a second dataset
//!   with the same root fails with `DuplicateDataset`. A rejected dataset releases its root,
//!   so a corrected submission (for instance with a known licence) can reuse the content.
//! - **Bounded finalisation.** [`Closing`] queues the datasets whose vote closes at a block
//!   (at most `MaxClosingPerBlock`); the hook only takes that block's queue, so its weight is
//!   bounded. `report_audit` fails with `VoteQueueFull` when the queue is full; the audit
//!   origin retries in a later block.
//! - **Genesis.** [`GenesisConfig::datasets`] inserts already-approved datasets (the dev
//!   chain's validation set).
//!
//! ## Terms
//!
//! - *Approval*: `ayes · 100 / (ayes + nays)`, integer percent.
//! - *Mixing weight*: [`Tier::mixing_weight_permille`], 1000 / 700 / 300 ‰ (SPEC "Chain D").
//! - *Voter*: an account in `Config::VoterSet` (the authorities for now).
//!
//! Off-chain consumers read datasets through [`runtime_api::DatasetApi`].

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub use pallet::*;
pub use types::*;
pub use weights::WeightInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
mod types;
pub mod weights;
pub mod worker;

/// Runtime API for off-chain readers (RPC, trainers, validators).
pub mod runtime_api {
	use alloc::vec::Vec;

	sp_api::decl_runtime_apis! {
		/// Read access to Chain D datasets.
		pub trait DatasetApi {
			/// The SCALE-encoded `DatasetRecord` of dataset `id`, if it exists.
			fn dataset(id: u32) -> Option<Vec<u8>>;
			/// Every approved dataset as `(id, tier)`, where the tier is
			/// `0 = Gold`, `1 = Silver`, `2 = Experimental` (`Tier::as_u8`).
			fn approved() -> Vec<(u32, u8)>;
		}
	}
}

// `submit_dataset` takes the record's fields as plain call parameters; the macro-generated
// call constructor inherits their count.
#[allow(clippy::too_many_arguments)]
#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use alloc::vec::Vec;
	use blyan_primitives::{ContentStore, DatasetId, Hash};
	use codec::Encode;
	use frame_support::{pallet_prelude::*, traits::Contains};
	use frame_system::pallet_prelude::*;
	use sp_runtime::{
		traits::{CheckedDiv, One, Saturating, UniqueSaturatedInto, Zero},
		SaturatedConversion,
	};

	/// The in-code storage version.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);

	/// Configuration of the dataset pallet.
	#[pallet::config]
	pub trait Config:
		frame_system::offchain::CreateSignedTransaction<Call<Self>>
		+ frame_system::Config<RuntimeEvent: From<Event<Self>>>
	{
		/// The worker key with which auditors' off-chain workers sign audit reports
		/// (`pallet_pol::crypto::WorkerAuthId` in the Blyan runtime).
		type AuthorityId: frame_system::offchain::AppCrypto<Self::Public, Self::Signature>;

		/// Accounts whose local worker keys run the L0 audit ([`worker`]); `AuditOrigin` must
		/// accept their signed origin (the validators in the runtime).
		type Auditors: Contains<Self::AccountId>;

		/// Registered voters of the community vote (the authorities for now; the runtime wires
		/// it). One account, one vote.
		type VoterSet: Contains<Self::AccountId>;

		/// Origin that may report the off-chain audit result (`report_audit`): the auditors'
		/// signed origin, and root.
		type AuditOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Longest dataset name, in bytes (suggested: 64).
		#[pallet::constant]
		type MaxNameLen: Get<u32>;

		/// Longest SPDX licence id, in bytes (suggested: 32).
		#[pallet::constant]
		type MaxLicenceLen: Get<u32>;

		/// Longest source URI, in bytes (suggested: 256).
		#[pallet::constant]
		type MaxUriLen: Get<u32>;

		/// Most sample hashes per record (suggested: 1024).
		#[pallet::constant]
		type MaxSampleHashes: Get<u32>;

		/// Length of the community vote, in blocks: votes are accepted up to and including
		/// block `audit block + VoteWindow`. Must be larger than zero.
		#[pallet::constant]
		type VoteWindow: Get<BlockNumberFor<Self>>;

		/// Smallest number of votes (ayes + nays) for a vote to count; fewer reject with
		/// `NoQuorum`. Must be larger than zero.
		#[pallet::constant]
		type Quorum: Get<u32>;

		/// Blocks per quota day: the day index is `block_number / DayLength`. Must be larger
		/// than zero.
		#[pallet::constant]
		type DayLength: Get<BlockNumberFor<Self>>;

		/// Submissions per day for a newbie creator (seed §12.3: 20).
		#[pallet::constant]
		type NewbieDailyQuota: Get<u32>;

		/// Submissions per day for a trusted creator (seed §12.3: 200). Must be at least
		/// `NewbieDailyQuota`.
		#[pallet::constant]
		type TrustedDailyQuota: Get<u32>;

		/// Leading zero bits the submission proof-of-work must reach (0 disables it). Expected
		/// client work is `2^PowDifficulty` blake3 hashes.
		#[pallet::constant]
		type PowDifficulty: Get<u32>;

		/// Most votes that may close in one block, i.e. the bound of the `on_initialize` work.
		/// Must be larger than zero.
		#[pallet::constant]
		type MaxClosingPerBlock: Get<u32>;

		/// The content store holding each dataset's published text (referenced while the
		/// dataset is not rejected).
		type Content: blyan_primitives::ContentStore;

		/// Weights of this pallet's calls.
		type WeightInfo: WeightInfo;

		/// Turns benchmark accounts into voters.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: crate::BenchmarkHelper<Self::AccountId>;
	}

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// Dataset records by id.
	#[pallet::storage]
	pub type Datasets<T: Config> = StorageMap<_, Twox64Concat, DatasetId, DatasetRecord<T>>;

	/// The id the next submitted dataset gets.
	#[pallet::storage]
	pub type NextDatasetId<T> = StorageValue<_, DatasetId, ValueQuery>;

	/// Dataset id by content root, for de-duplication. Rejected datasets are removed.
	#[pallet::storage]
	pub type ByRoot<T> = StorageMap<_, Blake2_128Concat, Hash, DatasetId>;

	/// Cast votes, by dataset id and voter: `true` approves. Guards against double votes and
	/// stays as the vote record.
	#[pallet::storage]
	pub type Votes<T: Config> =
		StorageDoubleMap<_, Twox64Concat, DatasetId, Blake2_128Concat, T::AccountId, bool>;

	/// Trust state by creator account (default: newbie, no streaks).
	#[pallet::storage]
	pub type TrustOf<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, Trust, ValueQuery>;

	/// Submissions used by account: `(day index, count in that day)`. A stored day older than
	/// today means zero used.
	#[pallet::storage]
	pub type Quota<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, (u32, u32), ValueQuery>;

	/// Datasets whose community vote `on_initialize` concludes at a block (`ends + 1`), by that
	/// block.
	#[pallet::storage]
	pub type Closing<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<DatasetId, T::MaxClosingPerBlock>,
		ValueQuery,
	>;

	/// Events of the dataset pallet.
	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A dataset was submitted (stage `Pending`).
		DatasetSubmitted {
			/// New dataset id.
			id: DatasetId,
			/// Submitting account.
			creator: T::AccountId,
		},
		/// A dataset moved to a new stage.
		StageChanged {
			/// Dataset id.
			id: DatasetId,
			/// The stage it is in now.
			stage: Stage<BlockNumberFor<T>>,
		},
		/// The off-chain audit reported on a dataset.
		AuditReported {
			/// Dataset id.
			id: DatasetId,
			/// Whether it passed the auto-reject rules.
			passed: bool,
		},
		/// A voter voted on a dataset.
		Voted {
			/// Dataset id.
			id: DatasetId,
			/// The voter.
			who: T::AccountId,
			/// `true` approves.
			approve: bool,
		},
		/// A dataset was approved with a tier.
		DatasetApproved {
			/// Dataset id.
			id: DatasetId,
			/// Its tier.
			tier: Tier,
		},
		/// A dataset was rejected.
		DatasetRejected {
			/// Dataset id.
			id: DatasetId,
			/// Why.
			reason: RejectReason,
		},
		/// A creator was promoted or demoted.
		TrustChanged {
			/// The creator.
			who: T::AccountId,
			/// The new level.
			level: TrustLevel,
		},
	}

	/// Errors of the dataset pallet.
	#[pallet::error]
	pub enum Error<T> {
		/// The proof-of-work nonce does not reach `PowDifficulty` leading zero bits.
		InvalidPow,
		/// The dataset's text is not a committed payload of the content store.
		UnknownPayload,
		/// The creator used up today's quota for its trust level.
		QuotaExceeded,
		/// A dataset with this content root already exists.
		DuplicateDataset,
		/// `samples` or `total_bytes` is zero.
		EmptyDataset,
		/// Every dataset id is taken.
		DatasetIdsExhausted,
		/// No dataset with this id.
		UnknownDataset,
		/// The dataset is not waiting for its audit.
		NotInAudit,
		/// A per-mille field of the quality report is above 1000.
		ReportOutOfRange,
		/// Too many votes already close in the block this one would close in; retry later.
		VoteQueueFull,
		/// The account is not a registered voter.
		NotVoter,
		/// The voter already voted on this dataset.
		AlreadyVoted,
		/// The dataset is not in its community vote.
		NotInVote,
		/// The vote window of this dataset has ended.
		VoteWindowClosed,
		/// The vote window of this dataset has not ended yet.
		VoteWindowOpen,
	}

	/// One genesis dataset: `(creator, name, SPDX licence, content root, payload root of the
	/// text, total bytes, samples, tier)`.
	pub type GenesisDatasetOf<T> =
		(<T as frame_system::Config>::AccountId, Vec<u8>, Vec<u8>, Hash, Hash, u64, u64, Tier);

	/// Genesis datasets.
	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// Pre-approved datasets as `(creator, name, SPDX licence, content root, payload root,
		/// total bytes, samples, tier)`, inserted as version 1 with stage `Approved(tier)` and
		/// ids from 0. The payload (the text) must be in the content store's genesis too.
		pub datasets: Vec<GenesisDatasetOf<T>>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			for (creator, name, licence, root, payload_root, total_bytes, samples, tier) in
				&self.datasets
			{
				assert!(!ByRoot::<T>::contains_key(root), "genesis dataset root is duplicated");
				let id = NextDatasetId::<T>::get();
				let record = DatasetRecord::<T> {
					creator: creator.clone(),
					name: name.clone().try_into().expect("genesis dataset name exceeds MaxNameLen"),
					version: 1,
					licence: licence
						.clone()
						.try_into()
						.expect("genesis dataset licence exceeds MaxLicenceLen"),
					source_uri: Default::default(),
					total_bytes: *total_bytes,
					samples: *samples,
					content_root: *root,
					payload_root: *payload_root,
					sample_hashes: Default::default(),
					stage: Stage::Approved(*tier),
					submitted_at: Zero::zero(),
					quality: None,
					ayes: 0,
					nays: 0,
				};
				Datasets::<T>::insert(id, record);
				ByRoot::<T>::insert(root, id);
				// Genesis payloads exist (content store genesis runs first); a missing one is
				// simply not referenced.
				let _ = T::Content::add_ref(payload_root);
				NextDatasetId::<T>::put(id.saturating_add(1));
			}
		}
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		/// Concludes the votes that closed in the previous block (at most
		/// `MaxClosingPerBlock`).
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			let due = Closing::<T>::take(now);
			let count = due.len() as u32;
			for id in due {
				match Datasets::<T>::get(id) {
					Some(record) if matches!(record.stage, Stage::CommunityVote { .. }) => {
						Self::conclude_vote(id, record)
					},
					_ => {
						// `finalize_vote` removes the id from `Closing`; nothing else moves a
						// dataset out of `CommunityVote`.
						frame_support::defensive!("queued dataset is not in its vote");
					},
				}
			}
			T::WeightInfo::on_initialize(count)
		}

		/// The auditors' worker ([`worker`]): runs the L0 pre-filter of datasets in
		/// `AutoAudit` on the node's engine and reports the finished audits.
		fn offchain_worker(now: BlockNumberFor<T>) {
			worker::run::<T>(now);
		}

		fn integrity_test() {
			assert!(!T::VoteWindow::get().is_zero(), "VoteWindow must be larger than zero");
			assert!(!T::DayLength::get().is_zero(), "DayLength must be larger than zero");
			assert!(T::Quorum::get() > 0, "Quorum must be larger than zero");
			assert!(
				T::MaxClosingPerBlock::get() > 0,
				"MaxClosingPerBlock must be larger than zero"
			);
			assert!(
				T::NewbieDailyQuota::get() <= T::TrustedDailyQuota::get(),
				"TrustedDailyQuota must be at least NewbieDailyQuota"
			);
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Submit a dataset record. Origin: signed (the creator).
		///
		/// - `name`, `version`: creator-chosen name and version.
		/// - `licence`: SPDX licence id.
		/// - `source_uri`: where the data came from.
		/// - `total_bytes`, `samples`: content size in bytes and sample count (both > 0).
		/// - `content_root`: blake3 Merkle root over the samples (unique).
		/// - `payload_root`: payload root of the dataset's text, already committed in the
		///   content store (validators audit and train on it).
		/// - `sample_hashes`: sample hashes for de-duplication (at most `MaxSampleHashes`).
		/// - `nonce`: proof-of-work nonce over `SCALE((name, version, content_root))`.
		///
		/// Errors: `EmptyDataset`, `InvalidPow`, `DuplicateDataset`, `UnknownPayload`,
		/// `QuotaExceeded`, `DatasetIdsExhausted`. Emits `DatasetSubmitted` and `StageChanged` (`AutoAudit`).
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::submit_dataset(sample_hashes.len() as u32))]
		#[allow(clippy::too_many_arguments)]
		pub fn submit_dataset(
			origin: OriginFor<T>,
			name: BoundedVec<u8, T::MaxNameLen>,
			version: u32,
			licence: BoundedVec<u8, T::MaxLicenceLen>,
			source_uri: BoundedVec<u8, T::MaxUriLen>,
			total_bytes: u64,
			samples: u64,
			content_root: Hash,
			payload_root: Hash,
			sample_hashes: BoundedVec<Hash, T::MaxSampleHashes>,
			nonce: u64,
		) -> DispatchResult {
			let creator = ensure_signed(origin)?;
			Self::do_submit_dataset(
				creator,
				name,
				version,
				licence,
				source_uri,
				total_bytes,
				samples,
				content_root,
				payload_root,
				sample_hashes,
				nonce,
			)
			.map(|_| ())
		}

		/// Report the off-chain audit of a dataset in `AutoAudit`. Origin: `AuditOrigin`.
		///
		/// - `report`: the pre-filter's figures (per mille, and the count of samples shared
		///   with the validation set).
		///
		/// Auto-rejects (PII > 10 ‰, toxicity > 100 ‰, duplicates > 950 ‰, a licence not in
		/// [`KNOWN_LICENCES`], any validation sample) or opens the community vote until
		/// `now + VoteWindow`.
		///
		/// Errors: `ReportOutOfRange`, `UnknownDataset`, `NotInAudit`, `VoteQueueFull`.
		/// Emits `AuditReported`, `StageChanged`, and on rejection `DatasetRejected` (and
		/// `TrustChanged` on a demotion).
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::report_audit())]
		pub fn report_audit(
			origin: OriginFor<T>,
			id: DatasetId,
			report: QualityReport,
		) -> DispatchResult {
			T::AuditOrigin::ensure_origin(origin)?;
			Self::do_report_audit(id, report)
		}

		/// Vote on a dataset in its community vote. Origin: signed, a member of `VoterSet`.
		///
		/// - `id`: the dataset.
		/// - `approve`: `true` approves, `false` rejects.
		///
		/// Errors: `NotVoter`, `UnknownDataset`, `NotInVote`, `VoteWindowClosed`,
		/// `AlreadyVoted`. Emits `Voted`.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::vote())]
		pub fn vote(origin: OriginFor<T>, id: DatasetId, approve: bool) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_vote(who, id, approve)
		}

		/// Conclude an ended community vote. Origin: signed (anyone).
		///
		/// `on_initialize` normally does this at block `ends + 1`; this call is the manual
		/// fallback. Errors: `UnknownDataset`, `NotInVote`, `VoteWindowOpen`. Emits
		/// `StageChanged`, `DatasetApproved` or `DatasetRejected`, and `TrustChanged` on a
		/// promotion or demotion.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::finalize_vote())]
		pub fn finalize_vote(origin: OriginFor<T>, id: DatasetId) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_finalize_vote(id)
		}
	}

	impl<T: Config> Pallet<T> {
		/// Logic of [`Call::submit_dataset`]; returns the new dataset id.
		#[allow(clippy::too_many_arguments)]
		pub fn do_submit_dataset(
			creator: T::AccountId,
			name: BoundedVec<u8, T::MaxNameLen>,
			version: u32,
			licence: BoundedVec<u8, T::MaxLicenceLen>,
			source_uri: BoundedVec<u8, T::MaxUriLen>,
			total_bytes: u64,
			samples: u64,
			content_root: Hash,
			payload_root: Hash,
			sample_hashes: BoundedVec<Hash, T::MaxSampleHashes>,
			nonce: u64,
		) -> Result<DatasetId, DispatchError> {
			ensure!(samples > 0 && total_bytes > 0, Error::<T>::EmptyDataset);
			let payload = Self::pow_payload(&name, version, &content_root);
			ensure!(
				blyan_primitives::pow_ok(&payload, nonce, T::PowDifficulty::get()),
				Error::<T>::InvalidPow
			);
			ensure!(!ByRoot::<T>::contains_key(content_root), Error::<T>::DuplicateDataset);
			ensure!(T::Content::has_payload(&payload_root), Error::<T>::UnknownPayload);

			let now = frame_system::Pallet::<T>::block_number();
			let today = Self::day_index(now);
			let (day, used) = Quota::<T>::get(&creator);
			let used = if day == today { used } else { 0 };
			let limit = Self::daily_quota(TrustOf::<T>::get(&creator).level);
			ensure!(used < limit, Error::<T>::QuotaExceeded);

			let id = NextDatasetId::<T>::get();
			let next = id.checked_add(1).ok_or(Error::<T>::DatasetIdsExhausted)?;
			// Last check; `add_ref` changes nothing when it fails.
			ensure!(T::Content::add_ref(&payload_root), Error::<T>::UnknownPayload);

			let stage = Stage::AutoAudit;
			Quota::<T>::insert(&creator, (today, used.saturating_add(1)));
			Datasets::<T>::insert(
				id,
				DatasetRecord::<T> {
					creator: creator.clone(),
					name,
					version,
					licence,
					source_uri,
					total_bytes,
					samples,
					content_root,
					payload_root,
					sample_hashes,
					stage,
					submitted_at: now,
					quality: None,
					ayes: 0,
					nays: 0,
				},
			);
			ByRoot::<T>::insert(content_root, id);
			NextDatasetId::<T>::put(next);

			Self::deposit_event(Event::DatasetSubmitted { id, creator });
			Self::deposit_event(Event::StageChanged { id, stage });
			Ok(id)
		}

		/// Logic of [`Call::report_audit`] (origin already checked).
		pub fn do_report_audit(id: DatasetId, report: QualityReport) -> DispatchResult {
			ensure!(report.is_in_range(), Error::<T>::ReportOutOfRange);
			let mut record = Datasets::<T>::get(id).ok_or(Error::<T>::UnknownDataset)?;
			ensure!(record.stage == Stage::AutoAudit, Error::<T>::NotInAudit);
			record.quality = Some(report);

			match report.verdict(licence_known(&record.licence)) {
				Ok(()) => {
					let now = frame_system::Pallet::<T>::block_number();
					let ends = now.saturating_add(T::VoteWindow::get());
					Closing::<T>::try_mutate(ends.saturating_add(One::one()), |queue| {
						queue.try_push(id)
					})
					.map_err(|_| Error::<T>::VoteQueueFull)?;
					record.stage = Stage::CommunityVote { ends };
					Datasets::<T>::insert(id, &record);
					Self::deposit_event(Event::AuditReported { id, passed: true });
					Self::deposit_event(Event::StageChanged { id, stage: record.stage });
				},
				Err(failure) => {
					Self::deposit_event(Event::AuditReported { id, passed: false });
					Self::settle(id, record, Err(RejectReason::AutoAudit(failure)));
				},
			}
			Ok(())
		}

		/// Logic of [`Call::vote`].
		pub fn do_vote(who: T::AccountId, id: DatasetId, approve: bool) -> DispatchResult {
			ensure!(T::VoterSet::contains(&who), Error::<T>::NotVoter);
			let mut record = Datasets::<T>::get(id).ok_or(Error::<T>::UnknownDataset)?;
			let Stage::CommunityVote { ends } = record.stage else {
				return Err(Error::<T>::NotInVote.into());
			};
			ensure!(
				frame_system::Pallet::<T>::block_number() <= ends,
				Error::<T>::VoteWindowClosed
			);
			ensure!(!Votes::<T>::contains_key(id, &who), Error::<T>::AlreadyVoted);

			if approve {
				record.ayes = record.ayes.saturating_add(1);
			} else {
				record.nays = record.nays.saturating_add(1);
			}
			Votes::<T>::insert(id, &who, approve);
			Datasets::<T>::insert(id, record);
			Self::deposit_event(Event::Voted { id, who, approve });
			Ok(())
		}

		/// Logic of [`Call::finalize_vote`].
		pub fn do_finalize_vote(id: DatasetId) -> DispatchResult {
			let record = Datasets::<T>::get(id).ok_or(Error::<T>::UnknownDataset)?;
			let Stage::CommunityVote { ends } = record.stage else {
				return Err(Error::<T>::NotInVote.into());
			};
			ensure!(frame_system::Pallet::<T>::block_number() > ends, Error::<T>::VoteWindowOpen);

			Closing::<T>::mutate_exists(ends.saturating_add(One::one()), |queue| {
				if let Some(q) = queue {
					q.retain(|x| *x != id);
					if q.is_empty() {
						*queue = None;
					}
				}
			});
			Self::conclude_vote(id, record);
			Ok(())
		}

		/// Applies the quorum and tier rules to a dataset whose vote ended.
		fn conclude_vote(id: DatasetId, record: DatasetRecord<T>) {
			let outcome = Self::vote_outcome(record.ayes, record.nays);
			Self::settle(id, record, outcome);
		}

		/// The result of a vote with these counts: `NoQuorum` below `Quorum` votes, otherwise
		/// the tier of `ayes · 100 / (ayes + nays)` or `LowApproval` below 40 %.
		pub fn vote_outcome(ayes: u32, nays: u32) -> Result<Tier, RejectReason> {
			let total = u64::from(ayes).saturating_add(u64::from(nays));
			if total < u64::from(T::Quorum::get()) {
				return Err(RejectReason::NoQuorum);
			}
			let percent = u64::from(ayes)
				.saturating_mul(100)
				.checked_div(total)
				.unwrap_or_default()
				.saturated_into::<u32>();
			Tier::from_approval_percent(percent).ok_or(RejectReason::LowApproval)
		}

		/// Stores the final stage, releases the root of a rejected dataset, updates the
		/// creator's trust and emits the events.
		fn settle(
			id: DatasetId,
			mut record: DatasetRecord<T>,
			outcome: Result<Tier, RejectReason>,
		) {
			record.stage = match outcome {
				Ok(tier) => Stage::Approved(tier),
				Err(reason) => Stage::Rejected(reason),
			};
			if outcome.is_err() {
				ByRoot::<T>::remove(record.content_root);
				T::Content::remove_ref(&record.payload_root);
			}
			let creator = record.creator.clone();
			let stage = record.stage;
			Datasets::<T>::insert(id, record);
			let changed = TrustOf::<T>::mutate(&creator, |trust| trust.record(outcome.is_ok()));

			Self::deposit_event(Event::StageChanged { id, stage });
			match outcome {
				Ok(tier) => Self::deposit_event(Event::DatasetApproved { id, tier }),
				Err(reason) => Self::deposit_event(Event::DatasetRejected { id, reason }),
			}
			if let Some(level) = changed {
				Self::deposit_event(Event::TrustChanged { who: creator, level });
			}
		}

		/// The proof-of-work payload of a submission: `SCALE((name, version, content_root))`.
		pub fn pow_payload(name: &[u8], version: u32, content_root: &Hash) -> Vec<u8> {
			(name, version, content_root).encode()
		}

		/// Quota day of a block: `block / DayLength` (0 if `DayLength` is zero), saturated to
		/// `u32`.
		pub fn day_index(block: BlockNumberFor<T>) -> u32 {
			block
				.checked_div(&T::DayLength::get())
				.unwrap_or_default()
				.unique_saturated_into()
		}

		/// Submissions per day for a trust level.
		pub fn daily_quota(level: TrustLevel) -> u32 {
			match level {
				TrustLevel::Newbie => T::NewbieDailyQuota::get(),
				TrustLevel::Trusted => T::TrustedDailyQuota::get(),
			}
		}

		/// Every approved dataset with its tier, by id.
		///
		/// Iterates all of [`Datasets`]: for off-chain readers and the runtime API only,
		/// never for dispatchables.
		pub fn approved_datasets() -> Vec<(DatasetId, Tier)> {
			let mut out: Vec<(DatasetId, Tier)> = Datasets::<T>::iter()
				.filter_map(|(id, record)| match record.stage {
					Stage::Approved(tier) => Some((id, tier)),
					_ => None,
				})
				.collect();
			out.sort_by_key(|(id, _)| *id);
			out
		}

		/// The SCALE-encoded record of dataset `id` (runtime API `DatasetApi::dataset`).
		pub fn dataset_encoded(id: DatasetId) -> Option<Vec<u8>> {
			Datasets::<T>::get(id).map(|record| record.encode())
		}

		/// The pallet's invariants (`try_state`; also run by the tests and the fuzz harness):
		///
		/// - every dataset id is below `NextDatasetId`, and `Pending` is never stored;
		/// - `ByRoot` maps the content root of every dataset that is not rejected to it, and
		///   holds nothing else;
		/// - every dataset in `CommunityVote { ends }` is queued in `Closing[ends + 1]`, and
		///   every queued id is such a dataset;
		/// - the recorded votes of a dataset add up to its `ayes` and `nays`;
		/// - a dataset that is not rejected has its text in the content store;
		/// - a dataset past `AutoAudit` (but not rejected before its audit) has its report.
		///
		/// Cost: iterates every dataset, root, queue and vote (off-chain only).
		#[cfg(any(feature = "std", feature = "try-runtime"))]
		pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
			let next = NextDatasetId::<T>::get();
			let mut live = 0usize;
			for (id, record) in Datasets::<T>::iter() {
				ensure!(id < next, "a dataset id is at or above NextDatasetId");
				ensure!(record.stage != Stage::Pending, "a dataset is stored as Pending");
				let rejected = matches!(record.stage, Stage::Rejected(_));
				if !rejected {
					live += 1;
					ensure!(
						ByRoot::<T>::get(record.content_root) == Some(id),
						"ByRoot does not name a live dataset"
					);
					ensure!(
						T::Content::has_payload(&record.payload_root),
						"a live dataset's text is not in the content store"
					);
				}
				if let Stage::CommunityVote { ends } = record.stage {
					ensure!(
						Closing::<T>::get(ends.saturating_add(One::one())).contains(&id),
						"a dataset in its vote is not queued to close"
					);
					ensure!(record.quality.is_some(), "a dataset in its vote has no audit report");
				}
				let (ayes, nays) =
					Votes::<T>::iter_prefix(id).fold((0u32, 0u32), |(a, n), (_, v)| {
						if v {
							(a.saturating_add(1), n)
						} else {
							(a, n.saturating_add(1))
						}
					});
				ensure!(
					(ayes, nays) == (record.ayes, record.nays),
					"vote counts differ from the votes"
				);
			}
			ensure!(ByRoot::<T>::iter().count() == live, "ByRoot holds a root of no live dataset");
			for (at, queue) in Closing::<T>::iter() {
				for id in queue {
					let closes = Datasets::<T>::get(id).is_some_and(
						|r| matches!(r.stage, Stage::CommunityVote { ends } if ends.saturating_add(One::one()) == at),
					);
					ensure!(closes, "Closing queues a dataset that does not close then");
				}
			}
			Ok(())
		}

		/// Approved datasets with the tier as `u8` (runtime API `DatasetApi::approved`).
		pub fn approved_for_api() -> Vec<(DatasetId, u8)> {
			Self::approved_datasets()
				.into_iter()
				.map(|(id, tier)| (id, tier.as_u8()))
				.collect()
		}
	}
}
