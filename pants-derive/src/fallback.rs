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
    let mut item = channel.item.clone();
    repair_handlers(&mut item, channel);
    let item = &item;
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

/// Repairs, in the re-emitted impl, handler signatures that rustc would
/// report again after the macro's error: an `async` handler's `Stream<Self>`
/// and `Match` get their elided lifetime (E0726), a bare `Stream` gets
/// `<Self>` (E0107, whose help names the struct's own parameter).
fn repair_handlers(item: &mut syn::ItemImpl, channel: &Channel) {
    for impl_item in &mut item.items {
        let syn::ImplItem::Fn(method) = impl_item else {
            continue;
        };
        if !channel.handlers.iter().any(|h| h.name == method.sig.ident) {
            continue;
        }
        let is_async = method.sig.asyncness.is_some();
        for input in &mut method.sig.inputs {
            if let syn::FnArg::Typed(typed) = input {
                repair_type(&mut typed.ty, is_async);
            }
        }
    }
}

fn repair_type(ty: &mut syn::Type, is_async: bool) {
    match ty {
        syn::Type::Reference(r) => repair_type(&mut r.elem, is_async),
        syn::Type::Path(p) => {
            let Some(last) = p.path.segments.last_mut() else {
                return;
            };
            let name = last.ident.to_string();
            if name != "Stream" && name != "Match" {
                return;
            }
            if name == "Stream" {
                match &mut last.arguments {
                    syn::PathArguments::None => {
                        last.arguments =
                            syn::PathArguments::AngleBracketed(syn::parse_quote!(<Self>));
                    }
                    syn::PathArguments::AngleBracketed(a)
                        if !a
                            .args
                            .iter()
                            .any(|g| matches!(g, syn::GenericArgument::Type(_))) =>
                    {
                        a.args.push(syn::parse_quote!(Self));
                    }
                    _ => {}
                }
            }
            if !is_async {
                return;
            }
            let has_lifetime = matches!(&last.arguments, syn::PathArguments::AngleBracketed(a)
                if a.args.iter().any(|g| matches!(g, syn::GenericArgument::Lifetime(_))));
            if has_lifetime {
                return;
            }
            match &mut last.arguments {
                syn::PathArguments::AngleBracketed(a) => a.args.insert(0, syn::parse_quote!('_)),
                args => *args = syn::PathArguments::AngleBracketed(syn::parse_quote!(<'_>)),
            }
        }
        _ => {}
    }
}

/// The marker struct `#[channel]` puts each helper attribute on, to check
/// that it is in scope (see `expand::helper_uses`); the helper expands it
/// to nothing.
pub(crate) const HELPER_CHECK: &str = "__PantsHelperCheck";

/// A handler attribute that no `#[channel]` consumed: on a method of an
/// impl without `#[channel]` (or of a second impl of the type), on a free
/// function, or on another item.
///
/// A method is re-emitted as a stub of the same name, receiver and arity
/// (parameters of any type, body unreachable): its `Stream<Self>` and its
/// body would otherwise report that the type is not a channel, which the
/// message already says.
pub(crate) fn stray(name: &str, _args: TokenStream, input: TokenStream) -> TokenStream {
    if syn::parse2::<syn::ItemStruct>(input.clone()).is_ok_and(|s| s.ident == HELPER_CHECK) {
        return TokenStream::new();
    }
    let parsed = syn::parse2::<syn::ImplItem>(input.clone());
    let message = match &parsed {
        Ok(syn::ImplItem::Fn(f))
            if matches!(f.sig.inputs.first(), Some(syn::FnArg::Receiver(_))) =>
        {
            format!(
                "#[{name}] only works in the impl block marked #[channel], and no #[channel] read this method: add #[channel] to this impl, or, if the type's #[channel] impl is another block, move this method there (a type has one #[channel] impl, which holds all its handlers)"
            )
        }
        Ok(syn::ImplItem::Fn(_)) => format!(
            "#[{name}] marks a handler: a method taking `&mut self` in the impl block marked #[channel]"
        ),
        _ => format!(
            "#[{name}] goes on a handler: a method taking `&mut self` in the impl block marked #[channel]"
        ),
    };
    let mut out = syn::Error::new(proc_macro2::Span::call_site(), message).to_compile_error();
    match parsed {
        Ok(syn::ImplItem::Fn(method)) => out.extend(stub_method(method)),
        _ => out.extend(input),
    }
    out
}

/// The method with its parameters made generic and its body unreachable.
fn stub_method(mut method: syn::ImplItemFn) -> TokenStream {
    method.attrs.retain(|a| crate::attr::Kind::of(a).is_none());
    let mut params = Vec::new();
    for (i, input) in method.sig.inputs.iter_mut().enumerate() {
        if let syn::FnArg::Typed(typed) = input {
            let param =
                quote::format_ident!("__PantsParam{i}", span = proc_macro2::Span::mixed_site());
            *typed.pat = syn::parse_quote!(_);
            *typed.ty = syn::parse_quote!(#param);
            params.push(param);
        }
    }
    for param in params {
        method.sig.generics.params.push(syn::parse_quote!(#param));
    }
    method.sig.output = syn::ReturnType::Default;
    method.sig.asyncness = None;
    method.block = syn::parse_quote!({ ::core::unreachable!() });
    quote::ToTokens::into_token_stream(method)
}
