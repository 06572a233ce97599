//! Test runtime for the Proof-of-Learning pallet, with an in-memory parameter DAG, dataset
//! registry and validator set.

use crate as pallet_pol;
use crate::{Datasets, ParamDag, Validators};
use blyan_primitives::{DatasetId, Hash};
use frame_support::{derive_impl, parameter_types, storage::unhashed, traits::Hooks};
use sp_runtime::{
	testing::{TestSignature, UintAuthorityId},
	BuildStorage, DispatchError, Perbill,
};
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

/// Transactions of the test runtime: signed ones carry the signer's `u64` account and no
/// signature.
pub type Extrinsic = sp_runtime::testing::TestXt<RuntimeCall, ()>;

impl frame_system::offchain::SigningTypes for Test {
	type Public = UintAuthorityId;
	type Signature = TestSignature;
}

impl<C> frame_system::offchain::CreateTransactionBase<C> for Test
where
	RuntimeCall: From<C>,
{
	type RuntimeCall = RuntimeCall;
	type Extrinsic = Extrinsic;
}

impl<C> frame_system::offchain::CreateSignedTransaction<C> for Test
where
	RuntimeCall: From<C>,
{
	fn create_signed_transaction<
		A: frame_system::offchain::AppCrypto<Self::Public, Self::Signature>,
	>(
		call: RuntimeCall,
		_public: UintAuthorityId,
		account: u64,
		_nonce: u32,
	) -> Option<Extrinsic> {
		Some(Extrinsic::new_signed(call, account, (), ()))
	}
}

/// Test worker keys: `UintAuthorityId`s set with `UintAuthorityId::set_all_keys`.
pub struct TestAuthId;
impl frame_system::offchain::AppCrypto<UintAuthorityId, TestSignature> for TestAuthId {
	type RuntimeAppPublic = UintAuthorityId;
	type GenericPublic = UintAuthorityId;
	type GenericSignature = TestSignature;
}

/// Status of a mock DAG block.
#[derive(Clone, Copy, PartialEq, Eq, Debug, codec::Encode, codec::Decode)]
pub enum Status {
	Proposed,
	Accepted,
	Rejected,
	Superseded,
}

/// A mock DAG block: unit name, payload, status. Kept in (unhashed) storage, so that it is
/// rolled back with the rest of the state between benchmark runs.
#[derive(Clone, Debug, codec::Encode, codec::Decode)]
pub struct MockBlock {
	pub unit: Vec<u8>,
	pub payload: Hash,
	pub status: Status,
}

parameter_types! {
	pub static Validator: Vec<u64> = vec![10, 11, 12];
	pub static Payloads: Vec<Hash> = vec![];
	pub static Approved: BTreeMap<DatasetId, u64> = BTreeMap::new();
	pub const MinBond: u64 = 100;
	pub const TrainerReward: u64 = 50;
	pub const DataReward: u64 = 1_000;
	pub const SlashFraction: Perbill = Perbill::from_percent(50);
	pub const MinImprovement: u32 = 5_000;
	pub const ClaimTolerance: u32 = 10_000;
	pub const DeviationTolerance: u32 = 1;
	pub const ChallengeDelay: u64 = 2;
	pub const EvaluationWindow: u64 = 10;
	pub const ReplaySegments: u32 = 2;
	pub const MaxDatasets: u32 = 4;
	pub const MaxUnitNameLen: u32 = 64;
	pub const MaxValidators: u32 = 8;
	pub const MaxClaimsPerBlock: u32 = 3;
	pub const DayLength: u64 = 1_000;
	pub const NewbieDailyClaims: u32 = 5;
	pub const TrustedDailyClaims: u32 = 50;
}

/// Errors of the mock DAG (the real one is pallet-param-dag's).
pub const UNKNOWN_PAYLOAD: DispatchError = DispatchError::Other("UnknownPayload");
/// Duplicate block in the mock DAG.
pub const DUPLICATE_BLOCK: DispatchError = DispatchError::Other("DuplicateBlock");

/// Id of a mock child block: blake2 of (parent, payload, miner, nonce).
pub fn child_id(miner: u64, parent: &Hash, payload: &Hash, nonce: u64) -> Hash {
	use codec::Encode;
	sp_io::hashing::blake2_256(&(parent, payload, miner, nonce).encode())
}

fn block_key(id: &Hash) -> Vec<u8> {
	[b"mock-dag/block/".as_slice(), id].concat()
}

fn index_key(unit: &[u8]) -> Vec<u8> {
	[b"mock-dag/index/".as_slice(), unit].concat()
}

/// A block of the mock DAG.
pub fn dag_block(id: &Hash) -> Option<MockBlock> {
	unhashed::get(&block_key(id))
}

fn put_block(id: &Hash, b: &MockBlock) {
	unhashed::put(&block_key(id), b);
}

fn set_status(id: &Hash, status: Status) {
	if let Some(mut b) = dag_block(id) {
		b.status = status;
		put_block(id, &b);
	}
}

