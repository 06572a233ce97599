//! # Test support for Blyan's pallets
//!
//! One copy of what the pallet tests of pallet-dataset, pallet-pol and pallet-trainer share:
//!
//! - [`impl_offchain_signing!`] and [`TestAuthId`]: the `frame_system::offchain` signing
//!   set-up of a mock runtime with `u64` accounts, whose workers sign as
//!   [`UintAuthorityId`]s;
//! - [`FakeEngine`]: the node's engine as the runtime interface sees it, answering jobs by a
//!   closure and recording what was submitted;
//! - [`dag`]: an in-memory parameter DAG in unhashed storage (rolled back with the state);
//! - [`offchain`]: test externalities with an off-chain database, a transaction pool, local
//!   worker keys and the fake engine, and the decoded transactions the workers sent;
//! - [`CheckedExt`]: test externalities that check a pallet's `try_state` invariants after
//!   every `execute_with`.

#![deny(missing_docs)]

pub use blyan_engine_interface::Hash;
use blyan_engine_interface::{job_id, EngineHost, Job, JobId, JobStatus};
use std::{
	collections::BTreeMap,
	sync::{Arc, Mutex},
};

pub use sp_runtime::testing::{TestSignature, UintAuthorityId};

/// Worker keys of a mock runtime: [`UintAuthorityId`]s set with
/// `UintAuthorityId::set_all_keys`; each signs as the `u64` account of its id.
pub struct TestAuthId;

impl frame_system::offchain::AppCrypto<UintAuthorityId, TestSignature> for TestAuthId {
	type RuntimeAppPublic = UintAuthorityId;
	type GenericPublic = UintAuthorityId;
	type GenericSignature = TestSignature;
}

/// Implements `SigningTypes`, `CreateTransactionBase` and `CreateSignedTransaction` for a mock
/// runtime `$runtime` with `u64` accounts and call type `RuntimeCall`, and defines
/// `pub type Extrinsic = TestXt<RuntimeCall, ()>`: signed transactions carry the signer's
/// account and no signature.
#[macro_export]
macro_rules! impl_offchain_signing {
	($runtime:ty) => {
		/// Transactions of the test runtime: signed ones carry the signer's `u64` account.
		pub type Extrinsic = sp_runtime::testing::TestXt<RuntimeCall, ()>;

		impl frame_system::offchain::SigningTypes for $runtime {
			type Public = $crate::UintAuthorityId;
			type Signature = $crate::TestSignature;
		}

		impl<C> frame_system::offchain::CreateTransactionBase<C> for $runtime
		where
			RuntimeCall: From<C>,
		{
			type RuntimeCall = RuntimeCall;
			type Extrinsic = Extrinsic;
		}

		impl<C> frame_system::offchain::CreateSignedTransaction<C> for $runtime
		where
			RuntimeCall: From<C>,
		{
			fn create_signed_transaction<
				A: frame_system::offchain::AppCrypto<Self::Public, Self::Signature>,
			>(
				call: RuntimeCall,
				_public: $crate::UintAuthorityId,
				account: u64,
				_nonce: u32,
			) -> Option<Extrinsic> {
				Some(Extrinsic::new_signed(call, account, (), ()))
			}
		}
	};
}

