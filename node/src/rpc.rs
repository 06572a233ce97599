//! The node's JSON-RPC extensions, merged on top of the standard Substrate RPC methods.

use std::sync::Arc;

use blyan_runtime::{opaque::Block, AccountId, Balance, Nonce};
use jsonrpsee::RpcModule;
use sc_transaction_pool_api::TransactionPool;
use sp_api::ProvideRuntimeApi;
use sp_block_builder::BlockBuilder;
use sp_blockchain::{Error as BlockChainError, HeaderBackend, HeaderMetadata};

/// What the RPC extensions need from the node.
pub struct FullDeps<C, P> {
	/// The client.
	pub client: Arc<C>,
	/// The transaction pool.
	pub pool: Arc<P>,
	/// Inference for `blyan_generate`.
	pub inference: Arc<crate::engine::Inference>,
	/// Generations that may run at once (`--generate-concurrency`); `None` removes
	/// `blyan_generate` and its subscription (`--no-generate-rpc`).
	pub generate_slots: Option<Arc<crate::blyan_rpc::Slots>>,
}

/// Builds the RPC extensions: one `RpcModule` per API, merged.
pub fn create_full<C, P>(
	deps: FullDeps<C, P>,
) -> Result<RpcModule<()>, Box<dyn std::error::Error + Send + Sync>>
where
	C: ProvideRuntimeApi<Block>,
	C: HeaderBackend<Block> + HeaderMetadata<Block, Error = BlockChainError> + 'static,
	C: Send + Sync + 'static,
	C::Api: substrate_frame_rpc_system::AccountNonceApi<Block, AccountId, Nonce>,
	C::Api: pallet_transaction_payment_rpc::TransactionPaymentRuntimeApi<Block, Balance>,
	C::Api: BlockBuilder<Block>,
	C::Api: pallet_content_store::runtime_api::ContentStoreApi<Block>
		+ pallet_param_dag::runtime_api::ParamDagApi<Block>
		+ pallet_dataset::runtime_api::DatasetApi<Block>
		+ pallet_model_spec::runtime_api::ModelSpecApi<Block>,
	P: TransactionPool + 'static,
{
	use crate::blyan_rpc::BlyanApiServer;
	use pallet_transaction_payment_rpc::{TransactionPayment, TransactionPaymentApiServer};
	use substrate_frame_rpc_system::{System, SystemApiServer};

	let mut module = RpcModule::new(());
	let FullDeps { client, pool, inference, generate_slots } = deps;

	// `system_accountNextIndex`, `system_dryRun`.
	module.merge(System::new(client.clone(), pool).into_rpc())?;
	// `payment_queryInfo`, `payment_queryFeeDetails`.
	let blyan_client = client.clone();
	module.merge(TransactionPayment::new(client).into_rpc())?;

	// `blyan_payload`, `blyan_manifest`, `blyan_acceptedBlock`, `blyan_topologicalOrder`,
	// `blyan_approvedDatasets`, `blyan_generate`, `blyan_subscribeGenerate` (docs/rpc.md).
	let enabled = generate_slots.is_some();
	let slots = generate_slots.unwrap_or_else(|| crate::blyan_rpc::Slots::new(0));
	let mut blyan = crate::blyan_rpc::Blyan::new(blyan_client, inference, slots).into_rpc();
	if !enabled {
		for method in crate::blyan_rpc::GENERATE_METHODS {
			blyan.remove_method(method);
		}
	}
	module.merge(blyan)?;

	Ok(module)
}
