//! `#[derive(App)]`: an enum of channel types that share one engine.

use proc_macro2::{Ident, TokenStream};
use quote::{ToTokens, quote};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Type};

use crate::expand::local;

/// The parameters of `App::__pants_event`: `core`, `key`, `event`.
pub(crate) fn event_params() -> (Ident, Ident, Ident) {
    (
        local("__pants_core"),
        local("__pants_key"),
        local("__pants_event"),
    )
}

/// A variant as the macro understood it: its name and its channel type.
struct Member<'a> {
    variant: &'a Ident,
    ty: &'a Type,
}

/// Generates `App`, `From<Variant>` and `Member<Variant>` for each variant.
///
/// On a mistake the impls are still emitted, as stubs, for every channel
/// type the macro can make out (the first field of a malformed variant, the
/// fields of a struct), so the enum's uses add no errors of their own.
pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    let mut errors = Vec::new();
    let members = members(&input, &mut errors);
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let ok = errors.is_empty();
    let stub = quote!(::core::unreachable!());
    let (core, key, event) = event_params();
    let channel = local("__pants_channel");
    let other = local("__pants_other");
    let mut extra = Vec::new();
    for Member { variant, ty } in &members {
        let (from, member_mut, into_member) = if ok {
            (
                quote!(Self::#variant(#channel)),
                quote! {
                    match self {
                        Self::#variant(#channel) => ::core::option::Option::Some(#channel),
                        _ => ::core::option::Option::None,
                    }
                },
                quote! {
                    match self {
                        Self::#variant(#channel) => ::core::result::Result::Ok(#channel),
                        #other => ::core::result::Result::Err(#other),
                    }
                },
            )
        } else {
            (stub.clone(), stub.clone(), stub.clone())
        };
        extra.push(quote! {
            #[automatically_derived]
            impl #impl_generics ::core::convert::From<#ty> for #name #ty_generics #where_clause {
                #[allow(unused_variables)]
                fn from(#channel: #ty) -> Self {
                    #from
                }
            }
            #[automatically_derived]
            impl #impl_generics ::pants::Member<#ty> for #name #ty_generics #where_clause {
                #[allow(unreachable_patterns)]
                fn member_mut(&mut self) -> ::core::option::Option<&mut #ty> {
                    #member_mut
                }
                #[allow(unreachable_patterns)]
                fn into_member(self) -> ::core::result::Result<#ty, Self> {
                    #into_member
                }
            }
        });
    }
    let (body, on_write) = if ok {
        let arms = members.iter().map(|Member { variant, ty }| {
            quote! {
                Self::#variant(#channel) => <#ty as ::pants::__private::ChannelOf<Self>>::event(#channel, #core, #key, #event),
            }
        });
        let writes = members.iter().map(|Member { variant, ty }| {
            quote! {
                Self::#variant(_) => <#ty as ::pants::__private::ChannelOf<Self>>::ON_WRITE,
            }
        });
        (
            quote! { match self { #(#arms)* } },
            quote! { match self { #(#writes)* } },
        )
    } else {
        (stub.clone(), stub)
    };
    let header = quote!(#impl_generics ::pants::App for #name #ty_generics #where_clause);
    let app = app_trait_impl(&header, &body, &on_write);
    let errors = errors.iter().map(syn::Error::to_compile_error);
    quote! {
        #(#errors)*
        #app
        #(#extra)*
    }
}

/// The channel types of an App enum, one per variant; mistakes are
/// reported and the types that can be made out still listed.
fn members<'a>(input: &'a DeriveInput, errors: &mut Vec<syn::Error>) -> Vec<Member<'a>> {
    let mut out: Vec<Member<'a>> = Vec::new();
    let data = match &input.data {
        Data::Enum(data) => data,
        Data::Struct(data) => {
            errors.push(syn::Error::new_spanned(
                data.struct_token,
                "#[derive(App)] goes on an enum with one variant per channel type, as in `enum Proxy { Front(Front), Back(Back) }`",
            ));
            // Their types are likely the channel types meant.
            for field in &data.fields {
                let text = field.ty.to_token_stream().to_string();
                if !out
                    .iter()
                    .any(|m| m.ty.to_token_stream().to_string() == text)
                {
                    out.push(Member {
                        variant: &input.ident,
                        ty: &field.ty,
                    });
                }
            }
            return out;
        }
        Data::Union(data) => {
            errors.push(syn::Error::new_spanned(
                data.union_token,
                "#[derive(App)] goes on an enum with one variant per channel type, as in `enum Proxy { Front(Front), Back(Back) }`",
            ));
            return Vec::new();
        }
    };
    for variant in &data.variants {
        let name = &variant.ident;
        let ty = match &variant.fields {
            Fields::Unnamed(fields) if fields.unnamed.len() == 1 => &fields.unnamed[0].ty,
            Fields::Unit => {
                errors.push(syn::Error::new_spanned(
                    name,
                    format!("the variant `{name}` holds no channel type; each variant of an App enum holds one, as in `{name}({name})`"),
                ));
                continue;
            }
            Fields::Unnamed(fields) => {
                errors.push(syn::Error::new(
                    fields.unnamed[1].span(),
                    format!("the variant `{name}` holds more than one value; each variant of an App enum holds one channel type, as in `{name}({name})`"),
                ));
                &fields.unnamed[0].ty
            }
            Fields::Named(fields) => {
                errors.push(syn::Error::new(
                    fields.brace_token.span.join(),
                    format!("each variant of an App enum holds one channel type in parentheses, as in `{name}({name})`"),
                ));
                match fields.named.first() {
                    Some(field) => &field.ty,
                    None => continue,
                }
            }
        };
        let text = ty.to_token_stream().to_string();
        if let Some(first) = out
            .iter()
            .find(|m| m.ty.to_token_stream().to_string() == text)
        {
            errors.push(syn::Error::new_spanned(
                ty,
                format!(
                    "the variant `{}` already holds `{}`; a channel type has one variant in an App enum (the engine finds a channel's variant by its type)",
                    first.variant,
                    crate::valid::type_text(ty)
                ),
            ));
            continue;
        }
        out.push(Member { variant: name, ty });
    }
    out
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
            #[allow(unused_variables)]
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