pub struct MockDag;
impl ParamDag<u64> for MockDag {
	fn unit_of(block: &Hash) -> Option<Vec<u8>> {
		dag_block(block).map(|b| b.unit)
	}
	fn accepted(unit: &[u8]) -> Option<Hash> {
		unhashed::get(&index_key(unit))
	}
	fn propose_child(
		miner: &u64,
		parent: &Hash,
		payload: &Hash,
		nonce: u64,
	) -> Result<Hash, DispatchError> {
		if !Payloads::get().contains(payload) {
			return Err(UNKNOWN_PAYLOAD);
		}
		let unit = Self::unit_of(parent).ok_or(DispatchError::Other("UnknownParent"))?;
		let id = child_id(*miner, parent, payload, nonce);
		if dag_block(&id).is_some() {
			return Err(DUPLICATE_BLOCK);
		}
		put_block(&id, &MockBlock { unit, payload: *payload, status: Status::Proposed });
		Ok(id)
	}
	fn accept(block: &Hash) -> Result<(), DispatchError> {
		let b = dag_block(block).ok_or(DispatchError::Other("UnknownBlock"))?;
		if b.status != Status::Proposed {
			return Err(DispatchError::Other("NotProposed"));
		}
		if let Some(old) = Self::accepted(&b.unit) {
			set_status(&old, Status::Superseded);
		}
		set_status(block, Status::Accepted);
		unhashed::put(&index_key(&b.unit), block);
		Ok(())
	}
	fn reject(block: &Hash) -> Result<(), DispatchError> {
		set_status(block, Status::Rejected);
		Ok(())
	}
	fn solve_child_nonce(_miner: &u64, parent: &Hash, payload: &Hash) -> Option<u64> {
		(dag_block(parent).is_some() && Payloads::get().contains(payload)).then_some(0)
	}
}

pub struct MockDatasets;
impl Datasets<u64> for MockDatasets {
	fn approved_creator(id: DatasetId) -> Option<u64> {
		Approved::get().get(&id).copied()
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
		let unit = alloc_unit(i);
		let p = sp_io::hashing::blake2_256(&unit);
		Payloads::mutate(|v| v.push(p));
		(genesis_block(&unit), p)
	}
	fn solve_nonce(_miner: &u64, _parent: &Hash, _payload: &Hash) -> u64 {
		0
	}
	fn approved_dataset(creator: &u64, n: u32) -> DatasetId {
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
	type AuthorityId = TestAuthId;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Dag = MockDag;
	type Datasets = MockDatasets;
	type Validators = MockValidators;
	type MinBond = MinBond;
	type TrainerReward = TrainerReward;
	type DataReward = DataReward;
	type SlashFraction = SlashFraction;
	type MinImprovement = MinImprovement;
	type ClaimTolerance = ClaimTolerance;
	type DeviationTolerance = DeviationTolerance;
	type ChallengeDelay = ChallengeDelay;
	type EvaluationWindow = EvaluationWindow;
	type ReplaySegments = ReplaySegments;
	type MaxDatasets = MaxDatasets;
	type MaxUnitNameLen = MaxUnitNameLen;
	type MaxValidators = MaxValidators;
	type MaxClaimsPerBlock = MaxClaimsPerBlock;
	type DayLength = DayLength;
	type NewbieDailyClaims = NewbieDailyClaims;
	type TrustedDailyClaims = TrustedDailyClaims;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = MockDatasets;
}

/// Name of the `i`-th benchmark unit.
#[cfg(feature = "runtime-benchmarks")]
fn alloc_unit(i: u32) -> Vec<u8> {
	format!("bench.unit{i}").into_bytes()
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

/// Inserts an accepted genesis block of `unit` (id = blake2(unit)) and returns its id.
pub fn genesis_block(unit: &[u8]) -> Hash {
	let id = sp_io::hashing::blake2_256(unit);
	put_block(&id, &MockBlock { unit: unit.to_vec(), payload: [0; 32], status: Status::Accepted });
	unhashed::put(&index_key(unit), &id);
	id
}

/// Externalities: balances for trainers and validators, payloads 1..=9 committed, datasets 7
/// (creator A) and 8 (creator B) approved, a genesis block for `layer0.expert0`, block 1.
pub fn new_test_ext() -> sp_io::TestExternalities {
	Validator::set(vec![10, 11, 12]);
	Payloads::set((1..=9).map(payload).collect());
	Approved::set([(7, CREATOR_A), (8, CREATOR_B)].into_iter().collect());
	let mut t = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![(TRAINER, 10_000), (TRAINER2, 10_000), (10, 1), (11, 1), (12, 1)],
		..Default::default()
	}
	.assimilate_storage(&mut t)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(t);
	ext.execute_with(|| {
		System::set_block_number(1);
		genesis_block(b"layer0.expert0");
	});
	ext
}

/// Runs `on_initialize` of the blocks up to and including `n`.
pub fn run_to(n: u64) {
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		Pol::on_initialize(next);
	}
}
