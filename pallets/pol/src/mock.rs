//! Test runtime for the Proof-of-Learning pallet, with the shared in-memory parameter DAG
//! (`blyan_test_support::dag`), a dataset registry and a validator set.

use crate as pallet_pol;
use crate::{Datasets, ManifestLimits, Validators};
use blyan_primitives::{DatasetId, Hash};
use blyan_test_support::dag;
use frame_support::{derive_impl, parameter_types, traits::Hooks};
use sp_runtime::{BuildStorage, DispatchError, Perbill};
use std::collections::BTreeMap;

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Pol: pallet_pol,
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

blyan_test_support::impl_offchain_signing!(Test);

parameter_types! {
	pub static Validator: Vec<u64> = vec![10, 11, 12];
	pub static Payloads: Vec<Hash> = vec![];
	pub static Approved: BTreeMap<DatasetId, u64> = BTreeMap::new();
	/// The spec's validation dataset (approved too).
	pub static Validation: Option<DatasetId> = Some(0);
	pub const MinBond: u64 = 2_000;
	pub const TrainerReward: u64 = 50;
	pub const DataReward: u64 = 10;
	pub const SlashFraction: Perbill = Perbill::from_percent(100);
	pub const ExpiryFee: Perbill = Perbill::from_percent(5);
	pub const MinImprovement: u32 = 5_000;
	pub const ClaimTolerance: u32 = 10_000;
	pub const DeviationTolerance: u32 = 1;
	pub const ChallengeDelay: u64 = 2;
	pub const CommitWindow: u64 = 10;
	pub const RevealWindow: u64 = 4;
	pub const ReplaySegments: u32 = 2;
	pub const Limits: ManifestLimits = ManifestLimits {
		max_steps: 1_000,
		max_segments: 32,
		max_batch_size: 16,
		max_seq_len: 64,
		max_tokens_per_step: 512,
		max_manifest_bytes: 100_000,
	};
	pub const MaxDatasets: u32 = 4;
	pub const MaxUnitNameLen: u32 = 64;
	pub const MaxUnitsPerClaim: u32 = 4;
	pub const MaxBaseAge: u64 = 20;
	pub const MaxValidators: u32 = 8;
	pub const MaxClaimsPerBlock: u32 = 3;
	pub const DayLength: u64 = 1_000;
	pub const NewbieDailyClaims: u32 = 5;
	pub const TrustedDailyClaims: u32 = 50;
}

/// Errors of the mock DAG (the real one is pallet-param-dag's).
pub const UNKNOWN_PAYLOAD: DispatchError = DispatchError::Other("UnknownPayload");

/// The shared mock DAG; a payload is known when it is in [`Payloads`].
pub struct MockDag;
blyan_test_support::impl_mock_param_dag!(MockDag, |p| Payloads::get().contains(p));

/// The id of the child block `miner` proposes with nonce 0.
pub fn child_id(miner: u64, parent: &Hash, payload: &Hash) -> Hash {
	dag::child_id(&miner.to_le_bytes(), parent, payload, 0)
}

pub struct MockDatasets;
impl Datasets<u64> for MockDatasets {
	fn approved_creator(id: DatasetId) -> Option<u64> {
		Approved::get().get(&id).copied()
	}
	fn validation_dataset() -> Option<DatasetId> {
		Validation::get()
	}
}

pub struct MockValidators;
impl Validators<u64> for MockValidators {
	fn is_validator(who: &u64) -> bool {
		Validator::get().contains(who)
	}
	fn count() -> u32 {
		Validator::get().len() as u32
	}
}

#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper<u64> for MockDatasets {
	fn parent_and_payload(i: u32) -> (Hash, Hash) {
		let unit = format!("layer{}.expert{}", i / 8, i % 8).into_bytes();
		let p = sp_io::hashing::blake2_256(&unit);
		Payloads::mutate(|v| v.push(p));
		(dag::genesis_block(&unit), p)
	}
	fn solve_nonce(_miner: &u64, _parent: &Hash, _payload: &Hash) -> u64 {
		0
	}
	fn approved_dataset(creator: &u64, n: u32) -> DatasetId {
		let n = n + 1; // never the validation dataset 0
		Approved::mutate(|a| a.insert(n, *creator));
		n
	}
	fn make_validator(who: &u64) {
		Validator::mutate(|v| {
			if !v.contains(who) {
				v.push(*who)
			}
		});
	}
}

impl pallet_pol::Config for Test {
	type AuthorityId = blyan_test_support::TestAuthId;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Dag = MockDag;
	type Datasets = MockDatasets;
	type Validators = MockValidators;
	type MinBond = MinBond;
	type TrainerReward = TrainerReward;
	type DataReward = DataReward;
	type SlashFraction = SlashFraction;
	type ExpiryFee = ExpiryFee;
	type MinImprovement = MinImprovement;
	type ClaimTolerance = ClaimTolerance;
	type DeviationTolerance = DeviationTolerance;
	type ChallengeDelay = ChallengeDelay;
	type CommitWindow = CommitWindow;
	type RevealWindow = RevealWindow;
	type ReplaySegments = ReplaySegments;
	type ManifestLimits = Limits;
	type MaxDatasets = MaxDatasets;
	type MaxUnitNameLen = MaxUnitNameLen;
	type MaxUnitsPerClaim = MaxUnitsPerClaim;
	type MaxBaseAge = MaxBaseAge;
	type MaxValidators = MaxValidators;
	type MaxClaimsPerBlock = MaxClaimsPerBlock;
	type DayLength = DayLength;
	type NewbieDailyClaims = NewbieDailyClaims;
	type TrustedDailyClaims = TrustedDailyClaims;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = MockDatasets;
}

/// Trainer accounts of the tests.
pub const TRAINER: u64 = 1;
/// A second trainer.
pub const TRAINER2: u64 = 2;
/// Creator of dataset 7.
pub const CREATOR_A: u64 = 20;
/// Creator of dataset 8.
pub const CREATOR_B: u64 = 21;

/// A distinct payload root.
pub fn payload(n: u8) -> Hash {
	[n; 32]
}

/// Externalities: balances for trainers and validators, payloads 1..=9 committed, datasets 7
/// (creator A), 8 (creator B) and the validation dataset 0 approved, a genesis block for
/// `layer0.expert0`, block 1.
pub fn new_test_ext() -> blyan_test_support::CheckedExt {
	Validator::set(vec![10, 11, 12]);
	Payloads::set((1..=9).map(payload).collect());
	Approved::set([(0, CREATOR_A), (7, CREATOR_A), (8, CREATOR_B)].into_iter().collect());
	Validation::set(Some(0));
	let mut t = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![(TRAINER, 100_000), (TRAINER2, 100_000), (10, 5_000), (11, 1), (12, 1)],
		..Default::default()
	}
	.assimilate_storage(&mut t)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(t);
	ext.execute_with(|| {
		System::set_block_number(1);
		dag::genesis_block(b"layer0.expert0");
		dag::genesis_block(b"layer0.expert1");
	});
	blyan_test_support::CheckedExt::new(ext, Pol::do_try_state)
}

/// Runs `on_initialize` of the blocks up to and including `n`, checking the pallet's
/// invariants after each.
pub fn run_to(n: u64) {
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		Pol::on_initialize(next);
		Pol::do_try_state().expect("invariants hold");
	}
}
