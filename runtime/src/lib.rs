//! # Blyan runtime
//!
//! The runtime of Blyan, a layer-1 chain on which a Mixture-of-Experts language model
//! lives and learns in public. This crate builds the runtime both natively (`std`, used by
//! the node for genesis and tests) and as WebAssembly (the on-chain code, exported as
//! [`WASM_BINARY`]).
//!
//! ## Overview
//!
//! A solochain: [Aura](pallet_aura) authors blocks in fixed slots and
//! [GRANDPA](pallet_grandpa) finalises them. [Balances](pallet_balances) holds the native
//! token, [TransactionPayment](pallet_transaction_payment) charges fees in it and
//! [Sudo](pallet_sudo) is the privileged origin until governance exists.
//!
//! | index | pallet                | note                                   |
//! |-------|-----------------------|----------------------------------------|
//! | 0     | `System`              |                                        |
//! | 1     | `Timestamp`           |                                        |
//! | 2     | `Aura`                | block authoring                        |
//! | 3     | `Grandpa`             | finality                               |
//! | 4     | `Balances`            | BLY                                    |
//! | 5     | `TransactionPayment`  |                                        |
//! | 6     | `Sudo`                |                                        |
//! | 10–15 | Blyan                 | ContentStore, ModelSpec, ParamDag, Dataset, Pol, Trainer (worker only) |
//!
//! Pallet indices are part of every encoded call, so they never change once a chain runs.
//!
//! ## Terms
//!
//! - **BLY**: the native token. 12 decimals: `1 BLY = 10^12 planck` ([`UNITS`]).
//! - **SS58 prefix 4242** ([`SS58_PREFIX`]): not in the SS58 registry, so Blyan addresses do
//!   not collide with a registered network. Addresses shown by polkadot.js use it once the
//!   chain's metadata is loaded.
//! - **Block time**: [`MILLI_SECS_PER_BLOCK`] = 6 s, or 2 s with the `fast-runtime` cargo
//!   feature (for local experiments and CI). The Aura slot equals the block time and cannot
//!   change after genesis.
//! - **Block size**: up to 16 MiB, 75 % of it for normal transactions, so a 4 MiB payload tile
//!   fits in one extrinsic (see `configs`).

#![cfg_attr(not(feature = "std"), no_std)]
#![recursion_limit = "256"]

#[cfg(feature = "std")]
include!(concat!(env!("OUT_DIR"), "/wasm_binary.rs"));

extern crate alloc;

// `benchmarks` defines the `list_benchmarks!`/`add_benchmarks!` macros that `apis` uses, so it
// comes first.
#[cfg(feature = "runtime-benchmarks")]
#[macro_use]
mod benchmarks;
pub mod apis;
pub mod configs;
pub mod genesis_config_presets;

// `Vec` is named by the code that `impl_opaque_keys!` and `#[frame_support::runtime]` generate.
use alloc::vec::Vec;
use sp_runtime::{
	generic, impl_opaque_keys,
	traits::{BlakeTwo256, IdentifyAccount, Verify},
	MultiAddress, MultiSignature,
};
use sp_version::RuntimeVersion;

pub use frame_system::Call as SystemCall;
pub use pallet_balances::Call as BalancesCall;
pub use pallet_timestamp::Call as TimestampCall;
#[cfg(any(feature = "std", test))]
pub use sp_runtime::BuildStorage;

/// Opaque types: what the node needs to know about blocks without knowing the runtime's
/// extrinsic format, so it keeps syncing across runtime upgrades.
pub mod opaque {
	use super::*;
	use sp_runtime::traits::Hash as HashT;

	pub use sp_runtime::OpaqueExtrinsic as UncheckedExtrinsic;

	/// Opaque block header type.
	pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
	/// Opaque block type.
	pub type Block = generic::Block<Header, UncheckedExtrinsic>;
	/// Opaque block identifier type.
	pub type BlockId = generic::BlockId<Block>;
	/// Opaque block hash type.
	pub type Hash = <BlakeTwo256 as HashT>::Output;
}

impl_opaque_keys! {
	/// The keys a validator registers: Aura (sr25519) to author, GRANDPA (ed25519) to vote.
	pub struct SessionKeys {
		/// Block authoring key (`aura`, sr25519).
		pub aura: Aura,
		/// Finality voting key (`gran`, ed25519).
		pub grandpa: Grandpa,
	}
}

/// The runtime version. Bump `spec_version` with every runtime upgrade and
/// `transaction_version` whenever the encoding of calls or the extension tuple changes.
#[sp_version::runtime_version]
pub const VERSION: RuntimeVersion = RuntimeVersion {
	spec_name: alloc::borrow::Cow::Borrowed("blyan"),
	impl_name: alloc::borrow::Cow::Borrowed("blyan"),
	authoring_version: 1,
	spec_version: 105,
	impl_version: 1,
	apis: apis::RUNTIME_API_VERSIONS,
	transaction_version: 4,
	system_version: 1,
};

/// Target block time in milliseconds: 6 s, or 2 s with the `fast-runtime` feature.
///
/// Aura's slot duration equals this value ([`SLOT_DURATION`]) and is fixed at genesis:
/// changing it on a running chain stops block production.
#[cfg(not(feature = "fast-runtime"))]
pub const MILLI_SECS_PER_BLOCK: u64 = 6000;
/// Target block time in milliseconds: 6 s, or 2 s with the `fast-runtime` feature.
///
/// Aura's slot duration equals this value ([`SLOT_DURATION`]) and is fixed at genesis:
/// changing it on a running chain stops block production.
#[cfg(feature = "fast-runtime")]
pub const MILLI_SECS_PER_BLOCK: u64 = 2000;