/// Implements `pallet_pol::ParamDag<u64>` for `$dag` over [`dag`]: `$known` is an expression
/// of type `fn(&Hash) -> bool` telling whether the content store holds a payload. The PoW
/// nonce is always 0 (`solve_child_nonce` answers it for a known parent and payload). The
/// caller's crate must name pallet-pol `pallet_pol` (its mock does `use crate as pallet_pol`).
#[macro_export]
macro_rules! impl_mock_param_dag {
	($dag:ty, $known:expr) => {
		impl pallet_pol::ParamDag<u64> for $dag {
			fn unit_of(block: &$crate::Hash) -> Option<Vec<u8>> {
				$crate::dag::unit_of(block)
			}
			fn accepted(unit: &[u8]) -> Option<$crate::Hash> {
				$crate::dag::accepted(unit)
			}
			fn propose_child(
				miner: &u64,
				parent: &$crate::Hash,
				payload: &$crate::Hash,
				nonce: u64,
			) -> Result<$crate::Hash, sp_runtime::DispatchError> {
				let known: fn(&$crate::Hash) -> bool = $known;
				$crate::dag::propose_child(
					&miner.to_le_bytes(),
					parent,
					payload,
					nonce,
					known(payload),
				)
				.map_err(sp_runtime::DispatchError::Other)
			}
			fn accept(block: &$crate::Hash) -> Result<(), sp_runtime::DispatchError> {
				$crate::dag::accept(block).map_err(sp_runtime::DispatchError::Other)
			}
			fn reject(block: &$crate::Hash) -> Result<(), sp_runtime::DispatchError> {
				$crate::dag::reject(block).map_err(sp_runtime::DispatchError::Other)
			}
			fn is_proposed(block: &$crate::Hash) -> bool {
				$crate::dag::is_proposed(block)
			}
			fn solve_child_nonce(
				_miner: &u64,
				parent: &$crate::Hash,
				payload: &$crate::Hash,
			) -> Option<u64> {
				let known: fn(&$crate::Hash) -> bool = $known;
				($crate::dag::block(parent).is_some() && known(payload)).then_some(0)
			}
		}
	};
}

/// Test externalities whose [`CheckedExt::execute_with`] runs the pallet's invariant check
/// (its `do_try_state`) after the test body, so every test also proves the invariants hold at
/// its end. Everything else of [`sp_io::TestExternalities`] is reached through `Deref`.
pub struct CheckedExt {
	ext: sp_io::TestExternalities,
	check: fn() -> Result<(), sp_runtime::TryRuntimeError>,
}

impl CheckedExt {
	/// Wraps `ext`; `check` is the pallet's `do_try_state`.
	pub fn new(
		ext: sp_io::TestExternalities,
		check: fn() -> Result<(), sp_runtime::TryRuntimeError>,
	) -> Self {
		Self { ext, check }
	}

	/// Runs `f`, then the invariant check (panicking with its message when it fails).
	pub fn execute_with<R>(&mut self, f: impl FnOnce() -> R) -> R {
		let check = self.check;
		self.ext.execute_with(|| {
			let r = f();
			if let Err(e) = check() {
				panic!("try_state failed at the end of the test: {e:?}");
			}
			r
		})
	}

	/// The plain externalities.
	pub fn into_inner(self) -> sp_io::TestExternalities {
		self.ext
	}
}

impl core::ops::Deref for CheckedExt {
	type Target = sp_io::TestExternalities;
	fn deref(&self) -> &Self::Target {
		&self.ext
	}
}

impl core::ops::DerefMut for CheckedExt {
	fn deref_mut(&mut self) -> &mut Self::Target {
		&mut self.ext
	}
}

/// How a [`FakeEngine`] answers the status of a submitted job.
pub type Answer = Box<dyn Fn(&Job) -> JobStatus + Send>;

/// A fake engine: records submitted jobs, answers their status with a closure (by default
/// `Running`), and serves output payloads added with [`FakeEngine::add_output`] as one-tile
/// payloads.
pub struct FakeEngine {
	jobs: Mutex<Vec<Job>>,
	answer: Mutex<Answer>,
	outputs: Mutex<BTreeMap<Hash, Vec<u8>>>,
}

impl Default for FakeEngine {
	fn default() -> Self {
		Self {
			jobs: Mutex::new(Vec::new()),
			answer: Mutex::new(Box::new(|_| JobStatus::Running { done: 1, total: 3 })),
			outputs: Mutex::new(BTreeMap::new()),
		}
	}
}

impl FakeEngine {
	/// A fake engine whose jobs all run and never finish.
	pub fn new() -> Arc<Self> {
		Arc::new(Self::default())
	}

	/// From now on, answers every submitted job's status with `answer`.
	pub fn answer(&self, answer: impl Fn(&Job) -> JobStatus + Send + 'static) {
		*self.answer.lock().expect("not poisoned") = Box::new(answer);
	}

