//! Test runtime for the parameter-DAG pallet, with fake Chain A and content store.

use crate as pallet_param_dag;
use blyan_primitives::{ContentStore, Hash, ModelSpecs, SpecId};
use core::cell::RefCell;
use frame_support::{derive_impl, parameter_types, traits::Hooks};
use frame_system::EnsureRoot;
use sp_runtime::BuildStorage;
use std::collections::BTreeMap;

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		ParamDag: pallet_param_dag,
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
	pub static MaxDependencies: u32 = 16;
	pub static MaxNameLen: u32 = 32;
	/// Zero by default so tests need not grind; `propose_block_fails_when_pow_is_invalid`
	/// raises it.
	pub static PowDifficulty: u32 = 0;
	/// Spec ids the fake Chain A knows.
	pub static KnownSpecs: Vec<SpecId> = vec![0, 1];
}

/// Fake Chain A: a spec exists iff it is in [`KnownSpecs`].
pub struct FakeSpecs;
impl ModelSpecs for FakeSpecs {
	fn spec_exists(id: SpecId) -> bool {
		KnownSpecs::get().contains(&id)
	}
}

thread_local! {
	/// Fake content store: payload root → (length in bytes, reference count).
	pub static PAYLOADS: RefCell<BTreeMap<Hash, (u64, u32)>> = const { RefCell::new(BTreeMap::new()) };
}

/// Fake content store backed by [`PAYLOADS`].
pub struct FakeContent;
impl ContentStore for FakeContent {
	fn has_payload(root: &Hash) -> bool {
		PAYLOADS.with(|p| p.borrow().contains_key(root))
	}
	fn payload_len(root: &Hash) -> Option<u64> {
		PAYLOADS.with(|p| p.borrow().get(root).map(|e| e.0))
	}
	fn add_ref(root: &Hash) -> bool {
		PAYLOADS.with(|p| match p.borrow_mut().get_mut(root) {
			Some(e) => {
				e.1 += 1;
				true
			},
			None => false,
		})
	}
	fn remove_ref(root: &Hash) {
		PAYLOADS.with(|p| {
			if let Some(e) = p.borrow_mut().get_mut(root) {
				e.1 = e.1.saturating_sub(1);
			}
		})
	}
}

/// Commits a fake payload of `len` bytes with root `root` (no references).
pub fn commit_payload(root: Hash, len: u64) {
	PAYLOADS.with(|p| p.borrow_mut().insert(root, (len, 0)));
}

/// References held on a fake payload (`None` if it does not exist).
pub fn refs(root: &Hash) -> Option<u32> {
	PAYLOADS.with(|p| p.borrow().get(root).map(|e| e.1))
}

#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper for FakeContent {
	fn spec() -> SpecId {
		0
	}
	fn payload() -> (Hash, u64) {
		commit_payload([0xbe; 32], 1024);
		([0xbe; 32], 1024)
	}
}

parameter_types! {
	/// Blocks under a Proof-of-Learning claim.
	pub static Claims: Vec<Hash> = vec![];
}

/// `Config::Claimed` backed by [`Claims`].
pub struct ClaimedBlocks;
impl frame_support::traits::Contains<Hash> for ClaimedBlocks {
	fn contains(id: &Hash) -> bool {
		Claims::get().contains(id)
	}
}

impl pallet_param_dag::Config for Test {
	type Specs = FakeSpecs;
	type Content = FakeContent;
	type AcceptOrigin = EnsureRoot<u64>;
	type Claimed = ClaimedBlocks;
	type MaxDependencies = MaxDependencies;
	type MaxNameLen = MaxNameLen;
	type PowDifficulty = PowDifficulty;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = FakeContent;
}

/// A genesis block entry: `(miner, spec, name, layer, type, payload, size)`.
pub type GenesisBlock = (u64, SpecId, Vec<u8>, u32, crate::BlockType, Hash, u64);

/// Externalities with funded accounts 1..=3, an empty DAG and an empty fake content store.
pub fn new_test_ext() -> blyan_test_support::CheckedExt {
	ext_with(vec![])
}

/// Externalities with the given genesis blocks (their payloads must be committed with
/// [`commit_payload`] beforehand to get a reference).
pub fn ext_with(blocks: Vec<GenesisBlock>) -> blyan_test_support::CheckedExt {
	let mut t = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![(1, 100), (2, 100), (3, 100)],
		..Default::default()
	}
	.assimilate_storage(&mut t)
	.unwrap();
	pallet_param_dag::GenesisConfig::<Test> { blocks }
		.assimilate_storage(&mut t)
		.unwrap();
	let mut ext = sp_io::TestExternalities::new(t);
	ext.execute_with(|| System::set_block_number(1));
	blyan_test_support::CheckedExt::new(ext, ParamDag::do_try_state)
}

/// Advances to block `n`, running the hooks.
pub fn run_to_block(n: u64) {
	while System::block_number() < n {
		let b = System::block_number() + 1;
		System::set_block_number(b);
		ParamDag::on_initialize(b);
	}
}