/// Aura slot duration in milliseconds; always equal to [`MILLI_SECS_PER_BLOCK`].
pub const SLOT_DURATION: u64 = MILLI_SECS_PER_BLOCK;

/// Number of blocks per minute.
pub const MINUTES: BlockNumber = 60_000 / (MILLI_SECS_PER_BLOCK as BlockNumber);
/// Number of blocks per hour.
pub const HOURS: BlockNumber = MINUTES * 60;
/// Number of blocks per day.
pub const DAYS: BlockNumber = HOURS * 24;

/// Number of decimals of BLY.
pub const TOKEN_DECIMALS: u8 = 12;
/// Ticker symbol of the native token.
pub const TOKEN_SYMBOL: &str = "BLY";
/// One BLY in planck (the indivisible unit): 10^12.
pub const UNITS: Balance = 1_000_000_000_000;
/// One thousandth of a BLY.
pub const MILLI_UNITS: Balance = UNITS / 1_000;
/// One millionth of a BLY.
pub const MICRO_UNITS: Balance = UNITS / 1_000_000;
/// The smallest balance an account may hold; below it the account is reaped.
pub const EXISTENTIAL_DEPOSIT: Balance = MILLI_UNITS;
/// SS58 address prefix of Blyan accounts (unregistered, chosen to avoid collisions).
pub const SS58_PREFIX: u16 = 4242;

/// Block number type.
pub type BlockNumber = u32;
/// Signature type of transactions: sr25519, ed25519 or ecdsa.
pub type Signature = MultiSignature;
/// Account identifier: the public key of the signing scheme.
pub type AccountId = <<Signature as Verify>::Signer as IdentifyAccount>::AccountId;
/// Balance of an account, in planck.
pub type Balance = u128;
/// Transaction counter of an account.
pub type Nonce = u32;
/// Hash type of blocks and tries.
pub type Hash = sp_core::H256;
/// The address format for describing accounts.
pub type Address = MultiAddress<AccountId, ()>;
/// Block header type as expected by this runtime.
pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
/// Block type as expected by this runtime.
pub type Block = generic::Block<Header, UncheckedExtrinsic>;
/// A block identifier.
pub type BlockId = generic::BlockId<Block>;

/// The transaction extensions, checked in this order for every signed transaction.
///
/// `WeightReclaim` comes last so that it can refund the unused weight measured by all the
/// others (frame-system's storage-weight-reclaim).
pub type TxExtension = (
	frame_system::CheckNonZeroSender<Runtime>,
	frame_system::CheckSpecVersion<Runtime>,
	frame_system::CheckTxVersion<Runtime>,
	frame_system::CheckGenesis<Runtime>,
	frame_system::CheckEra<Runtime>,
	frame_system::CheckNonce<Runtime>,
	frame_system::CheckWeight<Runtime>,
	pallet_transaction_payment::ChargeTransactionPayment<Runtime>,
	frame_system::WeightReclaim<Runtime>,
);

/// Unchecked extrinsic type as expected by this runtime.
pub type UncheckedExtrinsic =
	generic::UncheckedExtrinsic<Address, RuntimeCall, Signature, TxExtension>;
/// The payload being signed in transactions.
pub type SignedPayload = generic::SignedPayload<RuntimeCall, TxExtension>;

/// Runtime migrations beyond those the pallets declare themselves.
#[allow(unused_parens)]
type Migrations = ();

/// Executive: dispatches calls to the pallets and runs their hooks.
pub type Executive = frame_executive::Executive<
	Runtime,
	Block,
	frame_system::ChainContext<Runtime>,
	Runtime,
	AllPalletsWithSystem,
	Migrations,
>;

/// The runtime: its pallets and their fixed indices.
#[frame_support::runtime]
mod runtime {
	/// The Blyan runtime.
	#[runtime::runtime]
	#[runtime::derive(
		RuntimeCall,
		RuntimeEvent,
		RuntimeError,
		RuntimeOrigin,
		RuntimeFreezeReason,
		RuntimeHoldReason,
		RuntimeSlashReason,
		RuntimeLockId,
		RuntimeTask,
		RuntimeViewFunction
	)]
	pub struct Runtime;

	#[runtime::pallet_index(0)]
	pub type System = frame_system;

	#[runtime::pallet_index(1)]
	pub type Timestamp = pallet_timestamp;

	#[runtime::pallet_index(2)]
	pub type Aura = pallet_aura;

	#[runtime::pallet_index(3)]
	pub type Grandpa = pallet_grandpa;

	#[runtime::pallet_index(4)]
	pub type Balances = pallet_balances;

	#[runtime::pallet_index(5)]
	pub type TransactionPayment = pallet_transaction_payment;

	#[runtime::pallet_index(6)]
	pub type Sudo = pallet_sudo;

	#[runtime::pallet_index(10)]
	pub type ContentStore = pallet_content_store;

	#[runtime::pallet_index(11)]
	pub type ModelSpec = pallet_model_spec;

	#[runtime::pallet_index(12)]
	pub type ParamDag = pallet_param_dag;

	#[runtime::pallet_index(13)]
	pub type Dataset = pallet_dataset;

	#[runtime::pallet_index(14)]
	pub type Pol = pallet_pol;

	#[runtime::pallet_index(15)]
	pub type Trainer = pallet_trainer;
}
