//! Code generation for `#[channel]`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{Ident, ItemImpl, LitByteStr};

use crate::ast::{Channel, Handler};
use crate::attr::{Framing, Kind, Mode};
use crate::{fallback, valid};

/// Entry point: parse, validate, expand; fall back on errors.
pub(crate) fn channel(args: TokenStream, input: TokenStream) -> TokenStream {
    let item: ItemImpl = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(_) => {
            let message =
                "#[channel] goes on an impl block, as in `#[channel] impl MyProtocol { ... }`";
            let error = syn::Error::new(Span::call_site(), message).to_compile_error();
            return quote! { #error #input };
        }
    };
    let mut errors = Vec::new();
    if let Some((_, path, _)) = &item.trait_ {
        errors.push(syn::Error::new_spanned(
            path,
            "#[channel] goes on an inherent impl (`impl MyProtocol { ... }`), not on a trait impl",
        ));
    }
    let channel = Channel::from_syn(args, item, &mut errors);
    if errors.is_empty() {
        valid::validate(&channel, &mut errors);
    }
    if errors.is_empty() {
        expand(&channel)
    } else {
        fallback::channel(&channel.item, errors)
    }
}

fn expand(channel: &Channel) -> TokenStream {
    let item = &channel.item;
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let self_ty = &item.self_ty;
    let states: Vec<&Handler> = channel
        .handlers
        .iter()
        .filter(|h| h.kind == Kind::Read)
        .collect();
    let initial = states
        .iter()
        .position(|h| h.read.as_ref().is_some_and(|r| r.initial.is_some()))
        .unwrap_or(0) as u16;
    let rules = states
        .iter()
        .enumerate()
        .map(|(i, h)| rule_arm(i as u16, h));
    let frames = states
        .iter()
        .enumerate()
        .map(|(i, h)| frame_arm(i as u16, h));
    let consts = states
        .iter()
        .enumerate()
        .map(|(i, h)| state_const(i as u16, h));
    let events = [
        (Kind::Connect, quote!(__pants_connect), quote!()),
        (Kind::Write, quote!(__pants_write), quote!()),
        (Kind::Close, quote!(__pants_close), quote!()),
        (
            Kind::ConnectError,
            quote!(__pants_connect_error),
            quote!(, error: &::pants::Error),
        ),
        (
            Kind::OverflowError,
            quote!(__pants_overflow),
            quote!(, error: &::pants::Error),
        ),
    ];
    let event_fns = events.iter().filter_map(|(kind, fn_name, extra)| {
        let handler = channel.handlers.iter().find(|h| h.kind == *kind)?;
        let name = &handler.name;
        let cfgs = &handler.cfgs;
        let arg = if extra.is_empty() {
            quote!()
        } else {
            quote!(, error)
        };
        let call = quote_spanned!(handler.sig_span=> self.#name(s #arg));
        Some(quote! {
            #(#cfgs)*
            #[inline]
            fn #fn_name(&mut self, s: &mut ::pants::Stream<'_, Self> #extra) {
                #call
            }
        })
    });
    let app_ty = match &channel.app {
        Some(path) => quote!(#path),
        None => quote!(Self),
    };
    let app_impl = channel.app.is_none().then(|| {
        quote! {
            #[automatically_derived]
            impl #impl_generics ::pants::App for #self_ty #where_clause {
                #[inline]
                fn __pants_event(
                    &mut self,
                    core: &mut ::pants::__private::Core<Self>,
                    key: usize,
                    event: ::pants::__private::Event<'_>,
                ) -> usize {
                    ::pants::__private::dispatch::<Self>(self, core, key, event)
                }
            }
        }
    });
    quote! {
        #item

        #[automatically_derived]
        impl #impl_generics #self_ty #where_clause {
            #(#consts)*
        }

        #[automatically_derived]
        impl #impl_generics ::pants::Channel for #self_ty #where_clause {
            type App = #app_ty;
            const __PANTS_INITIAL: u16 = #initial;

            #[inline]
            fn __pants_rule(&self, state: u16) -> ::pants::__private::Rule {
                match state {
                    #(#rules)*
                    _ => ::pants::__private::Rule {
                        framing: ::pants::__private::Framing::Any,
                        max: ::pants::__private::DEFAULT_MAX,
                    },
                }
            }

            #[inline]
            fn __pants_frame(
                &mut self,
                s: &mut ::pants::Stream<'_, Self>,
                state: u16,
                frame: ::pants::__private::Payload<'_>,
            ) {
                match state {
                    #(#frames)*
                    _ => {
                        let _ = (s, frame);
                    }
                }
            }

            #(#event_fns)*
        }

        #app_impl
    }
}

/// `i => Rule { framing, max }` for one read state.
fn rule_arm(i: u16, handler: &Handler) -> TokenStream {
    let read = handler.read.as_ref().expect("read states have a ReadAttr");
    let cfgs = &handler.cfgs;
    let max = match &read.max {
        Some((lit, _)) => quote!(#lit),
        None => quote!(::pants::__private::DEFAULT_MAX),
    };
    let framing = match &read.framing {
        Framing::Any => quote!(::pants::__private::Framing::Any),
        Framing::Bytes(lit, _) => quote!(::pants::__private::Framing::Bytes(#lit)),
        Framing::Delimiter(lit, bytes) => {
            let bytes = LitByteStr::new(bytes, lit.span());
            quote!(::pants::__private::Framing::Delimiter(#bytes))
        }
        Framing::Regex(lit) => {
            let mode = read.mode.map_or(Mode::Search, |(m, _)| m);
            let source = valid::regex_source(&lit.value(), mode);
            let variant = match mode {
                Mode::Search => quote!(Search),
                Mode::Match => quote!(Match),
            };
            quote! {{
                static __PANTS_REGEX: ::std::sync::OnceLock<::pants::__private::Regex> = ::std::sync::OnceLock::new();
                ::pants::__private::Framing::#variant(__PANTS_REGEX.get_or_init(|| {
                    ::pants::__private::Regex::new(#source).expect("regex checked by #[on_read] at compile time")
                }))
            }}
        }
    };
    quote! {
        #(#cfgs)*
        #i => ::pants::__private::Rule { framing: #framing, max: #max },
    }
}

/// `i => self.method(s, frame)` for one read state.
fn frame_arm(i: u16, handler: &Handler) -> TokenStream {
    let read = handler.read.as_ref().expect("read states have a ReadAttr");
    let name = &handler.name;
    let cfgs = &handler.cfgs;
    let is_match =
        matches!(read.framing, Framing::Regex(_)) && matches!(read.mode, Some((Mode::Match, _)));
    let arg = if is_match {
        quote!(frame.to_match())
    } else {
        quote!(frame.bytes)
    };
    let call = quote_spanned!(handler.sig_span=> self.#name(s, #arg));
    quote! {
        #(#cfgs)*
        #i => #call,
    }
}

/// `const NAME: ReadState<Self>` naming one read state for `Stream::switch`.
fn state_const(i: u16, handler: &Handler) -> TokenStream {
    let vis = &handler.vis;
    let cfgs = &handler.cfgs;
    let name = state_name(&handler.name);
    let doc = format!(
        "The read state of `{}`, for `Stream::switch`.",
        handler.name
    );
    quote! {
        #(#cfgs)*
        #[doc = #doc]
        #[allow(dead_code)]
        #vis const #name: ::pants::ReadState<Self> = ::pants::ReadState::__new(#i);
    }
}

fn state_name(method: &Ident) -> Ident {
    let upper = method.to_string().trim_start_matches("r#").to_uppercase();
    format_ident!("{}", upper, span = method.span())
}