	/// The jobs submitted so far, in order, each once.
	pub fn jobs(&self) -> Vec<Job> {
		self.jobs.lock().expect("not poisoned").clone()
	}

	/// Makes `bytes` (at most one tile) an output payload; returns its payload root.
	pub fn add_output(&self, bytes: Vec<u8>) -> Hash {
		let root = blyan_primitives::payload_root(&bytes);
		self.outputs.lock().expect("not poisoned").insert(root, bytes);
		root
	}

	/// Forgets every output payload (as a node that lost them).
	pub fn drop_outputs(&self) {
		self.outputs.lock().expect("not poisoned").clear();
	}
}

impl EngineHost for FakeEngine {
	fn submit(&self, job: Job) -> JobId {
		let id = job_id(&job);
		let mut jobs = self.jobs.lock().expect("not poisoned");
		if !jobs.contains(&job) {
			jobs.push(job);
		}
		id
	}

	fn status(&self, id: &JobId) -> JobStatus {
		let job = self
			.jobs
			.lock()
			.expect("not poisoned")
			.iter()
			.find(|j| job_id(j) == *id)
			.cloned();
		match job {
			Some(job) => (self.answer.lock().expect("not poisoned"))(&job),
			None => JobStatus::Unknown,
		}
	}

	fn output_tile(&self, root: &Hash, index: u32) -> Option<Vec<u8>> {
		if index != 0 {
			return None;
		}
		self.outputs.lock().expect("not poisoned").get(root).cloned()
	}
}

/// An in-memory parameter DAG for mock runtimes, in unhashed storage so that it is rolled
/// back with the rest of the state (benchmarks, `assert_noop!`). Blocks have a unit name, a
/// payload and a [`dag::Status`]; the index maps a unit to its accepted block.
pub mod dag {
	use super::Hash;
	use codec::{Decode, Encode};
	use frame_support::storage::unhashed;

	/// Status of a mock block.
	#[derive(Clone, Copy, PartialEq, Eq, Debug, Encode, Decode)]
	pub enum Status {
		/// Proposed, undecided.
		Proposed,
		/// Accepted: the unit's index entry.
		Accepted,
		/// Rejected.
		Rejected,
		/// Accepted once, replaced since.
		Superseded,
	}

	/// A mock block.
	#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
	pub struct Block {
		/// Unit name.
		pub unit: Vec<u8>,
		/// Payload root.
		pub payload: Hash,
		/// Status.
		pub status: Status,
	}

	fn block_key(id: &Hash) -> Vec<u8> {
		[b"mock-dag/block/".as_slice(), id].concat()
	}

	fn index_key(unit: &[u8]) -> Vec<u8> {
		[b"mock-dag/index/".as_slice(), unit].concat()
	}

	/// The block `id`.
	pub fn block(id: &Hash) -> Option<Block> {
		unhashed::get(&block_key(id))
	}

	fn put(id: &Hash, b: &Block) {
		unhashed::put(&block_key(id), b);
	}

	/// The id of a child block: blake2 of `(parent, payload, miner, nonce)`.
	pub fn child_id(miner: &[u8], parent: &Hash, payload: &Hash, nonce: u64) -> Hash {
		sp_io::hashing::blake2_256(&(parent, payload, miner, nonce).encode())
	}

	/// Inserts an accepted genesis block of `unit` (id = blake2(unit)); returns its id.
	pub fn genesis_block(unit: &[u8]) -> Hash {
		let id = sp_io::hashing::blake2_256(unit);
		put(&id, &Block { unit: unit.to_vec(), payload: [0; 32], status: Status::Accepted });
		unhashed::put(&index_key(unit), &id);
		id
	}

	/// The unit of block `id`.
	pub fn unit_of(id: &Hash) -> Option<Vec<u8>> {
		block(id).map(|b| b.unit)
	}

	/// The accepted block of `unit`.
	pub fn accepted(unit: &[u8]) -> Option<Hash> {
		unhashed::get(&index_key(unit))
	}

