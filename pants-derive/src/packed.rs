//! `#[derive(Packed)]`: a struct of packed fields is a typed frame.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput};

use crate::expand::local;

/// Generates `Packed` for a struct: its fields in declaration order, no padding.
///
/// Errors never suppress the impl (an enum or a union gets a stub), so a
/// mistake in the struct is reported there and not again at each use of it.
pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    let mut errors = Vec::new();
    let order = parse_order(&input, &mut errors);
    let fields = match &input.data {
        Data::Struct(data) => Some(&data.fields),
        Data::Enum(data) => {
            errors.push(syn::Error::new_spanned(
                data.enum_token,
                "#[derive(Packed)] goes on a struct of integers, floats and byte arrays; an enum has no fixed wire layout (read a `u8` tag, then switch state)",
            ));
            None
        }
        Data::Union(data) => {
            errors.push(syn::Error::new_spanned(
                data.union_token,
                "#[derive(Packed)] goes on a struct of integers, floats and byte arrays, not a union",
            ));
            None
        }
    };
    if let Some(fields) = fields {
        check_fields(fields, &mut errors);
    }
    let mut out = crate::attr::to_compile_errors(errors);
    out.extend(match fields {
        Some(fields) => packed_impl(&input, fields, order),
        None => stub_impl(&input),
    });
    out
}

