//! Test runtime for the trainer's worker: the real content store and Proof-of-Learning
//! pallets, an in-memory parameter DAG, and a fake engine (`EngineExt`) that finishes every
//! training job with fixed outputs.

use crate as pallet_trainer;
use blyan_engine_interface::{job_id, EngineHost, Hash, Job, JobId, JobOutput, JobStatus};
use blyan_primitives::{merkle_root, tile_hash, DatasetId};
use frame_support::{derive_impl, parameter_types, storage::unhashed, traits::ConstU32};
use sp_runtime::{
	testing::{TestSignature, UintAuthorityId},
	BuildStorage, DispatchError, Perbill,
};
use std::sync::Mutex;

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		ContentStore: pallet_content_store,
		Pol: pallet_pol,
		Trainer: pallet_trainer,
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

impl pallet_content_store::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type MaxTileBytes = ConstU32<1024>;
	type MaxTilesPerManifest = ConstU32<8>;
	type TileDepositBase = ConstU64<1>;
	type TileDepositPerByte = ConstU64<0>;
	type RetentionPeriod = ConstU64<1000>;
	type WeightInfo = ();
}

use frame_support::traits::ConstU64;

/// Transactions of the test runtime: signed ones carry the signer's `u64` account.
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

/// Test worker keys (`UintAuthorityId::set_all_keys`).
pub struct TestAuthId;
impl frame_system::offchain::AppCrypto<UintAuthorityId, TestSignature> for TestAuthId {
	type RuntimeAppPublic = UintAuthorityId;
	type GenericPublic = UintAuthorityId;
	type GenericSignature = TestSignature;
}

/// The trainer's account.
pub const TRAINER: u64 = 1;
/// Creators of datasets 1 and 2.
pub const CREATORS: [u64; 2] = [20, 21];
/// The experts of the mock model.
pub const UNITS: [&[u8]; 2] = [b"layer0.expert0", b"layer0.expert1"];

fn index_key(unit: &[u8]) -> Vec<u8> {
	[b"mock-dag/index/".as_slice(), unit].concat()
}
fn block_key(id: &Hash) -> Vec<u8> {
	[b"mock-dag/block/".as_slice(), id].concat()
}

/// The in-memory DAG: blocks as `(unit, status)`, 0 = proposed, 1 = accepted, 2 = rejected.
pub struct MockDag;
impl pallet_pol::ParamDag<u64> for MockDag {
	fn unit_of(block: &Hash) -> Option<Vec<u8>> {
		unhashed::get::<(Vec<u8>, u8)>(&block_key(block)).map(|(u, _)| u)
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
		use blyan_primitives::ContentStore as _;
		if !ContentStore::has_payload(payload) {
			return Err(DispatchError::Other("UnknownPayload"));
		}
		let unit = Self::unit_of(parent).ok_or(DispatchError::Other("UnknownParent"))?;
		let id =
			sp_io::hashing::blake2_256(&codec::Encode::encode(&(parent, payload, miner, nonce)));
		unhashed::put(&block_key(&id), &(unit, 0u8));
		Ok(id)
	}
	fn accept(block: &Hash) -> Result<(), DispatchError> {
		let (unit, _) = unhashed::get::<(Vec<u8>, u8)>(&block_key(block))
			.ok_or(DispatchError::Other("UnknownBlock"))?;
		unhashed::put(&block_key(block), &(unit.clone(), 1u8));
		unhashed::put(&index_key(&unit), block);
		Ok(())
	}
	fn reject(block: &Hash) -> Result<(), DispatchError> {
		if let Some((unit, _)) = unhashed::get::<(Vec<u8>, u8)>(&block_key(block)) {
			unhashed::put(&block_key(block), &(unit, 2u8));
		}
		Ok(())
	}
	fn solve_child_nonce(_miner: &u64, parent: &Hash, _payload: &Hash) -> Option<u64> {
		Self::unit_of(parent).map(|_| 7)
	}
}

impl MockDag {
	/// The accepted block of `unit` (panics if none: test set-up).
	pub fn accepted_of(unit: &[u8]) -> Hash {
		<Self as pallet_pol::ParamDag<u64>>::accepted(unit).expect("genesis block")
	}
	/// Points `unit`'s accepted block at `block`.
	pub fn set_accepted(unit: &[u8], block: Hash) {
		unhashed::put(&index_key(unit), &block);
	}
}

/// The genesis block of `unit` (id = blake2(unit)), accepted.
pub fn genesis_block(unit: &[u8]) -> Hash {
	let id = sp_io::hashing::blake2_256(unit);
	unhashed::put(&block_key(&id), &(unit.to_vec(), 1u8));
	unhashed::put(&index_key(unit), &id);
	id
}

pub struct MockDatasets;
impl pallet_pol::Datasets<u64> for MockDatasets {
	fn approved_creator(id: DatasetId) -> Option<u64> {
		[1u32, 2].iter().position(|d| *d == id).map(|i| CREATORS[i])
	}
}