	/// Points `unit`'s index at `id` (another update won).
	pub fn set_accepted(unit: &[u8], id: Hash) {
		unhashed::put(&index_key(unit), &id);
	}

	/// Proposes a child of `parent` with `payload` (`payload_known`: whether the content store
	/// holds it). Errors as pallet-param-dag would: unknown payload, unknown parent, duplicate.
	pub fn propose_child(
		miner: &[u8],
		parent: &Hash,
		payload: &Hash,
		nonce: u64,
		payload_known: bool,
	) -> Result<Hash, &'static str> {
		if !payload_known {
			return Err("UnknownPayload");
		}
		let unit = unit_of(parent).ok_or("UnknownParent")?;
		let id = child_id(miner, parent, payload, nonce);
		if block(&id).is_some() {
			return Err("DuplicateBlock");
		}
		put(&id, &Block { unit, payload: *payload, status: Status::Proposed });
		Ok(id)
	}

	/// Accepts a proposed block; the unit's previous block is superseded.
	pub fn accept(id: &Hash) -> Result<(), &'static str> {
		let mut b = block(id).ok_or("UnknownBlock")?;
		if b.status != Status::Proposed {
			return Err("NotProposed");
		}
		if let Some(old) = accepted(&b.unit) {
			if let Some(mut o) = block(&old) {
				o.status = Status::Superseded;
				put(&old, &o);
			}
		}
		b.status = Status::Accepted;
		put(id, &b);
		unhashed::put(&index_key(&b.unit), id);
		Ok(())
	}

	/// Rejects a proposed block.
	pub fn reject(id: &Hash) -> Result<(), &'static str> {
		let mut b = block(id).ok_or("UnknownBlock")?;
		if b.status != Status::Proposed {
			return Err("NotProposed");
		}
		b.status = Status::Rejected;
		put(id, &b);
		Ok(())
	}

	/// Whether block `id` exists and is proposed.
	pub fn is_proposed(id: &Hash) -> bool {
		block(id).is_some_and(|b| b.status == Status::Proposed)
	}
}

/// Test externalities for off-chain workers: an off-chain database and worker context, a
/// transaction pool, local worker keys, and optionally a [`FakeEngine`].
pub mod offchain {
	use super::*;
	use codec::Decode;
	use sp_core::offchain::{
		testing::{PoolState, TestOffchainExt, TestTransactionPoolExt},
		OffchainDbExt, OffchainWorkerExt, TransactionPoolExt,
	};
	use sp_runtime::generic::Preamble;

	/// The transaction pool of a harness.
	pub type Pool = Arc<parking_lot::RwLock<PoolState>>;

	/// Registers the off-chain extensions on `ext`, sets the local worker keys to `keys`, and
	/// registers `engine` when given. Returns the pool.
	pub fn register(
		ext: &mut sp_io::TestExternalities,
		keys: &[u64],
		engine: Option<Arc<FakeEngine>>,
	) -> Pool {
		let (offchain, _) = TestOffchainExt::new();
		ext.register_extension(OffchainDbExt::new(offchain.clone()));
		ext.register_extension(OffchainWorkerExt::new(offchain));
		let (pool_ext, pool) = TestTransactionPoolExt::new();
		ext.register_extension(TransactionPoolExt::new(pool_ext));
		if let Some(engine) = engine {
			ext.register_extension(blyan_engine_interface::EngineExt::new(engine));
		}
		UintAuthorityId::set_all_keys(keys.iter().copied());
		pool
	}

	/// Takes the pool's transactions, decoded as signed `TestXt<Call, ()>`: `(signer, call)`.
	pub fn take<Call: codec::DecodeWithMemTracking>(pool: &Pool) -> Vec<(u64, Call)> {
		let txs = core::mem::take(&mut pool.write().transactions);
		txs.into_iter()
			.map(|raw| {
				let tx = sp_runtime::testing::TestXt::<Call, ()>::decode(&mut &raw[..])
					.expect("a test extrinsic");
				let Preamble::Signed(signer, (), ()) = tx.preamble else {
					panic!("the workers send only signed transactions")
				};
				(signer, tx.function)
			})
			.collect()
	}
}
