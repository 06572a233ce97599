//! Types of the model-spec pallet (Chain A).

use alloc::vec::Vec;
use blyan_primitives::{DatasetId, Hash, SpecId};
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{
	pallet_prelude::{BoundedVec, Get},
	CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
};
use scale_info::TypeInfo;

/// Architecture of a Blyan MoE model, the chain's copy of the engine's `blyan_moe::Config`
/// (`moe/src/config.rs`). Field names and meanings are the engine's; the engine's floating
/// point hyper-parameters (`rms_norm_eps`, `rope_theta`, `router_aux_loss_coef`) are not
/// consensus data and stay off chain.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Debug,
	frame_support::Serialize,
	frame_support::Deserialize,
)]
#[serde(crate = "frame_support::__private::serde")]
pub struct EngineConfig {
	/// Vocabulary size, in tokens (256 for the byte-level engine). Must be > 0.
	pub vocab_size: u32,
	/// Model width `d_model`. Must be a positive multiple of `num_attention_heads`, with an
	/// even head size (RoPE).
	pub hidden_size: u32,
	/// Number of decoder layers. `1..=MaxLayers`.
	pub num_hidden_layers: u32,
	/// Attention heads. Must be > 0.
	pub num_attention_heads: u32,
	/// Longest context, in tokens. Must be ≥ 2.
	pub max_position_embeddings: u32,
	/// Experts per MoE layer, `E`. `1..=MaxExperts`.
	pub num_local_experts: u32,
	/// Experts each token is routed to, top-`k`. `1..=E`.
	pub num_experts_per_tok: u32,
	/// Hidden size of one SwiGLU expert. Must be > 0.
	pub intermediate_size: u32,
}

/// Why an [`EngineConfig`] is invalid (the first rule broken, in the order listed here).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ConfigFault {
	/// `vocab_size` is zero.
	ZeroVocab,
	/// `hidden_size`, `num_hidden_layers`, `intermediate_size` or `num_attention_heads` is
	/// zero.
	ZeroSize,
	/// `hidden_size` is not a multiple of `num_attention_heads`, or the head size is odd.
	HeadsMismatch,
	/// `max_position_embeddings < 2`.
	ContextTooShort,
	/// `num_experts_per_tok` is zero or larger than `num_local_experts` (or that is zero).
	BadTopK,
	/// More layers than the `MaxLayers` bound.
	TooManyLayers,
	/// More experts than the `MaxExperts` bound.
	TooManyExperts,
}

impl EngineConfig {
	/// Checks the invariants the engine relies on (the rules of `blyan_moe::Config::validate`
	/// apart from its byte-level `vocab_size == 256`, which is an engine choice, not an
	/// architecture rule), plus the chain's bounds `max_layers` and `max_experts`.
	pub fn check(&self, max_layers: u32, max_experts: u32) -> Result<(), ConfigFault> {
		if self.vocab_size == 0 {
			return Err(ConfigFault::ZeroVocab);
		}
		if self.hidden_size == 0
			|| self.num_hidden_layers == 0
			|| self.intermediate_size == 0
			|| self.num_attention_heads == 0
		{
			return Err(ConfigFault::ZeroSize);
		}
		if !self.hidden_size.is_multiple_of(self.num_attention_heads)
			|| !(self.hidden_size / self.num_attention_heads).is_multiple_of(2)
		{
			return Err(ConfigFault::HeadsMismatch);
		}
		if self.max_position_embeddings < 2 {
			return Err(ConfigFault::ContextTooShort);
		}
		if self.num_local_experts == 0
			|| self.num_experts_per_tok == 0
			|| self.num_experts_per_tok > self.num_local_experts
		{
			return Err(ConfigFault::BadTopK);
		}
		if self.num_hidden_layers > max_layers {
			return Err(ConfigFault::TooManyLayers);
		}
		if self.num_local_experts > max_experts {
			return Err(ConfigFault::TooManyExperts);
		}
		Ok(())
	}
}

/// Semantic version `major.minor.patch`; ordered field by field (derived `Ord`).
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	PartialOrd,
	Ord,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Debug,
	frame_support::Serialize,
	frame_support::Deserialize,
)]
#[serde(crate = "frame_support::__private::serde")]
pub struct SemVer {
	/// Incompatible changes.
	pub major: u16,
	/// Compatible additions.
	pub minor: u16,
	/// Fixes.
	pub patch: u16,
}