pub struct MockValidators;
impl pallet_pol::Validators<u64> for MockValidators {
	fn is_validator(who: &u64) -> bool {
		(10..=12).contains(who)
	}
	fn count() -> u32 {
		3
	}
}

parameter_types! {
	pub const SlashFraction: Perbill = Perbill::from_percent(50);
	/// Datasets 1 (Gold) and 2 (Silver).
	pub static Approved: Vec<(DatasetId, u32)> = vec![(1, 1000), (2, 700)];
}

impl pallet_pol::Config for Test {
	type AuthorityId = TestAuthId;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Dag = MockDag;
	type Datasets = MockDatasets;
	type Validators = MockValidators;
	type MinBond = ConstU64<100>;
	type TrainerReward = ConstU64<50>;
	type DataReward = ConstU64<10>;
	type SlashFraction = SlashFraction;
	type MinImprovement = ConstU32<5_000>;
	type ClaimTolerance = ConstU32<10_000>;
	type DeviationTolerance = ConstU32<1>;
	type ChallengeDelay = ConstU64<2>;
	type EvaluationWindow = ConstU64<10>;
	type ReplaySegments = ConstU32<2>;
	type MaxDatasets = ConstU32<4>;
	type MaxUnitNameLen = ConstU32<32>;
	type MaxValidators = ConstU32<8>;
	type MaxClaimsPerBlock = ConstU32<4>;
	type DayLength = ConstU64<1000>;
	type NewbieDailyClaims = ConstU32<5>;
	type TrustedDailyClaims = ConstU32<50>;
	type WeightInfo = ();
}

pub struct Inputs;
impl crate::TrainingData for Inputs {
	fn approved() -> Vec<(DatasetId, u32)> {
		Approved::get()
	}
}
impl crate::TrainableUnits for Inputs {
	fn experts() -> Vec<Vec<u8>> {
		UNITS.iter().map(|u| u.to_vec()).collect()
	}
}

impl pallet_trainer::Config for Test {
	type Data = Inputs;
	type Units = Inputs;
	type Steps = ConstU32<40>;
	type CheckpointEvery = ConstU32<10>;
}

/// One-tile payload bytes of the fake training run: `tag`.
pub fn payload_bytes(tag: &str) -> Vec<u8> {
	format!("fake {tag} bytes").into_bytes()
}

/// The root of [`payload_bytes`]`(tag)`.
pub fn root(tag: &str) -> Hash {
	merkle_root(&[tile_hash(&payload_bytes(tag))])
}

/// Parent and trained loss the fake engine reports, nano-nats per byte.
pub const PARENT_LOSS: u64 = 5_000_000_000;

/// A fake engine: every `Train` job is done with the unit `unit`, manifest `manifest`,
/// checkpoints `ckpt0..=ckpt4` and the given loss.
pub struct FakeEngine {
	pub jobs: Mutex<Vec<Job>>,
	pub loss: Mutex<u64>,
}

impl FakeEngine {
	pub fn new(loss: u64) -> Self {
		Self { jobs: Mutex::new(vec![]), loss: Mutex::new(loss) }
	}
	/// Checkpoint roots of the fake run.
	pub fn checkpoints() -> Vec<Hash> {
		(0..5).map(|i| root(&format!("ckpt{i}"))).collect()
	}
}

impl EngineHost for FakeEngine {
	fn submit(&self, job: Job) -> JobId {
		let id = job_id(&job);
		let mut jobs = self.jobs.lock().unwrap();
		if !jobs.contains(&job) {
			jobs.push(job);
		}
		id
	}
	fn status(&self, id: &JobId) -> JobStatus {
		let jobs = self.jobs.lock().unwrap();
		match jobs.iter().find(|j| job_id(j) == *id) {
			Some(Job::Train { .. }) => JobStatus::Done(JobOutput::Trained {
				payload: root("unit"),
				manifest: root("manifest"),
				segments: 4,
				parent_loss: PARENT_LOSS,
				loss: *self.loss.lock().unwrap(),
				checkpoints: Self::checkpoints(),
			}),
			Some(_) => JobStatus::Failed(b"not a trainer job".to_vec()),
			None => JobStatus::Unknown,
		}
	}
	fn output_tile(&self, r: &Hash, index: u32) -> Option<Vec<u8>> {
		if index != 0 {
			return None;
		}
		let tags = ["unit", "manifest", "ckpt0", "ckpt1", "ckpt2", "ckpt3", "ckpt4"];
		tags.iter().find(|t| root(t) == *r).map(|t| payload_bytes(t))
	}
}

/// Externalities: funded trainer and validators, genesis blocks of both units, block 1.
pub fn new_test_ext() -> sp_io::TestExternalities {
	Approved::reset();
	let mut t = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![(TRAINER, 10_000), (10, 10), (11, 10), (12, 10)],
		..Default::default()
	}
	.assimilate_storage(&mut t)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(t);
	ext.execute_with(|| {
		System::set_block_number(1);
		for u in UNITS {
			genesis_block(u);
		}
	});
	ext
}
