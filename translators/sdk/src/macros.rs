//! The `translator!` macro: the exports and the metadata section.

/// Declares the crate's translator: its `fhgate.meta` metadata and, on
/// wasm32, the ABI exports backed by the type's [`Translator`](crate::Translator) impl.
///
/// ```ignore
/// fhgate_sdk::translator! {
///     name: "bfp_width",
///     version: "1.0.0",
///     planes: "u,c",        // optional, default "any"
///     directions: "any",    // optional
///     types: "0,2",         // optional
///     plan: ["dl_comp:in_width={du.dl_comp.width},out_width={ru.dl_comp.width}"], // optional
///     translator: BfpWidth,
/// }
/// ```
///
/// The keys come in this order. Natively it defines only
/// `pub const FHGATE_META: &str`, the metadata text.
#[macro_export]
macro_rules! translator {
    (
        name: $name:literal,
        version: $version:literal,
        $(planes: $planes:literal,)?
        $(directions: $directions:literal,)?
        $(types: $types:literal,)?
        $(plan: [$($plan:literal),* $(,)?],)?
        translator: $ty:ty $(,)?
    ) => {
        /// This translator's `fhgate.meta` text (ABI.md §5).
        pub const FHGATE_META: &str = concat!(
            "name=", $name, "\n",
            "version=", $version, "\n",
            $("planes=", $planes, "\n",)?
            $("directions=", $directions, "\n",)?
            $("types=", $types, "\n",)?
            $($("plan=", $plan, "\n",)*)?
        );

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            #[unsafe(link_section = "fhgate.meta")]
            #[used]
            static FHGATE_META_SECTION: [u8; FHGATE_META.len()] = $crate::rt::meta_bytes(FHGATE_META);

            static INSTANCE: $crate::rt::Instance<$ty> = $crate::rt::Instance::new();

            #[unsafe(no_mangle)]
            pub extern "C" fn fhgate_abi_version() -> i32 {
                $crate::abi::ABI_VERSION
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn fhgate_io() -> i32 {
                $crate::rt::io_address()
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn fhgate_init(cfg_ptr: i32, cfg_len: i32) -> i32 {
                // SAFETY: exports run one at a time on wasm32's single thread.
                unsafe { INSTANCE.init(cfg_ptr, cfg_len) }
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn fhgate_process(n: i32) -> i32 {
                // SAFETY: as for `fhgate_init`.
                unsafe { INSTANCE.process(n) }
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn fhgate_unload() {
                // SAFETY: as for `fhgate_init`.
                unsafe { INSTANCE.unload() }
            }
        };
    };
}
