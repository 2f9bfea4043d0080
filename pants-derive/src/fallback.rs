//! What is emitted when the input has mistakes: the user's code, unchanged
//! but for the helper attributes, and the errors. So a typo in one attribute
//! is one error, not a cascade of "method not found" errors.

use proc_macro2::TokenStream;
use quote::quote;

/// The user's impl (helper attributes removed) plus every error.
pub(crate) fn channel(item: &syn::ItemImpl, errors: Vec<syn::Error>) -> TokenStream {
    let errors = errors.into_iter().map(|e| e.to_compile_error());
    quote! {
        #item
        #(#errors)*
    }
}

/// A handler attribute that no `#[channel]` consumed.
pub(crate) fn stray(name: &str, _args: TokenStream, input: TokenStream) -> TokenStream {
    let message = format!(
        "#[{name}] only works on a method of an impl block marked #[channel]; add #[channel] to the impl block"
    );
    let error = syn::Error::new(proc_macro2::Span::call_site(), message).to_compile_error();
    quote! { #error #input }
}
