//! Benchmarks of the model-spec pallet.

use super::*;
use crate::Pallet as ModelSpecPallet;
use alloc::vec::Vec;
use blyan_primitives::Hash;
use frame_benchmarking::v2::*;
use frame_support::{
	traits::{EnsureOrigin, Get},
	BoundedVec,
};

/// A valid config with `layers` layers and `experts` experts per layer.
fn config(layers: u32, experts: u32) -> EngineConfig {
	EngineConfig {
		vocab_size: 256,
		hidden_size: 128,
		num_hidden_layers: layers,
		num_attention_heads: 4,
		max_position_embeddings: 128,
		num_local_experts: experts,
		num_experts_per_tok: 1,
		intermediate_size: 256,
	}
}

fn routers<T: Config>(n: u32) -> BoundedVec<Hash, T::MaxLayers> {
	let v: Vec<Hash> = (0..n).map(|i| [i as u8; 32]).collect();
	BoundedVec::truncate_from(v)
}

#[benchmarks]
mod benches {
	use super::*;

	/// `l`: number of layers (router hashes). A previous spec exists so the version check
	/// reads it (worst case).
	#[benchmark]
	fn register_spec(l: Linear<1, { T::MaxLayers::get() }>) -> Result<(), BenchmarkError> {
		let origin =
			T::SpecOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		ModelSpecPallet::<T>::do_register_spec(
			config(1, 1),
			SemVer::new(1, 0, 0),
			0,
			(0, 0),
			[0; 32],
			routers::<T>(1),
		)
		.map_err(|_| BenchmarkError::Stop("setup: register spec"))?;
		let cfg = config(l, 1);
		let r = routers::<T>(l);

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, cfg, SemVer::new(1, 1, 0), 1, (0, 0), [1; 32], r);

		assert_eq!(LatestSpec::<T>::get(), Some(1));
		Ok(())
	}

	#[benchmark]
	fn record_migration() -> Result<(), BenchmarkError> {
		let origin =
			T::SpecOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		ModelSpecPallet::<T>::do_register_spec(
			config(1, 1),
			SemVer::new(1, 0, 0),
			0,
			(0, 0),
			[0; 32],
			routers::<T>(1),
		)
		.map_err(|_| BenchmarkError::Stop("setup: register spec"))?;
		ModelSpecPallet::<T>::do_register_spec(
			config(1, 2),
			SemVer::new(1, 1, 0),
			1,
			(0, 0),
			[0; 32],
			routers::<T>(1),
		)
		.map_err(|_| BenchmarkError::Stop("setup: register spec"))?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, 0, 1, MigrationKind::AddExperts { added: 1 });

		assert!(Migrations::<T>::contains_key(1));
		Ok(())
	}

	impl_benchmark_test_suite!(ModelSpecPallet, crate::mock::new_test_ext(), crate::mock::Test);
}
