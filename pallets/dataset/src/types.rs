//! Types stored and exchanged by the dataset pallet (SPEC "Chain D — datasets").

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound};
use frame_system::pallet_prelude::BlockNumberFor;
use scale_info::TypeInfo;

use crate::Config;
use blyan_primitives::Hash;

pub use blyan_primitives::audit::{
	AuditFailure, AuditFigures, MAX_DUPLICATE_PERMILLE, MAX_PII_PERMILLE, MAX_TOXICITY_PERMILLE,
	PERMILLE_MAX,
};

/// The off-chain pre-filter's findings as `report_audit` takes them and a record keeps them:
/// the shared [`AuditFigures`] (seed §13.3; per mille of the samples, plus the count of
/// samples shared with the validation set).
pub type QualityReport = AuditFigures;

pub use blyan_primitives::trust::{
	Trust, TrustLevel, DEMOTE_AFTER_REJECTIONS, PROMOTE_AFTER_APPROVALS,
};

/// Quality tier of an approved dataset (SPEC "Chain D": Gold ≥ 75 %, Silver ≥ 60 %,
/// Experimental ≥ 40 % approval).
///
/// The SCALE index (`Gold = 0`, `Silver = 1`, `Experimental = 2`) is also the `u8` the
/// runtime API [`crate::runtime_api::DatasetApi::approved`] returns.
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
	frame_support::Serialize,
	frame_support::Deserialize,
)]
#[serde(crate = "frame_support::__private::serde")]
pub enum Tier {
	/// At least 75 % of the votes approve; mixing weight 1.0.
	Gold,
	/// At least 60 % of the votes approve; mixing weight 0.7.
	Silver,
	/// At least 40 % of the votes approve; mixing weight 0.3.
	Experimental,
}

impl Tier {
	/// Smallest approval, in percent (`ayes · 100 / (ayes + nays)`, rounded down), that earns
	/// this tier: 75 / 60 / 40 (SPEC "Chain D").
	pub const fn min_approval_percent(self) -> u32 {
		match self {
			Tier::Gold => 75,
			Tier::Silver => 60,
			Tier::Experimental => 40,
		}
	}

	/// Weight of this tier when mixing training data, in per mille: 1000 / 700 / 300, i.e.
	/// 1.0 / 0.7 / 0.3 (SPEC "Chain D").
	pub const fn mixing_weight_permille(self) -> u32 {
		match self {
			Tier::Gold => 1000,
			Tier::Silver => 700,
			Tier::Experimental => 300,
		}
	}

	/// The tier an approval percentage earns, best first; `None` below 40 %.
	pub fn from_approval_percent(percent: u32) -> Option<Tier> {
		[Tier::Gold, Tier::Silver, Tier::Experimental]
			.into_iter()
			.find(|tier| percent >= tier.min_approval_percent())
	}

	/// The tier as the `u8` of the runtime API (its SCALE index).
	pub const fn as_u8(self) -> u8 {
		match self {
			Tier::Gold => 0,
			Tier::Silver => 1,
			Tier::Experimental => 2,
		}
	}
}

/// Why a dataset ended `Rejected`.
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
	/// The automatic audit failed on this rule.
	AutoAudit(AuditFailure),
	/// The vote reached quorum but less than 40 % approved.
	LowApproval,
	/// Fewer votes than the quorum were cast before the window closed.
	NoQuorum,
}

/// Lifecycle stage of a dataset (SPEC "Chain D", seed §13.3).
///
/// `Pending → AutoAudit → CommunityVote → Approved | Rejected`. This version moves a new
/// dataset from `Pending` to `AutoAudit` inside `submit_dataset` (both transitions are
/// announced by events), so `Pending` is never left in storage.
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
pub enum Stage<BlockNumber> {
	/// Just submitted.
	Pending,
	/// Waiting for the validators' off-chain pre-filter to report (`report_audit`).
	AutoAudit,
	/// Open for votes up to and including block `ends`.
	CommunityVote {
		/// Last block (inclusive) in which votes are accepted.
		ends: BlockNumber,
	},
	/// Accepted with this tier; usable for training.
	Approved(Tier),
	/// Refused for this reason.
	Rejected(RejectReason),
}

