//! What is emitted when the input has mistakes: the user's code, unchanged
//! but for the helper attributes, the errors, and a stub `Channel` impl (with
//! the state constants) so that code naming `Stream<Self>` or `Self::STATE`
//! still type-checks. So a typo in one attribute is one error, not a cascade
//! of "`Channel` is not implemented" errors.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::Channel;
use crate::expand;

/// The user's impl (helper attributes removed), every error, and the stubs.
pub(crate) fn channel(channel: &Channel, errors: Vec<syn::Error>) -> TokenStream {
    let item = &channel.item;
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let self_ty = &item.self_ty;
    let errors = crate::attr::to_compile_errors(errors);
    let consts = expand::state_consts(channel);
    let app_ty = expand::app_type(channel);
    let app_impl = expand::app_impl(channel);
    let channel_of = expand::channel_of_impl(channel, true);
    let uses = expand::helper_uses(channel);
    quote! {
        #item
        #errors

        #consts

        #[automatically_derived]
        impl #impl_generics ::pants::Channel for #self_ty #where_clause {
            type App = #app_ty;

            fn __pants_rule(&self, _: ::core::primitive::u16) -> ::pants::__private::Rule {
                ::core::unreachable!()
            }

            fn __pants_frame(
                &mut self,
                _: &mut ::pants::Stream<'_, Self>,
                _: ::core::primitive::u16,
                _: ::pants::__private::Payload<'_>,
            ) {
                ::core::unreachable!()
            }
        }

        #channel_of
        #app_impl
        #uses
    }
}

/// A handler attribute that no `#[channel]` consumed.
pub(crate) fn stray(name: &str, _args: TokenStream, input: TokenStream) -> TokenStream {
    let message = format!(
        "#[{name}] only works on a method of an impl block marked #[channel]; add #[channel] to the impl block"
    );
    let mut out = syn::Error::new(proc_macro2::Span::call_site(), message).to_compile_error();
    out.extend(input);
    out
}
