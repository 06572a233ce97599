//! Compiles the runtime to WebAssembly (the `WASM_BINARY` constant) when built with `std`.

fn main() {
    #[cfg(feature = "std")]
    {
        substrate_wasm_builder::WasmBuilder::build_using_defaults();
    }
}
