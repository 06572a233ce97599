//! Stored record types of the content store.

use codec::{Decode, Encode, MaxEncodedLen};
use core::fmt::Debug;
use scale_info::TypeInfo;

/// What the chain records about one tile (its bytes live apart, in `TileData`).
#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub struct TileInfo<AccountId, Balance> {
	/// Account that published the tile; it gets the deposit back when the tile is removed.
	pub owner: AccountId,
	/// Size of the tile in bytes (at most `MaxTileBytes`).
	pub len: u32,
	/// Deposit held from `owner` for this tile, in planck (zero for genesis tiles).
	pub deposit: Balance,
	/// How many manifest slots point at this tile. A tile listed twice in one manifest
	/// counts twice. At zero the tile may be withdrawn by its owner.
	pub refs: u32,
}

/// What the chain records about one committed manifest, keyed by its root.
///
/// `Tiles` is `BoundedVec<Hash, MaxTilesPerManifest>` (see `ManifestInfoOf`); keeping it a
/// plain type parameter lets the standard derives work without bounding the `Get` type.
#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub struct ManifestInfo<AccountId, BlockNumber, Tiles> {
	/// Account that committed the manifest.
	pub owner: AccountId,
	/// Ordered tile hashes; their Merkle root is the manifest's key.
	pub tiles: Tiles,
	/// Payload size in bytes: the sum of the tiles' lengths.
	pub len: u64,
	/// References held by other pallets through `ContentStore::add_ref` (accepted expert
	/// blocks, dataset records, checkpoints). Genesis payloads start pinned at 1.
	pub refs: u32,
	/// Block at which `refs` last became zero (or the commit block). `None` while referenced
	/// or pinned. The manifest may be pruned `RetentionPeriod` blocks after this block.
	pub unreferenced_since: Option<BlockNumber>,
}
