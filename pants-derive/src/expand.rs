//! Code generation for `#[channel]`.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, ItemImpl, LitByteStr};

use crate::ast::{Channel, Handler};
use crate::attr::{Framing, Kind, Mode};
use crate::{fallback, valid};

/// A binding of generated code: a `__pants_` name with mixed-site
/// hygiene, so that a user's expression (`bytes = state`) cannot name it and
/// it cannot capture a user's item of the same name.
pub(crate) fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

/// [`local`], reported at `at` (a user's token) when an error involves it.
pub(crate) fn local_at(name: &str, at: Span) -> Ident {
    Ident::new(name, Span::mixed_site().located_at(at))
}

/// Entry point: parse, validate, expand; fall back on errors.
pub(crate) fn channel(args: TokenStream, input: TokenStream) -> TokenStream {
    let Ok(item) = syn::parse2::<ItemImpl>(input.clone()) else {
        let message =
            "#[channel] goes on an impl block, as in `#[channel] impl MyProtocol { ... }`";
        if let Ok(mut other) = syn::parse2::<syn::Item>(input.clone()) {
            let mut out = syn::Error::new_spanned(item_head(&other), message).to_compile_error();
            // This error covers them: they would each report again.
            strip_helpers(&mut other);
            out.extend(other.into_token_stream());
            return out;
        }
        let mut out = syn::Error::new(Span::call_site(), message).to_compile_error();
        out.extend(input);
        return out;
    };
    let mut errors = Vec::new();
    if let Some((_, path, _)) = &item.trait_ {
        errors.push(syn::Error::new_spanned(
            path,
            "#[channel] goes on an inherent impl (`impl MyProtocol { ... }`), not on a trait impl",
        ));
    }
    // `impl<'a> Proto<'a>`: one error, then carry on with `'static` in
    // place of the parameters so the rest of the impl reports nothing more.
    let item = if let Some(lifetime) = item.generics.lifetimes().next() {
        errors.push(syn::Error::new_spanned(
            lifetime,
            "a channel cannot borrow: the engine owns channel values for as long as their streams live, so a channel type is `'static`; own the data instead (`String`, `Vec<u8>`, `Rc`/`Arc`)",
        ));
        make_static(item)
    } else {
        item
    };
    let item = require_static(item, &mut errors);
    let (is_datagram, args) = crate::datagram::take_flag(args);
    let channel = Channel::from_syn(args, item, &mut errors);
    if is_datagram {
        if errors.is_empty() {
            crate::datagram::validate(&channel, &mut errors);
        }
        return if errors.is_empty() {
            crate::datagram::expand(&channel)
        } else {
            fallback::channel(&channel, errors)
        };
    }
    if errors.is_empty() {
        valid::validate(&channel, &mut errors);
    }
    if errors.is_empty() {
        expand(&channel)
    } else {
        fallback::channel(&channel, errors)
    }
}

