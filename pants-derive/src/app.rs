//! `#[derive(App)]`: an enum of channel types that share one engine.

use proc_macro2::{Ident, TokenStream};
use quote::quote;
use syn::{Data, DeriveInput, Fields};

use crate::expand::local;

/// The parameters of `App::__pants_event`: `core`, `key`, `event`.
pub(crate) fn event_params() -> (Ident, Ident, Ident) {
    (
        local("__pants_core"),
        local("__pants_key"),
        local("__pants_event"),
    )
}

/// Generates `App`, `From<Variant>` and `Member<Variant>` for each variant.
pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    let name = &input.ident;
    let Data::Enum(data) = &input.data else {
        return syn::Error::new_spanned(
            &input.ident,
            "#[derive(App)] goes on an enum with one variant per channel type, as in `enum Proxy { Front(Front), Back(Back) }`",
        )
        .to_compile_error();
    };
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let mut arms = Vec::new();
    let mut writes = Vec::new();
    let mut extra = Vec::new();
    for variant in &data.variants {
        let vname = &variant.ident;
        let ty = match &variant.fields {
            Fields::Unnamed(fields) if fields.unnamed.len() == 1 => &fields.unnamed[0].ty,
            _ => {
                return syn::Error::new_spanned(
                    variant,
                    "each variant of an App enum holds one channel type, as in `Front(Front)`",
                )
                .to_compile_error();
            }
        };
        let channel = local("__pants_channel");
        let other = local("__pants_other");
        let (core, key, event) = event_params();
        arms.push(quote! {
            Self::#vname(#channel) => ::pants::__private::dispatch::<#ty>(#channel, #core, #key, #event),
        });
        writes.push(quote! {
            Self::#vname(_) => <#ty as ::pants::Channel>::__PANTS_ON_WRITE,
        });
        extra.push(quote! {
            #[automatically_derived]
            impl #impl_generics ::core::convert::From<#ty> for #name #ty_generics #where_clause {
                fn from(#channel: #ty) -> Self {
                    Self::#vname(#channel)
                }
            }
            #[automatically_derived]
            impl #impl_generics ::pants::Member<#ty> for #name #ty_generics #where_clause {
                #[allow(unreachable_patterns)]
                fn member_mut(&mut self) -> ::core::option::Option<&mut #ty> {
                    match self {
                        Self::#vname(#channel) => ::core::option::Option::Some(#channel),
                        _ => ::core::option::Option::None,
                    }
                }
                #[allow(unreachable_patterns)]
                fn into_member(self) -> ::core::result::Result<#ty, Self> {
                    match self {
                        Self::#vname(#channel) => ::core::result::Result::Ok(#channel),
                        #other => ::core::result::Result::Err(#other),
                    }
                }
            }
        });
    }
    let header = quote!(#impl_generics ::pants::App for #name #ty_generics #where_clause);
    let app = app_trait_impl(
        &header,
        &quote! { match self { #(#arms)* } },
        &quote! { match self { #(#writes)* } },
    );
    quote! {
        #app
        #(#extra)*
    }
}

/// `impl ... App for ...` with `body` as the event method's body; shared by
/// `#[derive(App)]` and `#[channel]` (a one-type engine).
pub(crate) fn app_trait_impl(
    header: &TokenStream,
    body: &TokenStream,
    on_write: &TokenStream,
) -> TokenStream {
    let (core, key, event) = event_params();
    quote! {
        #[automatically_derived]
        impl #header {
            #[inline]
            fn __pants_on_write(&self) -> ::core::primitive::bool {
                #on_write
            }

            #[inline]
            fn __pants_event(
                &mut self,
                #core: &mut ::pants::__private::Core<Self>,
                #key: ::core::primitive::usize,
                #event: ::pants::__private::Event<'_>,
            ) -> ::core::primitive::usize {
                #body
            }
        }
    }
}
