//! Procedural macros for `pants`. Use them through the `pants` crate, which
//! documents them: `#[channel]`, `#[on_read]`, `#[on_connect]`, `#[on_write]`,
//! `#[on_close]`, `#[on_connect_error]`, `#[on_overflow_error]`, `#[derive(App)]`,
//! `#[derive(Packed)]`.
//!
//! Pipeline (thiserror / serde style): `ast` parses the impl and its method
//! attributes entry by entry (errors collected, not thrown), `valid` checks
//! signatures and the rules that span several methods, `expand` writes the
//! code; on any error `fallback` re-emits the user's impl without the helper
//! attributes (repairing signatures an error already covers) plus every
//! error, and stub `Channel`/`App` impls, so only the real mistakes show.
//! The derives likewise always emit their impls, stubs on error.
//!
//! The bar: a mistake is one error, at the user's token, in the macro's
//! words; generated bindings are `__pants_` names with mixed-site hygiene;
//! generated calls are spanned in the macro's context, so rustc's
//! suggestions never land in the user's signature. What only the compiler
//! can know is checked in code that reports in these words too: `#[cfg]`
//! alternatives both compiled in (`compile_error!` under their `#[cfg]`s),
//! typed frame sizes (free constants), a variant whose `#[channel]` lacks
//! `app = ...` (`__private::ChannelOf`). Each case is in `ui-tests`.
#![allow(clippy::too_many_lines, reason = "quote! blocks read best whole")]

mod app;
mod ast;
mod attr;
mod datagram;
mod expand;
mod fallback;
mod packed;
mod valid;

#[cfg(test)]
mod tests;

use proc_macro::TokenStream;

/// Turns an impl block into a protocol. Documented on `pants::channel`.
#[proc_macro_attribute]
pub fn channel(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::channel(args.into(), input.into()).into()
}

/// Implements `pants::App` for an enum of channel types.
#[proc_macro_derive(App)]
pub fn derive_app(input: TokenStream) -> TokenStream {
    app::derive(input.into()).into()
}

/// Implements `pants::Packed` for a struct of packed fields. Documented on `pants::Packed`.
#[proc_macro_derive(Packed, attributes(packed))]
pub fn derive_packed(input: TokenStream) -> TokenStream {
    packed::derive(input.into()).into()
}

macro_rules! stray_helper {
    ($($name:ident)*) => {$(
        #[doc = concat!("`#[", stringify!($name), "]` marks a handler method; it only means something inside a `#[channel]` impl.")]
        #[proc_macro_attribute]
        pub fn $name(args: TokenStream, input: TokenStream) -> TokenStream {
            fallback::stray(stringify!($name), args.into(), input.into()).into()
        }
    )*};
}

stray_helper!(on_read on_connect on_write on_close on_connect_error on_overflow_error on_pause_writing on_resume_writing on_timeout on_shutdown on_handshake on_handshake_error on_datagram_error);
