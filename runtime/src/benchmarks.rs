//! The pallets whose benchmarks the runtime exposes (`benchmark pallet`).
//! Every pallet with a `benchmarking.rs` is listed; Blyan pallets are added as they land.

frame_benchmarking::define_benchmarks!(
	[frame_benchmarking, BaselineBench::<Runtime>]
	[frame_system, SystemBench::<Runtime>]
	[pallet_balances, Balances]
	[pallet_timestamp, Timestamp]
	[pallet_sudo, Sudo]
	[pallet_content_store, ContentStore]
	[pallet_model_spec, ModelSpec]
	[pallet_param_dag, ParamDag]
	[pallet_dataset, Dataset]
	[pallet_pol, Pol]
);