impl SemVer {
	/// Builds `major.minor.patch`.
	pub const fn new(major: u16, minor: u16, patch: u16) -> Self {
		Self { major, minor, patch }
	}
}

/// A registered model spec (SPEC "Chain A — model specs").
#[derive(
	Encode, Decode, MaxEncodedLen, TypeInfo, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound,
)]
#[scale_info(skip_type_params(MaxLayers))]
#[codec(mel_bound(BlockNumber: MaxEncodedLen))]
pub struct ModelSpec<BlockNumber, MaxLayers: Get<u32>>
where
	BlockNumber: Clone + PartialEq + Eq + core::fmt::Debug,
{
	/// The architecture.
	pub config: EngineConfig,
	/// Version; strictly increasing across registrations.
	pub version: SemVer,
	/// Generation (how many growth steps the model has taken); never decreases.
	pub generation: u32,
	/// The public validation set the PoL evaluation uses: (dataset id, dataset version).
	pub validation_dataset: (DatasetId, u32),
	/// Payload root (content store) of the non-expert weights: embeddings, attention, norms.
	pub backbone: Hash,
	/// Payload root of each layer's router gate; exactly `config.num_hidden_layers` entries,
	/// index = layer.
	pub routers: BoundedVec<Hash, MaxLayers>,
	/// Block at which the spec was registered.
	pub registered_at: BlockNumber,
}

/// A model spec as the runtime API returns it: [`ModelSpec`] without type parameters
/// (routers as a plain list, the block number as `u32`, saturated if the runtime's block
/// number is wider). SCALE-encodes byte for byte like a `ModelSpec<u32, _>`.
#[derive(Clone, PartialEq, Eq, Encode, Decode, TypeInfo, Debug)]
pub struct ModelSpecInfo {
	/// See [`ModelSpec::config`].
	pub config: EngineConfig,
	/// See [`ModelSpec::version`].
	pub version: SemVer,
	/// See [`ModelSpec::generation`].
	pub generation: u32,
	/// See [`ModelSpec::validation_dataset`].
	pub validation_dataset: (DatasetId, u32),
	/// See [`ModelSpec::backbone`].
	pub backbone: Hash,
	/// See [`ModelSpec::routers`].
	pub routers: Vec<Hash>,
	/// See [`ModelSpec::registered_at`].
	pub registered_at: u32,
}

/// How a model grows from one spec to the next (seed §10.9). Every other architecture
/// field must stay the same.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Debug,
)]
pub enum MigrationKind {
	/// `added > 0` experts per layer: `to.num_local_experts == from.num_local_experts + added`.
	AddExperts {
		/// Experts added to every layer.
		added: u32,
	},
	/// Wider expert FFN: `to.intermediate_size == new_intermediate_size >
	/// from.intermediate_size`.
	WidenFfn {
		/// The new expert hidden size.
		new_intermediate_size: u32,
	},
	/// `added > 0` decoder layers: `to.num_hidden_layers == from.num_hidden_layers + added`.
	AddLayers {
		/// Layers added.
		added: u32,
	},
}

impl MigrationKind {
	/// Whether `kind` moves `from` to `to`: the named field grows exactly as stated and every
	/// other field is unchanged.
	pub fn matches(&self, from: &EngineConfig, to: &EngineConfig) -> bool {
		let mut expected = *from;
		match *self {
			MigrationKind::AddExperts { added } => {
				if added == 0 {
					return false;
				}
				match from.num_local_experts.checked_add(added) {
					Some(n) => expected.num_local_experts = n,
					None => return false,
				}
			},
			MigrationKind::WidenFfn { new_intermediate_size } => {
				if new_intermediate_size <= from.intermediate_size {
					return false;
				}
				expected.intermediate_size = new_intermediate_size;
			},
			MigrationKind::AddLayers { added } => {
				if added == 0 {
					return false;
				}
				match from.num_hidden_layers.checked_add(added) {
					Some(n) => expected.num_hidden_layers = n,
					None => return false,
				}
			},
		}
		expected == *to
	}
}

/// A recorded migration: `from` grew into `to` by `kind` at block `at`.
#[derive(Clone, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo, Debug)]
pub struct Migration<BlockNumber> {
	/// The older spec.
	pub from: SpecId,
	/// The newer spec.
	pub to: SpecId,
	/// What changed.
	pub kind: MigrationKind,
	/// Block at which the migration was recorded.
	pub at: BlockNumber,
}
