//! `#[derive(Packed)]`: a struct of packed fields is a typed frame.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, LitStr};

use crate::expand::local;

/// Generates `Packed` for a struct: its fields in declaration order, no padding.
pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let mut input: DeriveInput = match syn::parse2(input) {
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
        check_field_attrs(fields, &mut errors);
    }
    let (Some(fields), true) = (fields, errors.is_empty()) else {
        return errors.iter().map(syn::Error::to_compile_error).collect();
    };
    let fields: Vec<&syn::Field> = fields.iter().collect();
    // Each field type must be packed: say so at the field, not at the derive.
    let where_clause = input.generics.make_where_clause();
    for field in &fields {
        let ty = &field.ty;
        let span = Span::call_site().located_at(ty.span());
        where_clause
            .predicates
            .push(syn::parse_quote_spanned!(span=> #ty: ::pants::Packed));
    }
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
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
    let reads = types.iter().zip(&vars).map(|(ty, var)| {
        let span = Span::call_site().located_at(ty.span());
        quote_spanned! {span=>
            let #var = <#ty as ::pants::Packed>::read_from(&#bytes[#at..], #order_var);
            #at += <#ty as ::pants::Packed>::SIZE;
        }
    });
    let writes = types.iter().zip(&members).map(|(ty, member)| {
        quote! {
            ::pants::Packed::write_to(&self.#member, &mut #out[#at..], #order_var);
            #at += <#ty as ::pants::Packed>::SIZE;
        }
    });
    quote! {
        #[automatically_derived]
        impl #impl_generics ::pants::Packed for #name #ty_generics #where_clause {
            const SIZE: ::core::primitive::usize = 0 #(+ <#types as ::pants::Packed>::SIZE)*;

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
    }
}

/// `#[packed]` on a field: a field takes its byte order from the struct,
/// so the attribute would do nothing; say so rather than ignore it.
fn check_field_attrs(fields: &syn::Fields, errors: &mut Vec<syn::Error>) {
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
            let value: LitStr = meta.value()?.parse()?;
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
