//! Test runtime: System, Balances and the content store, with 1 KiB tiles so tests are fast.

use crate as pallet_content_store;
use frame_support::{derive_impl, parameter_types, traits::ConstU32};
use sp_runtime::BuildStorage;

type Block = frame_system::mocking::MockBlock<Test>;

/// Balance type of the test runtime, in planck.
pub type Balance = u64;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		ContentStore: pallet_content_store,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<Balance>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type AccountStore = System;
	type RuntimeHoldReason = RuntimeHoldReason;
}

/// Accounts funded at genesis.
pub const ALICE: u64 = 1;
pub const BOB: u64 = 2;
/// Funded with too little for any tile deposit.
pub const POOR: u64 = 3;
/// Initial balance of ALICE and BOB, in planck.
pub const INITIAL: Balance = 1_000_000;

/// Default tile size of the mock, in bytes.
pub const TILE: u32 = 1024;

parameter_types! {
	/// A static so that one test can raise it to the runtime's 4 MiB.
	pub static MaxTileBytes: u32 = TILE;
	pub const TileDepositBase: Balance = 100;
	pub const TileDepositPerByte: Balance = 2;
	pub const RetentionPeriod: u64 = 10;
}

impl pallet_content_store::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type MaxTileBytes = MaxTileBytes;
	type MaxTilesPerManifest = ConstU32<8>;
	type TileDepositBase = TileDepositBase;
	type TileDepositPerByte = TileDepositPerByte;
	type RetentionPeriod = RetentionPeriod;
	type WeightInfo = ();
}

/// Test externalities with funded accounts and the given genesis payloads.
pub fn new_test_ext_with(payloads: Vec<(u64, Vec<u8>)>) -> blyan_test_support::CheckedExt {
	let mut t = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![(ALICE, INITIAL), (BOB, INITIAL), (POOR, 50)],
		..Default::default()
	}
	.assimilate_storage(&mut t)
	.unwrap();
	pallet_content_store::GenesisConfig::<Test> { payloads }
		.assimilate_storage(&mut t)
		.unwrap();
	let mut ext = sp_io::TestExternalities::new(t);
	ext.execute_with(|| System::set_block_number(1));
	blyan_test_support::CheckedExt::new(ext, ContentStore::do_try_state)
}

/// Test externalities with funded accounts and no genesis payload; block 1.
pub fn new_test_ext() -> blyan_test_support::CheckedExt {
	new_test_ext_with(vec![])
}

/// Runs blocks up to `n` (hooks included).
pub fn run_to_block(n: u64) {
	System::run_to_block::<AllPalletsWithSystem>(n);
}
