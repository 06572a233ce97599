//! Test runtime for the model-spec pallet.

use crate as pallet_model_spec;
use frame_support::{derive_impl, parameter_types, traits::Hooks};
use frame_system::EnsureRoot;
use sp_runtime::BuildStorage;

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		SpecPallet: pallet_model_spec,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<u64>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type AccountStore = System;
	type RuntimeHoldReason = RuntimeHoldReason;
}

parameter_types! {
	pub static MaxLayers: u32 = 8;
	pub static MaxExperts: u32 = 16;
}

impl pallet_model_spec::Config for Test {
	type SpecOrigin = EnsureRoot<u64>;
	type MaxLayers = MaxLayers;
	type MaxExperts = MaxExperts;
	type WeightInfo = ();
}

/// Externalities with funded accounts 1..=3 and no spec.
pub fn new_test_ext() -> blyan_test_support::CheckedExt {
	ext_with(None)
}

/// Externalities with funded accounts and the given genesis spec.
pub fn ext_with(initial_spec: Option<crate::GenesisSpec>) -> blyan_test_support::CheckedExt {
	let mut t = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![(1, 100), (2, 100), (3, 100)],
		..Default::default()
	}
	.assimilate_storage(&mut t)
	.unwrap();
	pallet_model_spec::GenesisConfig::<Test> { initial_spec, _phantom: Default::default() }
		.assimilate_storage(&mut t)
		.unwrap();
	let mut ext = sp_io::TestExternalities::new(t);
	ext.execute_with(|| System::set_block_number(1));
	blyan_test_support::CheckedExt::new(ext, SpecPallet::do_try_state)
}

/// Advances to block `n`, running the hooks.
pub fn run_to_block(n: u64) {
	while System::block_number() < n {
		let b = System::block_number() + 1;
		System::set_block_number(b);
		SpecPallet::on_initialize(b);
	}
}
