//! Trust levels of accounts that submit work for review: dataset creators (SPEC "Chain D:
//! Spam") and trainers (SPEC "Proof-of-Learning": "trust drops" on a rejected claim).
//! Three consecutive successes promote, five consecutive failures demote (seed §12.3).

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

/// Consecutive successes (approved datasets, accepted claims) that promote a
/// [`TrustLevel::Newbie`] to [`TrustLevel::Trusted`] (seed §12.3).
pub const PROMOTE_AFTER_APPROVALS: u8 = 3;
/// Consecutive failures (rejected datasets or claims) that demote a [`TrustLevel::Trusted`]
/// account back to [`TrustLevel::Newbie`] (seed §12.3).
pub const DEMOTE_AFTER_REJECTIONS: u8 = 5;

/// Trust level of an account; sets its daily quota (seed §12.3).
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
pub enum TrustLevel {
	/// New or demoted account: `NewbieDailyQuota` submissions per day.
	#[default]
	Newbie,
	/// Account with [`PROMOTE_AFTER_APPROVALS`] consecutive approvals: `TrustedDailyQuota`
	/// submissions per day.
	Trusted,
}

/// An account's trust state (seed §12.3).
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
pub struct Trust {
	/// Current level.
	pub level: TrustLevel,
	/// Successes in a row (reset by a rejection; saturates at 255).
	pub consecutive_approvals: u8,
	/// Failures in a row (reset by an approval; saturates at 255).
	pub consecutive_rejections: u8,
}

impl Trust {
	/// Records one outcome; returns the new level when it changed.
	///
	/// An approval resets the rejection streak and promotes a newbie at
	/// [`PROMOTE_AFTER_APPROVALS`]; a rejection resets the approval streak and demotes a
	/// trusted creator at [`DEMOTE_AFTER_REJECTIONS`].
	pub fn record(&mut self, approved: bool) -> Option<TrustLevel> {
		if approved {
			self.consecutive_rejections = 0;
			self.consecutive_approvals = self.consecutive_approvals.saturating_add(1);
			if self.level == TrustLevel::Newbie
				&& self.consecutive_approvals >= PROMOTE_AFTER_APPROVALS
			{
				self.level = TrustLevel::Trusted;
				return Some(self.level);
			}
		} else {
			self.consecutive_approvals = 0;
			self.consecutive_rejections = self.consecutive_rejections.saturating_add(1);
			if self.level == TrustLevel::Trusted
				&& self.consecutive_rejections >= DEMOTE_AFTER_REJECTIONS
			{
				self.level = TrustLevel::Newbie;
				return Some(self.level);
			}
		}
		None
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn three_successes_promote_and_five_failures_demote() {
		let mut t = Trust::default();
		assert_eq!(t.record(true), None);
		assert_eq!(t.record(true), None);
		assert_eq!(t.record(true), Some(TrustLevel::Trusted));
		for _ in 0..4 {
			assert_eq!(t.record(false), None);
		}
		assert_eq!(t.record(false), Some(TrustLevel::Newbie));
		// A success in between resets the failure streak.
		let mut t = Trust { level: TrustLevel::Trusted, ..Default::default() };
		for _ in 0..4 {
			t.record(false);
		}
		t.record(true);
		assert_eq!(t.record(false), None);
		assert_eq!(t.level, TrustLevel::Trusted);
	}
}
