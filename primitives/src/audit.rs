//! The L0 pre-filter of datasets (SPEC "Chain D", seed §13.3): the figures validators'
//! engines measure on a dataset's published text, and the auto-reject rules pallet-dataset
//! applies to them. One definition for the engine (`blyan_moe::audit`), the engine
//! interface, the auditors' worker and the pallet.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

/// Largest accepted share of samples with PII hits, per mille: 10 ‰ = 1 %. A report *above*
/// this value is auto-rejected; exactly 10 ‰ passes.
pub const MAX_PII_PERMILLE: u16 = 10;
/// Largest accepted share of toxic samples, per mille: 100 ‰ = 10 %.
pub const MAX_TOXICITY_PERMILLE: u16 = 100;
/// Largest accepted share of duplicate samples, per mille: 950 ‰ = 95 %.
pub const MAX_DUPLICATE_PERMILLE: u16 = 950;
/// Largest value of a per-mille figure (1000 ‰ = 100 %).
pub const PERMILLE_MAX: u16 = 1000;
/// Shortest sample of the schema check, characters (SPEC "Chain D": 20–2048).
pub const MIN_SAMPLE_CHARS: usize = 20;
/// Longest sample of the schema check, characters.
pub const MAX_SAMPLE_CHARS: usize = 2048;

/// What the L0 pre-filter measured on a dataset. Per-mille figures are shares of the
/// samples, rounded down; `validation_overlap` is a count.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Default,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct AuditFigures {
	/// Samples with a toxicity keyword, ‰.
	pub toxicity_permille: u16,
	/// Samples whose hash repeats another sample's, ‰.
	pub duplicate_permille: u16,
	/// Samples with an e-mail, phone or SSN pattern, ‰.
	pub pii_permille: u16,
	/// Samples that look English (ASCII letters dominate), ‰. Informational.
	pub english_permille: u16,
	/// Samples shorter than [`MIN_SAMPLE_CHARS`] or longer than [`MAX_SAMPLE_CHARS`]
	/// characters, ‰. Informational.
	pub out_of_range_permille: u16,
	/// Samples that are also in the current spec's public validation set (compared after
	/// lowercasing and collapsing white space). Any overlap rejects: training on validation
	/// samples would let a trainer buy a lower validation loss.
	pub validation_overlap: u32,
}

/// Which auto-reject rule failed.
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
pub enum AuditFailure {
	/// More than [`MAX_PII_PERMILLE`] ‰ of the samples contain PII (e-mail, phone, SSN).
	PiiAboveLimit,
	/// More than [`MAX_TOXICITY_PERMILLE`] ‰ of the samples are toxic.
	ToxicityAboveLimit,
	/// More than [`MAX_DUPLICATE_PERMILLE`] ‰ of the samples are duplicates.
	DuplicatesAboveLimit,
	/// The licence is not a known SPDX id.
	UnknownLicence,
	/// The samples fail the schema check. Reserved: no figure triggers it in this version.
	Schema,
	/// Some samples are in the public validation set.
	SharesValidationSamples,
}

impl AuditFigures {
	/// Whether every per-mille figure is at most [`PERMILLE_MAX`].
	pub fn is_in_range(&self) -> bool {
		[
			self.toxicity_permille,
			self.duplicate_permille,
			self.pii_permille,
			self.english_permille,
			self.out_of_range_permille,
		]
		.iter()
		.all(|v| *v <= PERMILLE_MAX)
	}

	/// The auto-reject rules of SPEC "Chain D" (PII > 1 %, toxicity > 10 %, duplicates > 95 %,
	/// licence unknown), then any validation overlap; the first failing rule in that order.
	pub fn verdict(&self, licence_known: bool) -> Result<(), AuditFailure> {
		if self.pii_permille > MAX_PII_PERMILLE {
			return Err(AuditFailure::PiiAboveLimit);
		}
		if self.toxicity_permille > MAX_TOXICITY_PERMILLE {
			return Err(AuditFailure::ToxicityAboveLimit);
		}
		if self.duplicate_permille > MAX_DUPLICATE_PERMILLE {
			return Err(AuditFailure::DuplicatesAboveLimit);
		}
		if !licence_known {
			return Err(AuditFailure::UnknownLicence);
		}
		if self.validation_overlap > 0 {
			return Err(AuditFailure::SharesValidationSamples);
		}
		Ok(())
	}
}

/// `n / total` in per mille, rounded down; 0 when `total` is 0.
pub fn permille(n: usize, total: usize) -> u16 {
	if total == 0 {
		return 0;
	}
	((n as u128 * 1000) / total as u128).min(u128::from(PERMILLE_MAX)) as u16
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn rules_apply_at_their_exact_thresholds_in_order() {
		let ok = AuditFigures {
			pii_permille: MAX_PII_PERMILLE,
			toxicity_permille: MAX_TOXICITY_PERMILLE,
			duplicate_permille: MAX_DUPLICATE_PERMILLE,
			..Default::default()
		};
		assert_eq!(ok.verdict(true), Ok(()));
		assert_eq!(ok.verdict(false), Err(AuditFailure::UnknownLicence));
		let f = |g: fn(&mut AuditFigures)| {
			let mut x = ok;
			g(&mut x);
			x.verdict(true)
		};
		assert_eq!(f(|x| x.pii_permille += 1), Err(AuditFailure::PiiAboveLimit));
		assert_eq!(f(|x| x.toxicity_permille += 1), Err(AuditFailure::ToxicityAboveLimit));
		assert_eq!(f(|x| x.duplicate_permille += 1), Err(AuditFailure::DuplicatesAboveLimit));
		assert_eq!(f(|x| x.validation_overlap = 1), Err(AuditFailure::SharesValidationSamples));
		let all_bad = AuditFigures { pii_permille: 11, toxicity_permille: 101, ..ok };
		assert_eq!(all_bad.verdict(false), Err(AuditFailure::PiiAboveLimit), "PII first");
		assert!(!AuditFigures { out_of_range_permille: 1001, ..ok }.is_in_range());
		assert_eq!(permille(1, 3), 333);
		assert_eq!(permille(0, 0), 0);
	}
}
