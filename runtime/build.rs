//! Compiles the runtime to WebAssembly (the `WASM_BINARY` constant) when built with `std`.

fn main() {
	#[cfg(feature = "std")]
	{
		// The shared target dir ($HOME/.cache/blyan/target) lies outside the workspace, so
		// substrate-wasm-builder cannot find our Cargo.lock by walking up from it and would
		// re-resolve the runtime's dependencies to the newest versions. Point it at the
		// workspace root. This is set here, for this build script only, and not globally in
		// `.cargo/config.toml`: other wasm runtimes built from crates.io (for example
		// `frame-storage-access-test-runtime`, pulled by the benchmark CLI) must not look
		// themselves up in our workspace.
		//
		// The manifest dir is read when the script runs, not baked in with `env!`: clones at
		// other paths (CI's) share the target dir and may reuse this compiled script.
		if std::env::var_os("WASM_BUILD_WORKSPACE_HINT").is_none() {
			if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
				let workspace = std::path::Path::new(&dir).join("..");
				std::env::set_var("WASM_BUILD_WORKSPACE_HINT", workspace);
			}
		}
		substrate_wasm_builder::WasmBuilder::build_using_defaults();
	}
}