/// The `Packed` impl of a struct. A field whose type names a type
/// parameter is bounded in the where-clause; any other field type is
/// checked once by a constant at the field, and the impl reaches every
/// field through `PackedField`, which resolves even for a field that is
/// not packed, so that field is the only error.
fn packed_impl(
    input: &DeriveInput,
    fields: &syn::Fields,
    order: Option<syn::Ident>,
) -> TokenStream {
    let mut generics = input.generics.clone();
    let params = generic_names(&input.generics);
    let fields: Vec<&syn::Field> = fields.iter().collect();
    let mut checks = Vec::new();
    let where_clause = generics.make_where_clause();
    for field in &fields {
        let ty = &field.ty;
        if crate::valid::platform_sized_in(ty).is_some() {
            continue; // reported by `check_fields`
        }
        if mentions_any(ty.to_token_stream(), &params) {
            let span = Span::call_site().located_at(ty.span());
            where_clause
                .predicates
                .push(syn::parse_quote_spanned!(span=> #ty: ::pants::Packed));
        } else {
            let span = ty.span();
            checks.push(quote_spanned!(span=> const _: ::core::primitive::usize = <#ty as ::pants::Packed>::SIZE;));
        }
    }
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let types: Vec<&syn::Type> = fields.iter().map(|f| &f.ty).collect();
    let vars: Vec<syn::Ident> = (0..fields.len())
        .map(|i| local(&format!("__pants_field{i}")))
        .collect();
    let (bytes, out, order_var, at) = (
        local("__pants_bytes"),
        local("__pants_out"),
        local("__pants_order"),
        local("__pants_at"),
    );
    let members: Vec<syn::Member> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            f.ident
                .clone()
                .map_or_else(|| syn::Member::from(i), syn::Member::Named)
        })
        .collect();
    let order = order.unwrap_or_else(|| format_ident!("Big"));
    let order = quote!(let #order_var = ::pants::Endian::#order;);
    let field = |ty: &syn::Type| {
        let span = Span::call_site().located_at(ty.span());
        quote_spanned!(span=> ::pants::__private::PackedField::<#ty>)
    };
    let sizes = types.iter().map(|ty| field(ty));
    let reads = types.iter().zip(&vars).map(|(ty, var)| {
        let field = field(ty);
        quote! {
            let #var = #field::read(&#bytes[#at..], #order_var);
            #at += #field::SIZE;
        }
    });
    let writes = types.iter().zip(&members).map(|(ty, member)| {
        let field = field(ty);
        quote! {
            #field::write(&self.#member, &mut #out[#at..], #order_var);
            #at += #field::SIZE;
        }
    });
    quote! {
        #(#checks)*

        const _: () = {
            #[allow(unused_imports)]
            use ::pants::__private::NotPackedField as _;

            #[automatically_derived]
            impl #impl_generics ::pants::Packed for #name #ty_generics #where_clause {
                const SIZE: ::core::primitive::usize = 0 #(+ #sizes::SIZE)*;

                #[inline]
                #[allow(unused_assignments, unused_variables, unused_mut)]
                fn read_from(#bytes: &[::core::primitive::u8], _: ::pants::Endian) -> Self {
                    #order
                    let mut #at = 0;
                    #(#reads)*
                    Self { #(#members: #vars),* }
                }

                #[inline]
                #[allow(unused_assignments, unused_variables, unused_mut)]
                fn write_to(&self, #out: &mut [::core::primitive::u8], _: ::pants::Endian) {
                    #order
                    let mut #at = 0;
                    #(#writes)*
                }
            }
        };
    }
}

/// A `Packed` impl that never runs, for an enum or a union (already an
/// error): uses of the type add no errors. One byte, so that a typed frame
/// of it does not also fail the "zero bytes" check.
fn stub_impl(input: &DeriveInput) -> TokenStream {
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics ::pants::Packed for #name #ty_generics #where_clause {
            const SIZE: ::core::primitive::usize = 1;

            fn read_from(_: &[::core::primitive::u8], _: ::pants::Endian) -> Self {
                ::core::unreachable!()
            }

            fn write_to(&self, _: &mut [::core::primitive::u8], _: ::pants::Endian) {}
        }
    }
}

/// The names of the generic parameters: types, consts and lifetimes.
pub(crate) fn generic_names(generics: &syn::Generics) -> Vec<&syn::Ident> {
    generics
        .type_params()
        .map(|p| &p.ident)
        .chain(generics.const_params().map(|p| &p.ident))
        .chain(generics.lifetimes().map(|l| &l.lifetime.ident))
        .collect()
}

/// Whether a type's tokens name any of `names` (a generic parameter).
pub(crate) fn mentions_any(tokens: TokenStream, names: &[&syn::Ident]) -> bool {
    tokens.into_iter().any(|tree| match tree {
        proc_macro2::TokenTree::Ident(i) => names.iter().any(|n| **n == i),
        proc_macro2::TokenTree::Group(g) => mentions_any(g.stream(), names),
        _ => false,
    })
}

/// `usize` or `isize`: an integer whose size depends on the platform.
pub(crate) fn is_platform_sized(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.qself.is_none() && (p.path.is_ident("usize") || p.path.is_ident("isize")))
}

/// The error for a `usize` or `isize` where a fixed size is needed.
pub(crate) fn platform_sized_error(ty: &syn::Type) -> syn::Error {
    let name = ty.to_token_stream().to_string();
    let fixed = if name == "usize" {
        "u32` or `u64"
    } else {
        "i32` or `i64"
    };
    syn::Error::new_spanned(
        ty,
        format!(
            "`{name}` has no fixed size on the wire (4 or 8 bytes, by platform); use `{fixed}`, and convert with `try_from`"
        ),
    )
}

/// Field mistakes the macro can see: `#[packed]` on a field (a field takes
/// its byte order from the struct, so the attribute would do nothing), and
/// `usize`/`isize` fields.
fn check_fields(fields: &syn::Fields, errors: &mut Vec<syn::Error>) {
    for field in fields {
        if let Some(platform) = crate::valid::platform_sized_in(&field.ty) {
            errors.push(platform_sized_error(platform));
        }
    }
    for attr in fields.iter().flat_map(|f| &f.attrs) {
        if attr.path().is_ident("packed") {
            errors.push(syn::Error::new_spanned(
                attr,
                "#[packed] goes on the struct, not on a field: every field uses the struct's byte order; for a field in another order, make it a struct of its own, e.g. `#[derive(Packed)] #[packed(endian = \"little\")] struct Le32(u32);`",
            ));
        }
    }
}

/// `#[packed(endian = "big" | "little")]`; the default is big (network order).
fn parse_order(input: &DeriveInput, errors: &mut Vec<syn::Error>) -> Option<syn::Ident> {
    let mut order = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("packed")) {
        let result = attr.parse_nested_meta(|meta| {
            if !meta.path.is_ident("endian") {
                let key = meta
                    .path
                    .get_ident()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                return Err(meta.error(format!(
                    "unknown key `{key}` in #[packed]; the only key is `endian = \"big\"` or `endian = \"little\"`"
                )));
            }
            if order.is_some() {
                return Err(meta.error("duplicate key `endian`; give it once"));
            }
            let value = match meta.value()?.parse::<syn::Lit>()? {
                syn::Lit::Str(value) => value,
                lit if crate::attr::rejected_by_lexer(&lit) => {
                    return Err(crate::attr::already_reported(lit.span()));
                }
                lit => {
                    return Err(syn::Error::new(
                        lit.span(),
                        "expected `endian = \"big\"` (network order) or `endian = \"little\"`",
                    ));
                }
            };
            order = match value.value().as_str() {
                "big" | "network" => Some(format_ident!("Big")),
                "little" => Some(format_ident!("Little")),
                other => {
                    return Err(syn::Error::new(
                        value.span(),
                        format!("unknown byte order `{other}`; expected `endian = \"big\"` (network order) or `endian = \"little\"`"),
                    ));
                }
            };
            Ok(())
        });
        if let Err(e) = result {
            errors.push(e);
        }
    }
    order
}
