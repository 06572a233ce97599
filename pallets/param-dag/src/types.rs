//! Types of the parameter-DAG pallet (Chain B).

use blyan_primitives::{Hash, SpecId};
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{
	pallet_prelude::{BoundedVec, Get},
	CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
};
use scale_info::TypeInfo;

/// What a parameter block holds.
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
pub enum BlockType {
	/// The non-expert weights (embeddings, attention, norms); name `backbone`, layer 0.
	Meta,
	/// One layer's router gate; name `layer{l}.router`.
	Router,
	/// One expert of one layer; name `layer{l}.expert{e}`.
	Expert,
}

/// Where a block is in its life cycle.
///
/// `Proposed → Accepted → Superseded` or `Proposed → Rejected`; nothing else.
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
pub enum BlockStatus {
	/// Proposed by a miner, waiting for [`crate::Config::AcceptOrigin`].
	Proposed,
	/// Accepted; the current block for its name in [`crate::ParamIndex`].
	Accepted,
	/// Turned down; its payload reference was dropped.
	Rejected,
	/// Was accepted, then replaced by a newer accepted block with the same name; its payload
	/// reference was dropped (prunable after the content store's retention period).
	Superseded,
}

impl BlockStatus {
	/// Whether the block is or was accepted (`Accepted` or `Superseded`).
	pub fn was_accepted(&self) -> bool {
		matches!(self, BlockStatus::Accepted | BlockStatus::Superseded)
	}
}

/// A parameter block of the DAG (SPEC "Chain B — parameter DAG").
///
/// Its id is `blake3(SCALE(spec, expert_name, layer_id, block_type, depends_on, payload_hash,
/// payload_size, miner, nonce))`, see [`crate::Pallet::block_id`].
#[derive(
	Encode, Decode, MaxEncodedLen, TypeInfo, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound,
)]
#[scale_info(skip_type_params(MaxNameLen, MaxDependencies))]
#[codec(mel_bound(AccountId: MaxEncodedLen, BlockNumber: MaxEncodedLen))]
pub struct ParamBlock<AccountId, BlockNumber, MaxNameLen, MaxDependencies>
where
	AccountId: Clone + PartialEq + Eq + core::fmt::Debug,
	BlockNumber: Clone + PartialEq + Eq + core::fmt::Debug,
	MaxNameLen: Get<u32>,
	MaxDependencies: Get<u32>,
{
	/// The model spec (Chain A) the block belongs to.
	pub spec: SpecId,
	/// `backbone`, `layer{l}.router` or `layer{l}.expert{e}` (decimal, no leading zeros).
	pub expert_name: BoundedVec<u8, MaxNameLen>,
	/// The layer `l` of the name (0 for `backbone`).
	pub layer_id: u32,
	/// What the block holds; agrees with the name.
	pub block_type: BlockType,
	/// Ids of the blocks this one builds on (e.g. the parent version); all existed before it.
	pub depends_on: BoundedVec<Hash, MaxDependencies>,
	/// Payload root of the block's weights in the content store.
	pub payload_hash: Hash,
	/// Payload size, in bytes.
	pub payload_size: u64,
	/// The account that proposed the block.
	pub miner: AccountId,
	/// Proof-of-work nonce.
	pub nonce: u64,
	/// Life-cycle status.
	pub status: BlockStatus,
	/// Block number at which it was proposed (0 for genesis blocks).
	pub proposed_at: BlockNumber,
	/// Insertion order: the value of [`crate::NextSeq`] when it was proposed.
	pub seq: u64,
}

/// The parsed name of a parameter block: the unit-name grammar of
/// [`blyan_primitives::UnitName`] (`backbone`, `layer{l}.router`, `layer{l}.expert{e}`),
/// shared with the engine and the Proof-of-Learning pallet.
pub use blyan_primitives::UnitName as ParamName;

/// Whether a unit's name agrees with a block's type and layer: `backbone` is a `Meta` block
/// of layer 0, `layer{l}.router` a `Router` block of layer `l`, `layer{l}.expert{e}` an
/// `Expert` block of layer `l`.
pub fn name_agrees(name: &ParamName, block_type: BlockType, layer_id: u32) -> bool {
	match *name {
		ParamName::Backbone => block_type == BlockType::Meta && layer_id == 0,
		ParamName::Router { layer } => block_type == BlockType::Router && layer == layer_id,
		ParamName::Expert { layer, .. } => block_type == BlockType::Expert && layer == layer_id,
	}
}
