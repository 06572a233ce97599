//! Unit names: how the model's pieces are named on chain (pallet-param-dag's `ParamIndex`
//! keys), in claims and manifests, and by the engine (SPEC "Chain B — parameter DAG").
//!
//! The grammar, the only one in the code base:
//!
//! | unit | name | example |
//! | --- | --- | --- |
//! | backbone (embeddings, attention, norms, LM head) | `backbone` | `backbone` |
//! | router (gate) of layer `l` | `layer{l}.router` | `layer2.router` |
//! | expert `e` of layer `l` | `layer{l}.expert{e}` | `layer0.expert7` |
//!
//! `l` and `e` are decimal `u32` without sign or leading zeros, so every unit has exactly
//! one name: `layer01.expert1` is not a name.
//!
//! ```
//! use blyan_primitives::UnitName;
//! let u = UnitName::parse(b"layer0.expert7").unwrap();
//! assert_eq!(u, UnitName::Expert { layer: 0, expert: 7 });
//! assert_eq!(u.to_bytes(), b"layer0.expert7".to_vec());
//! assert_eq!(UnitName::parse(b"layer00.expert7"), None);
//! ```

use alloc::vec::Vec;
use core::fmt;

/// One unit of a Mixture-of-Experts model, by its role.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum UnitName {
	/// Embeddings, attention, norms and LM head: `backbone`.
	Backbone,
	/// The router (gate) of one MoE layer: `layer{layer}.router`.
	Router {
		/// Layer index.
		layer: u32,
	},
	/// One expert of one MoE layer: `layer{layer}.expert{expert}`.
	Expert {
		/// Layer index.
		layer: u32,
		/// Expert index within the layer.
		expert: u32,
	},
}

/// Longest unit name in bytes: `layer4294967295.expert4294967295`.
pub const MAX_UNIT_NAME_LEN: usize = 32;

impl UnitName {
	/// Parses a unit name (see the module docs); `None` for anything else.
	pub fn parse(name: &[u8]) -> Option<Self> {
		if name == b"backbone" {
			return Some(UnitName::Backbone);
		}
		let rest = name.strip_prefix(b"layer")?;
		let dot = rest.iter().position(|b| *b == b'.')?;
		let layer = parse_decimal(&rest[..dot])?;
		let tail = &rest[dot.saturating_add(1)..];
		if tail == b"router" {
			return Some(UnitName::Router { layer });
		}
		let expert = parse_decimal(tail.strip_prefix(b"expert")?)?;
		Some(UnitName::Expert { layer, expert })
	}

	/// The name's bytes (ASCII).
	pub fn to_bytes(&self) -> Vec<u8> {
		alloc::format!("{self}").into_bytes()
	}

	/// Whether a model with `layers` MoE layers of `experts` experts each has this unit.
	pub fn exists_in(&self, layers: u32, experts: u32) -> bool {
		match *self {
			UnitName::Backbone => true,
			UnitName::Router { layer } => layer < layers,
			UnitName::Expert { layer, expert } => layer < layers && expert < experts,
		}
	}

	/// Every unit of a model with `layers` layers of `experts` experts, in canonical order:
	/// backbone, then per layer the router and its experts.
	pub fn all(layers: u32, experts: u32) -> Vec<UnitName> {
		let mut out = alloc::vec![UnitName::Backbone];
		for layer in 0..layers {
			out.push(UnitName::Router { layer });
			out.extend((0..experts).map(|expert| UnitName::Expert { layer, expert }));
		}
		out
	}
}

impl fmt::Display for UnitName {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		match self {
			UnitName::Backbone => write!(f, "backbone"),
			UnitName::Router { layer } => write!(f, "layer{layer}.router"),
			UnitName::Expert { layer, expert } => write!(f, "layer{layer}.expert{expert}"),
		}
	}
}

/// A decimal `u32`: ASCII digits, no sign, no leading zero (except `0` itself).
fn parse_decimal(digits: &[u8]) -> Option<u32> {
	if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
		return None;
	}
	let mut n: u32 = 0;
	for d in digits {
		if !d.is_ascii_digit() {
			return None;
		}
		n = n.checked_mul(10)?.checked_add(u32::from(d - b'0'))?;
	}
	Some(n)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn every_unit_has_exactly_one_name() {
		for u in UnitName::all(3, 4) {
			assert_eq!(UnitName::parse(&u.to_bytes()), Some(u));
			assert!(u.to_bytes().len() <= MAX_UNIT_NAME_LEN);
		}
		let max = UnitName::Expert { layer: u32::MAX, expert: u32::MAX };
		assert_eq!(max.to_bytes().len(), MAX_UNIT_NAME_LEN);
		for bad in [
			&b"layer01.expert1"[..],
			b"layer1.expert01",
			b"layer-1.router",
			b"layer+1.router",
			b"layer1.expert",
			b"layer.router",
			b"layer1router",
			b"Backbone",
			b"layer4294967296.router",
			b"layer1.router ",
			b"",
		] {
			assert_eq!(UnitName::parse(bad), None, "{:?}", core::str::from_utf8(bad));
		}
	}

	#[test]
	fn units_exist_within_the_shape() {
		assert!(UnitName::Expert { layer: 1, expert: 3 }.exists_in(2, 4));
		assert!(!UnitName::Expert { layer: 1, expert: 4 }.exists_in(2, 4));
		assert!(!UnitName::Router { layer: 2 }.exists_in(2, 4));
		assert_eq!(UnitName::all(2, 3).len(), 1 + 2 * (1 + 3));
	}
}
