//! Runtime API of the parameter-DAG pallet.
//!
//! The runtime implements each method by forwarding to the pallet helper of the same name
//! ([`crate::Pallet::topological_order`], [`crate::Pallet::topological_order_page`],
//! [`crate::Pallet::accepted`]).

use alloc::vec::Vec;

sp_api::decl_runtime_apis! {
	/// Read access to Chain B's parameter DAG.
	pub trait ParamDagApi {
		/// Every accepted (or since superseded) block id, dependencies first. Reads one
		/// storage entry per accepted block; prefer `topological_order_page` on large DAGs.
		fn topological_order() -> Vec<[u8; 32]>;
		/// Up to `max` ids of the same order, from acceptance position `start` on.
		fn topological_order_page(start: u64, max: u32) -> Vec<[u8; 32]>;
		/// The accepted block of a parameter name (`backbone`, `layer{l}.router`,
		/// `layer{l}.expert{e}`), if any.
		fn accepted(name: Vec<u8>) -> Option<[u8; 32]>;
		/// The payload root of that accepted block, if any: what an engine loads for the
		/// unit.
		fn accepted_payload(name: Vec<u8>) -> Option<[u8; 32]>;
	}
}