/// One dataset (SPEC "Chain D" record).
#[derive(
	CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, Encode, Decode, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound())]
pub struct DatasetRecord<T: Config> {
	/// Account that submitted the dataset; its trust is updated by the outcome.
	pub creator: T::AccountId,
	/// Human-readable name (UTF-8 expected, not checked), at most `MaxNameLen` bytes.
	pub name: BoundedVec<u8, T::MaxNameLen>,
	/// Creator-chosen version of this dataset name.
	pub version: u32,
	/// SPDX licence id (e.g. `CC-BY-4.0`), at most `MaxLicenceLen` bytes. Whether it is known
	/// is decided by the audit report.
	pub licence: BoundedVec<u8, T::MaxLicenceLen>,
	/// Where the original data came from, at most `MaxUriLen` bytes.
	pub source_uri: BoundedVec<u8, T::MaxUriLen>,
	/// Size of the dataset content, in bytes (> 0).
	pub total_bytes: u64,
	/// Number of samples (> 0).
	pub samples: u64,
	/// blake3 Merkle root over the sample hashes ([`blyan_primitives::merkle_root`]): names
	/// the sample set. Unique across datasets.
	pub content_root: Hash,
	/// Payload root of the dataset's text in the content store (referenced until rejected).
	pub payload_root: Hash,
	/// blake3 hashes of (some of) the samples, for de-duplication.
	pub sample_hashes: BoundedVec<Hash, T::MaxSampleHashes>,
	/// Current lifecycle stage.
	pub stage: Stage<BlockNumberFor<T>>,
	/// Block in which the dataset was submitted (0 for genesis datasets).
	pub submitted_at: BlockNumberFor<T>,
	/// Pre-filter findings, once reported.
	pub quality: Option<QualityReport>,
	/// Approving votes.
	pub ayes: u32,
	/// Rejecting votes.
	pub nays: u32,
}

/// Lets benchmarks turn an account into a registered voter (`Config::VoterSet`).
///
/// A runtime whose voters are the Aura authorities can push the account's public key into
/// `pallet_aura::Authorities` here.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<AccountId> {
	/// Make `who` satisfy `VoterSet::contains` for the rest of the benchmark.
	fn make_voter(who: &AccountId);
	/// The root of a committed content-store payload, distinct for each `n`.
	fn payload(n: u32) -> Hash;
}

/// SPDX licence ids the auditors' workers accept as known (SPEC "Chain D": "licence
/// unknown" auto-rejects): common open-data, open-content and open-source licences, and
/// `LicenseRef-public-domain` for public-domain text such as much of Debian's `fortunes`.
pub const KNOWN_LICENCES: &[&str] = &[
	"CC0-1.0",
	"CC-BY-3.0",
	"CC-BY-4.0",
	"CC-BY-SA-3.0",
	"CC-BY-SA-4.0",
	"ODC-By-1.0",
	"ODbL-1.0",
	"PDDL-1.0",
	"MIT",
	"Apache-2.0",
	"BSD-2-Clause",
	"BSD-3-Clause",
	"BSD-4-Clause",
	"GPL-2.0-only",
	"GPL-2.0-or-later",
	"GPL-3.0-only",
	"GPL-3.0-or-later",
	"LGPL-2.1-or-later",
	"GFDL-1.3-or-later",
	"Unlicense",
	"LicenseRef-public-domain",
];

/// Whether `licence` is one of [`KNOWN_LICENCES`] (exact, case-sensitive SPDX match).
pub fn licence_known(licence: &[u8]) -> bool {
	KNOWN_LICENCES.iter().any(|l| l.as_bytes() == licence)
}
