//! `#[channel(datagram)]`: a datagram channel. Each datagram is one frame,
//! so there are no read states: one `#[on_read]` handler takes the
//! datagram (bytes, or a `Packed` value whose size must match it exactly),
//! `#[on_datagram_error]` a datagram of the wrong size, `#[on_close]` the
//! end. Stream-only keys and handlers are errors that say so.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::Type;

use crate::ast::{Channel, Handler, Receiver};
use crate::attr::{Framing, Kind};
use crate::expand::{self, local_at};

/// Removes a bare `datagram` from `#[channel(...)]`'s arguments; whether
/// it was there, and the rest.
pub(crate) fn take_flag(args: TokenStream) -> (bool, TokenStream) {
    use proc_macro2::TokenTree;
    let trees: Vec<TokenTree> = args.into_iter().collect();
    let mut parts: Vec<Vec<TokenTree>> = vec![Vec::new()];
    for tree in trees {
        match &tree {
            TokenTree::Punct(p) if p.as_char() == ',' => parts.push(Vec::new()),
            _ => parts.last_mut().expect("one part at least").push(tree),
        }
    }
    let is_flag =
        |part: &Vec<TokenTree>| matches!(part.as_slice(), [TokenTree::Ident(i)] if i == "datagram");
    let found = parts.iter().any(is_flag);
    let rest = parts
        .into_iter()
        .filter(|p| !p.is_empty() && !is_flag(p))
        .map(|p| p.into_iter().collect::<TokenStream>());
    (found, join(rest))
}

fn join(parts: impl Iterator<Item = TokenStream>) -> TokenStream {
    let mut out = TokenStream::new();
    for (i, part) in parts.enumerate() {
        if i > 0 {
            out.extend(quote!(,));
        }
        out.extend(part);
    }
    out
}

/// What may be wrong in a datagram channel, one error each.
pub(crate) fn validate(channel: &Channel, errors: &mut Vec<syn::Error>) {
    if !channel.timeouts.is_empty() {
        errors.push(syn::Error::new(
            Span::call_site(),
            "timeouts belong to streams: a datagram channel has no connection to time out; use a timer (`engine.defer` or `engine.cycle`) instead",
        ));
    }
    let mut reads = 0;
    for h in &channel.handlers {
        if !crate::valid::check_form(h, errors) {
            continue;
        }
        crate::valid::check_return(h, errors);
        match h.kind {
            Kind::Read => {
                reads += 1;
                check_read(h, errors);
                check_args(
                    h,
                    3,
                    "`fn name(&mut self, d: &mut Datagram<Self>, from: &Addr, data: &[u8])`, or with a `Packed` type in place of `&[u8]`",
                    errors,
                );
            }
            Kind::DatagramError => check_args(
                h,
                3,
                "`fn name(&mut self, d: &mut Datagram<Self>, from: &Addr, error: &pants::Error)`",
                errors,
            ),
            Kind::Close => check_args(h, 1, "`fn name(&mut self, d: &mut Datagram<Self>)`", errors),
            other => errors.push(syn::Error::new_spanned(
                &h.attr,
                format!(
                    "`#[{}]` is for streams; a datagram channel has `#[on_read]` (each datagram), `#[on_datagram_error]` (one of the wrong size for a typed frame) and `#[on_close]`",
                    other.name()
                ),
            )),
        }
    }
    if reads > 1 {
        let second = channel
            .handlers
            .iter()
            .filter(|h| h.kind == Kind::Read)
            .nth(1)
            .expect("counted");
        errors.push(syn::Error::new_spanned(
            &second.attr,
            "a datagram channel has one `#[on_read]` handler: every datagram is one frame, there are no read states to switch between",
        ));
    }
}

/// `#[on_read]` takes no framing keys on a datagram channel.
fn check_read(h: &Handler, errors: &mut Vec<syn::Error>) {
    let Some(read) = &h.read else {
        return;
    };
    let key = match &read.framing {
        Framing::Any => None,
        Framing::Delimiter(..) => Some("delimiter"),
        Framing::Regex(_) => Some("regex"),
        Framing::Prefix(..) => Some("prefix"),
        _ => Some("bytes"),
    };
    let key = key
        .map(|k| (k, read.framing_span))
        .or_else(|| read.max.as_ref().map(|_| ("max", read.framing_span)))
        .or_else(|| read.initial.map(|at| ("initial", at)))
        .or_else(|| read.mode.map(|(_, at)| ("mode", at)));
    if let Some((key, at)) = key {
        let at = if at.source_text().is_some() {
            at
        } else {
            h.attr
                .to_token_stream()
                .into_iter()
                .next()
                .map_or(at, |t| t.span())
        };
        errors.push(syn::Error::new(
            at,
            format!(
                "`{key}` has no meaning on a datagram channel: each datagram arrives whole, as one frame (its size is the datagram's); write `#[on_read]` alone"
            ),
        ));
    }
}

