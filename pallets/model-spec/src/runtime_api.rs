//! Runtime API of the model-spec pallet.
//!
//! The spec comes back as the non-generic [`ModelSpecInfo`] (routers as a plain list, the
//! registration block as `u32`) so that clients and polkadot.js need no type parameters; the
//! runtime implements it by forwarding to [`crate::Pallet::spec_info`] and
//! [`crate::Pallet::latest`].

use crate::ModelSpecInfo;
use blyan_primitives::SpecId;

sp_api::decl_runtime_apis! {
	/// Read access to Chain A's model specs.
	pub trait ModelSpecApi {
		/// The spec with this id, if registered.
		fn spec(id: SpecId) -> Option<ModelSpecInfo>;
		/// The id of the latest (highest-version) spec, if any.
		fn latest() -> Option<SpecId>;
	}
}