/// `impl<T> Proto<T>`: a channel type is `'static`, so its type parameters
/// are. One error per parameter without a `'static` bound (an `Any` bound
/// implies one), then `T: 'static` is added so nothing else reports it.
fn require_static(mut item: ItemImpl, errors: &mut Vec<syn::Error>) -> ItemImpl {
    fn is_static(
        bounds: &syn::punctuated::Punctuated<syn::TypeParamBound, syn::Token![+]>,
    ) -> bool {
        bounds.iter().any(|b| match b {
            syn::TypeParamBound::Lifetime(l) => l.ident == "static",
            syn::TypeParamBound::Trait(t) => {
                t.path.segments.last().is_some_and(|s| s.ident == "Any")
            }
            _ => false,
        })
    }
    let predicates: Vec<&syn::PredicateType> = item
        .generics
        .where_clause
        .iter()
        .flat_map(|w| &w.predicates)
        .filter_map(|p| match p {
            syn::WherePredicate::Type(t) => Some(t),
            _ => None,
        })
        .collect();
    let missing: Vec<Ident> = item
        .generics
        .type_params()
        .filter(|p| {
            !is_static(&p.bounds)
                && !predicates.iter().any(|w| {
                    matches!(&w.bounded_ty, syn::Type::Path(t) if t.path.is_ident(&p.ident))
                        && is_static(&w.bounds)
                })
        })
        .map(|p| p.ident.clone())
        .collect();
    if missing.is_empty() {
        return item;
    }
    let where_clause = item.generics.make_where_clause();
    for ident in missing {
        errors.push(syn::Error::new_spanned(
            &ident,
            format!("a channel type is `'static` (the engine owns its values for as long as their streams live), and so are its type parameters: add `'static` to the bounds of `{ident}`, as in `{ident}: 'static`"),
        ));
        where_clause
            .predicates
            .push(syn::parse_quote!(#ident: 'static));
    }
    item
}

/// Removes the handler attributes from an item that is not an impl block
/// (from a trait's items too).
fn strip_helpers(item: &mut syn::Item) {
    let strip = |attrs: &mut Vec<syn::Attribute>| attrs.retain(|a| Kind::of(a).is_none());
    match item {
        syn::Item::Trait(t) => {
            strip(&mut t.attrs);
            for trait_item in &mut t.items {
                match trait_item {
                    syn::TraitItem::Fn(f) => strip(&mut f.attrs),
                    syn::TraitItem::Const(c) => strip(&mut c.attrs),
                    syn::TraitItem::Type(t) => strip(&mut t.attrs),
                    _ => {}
                }
            }
        }
        syn::Item::Fn(f) => strip(&mut f.attrs),
        syn::Item::Struct(s) => strip(&mut s.attrs),
        syn::Item::Enum(e) => strip(&mut e.attrs),
        _ => {}
    }
}

/// The impl with its lifetime parameters replaced by `'static`.
fn make_static(mut item: ItemImpl) -> ItemImpl {
    let names: Vec<String> = item
        .generics
        .lifetimes()
        .map(|l| l.lifetime.ident.to_string())
        .collect();
    item.generics.params = item
        .generics
        .params
        .into_iter()
        .filter(|p| !matches!(p, syn::GenericParam::Lifetime(_)))
        .collect();
    let tokens = replace_lifetimes(item.to_token_stream(), &names);
    syn::parse2(tokens).unwrap_or(item)
}

/// `'a` becomes `'static` for each name in `names`, at any depth.
fn replace_lifetimes(tokens: TokenStream, names: &[String]) -> TokenStream {
    use proc_macro2::{Group, Spacing, TokenTree};
    let mut out = Vec::new();
    let mut tick = false;
    for tree in tokens {
        let tree = match tree {
            TokenTree::Group(g) => {
                let mut inner = Group::new(g.delimiter(), replace_lifetimes(g.stream(), names));
                inner.set_span(g.span());
                TokenTree::Group(inner)
            }
            TokenTree::Ident(i) if tick && names.iter().any(|n| i == n) => {
                TokenTree::Ident(Ident::new("static", i.span()))
            }
            other => other,
        };
        tick = matches!(&tree, TokenTree::Punct(p) if p.as_char() == '\'' && p.spacing() == Spacing::Joint);
        out.push(tree);
    }
    out.into_iter().collect()
}

/// The start of an item that is not an impl block, e.g. `struct Echo`, to
/// point the error there.
fn item_head(item: &syn::Item) -> TokenStream {
    use syn::Item;
    match item {
        Item::Struct(i) => head(&i.struct_token, &i.ident),
        Item::Enum(i) => head(&i.enum_token, &i.ident),
        Item::Union(i) => head(&i.union_token, &i.ident),
        Item::Trait(i) => head(&i.trait_token, &i.ident),
        Item::Fn(i) => head(&i.sig.fn_token, &i.sig.ident),
        Item::Mod(i) => head(&i.mod_token, &i.ident),
        other => other.to_token_stream(),
    }
}

fn head(keyword: &dyn ToTokens, name: &Ident) -> TokenStream {
    quote!(#keyword #name)
}

fn expand(channel: &Channel) -> TokenStream {
    let item = &channel.item;
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let self_ty = &item.self_ty;
    let states = read_states(channel);
    let initial = initial_state(&states);
    let on_write = handles_write(channel);
    let state = local("__pants_state");
    let s = local("__pants_s");
    let frame = local("__pants_frame");
    let rules = states.iter().map(|(i, h)| rule_arm(*i, h, &item.generics));
    let lens: Vec<TokenStream> = states.iter().filter_map(|(i, h)| len_arm(*i, h)).collect();
    let len_fn = (!lens.is_empty()).then(|| {
        quote! {
            #[inline]
            fn __pants_len(&self, #state: ::core::primitive::u16) -> ::core::primitive::usize {
                match #state {
                    #(#lens)*
                    _ => 0,
                }
            }
        }
    });
    let frames = states.iter().map(|(i, h)| frame_arm(*i, h));
    let event_fns = event_fns(channel);
    let consts = state_consts(channel);
    let app_ty = app_type(channel);
    let app_impl = app_impl(channel);
    let channel_of = channel_of_impl(channel, false);
    let uses = uses_and_checks(channel, &cfg_checks(channel));
    let typed_checks = typed_checks(channel);
    let timeouts = timeouts_const(channel);
    quote! {
        #item

        #consts

        #[automatically_derived]
        impl #impl_generics ::pants::Channel for #self_ty #where_clause {
            type App = #app_ty;
            const __PANTS_INITIAL: ::core::primitive::u16 = #initial;
            const __PANTS_ON_WRITE: ::core::primitive::bool = #on_write;
            #timeouts

            #[inline]
            fn __pants_rule(&self, #state: ::core::primitive::u16) -> ::pants::__private::Rule {
                match #state {
                    #(#rules)*
                    _ => ::pants::__private::Rule {
                        framing: ::pants::__private::Framing::Any,
                        max: ::pants::__private::DEFAULT_MAX,
                        sized: false,
                    },
                }
            }

            #len_fn

            #[inline]
            fn __pants_frame(
                &mut self,
                #s: &mut ::pants::Stream<'_, Self>,
                #state: ::core::primitive::u16,
                #frame: ::pants::__private::Payload<'_>,
            ) {
                match #state {
                    #(#frames)*
                    _ => {
                        let _ = (#s, #frame);
                    }
                }
            }

            #(#event_fns)*
        }

        #channel_of
        #app_impl
        #uses
        #(#typed_checks)*
    }
}