fn check_args(h: &Handler, want: usize, expected: &str, errors: &mut Vec<syn::Error>) {
    let receiver_ok = h.receiver == Receiver::MutRef;
    if receiver_ok && h.args == want && h.sig.asyncness.is_none() {
        return;
    }
    errors.push(syn::Error::new_spanned(
        &h.sig,
        format!(
            "a datagram channel's `#[{}]` handler is {expected}",
            h.kind.name()
        ),
    ));
}

/// The `Channel` impl of a datagram channel.
pub(crate) fn expand(channel: &Channel) -> TokenStream {
    let item = &channel.item;
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let self_ty = &item.self_ty;
    let app_ty = expand::app_type(channel);
    let app_impl = expand::app_impl(channel);
    let channel_of = expand::channel_of_impl(channel, false);
    let uses = expand::helper_uses(channel);
    let d = local_at("__pants_d", Span::call_site());
    let from = local_at("__pants_from", Span::call_site());
    let data = local_at("__pants_data", Span::call_site());
    let error = local_at("__pants_error", Span::call_site());
    let on_read = channel.handlers.iter().filter(|h| h.kind == Kind::Read).map(|h| {
        let cfgs = &h.cfgs;
        let body = if let Some(ty) = frame_type(h) {
            let value = local_at("__pants_value", Span::call_site());
            let call = h.call(&quote!(#d, #from, #value));
            quote! {
                let __pants_size = <#ty as ::pants::__private::Packed>::SIZE;
                if #data.len() == __pants_size {
                    let #value = <#ty as ::pants::__private::Packed>::read_from(
                        #data,
                        ::pants::__private::Endian::Big,
                    );
                    #call;
                } else {
                    let #error = ::pants::Error::FrameSize {
                        size: #data.len(),
                        expected: __pants_size,
                    };
                    <Self as ::pants::Channel>::__pants_datagram_error(self, #d, #from, &#error);
                }
            }
        } else {
            let call = h.call(&quote!(#d, #from, #data));
            quote!(#call;)
        };
        quote! {
            #(#cfgs)*
            #[inline]
            fn __pants_datagram(
                &mut self,
                #d: &mut ::pants::Datagram<'_, Self>,
                #from: &::pants::Addr,
                #data: &[::core::primitive::u8],
            ) {
                #body
            }
        }
    });
    let on_error = channel
        .handlers
        .iter()
        .filter(|h| h.kind == Kind::DatagramError)
        .map(|h| {
            let cfgs = &h.cfgs;
            let call = h.call(&quote!(#d, #from, #error));
            quote! {
                #(#cfgs)*
                #[inline]
                fn __pants_datagram_error(
                    &mut self,
                    #d: &mut ::pants::Datagram<'_, Self>,
                    #from: &::pants::Addr,
                    #error: &::pants::Error,
                ) {
                    #call;
                }
            }
        });
    let on_close = channel
        .handlers
        .iter()
        .filter(|h| h.kind == Kind::Close)
        .map(|h| {
            let cfgs = &h.cfgs;
            let call = h.call(&quote!(#d));
            quote! {
                #(#cfgs)*
                #[inline]
                fn __pants_datagram_close(&mut self, #d: &mut ::pants::Datagram<'_, Self>) {
                    #call;
                }
            }
        });
    quote! {
        #item

        #[automatically_derived]
        impl #impl_generics ::pants::Channel for #self_ty #where_clause {
            type App = #app_ty;
            const __PANTS_ON_WRITE: ::core::primitive::bool = false;

            #[inline]
            fn __pants_rule(&self, _: ::core::primitive::u16) -> ::pants::__private::Rule {
                ::pants::__private::Rule {
                    framing: ::pants::__private::Framing::Any,
                    max: ::pants::__private::DEFAULT_MAX,
                    sized: false,
                }
            }

            #[inline]
            fn __pants_frame(
                &mut self,
                _: &mut ::pants::Stream<'_, Self>,
                _: ::core::primitive::u16,
                _: ::pants::__private::Payload<'_>,
            ) {
            }

            #(#on_read)*
            #(#on_error)*
            #(#on_close)*
        }

        #app_impl
        #channel_of
        #uses
    }
}

/// The frame parameter's type when it is a typed (`Packed`) datagram.
fn frame_type(h: &Handler) -> Option<&Type> {
    let ty = h.arg_type(2)?;
    (!matches!(ty, Type::Reference(_))).then_some(ty)
}
