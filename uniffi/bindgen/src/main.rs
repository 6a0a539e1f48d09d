//! `uniffi-bindgen`: generates the Kotlin, Swift and Python bindings of
//! `fieldops-ffi` in library mode (`generate --library target/debug/libfieldops_ffi.so`).

fn main() {
    uniffi::uniffi_bindgen_main()
}
