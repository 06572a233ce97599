//! Test runtime for the dataset pallet.

use crate as pallet_dataset;
use blyan_primitives::Hash;
use frame_support::{
	derive_impl, parameter_types,
	traits::{Contains, EitherOfDiverse, SortedMembers},
};
use frame_system::{EnsureRoot, EnsureSignedBy};
use sp_runtime::BuildStorage;

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Dataset: pallet_dataset,
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
	/// Registered voters; benchmarks add more through `BenchmarkHelper`.
	pub static Voters: Vec<u64> = vec![1, 2, 3];
	/// Proof-of-work difficulty, in leading zero bits.
	pub static PowBits: u32 = 0;
	pub const MaxNameLen: u32 = 64;
	pub const MaxLicenceLen: u32 = 32;
	pub const MaxUriLen: u32 = 256;
	pub const MaxSampleHashes: u32 = 4;
	pub const VoteWindow: u64 = 10;
	pub const Quorum: u32 = 2;
	pub const DayLength: u64 = 100;
	pub const NewbieDailyQuota: u32 = 20;
	pub const TrustedDailyQuota: u32 = 200;
	pub const MaxClosingPerBlock: u32 = 4;
}

/// `VoterSet` backed by the static [`Voters`] list.
/// Auditor accounts: their worker keys run the audit, their signed origin reports it.
pub const AUDITOR: u64 = 9;

/// The auditors (`Config::Auditors`, and signed `AuditOrigin`).
pub struct TestAuditors;
impl Contains<u64> for TestAuditors {
	fn contains(who: &u64) -> bool {
		*who == AUDITOR
	}
}
impl SortedMembers<u64> for TestAuditors {
	fn sorted_members() -> Vec<u64> {
		vec![AUDITOR]
	}
}

blyan_test_support::impl_offchain_signing!(Test);

pub struct TestVoters;
impl Contains<u64> for TestVoters {
	fn contains(who: &u64) -> bool {
		Voters::get().contains(who)
	}
}

/// Payload root the fake content store does not hold.
pub const MISSING_PAYLOAD: Hash = [0xee; 32];

thread_local! {
	/// References per payload root held by the fake content store.
	pub static REFS: core::cell::RefCell<std::collections::BTreeMap<Hash, u32>> = Default::default();
}

/// References the fake content store holds for `root`.
pub fn refs(root: &Hash) -> u32 {
	REFS.with(|r| r.borrow().get(root).copied().unwrap_or(0))
}

/// A content store holding every payload except [`MISSING_PAYLOAD`], counting references.
pub struct TestContent;
impl blyan_primitives::ContentStore for TestContent {
	fn has_payload(root: &Hash) -> bool {
		*root != MISSING_PAYLOAD
	}
	fn payload_len(root: &Hash) -> Option<u64> {
		Self::has_payload(root).then_some(4_096)
	}
	fn add_ref(root: &Hash) -> bool {
		if !Self::has_payload(root) {
			return false;
		}
		REFS.with(|r| *r.borrow_mut().entry(*root).or_default() += 1);
		true
	}
	fn remove_ref(root: &Hash) {
		REFS.with(|r| {
			if let Some(n) = r.borrow_mut().get_mut(root) {
				*n = n.saturating_sub(1);
			}
		});
	}
}

#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper<u64> for TestContent {
	fn make_voter(who: &u64) {
		Voters::mutate(|v| v.push(*who));
	}
	fn payload(n: u32) -> Hash {
		let mut h = [0x77; 32];
		h[..4].copy_from_slice(&n.to_le_bytes());
		h
	}
}

impl pallet_dataset::Config for Test {
	type AuthorityId = blyan_test_support::TestAuthId;
	type Auditors = TestAuditors;
	type VoterSet = TestVoters;
	type Content = TestContent;
	type AuditOrigin = EitherOfDiverse<EnsureRoot<u64>, EnsureSignedBy<TestAuditors, u64>>;
	type MaxNameLen = MaxNameLen;
	type MaxLicenceLen = MaxLicenceLen;
	type MaxUriLen = MaxUriLen;
	type MaxSampleHashes = MaxSampleHashes;
	type VoteWindow = VoteWindow;
	type Quorum = Quorum;
	type DayLength = DayLength;
	type NewbieDailyQuota = NewbieDailyQuota;
	type TrustedDailyQuota = TrustedDailyQuota;
	type PowDifficulty = PowBits;
	type MaxClosingPerBlock = MaxClosingPerBlock;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = TestContent;
}

/// Externalities with balances for accounts 1..=10, no genesis datasets, at block 1.
pub fn new_test_ext() -> blyan_test_support::CheckedExt {
	new_test_ext_with(Vec::new())
}

/// Like [`new_test_ext`], with genesis datasets.
pub fn new_test_ext_with(
	datasets: Vec<crate::GenesisDatasetOf<Test>>,
) -> blyan_test_support::CheckedExt {
	Voters::reset();
	PowBits::reset();
	REFS.with(|r| r.borrow_mut().clear());
	let mut t = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: (1..=10).map(|who| (who, 1_000)).collect(),
		..Default::default()
	}
	.assimilate_storage(&mut t)
	.unwrap();
	pallet_dataset::GenesisConfig::<Test> { datasets }
		.assimilate_storage(&mut t)
		.unwrap();
	let mut ext = sp_io::TestExternalities::new(t);
	ext.execute_with(|| System::set_block_number(1));
	blyan_test_support::CheckedExt::new(ext, Dataset::do_try_state)
}

/// Runs the hooks of every block up to `n`, then checks the pallet's invariants.
pub fn run_to_block(n: u64) {
	System::run_to_block::<AllPalletsWithSystem>(n);
	Dataset::do_try_state().expect("invariants hold");
}