/// The trait method of each event other than reads, and whether it passes a value.
const EVENTS: [(Kind, &str, bool); 11] = [
    (Kind::Connect, "__pants_connect", false),
    (Kind::Write, "__pants_write", false),
    (Kind::Close, "__pants_close", false),
    (Kind::ConnectError, "__pants_connect_error", true),
    (Kind::OverflowError, "__pants_overflow", true),
    (Kind::PauseWriting, "__pants_pause_writing", false),
    (Kind::ResumeWriting, "__pants_resume_writing", false),
    (Kind::Timeout, "__pants_timeout", true),
    (Kind::Shutdown, "__pants_shutdown", false),
    (Kind::Handshake, "__pants_handshake", false),
    (Kind::HandshakeError, "__pants_handshake_error", true),
];

/// One trait method per handler of an event other than reads. Handlers of
/// one event are `#[cfg]` alternatives (validation rejected unconditional
/// twins): each is compiled only when no earlier one is, so two that are
/// both on report one error (from [`cfg_checks`]), not a duplicate method.
fn event_fns(channel: &Channel) -> Vec<TokenStream> {
    let mut out = Vec::new();
    for (kind, fn_name, has_value) in EVENTS {
        let handlers: Vec<&Handler> = channel.handlers.iter().filter(|h| h.kind == kind).collect();
        for (j, handler) in handlers.iter().enumerate() {
            let cfg = if j == 0 {
                let cfgs = &handler.cfgs;
                quote!(#(#cfgs)*)
            } else {
                let this = handler.cfg_predicate();
                let earlier = handlers[..j].iter().map(|h| h.cfg_predicate());
                quote!(#[cfg(all(#this, not(any(#(#earlier),*))))])
            };
            let fn_name = Ident::new(fn_name, handler.span());
            let s = local("__pants_s");
            let s_arg = local_at("__pants_s", handler.arg_span(0));
            let value_ty = if kind == Kind::Timeout {
                quote!(::pants::Timeout)
            } else {
                quote!(&::pants::Error)
            };
            let (param, arg) = if has_value {
                let value = local("__pants_value");
                let value_arg = local_at("__pants_value", handler.arg_span(1));
                (quote!(, #value: #value_ty), quote!(, #value_arg))
            } else {
                (quote!(), quote!())
            };
            let call = handler.call(&quote!(#s_arg #arg));
            out.push(quote_spanned! {handler.span()=>
                #cfg
                #[inline]
                fn #fn_name(&mut self, #s: &mut ::pants::Stream<'_, Self> #param) {
                    #call
                }
            });
        }
    }
    out
}

/// Errors that depend on which `#[cfg]`s are on, so the macro cannot raise
/// them: two alternatives of one event both compiled in, two `initial`
/// states both compiled in, several states compiled in and no `initial`
/// one. Each is a `compile_error!` under the `#[cfg]` that makes it true,
/// at the user's token, in the words the macro uses when it can tell.
fn cfg_checks(channel: &Channel) -> Vec<TokenStream> {
    let mut out = Vec::new();
    // The user's spans as they are (not located call-site spans): the error
    // reads as one about the user's code, as the macro's own errors do. The
    // path starts at `start` and the braces end at `end`, so the error
    // covers both and what lies between.
    let error = |(start, end): (Span, Span), cfg: TokenStream, message: String| {
        let path = quote_spanned!(start=> ::core::compile_error!);
        let mut body = proc_macro2::Group::new(
            proc_macro2::Delimiter::Brace,
            quote_spanned!(end=> #message),
        );
        body.set_span(end);
        quote_spanned! {start=>
            #[cfg(#cfg)]
            #path #body
        }
    };
    let attr_span = |h: &Handler| (h.attr.pound_token.span, h.attr.bracket_token.span.join());
    let both = |a: &Handler, b: &Handler| {
        let (a, b) = (a.cfg_predicate(), b.cfg_predicate());
        quote!(all(#a, #b))
    };
    for (kind, _, _) in EVENTS {
        let handlers: Vec<&Handler> = channel.handlers.iter().filter(|h| h.kind == kind).collect();
        for (j, second) in handlers.iter().enumerate() {
            for first in &handlers[..j] {
                out.push(error(
                    attr_span(second),
                    both(first, second),
                    valid::second_handler_message(first, second),
                ));
            }
        }
    }
    let states: Vec<&Handler> = channel
        .handlers
        .iter()
        .filter(|h| h.kind == Kind::Read)
        .collect();
    if states.iter().all(|h| h.cfgs.is_empty()) {
        return out;
    }
    let marked: Vec<(&Handler, Span)> = states
        .iter()
        .filter_map(|h| Some((*h, h.read.as_ref()?.initial?)))
        .collect();
    for (j, (second, span)) in marked.iter().enumerate() {
        for (first, _) in &marked[..j] {
            out.push(error(
                (*span, *span),
                both(first, second),
                valid::second_initial_message(first, second),
            ));
        }
    }
    if states.len() > 1 && marked.iter().all(|(h, _)| !h.cfgs.is_empty()) {
        let marked_on = marked.iter().map(|(h, _)| h.cfg_predicate());
        let mut pairs = Vec::new();
        for (j, b) in states.iter().enumerate() {
            for a in &states[..j] {
                pairs.push(both(a, b));
            }
        }
        let message = if marked.is_empty() {
            valid::NO_INITIAL_MESSAGE.to_owned()
        } else {
            let names: Vec<String> = marked
                .iter()
                .map(|(h, _)| format!("`{}`", h.name))
                .collect();
            format!(
                "several #[on_read] states are compiled in and none of them is marked `initial` ({} is, but #[cfg] leaves it out); add `initial` to the one that reads first",
                names.join(", ")
            )
        };
        out.push(error(
            attr_span(states[0]),
            quote!(all(not(any(#(#marked_on),*)), any(#(#pairs),*))),
            message,
        ));
    }
    out
}

/// `const __PANTS_TIMEOUTS` from `#[channel(idle_timeout = "30s", ...)]`.
fn timeouts_const(channel: &Channel) -> Option<TokenStream> {
    if channel.timeouts.is_empty() {
        return None;
    }
    let field = |name: &str| {
        channel.timeouts.iter().find(|t| t.key == name).map_or_else(
            || quote!(::core::option::Option::None),
            |t| {
                let (secs, nanos) = (t.millis / 1000, (t.millis % 1000) as u32 * 1_000_000);
                quote!(::core::option::Option::Some(::core::time::Duration::new(#secs, #nanos)))
            },
        )
    };
    let (idle, read, write, connect, handshake) = (
        field("idle"),
        field("read"),
        field("write"),
        field("connect"),
        field("handshake"),
    );
    Some(quote! {
        const __PANTS_TIMEOUTS: ::pants::__private::Timeouts = ::pants::__private::Timeouts {
            idle: #idle,
            read: #read,
            write: #write,
            connect: #connect,
            handshake: #handshake,
        };
    })
}

/// The `#[on_read]` handlers with their state indices (declaration order).
fn read_states(channel: &Channel) -> Vec<(u16, &Handler)> {
    channel
        .handlers
        .iter()
        .filter(|h| h.kind == Kind::Read)
        .enumerate()
        .map(|(i, h)| (i as u16, h))
        .collect()
}

/// Whether an `#[on_write]` handler is compiled in (it may be under `#[cfg]`).
fn handles_write(channel: &Channel) -> TokenStream {
    let sets = channel
        .handlers
        .iter()
        .filter(|h| h.kind == Kind::Write)
        .map(|h| {
            let cfgs = &h.cfgs;
            let on_write = local("__pants_on_write");
            quote!(#(#cfgs)* { #on_write = true; })
        });
    let on_write = local("__pants_on_write");
    quote! {{
        #[allow(unused_mut)]
        let mut #on_write = false;
        #(#sets)*
        #on_write
    }}
}

/// The initial state's index: the one marked `initial`, else the only one.
/// When states are under `#[cfg]`, the choice is made at compile time: the
/// first marked state compiled in, else the first state compiled in
/// ([`cfg_checks`] rejects two marked ones, or several and none marked).
fn initial_state(states: &[(u16, &Handler)]) -> TokenStream {
    let marked: Vec<&(u16, &Handler)> = states
        .iter()
        .filter(|(_, h)| h.read.as_ref().is_some_and(|r| r.initial.is_some()))
        .collect();
    if let Some((i, _)) = marked.iter().find(|(_, h)| h.cfgs.is_empty()) {
        return quote!(#i);
    }
    if states.iter().all(|(_, h)| h.cfgs.is_empty()) {
        return quote!(0);
    }
    let initial = local("__pants_initial");
    let found = local("__pants_found");
    let picks = marked.into_iter().chain(states).map(|(i, h)| {
        let cfgs = &h.cfgs;
        quote! {
            #(#cfgs)*
            {
                if !#found {
                    #initial = #i;
                    #found = true;
                }
            }
        }
    });
    quote! {{
        #[allow(unused_mut, unused_assignments)]
        let mut #initial = 0;
        #[allow(unused_mut, unused_assignments)]
        let mut #found = false;
        #(#picks)*
        #initial
    }}
}

/// The `Channel::App` type: `Self`, or the enum given as `app = ...`.
pub(crate) fn app_type(channel: &Channel) -> TokenStream {
    channel
        .app
        .as_ref()
        .map_or_else(|| quote!(Self), |path| quote!(#path))
}

/// `impl ChannelOf<App> for Self` for `#[channel(app = App)]`: the app the
/// channel declares, through which `#[derive(App)]` dispatches (see
/// `__private::ChannelOf`); a channel without `app` belongs to no enum. With
/// `stub`, bodies that never run, for the fallback.
pub(crate) fn channel_of_impl(channel: &Channel, stub: bool) -> Option<TokenStream> {
    let item = &channel.item;
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let self_ty = &item.self_ty;
    let app = channel.app.as_ref()?;
    let (core, key, event) = crate::app::event_params();
    let (on_write, body) = if stub {
        (quote!(false), quote!(::core::unreachable!()))
    } else {
        (
            quote!(<Self as ::pants::Channel>::__PANTS_ON_WRITE),
            quote!(::pants::__private::dispatch::<Self>(self, #core, #key, #event)),
        )
    };
    Some(quote! {
        #[automatically_derived]
        impl #impl_generics ::pants::__private::ChannelOf<#app> for #self_ty #where_clause {
            const ON_WRITE: ::core::primitive::bool = #on_write;

            #[inline]
            #[allow(unused_variables)]
            fn event(
                &mut self,
                #core: &mut ::pants::__private::Core<#app>,
                #key: ::core::primitive::usize,
                #event: ::pants::__private::Event<'_>,
            ) -> ::core::primitive::usize {
                #body
            }
        }
    })
}

/// `impl App for Self` when the channel is its engine's only type.
pub(crate) fn app_impl(channel: &Channel) -> Option<TokenStream> {
    let item = &channel.item;
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let self_ty = &item.self_ty;
    channel.app.is_none().then(|| {
        let header = quote!(#impl_generics ::pants::App for #self_ty #where_clause);
        let (core, key, event) = crate::app::event_params();
        crate::app::app_trait_impl(
            &header,
            &quote!(::pants::__private::dispatch::<Self>(self, #core, #key, #event)),
            &quote!(<Self as ::pants::Channel>::__PANTS_ON_WRITE),
        )
    })
}

/// The inherent impl with one `ReadState` constant per `#[on_read]` method.
pub(crate) fn state_consts(channel: &Channel) -> TokenStream {
    let item = &channel.item;
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let self_ty = &item.self_ty;
    let consts = read_states(channel)
        .into_iter()
        .map(|(i, h)| state_const(i, h));
    quote! {
        #[automatically_derived]
        impl #impl_generics #self_ty #where_clause {
            #(#consts)*
        }
    }
}

/// `#[channel]` removes the helper attributes before name resolution sees
/// them; this names their paths once more, so that `use pants::on_read;`
/// counts as used and a helper that is not in scope is reported.
///
/// On a successful expansion it also holds the [`cfg_checks`].
pub(crate) fn helper_uses(channel: &Channel) -> TokenStream {
    uses_and_checks(channel, &[])
}

fn uses_and_checks(channel: &Channel, checks: &[TokenStream]) -> TokenStream {
    if channel.handlers.is_empty() {
        return TokenStream::new();
    }
    // Each helper attribute, on a marker item the helper expands to nothing:
    // an attribute not in scope is "cannot find attribute `on_read`", with
    // the import suggested, and an import that is counts as used.
    let uses = channel.handlers.iter().map(|h| {
        let path = h.attr.path();
        let marker = Ident::new(fallback::HELPER_CHECK, Span::mixed_site());
        quote!(const _: () = { #[#path] struct #marker; };)
    });
    quote! {
        const _: () = {
            #(#uses)*
            #(#checks)*
        };
    }
}

/// `i => Rule { framing, max }` for one read state.
fn rule_arm(i: u16, handler: &Handler, generics: &syn::Generics) -> TokenStream {
    let read = handler.read.as_ref().expect("read states have a ReadAttr");
    let cfgs = &handler.cfgs;
    let max = read.max.map_or_else(
        || quote!(::pants::__private::DEFAULT_MAX),
        |max| quote!(#max),
    );
    let framing = match &read.framing {
        Framing::Any => handler.typed_frame().map_or_else(
            || quote!(::pants::__private::Framing::Any),
            |ty| typed_size(ty, read, is_generic(ty, generics)),
        ),
        Framing::BytesExpr(_) => quote!(::pants::__private::Framing::Bytes(0)),
        Framing::Prefix(width) => quote!(::pants::__private::Framing::Prefix(#width)),
        Framing::Bytes(count) => quote!(::pants::__private::Framing::Bytes(#count)),
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
    let sized = matches!(read.framing, Framing::BytesExpr(_));
    quote! {
        #(#cfgs)*
        #i => ::pants::__private::Rule { framing: #framing, max: #max, sized: #sized },
    }
}

/// `Framing::Bytes(SIZE)` for a typed frame, with the size checked at
/// compile time: not zero, and within `max` when one is given.
fn typed_size(ty: &syn::Type, read: &crate::attr::ReadAttr, generic: bool) -> TokenStream {
    let span = Span::call_site().located_at(ty.span());
    let size = quote_spanned!(span=> <#ty as ::pants::__private::Packed>::SIZE);
    if !generic {
        // Checked by a free constant, see `typed_checks`.
        return quote_spanned!(span=> ::pants::__private::Framing::Bytes(#size));
    }
    let checks = size_checks(ty, read);
    quote_spanned! {span=>
        ::pants::__private::Framing::Bytes(const {
            #checks
            #size
        })
    }
}

/// The compile-time checks of a typed frame's size: not zero, within `max`.
fn size_checks(ty: &syn::Type, read: &crate::attr::ReadAttr) -> TokenStream {
    let ty_span = ty.span();
    let size = quote_spanned!(ty_span=> <#ty as ::pants::__private::Packed>::SIZE);
    let max_check = read.max.map(|max| {
        quote_spanned! {max.span=>
            ::core::assert!(
                #size <= #max,
                "`max` is smaller than this handler's typed frame; raise it to at least the frame's size"
            );
        }
    });
    quote_spanned! {ty_span=>
        ::core::assert!(#size > 0, "a typed frame of zero bytes would be handed out forever; give it at least one field");
        #max_check
    }
}

/// Whether a type names one of the impl's generic parameters (or `Self`),
/// so that it can only be checked inside the impl.
fn is_generic(ty: &syn::Type, generics: &syn::Generics) -> bool {
    let self_ident = Ident::new("Self", Span::call_site());
    let mut names = crate::packed::generic_names(generics);
    names.push(&self_ident);
    crate::packed::mentions_any(ty.to_token_stream(), &names)
}

/// The size checks of the typed frames that do not depend on the impl's
/// generics, as free constants: evaluated by `cargo check` too, and
/// reported without naming generated items.
fn typed_checks(channel: &Channel) -> Vec<TokenStream> {
    read_states(channel)
        .into_iter()
        .filter_map(|(_, handler)| {
            let ty = handler.typed_frame()?;
            let read = handler.read.as_ref()?;
            if is_generic(ty, &channel.item.generics) {
                return None;
            }
            let cfgs = &handler.cfgs;
            let checks = size_checks(ty, read);
            Some(quote! {
                #(#cfgs)*
                const _: () = {
                    #checks
                };
            })
        })
        .collect()
}

/// `i => expr` for a `bytes = expr` state, evaluated on entering it.
fn len_arm(i: u16, handler: &Handler) -> Option<TokenStream> {
    let read = handler.read.as_ref()?;
    let Framing::BytesExpr(expr) = &read.framing else {
        return None;
    };
    let cfgs = &handler.cfgs;
    let span = Span::call_site().located_at(expr.span());
    let len = quote_spanned!(span=> ::pants::__private::FrameLen::frame_len(#expr));
    Some(quote! {
        #(#cfgs)*
        #i => #len,
    })
}

/// `i => self.method(s, frame)` for one read state.
fn frame_arm(i: u16, handler: &Handler) -> TokenStream {
    let read = handler.read.as_ref().expect("read states have a ReadAttr");
    let cfgs = &handler.cfgs;
    // In match mode a `Match` parameter gets the captures, `&[u8]` the bytes.
    let is_match = handler.takes_match()
        && matches!(read.framing, Framing::Regex(_))
        && matches!(read.mode, Some((Mode::Match, _)));
    let s = local_at("__pants_s", handler.arg_span(0));
    let frame = local_at("__pants_frame", handler.arg_span(1));
    let arg = if is_match {
        quote_spanned!(handler.arg_span(1)=> #frame.to_match())
    } else if let Some(ty) = handler.typed_frame() {
        quote_spanned! {handler.arg_span(1)=>
            <#ty as ::pants::__private::Packed>::read_from(#frame.bytes, ::pants::__private::Endian::Big)
        }
    } else {
        quote_spanned!(handler.arg_span(1)=> #frame.bytes)
    };
    let call = handler.call(&quote!(#s, #arg));
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
