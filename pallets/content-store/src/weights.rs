// NOT YET GENERATED: placeholder until `blyan-node benchmark pallet` runs on this machine (issue #3).
//
// The values below are estimates from the storage reads and writes of each call plus a
// hand-picked base and per-item cost, in the layout frame-benchmarking-cli produces so the
// generated file can replace this one as is.

//! Weights for `pallet_content_store`
//!
//! NOT YET GENERATED (placeholder, see the header comment).
//! DATE: (none), STEPS: (none), REPEAT: (none)
//! WORST CASE MAP SIZE: `1000000`

// Executed Command:
// (none yet) blyan-node benchmark pallet --pallet pallet_content_store --extrinsic '*'
//   --template .maintain/frame-weight-template.hbs --output pallets/content-store/src/weights.rs

#![cfg_attr(rustfmt, rustfmt_skip)]
#![allow(unused_parens)]
#![allow(unused_imports)]
#![allow(missing_docs)]

use frame_support::{traits::Get, weights::{Weight, constants::RocksDbWeight}};
use core::marker::PhantomData;

/// Weight functions needed for `pallet_content_store`.
pub trait WeightInfo {
	fn publish_tile(b: u32, ) -> Weight;
	fn commit_manifest(t: u32, ) -> Weight;
	fn prune(t: u32, ) -> Weight;
	fn remove_tile() -> Weight;
}

/// Weights for `pallet_content_store` using the Substrate node and recommended hardware.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	/// Storage: `ContentStore::Tiles` (r:1 w:1)
	/// Proof: `ContentStore::Tiles` (`max_values`: None, `max_size`: Some(100), added: 2575, mode: `MaxEncodedLen`)
	/// Storage: `Balances::Holds` (r:1 w:1)
	/// Proof: `Balances::Holds` (`max_values`: None, `max_size`: Some(175), added: 2650, mode: `MaxEncodedLen`)
	/// Storage: `ContentStore::TileData` (r:0 w:1)
	/// Proof: `ContentStore::TileData` (`max_values`: None, `max_size`: Some(4194340), added: 4196815, mode: `MaxEncodedLen`)
	/// The range of component `b` is `[1, 4194304]`.
	fn publish_tile(b: u32, ) -> Weight {
		// Proof Size summary in bytes:
		//  Measured:  `76`
		//  Estimated: `3640`
		// Minimum execution time: 50_000_000 picoseconds.
		Weight::from_parts(50_000_000, 3640)
			// Standard Error: (none)
			// blake3 in wasm plus copying into storage, about 5 ns per byte.
			.saturating_add(Weight::from_parts(5_000, 0).saturating_mul(b.into()))
			.saturating_add(T::DbWeight::get().reads(2_u64))
			.saturating_add(T::DbWeight::get().writes(3_u64))
	}
	/// Storage: `ContentStore::Manifests` (r:1 w:1)
	/// Proof: `ContentStore::Manifests` (`max_values`: None, `max_size`: Some(2117), added: 4592, mode: `MaxEncodedLen`)
	/// Storage: `ContentStore::Tiles` (r:64 w:64)
	/// Proof: `ContentStore::Tiles` (`max_values`: None, `max_size`: Some(100), added: 2575, mode: `MaxEncodedLen`)
	/// The range of component `t` is `[1, 64]`.
	fn commit_manifest(t: u32, ) -> Weight {
		// Proof Size summary in bytes:
		//  Measured:  `100 + t * (100 ±0)`
		//  Estimated: `5582 + t * (2575 ±0)`
		// Minimum execution time: 30_000_000 picoseconds.
		Weight::from_parts(30_000_000, 5582)
			// Standard Error: (none)
			.saturating_add(Weight::from_parts(10_000_000, 0).saturating_mul(t.into()))
			.saturating_add(T::DbWeight::get().reads(1_u64))
			.saturating_add(T::DbWeight::get().reads((2_u64).saturating_mul(t.into())))
			.saturating_add(T::DbWeight::get().writes(1_u64))
			.saturating_add(T::DbWeight::get().writes((1_u64).saturating_mul(t.into())))
			.saturating_add(Weight::from_parts(0, 2575).saturating_mul(t.into()))
	}
	/// Storage: `ContentStore::Manifests` (r:1 w:1)
	/// Proof: `ContentStore::Manifests` (`max_values`: None, `max_size`: Some(2117), added: 4592, mode: `MaxEncodedLen`)
	/// Storage: `ContentStore::Tiles` (r:64 w:64)
	/// Proof: `ContentStore::Tiles` (`max_values`: None, `max_size`: Some(100), added: 2575, mode: `MaxEncodedLen`)
	/// Storage: `Balances::Holds` (r:64 w:64)
	/// Proof: `Balances::Holds` (`max_values`: None, `max_size`: Some(175), added: 2650, mode: `MaxEncodedLen`)
	/// Storage: `System::Account` (r:64 w:64)
	/// Proof: `System::Account` (`max_values`: None, `max_size`: Some(128), added: 2603, mode: `MaxEncodedLen`)
	/// Storage: `ContentStore::TileData` (r:0 w:64)
	/// Proof: `ContentStore::TileData` (`max_values`: None, `max_size`: Some(4194340), added: 4196815, mode: `MaxEncodedLen`)
	/// The range of component `t` is `[1, 64]`.
	fn prune(t: u32, ) -> Weight {
		// Proof Size summary in bytes:
		//  Measured:  `200 + t * (400 ±0)`
		//  Estimated: `5582 + t * (7828 ±0)`
		// Minimum execution time: 30_000_000 picoseconds.
		Weight::from_parts(30_000_000, 5582)
			// Standard Error: (none)
			.saturating_add(Weight::from_parts(40_000_000, 0).saturating_mul(t.into()))
			.saturating_add(T::DbWeight::get().reads(1_u64))
			.saturating_add(T::DbWeight::get().reads((3_u64).saturating_mul(t.into())))
			.saturating_add(T::DbWeight::get().writes(1_u64))
			.saturating_add(T::DbWeight::get().writes((4_u64).saturating_mul(t.into())))
			.saturating_add(Weight::from_parts(0, 7828).saturating_mul(t.into()))
	}
	/// Storage: `ContentStore::Tiles` (r:1 w:1)
	/// Proof: `ContentStore::Tiles` (`max_values`: None, `max_size`: Some(100), added: 2575, mode: `MaxEncodedLen`)
	/// Storage: `Balances::Holds` (r:1 w:1)
	/// Proof: `Balances::Holds` (`max_values`: None, `max_size`: Some(175), added: 2650, mode: `MaxEncodedLen`)
	/// Storage: `System::Account` (r:1 w:1)
	/// Proof: `System::Account` (`max_values`: None, `max_size`: Some(128), added: 2603, mode: `MaxEncodedLen`)
	/// Storage: `ContentStore::TileData` (r:0 w:1)
	/// Proof: `ContentStore::TileData` (`max_values`: None, `max_size`: Some(4194340), added: 4196815, mode: `MaxEncodedLen`)
	fn remove_tile() -> Weight {
		// Proof Size summary in bytes:
		//  Measured:  `400`
		//  Estimated: `3640`
		// Minimum execution time: 60_000_000 picoseconds.
		Weight::from_parts(60_000_000, 3640)
			.saturating_add(T::DbWeight::get().reads(3_u64))
			.saturating_add(T::DbWeight::get().writes(4_u64))
	}
}

