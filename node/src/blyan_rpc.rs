//! Blyan's JSON-RPC methods (`blyan_*`) on the node's standard RPC port.
//!
//! Definitions for `@polkadot/api` and polkadot.js Apps: `docs/rpc.md`.

use std::sync::Arc;

use crate::chain::{ChainError, ChainReader};
use blyan_runtime::opaque::Block;
use jsonrpsee::{core::RpcResult, proc_macros::rpc, types::ErrorObjectOwned};
use pallet_content_store::runtime_api::ContentStoreApi;
use pallet_dataset::runtime_api::DatasetApi;
use pallet_model_spec::runtime_api::ModelSpecApi;
use pallet_param_dag::runtime_api::ParamDagApi;
use sp_api::ProvideRuntimeApi;
use sp_blockchain::HeaderBackend;
use sp_core::{Bytes, H256};

/// Error code: the payload, manifest or tile is not on chain.
pub const NOT_FOUND: i32 = 4004;
/// Error code: stored bytes do not hash to what they claim (corrupt state or node).
pub const HASH_MISMATCH: i32 = 4022;
/// Error code: the runtime API call failed.
pub const RUNTIME_ERROR: i32 = 5000;

fn err(code: i32, msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, msg.into(), None::<()>)
}

/// `blyan_*` RPC methods.
#[rpc(client, server)]
pub trait BlyanApi {
    /// Bytes of the content-store payload whose root is `root`, read tile by tile at the best
    /// block; every tile is checked against its blake3 hash and the tile list against the root
    /// (blake3 Merkle root, `docs/hashing.md`) before anything is returned.
    ///
    /// Errors: 4004 not found; 4022 hash mismatch; 5000 runtime error.
    #[method(name = "blyan_payload")]
    fn payload(&self, root: H256) -> RpcResult<Bytes>;

    /// Ordered tile hashes of the payload `root`. Errors: 4004, 5000.
    #[method(name = "blyan_manifest")]
    fn manifest(&self, root: H256) -> RpcResult<Vec<H256>>;

    /// The accepted parameter block for an expert name (`backbone`, `layer0.router`,
    /// `layer0.expert3`), if any. Errors: 5000.
    #[method(name = "blyan_acceptedBlock")]
    fn accepted_block(&self, name: String) -> RpcResult<Option<H256>>;

    /// Accepted parameter blocks in a topological order (dependencies first), paged:
    /// at most `max` (≤ 10 000) ids starting at position `start`. Errors: 5000.
    #[method(name = "blyan_topologicalOrder")]
    fn topological_order(&self, start: u64, max: u32) -> RpcResult<Vec<H256>>;

    /// Approved datasets as `[id, tier]` (0 Gold, 1 Silver, 2 Experimental). Errors: 5000.
    #[method(name = "blyan_approvedDatasets")]
    fn approved_datasets(&self) -> RpcResult<Vec<(u32, u8)>>;
}

/// Serves [`BlyanApiServer`] from a client's runtime APIs.
pub struct Blyan<C> {
    client: Arc<C>,
}

impl<C> Blyan<C> {
    /// Serves from `client`.
    pub fn new(client: Arc<C>) -> Self {
        Self { client }
    }
}

fn runtime(e: impl std::fmt::Display) -> ErrorObjectOwned {
    err(RUNTIME_ERROR, format!("runtime API: {e}"))
}

/// Maps a chain read error to its RPC error code.
fn chain_err(e: ChainError) -> ErrorObjectOwned {
    let code = match e {
        ChainError::NotFound(_) => NOT_FOUND,
        ChainError::HashMismatch(_) => HASH_MISMATCH,
        ChainError::Runtime(_) => RUNTIME_ERROR,
    };
    err(code, e.to_string())
}

impl<C> BlyanApiServer for Blyan<C>
where
    C: ProvideRuntimeApi<Block> + HeaderBackend<Block> + Send + Sync + 'static,
    C::Api: ContentStoreApi<Block> + ParamDagApi<Block> + DatasetApi<Block> + ModelSpecApi<Block>,
{
    fn payload(&self, root: H256) -> RpcResult<Bytes> {
        let reader = ChainReader::new(self.client.clone());
        reader.payload(reader.best(), &root.0).map(Bytes).map_err(chain_err)
    }

    fn manifest(&self, root: H256) -> RpcResult<Vec<H256>> {
        let reader = ChainReader::new(self.client.clone());
        let tiles = reader.manifest(reader.best(), &root.0).map_err(chain_err)?;
        Ok(tiles.into_iter().map(H256).collect())
    }

    fn accepted_block(&self, name: String) -> RpcResult<Option<H256>> {
        let at = self.client.info().best_hash;
        let id = self.client.runtime_api().accepted(at, name.into_bytes()).map_err(runtime)?;
        Ok(id.map(H256))
    }

    fn topological_order(&self, start: u64, max: u32) -> RpcResult<Vec<H256>> {
        let at = self.client.info().best_hash;
        let ids = self
            .client
            .runtime_api()
            .topological_order_page(at, start, max.min(10_000))
            .map_err(runtime)?;
        Ok(ids.into_iter().map(H256).collect())
    }

    fn approved_datasets(&self) -> RpcResult<Vec<(u32, u8)>> {
        let at = self.client.info().best_hash;
        self.client.runtime_api().approved(at).map_err(runtime)
    }
}