// For backwards compatibility and tests.
impl WeightInfo for () {
	/// Storage: `ContentStore::Tiles` (r:1 w:1)
	/// Storage: `Balances::Holds` (r:1 w:1)
	/// Storage: `ContentStore::TileData` (r:0 w:1)
	/// The range of component `b` is `[1, 4194304]`.
	fn publish_tile(b: u32, ) -> Weight {
		Weight::from_parts(50_000_000, 3640)
			.saturating_add(Weight::from_parts(5_000, 0).saturating_mul(b.into()))
			.saturating_add(RocksDbWeight::get().reads(2_u64))
			.saturating_add(RocksDbWeight::get().writes(3_u64))
	}
	/// Storage: `ContentStore::Manifests` (r:1 w:1)
	/// Storage: `ContentStore::Tiles` (r:64 w:64)
	/// The range of component `t` is `[1, 64]`.
	fn commit_manifest(t: u32, ) -> Weight {
		Weight::from_parts(30_000_000, 5582)
			.saturating_add(Weight::from_parts(10_000_000, 0).saturating_mul(t.into()))
			.saturating_add(RocksDbWeight::get().reads(1_u64))
			.saturating_add(RocksDbWeight::get().reads((2_u64).saturating_mul(t.into())))
			.saturating_add(RocksDbWeight::get().writes(1_u64))
			.saturating_add(RocksDbWeight::get().writes((1_u64).saturating_mul(t.into())))
			.saturating_add(Weight::from_parts(0, 2575).saturating_mul(t.into()))
	}
	/// Storage: `ContentStore::Manifests` (r:1 w:1)
	/// Storage: `ContentStore::Tiles` (r:64 w:64)
	/// Storage: `Balances::Holds` (r:64 w:64)
	/// Storage: `System::Account` (r:64 w:64)
	/// Storage: `ContentStore::TileData` (r:0 w:64)
	/// The range of component `t` is `[1, 64]`.
	fn prune(t: u32, ) -> Weight {
		Weight::from_parts(30_000_000, 5582)
			.saturating_add(Weight::from_parts(40_000_000, 0).saturating_mul(t.into()))
			.saturating_add(RocksDbWeight::get().reads(1_u64))
			.saturating_add(RocksDbWeight::get().reads((3_u64).saturating_mul(t.into())))
			.saturating_add(RocksDbWeight::get().writes(1_u64))
			.saturating_add(RocksDbWeight::get().writes((4_u64).saturating_mul(t.into())))
			.saturating_add(Weight::from_parts(0, 7828).saturating_mul(t.into()))
	}
	/// Storage: `ContentStore::Tiles` (r:1 w:1)
	/// Storage: `Balances::Holds` (r:1 w:1)
	/// Storage: `System::Account` (r:1 w:1)
	/// Storage: `ContentStore::TileData` (r:0 w:1)
	fn remove_tile() -> Weight {
		Weight::from_parts(60_000_000, 3640)
			.saturating_add(RocksDbWeight::get().reads(3_u64))
			.saturating_add(RocksDbWeight::get().writes(4_u64))
	}
}
