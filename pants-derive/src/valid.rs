//! Rules that look at more than one attribute. One function per rule.

use proc_macro2::Span;
use quote::ToTokens;

use crate::ast::{Channel, Handler, Receiver};
use crate::attr::{Framing, Kind, Mode, ReadAttr};

/// Checks the whole channel; errors are appended.
pub(crate) fn validate(channel: &Channel, errors: &mut Vec<syn::Error>) {
    for handler in &channel.handlers {
        if handler.kind == Kind::DatagramError {
            errors.push(syn::Error::new_spanned(
                &handler.attr,
                "`#[on_datagram_error]` is for datagram channels: declare this one with `#[channel(datagram)]`",
            ));
            continue;
        }
        if check_form(handler, errors)
            && check_signature(handler, errors)
            && check_stream_param(handler, &channel.item.self_ty, errors)
        {
            check_value_param(handler, errors);
        }
        check_return(handler, errors);
        if let Some(read) = &handler.read {
            check_read_state(read, errors);
            check_typed_frame(handler, read, errors);
        }
    }
    check_single_handlers(channel, errors);
    check_initial_state(channel, errors);
}

/// A handler takes `&mut self`, the stream, and the event's value if it has one.
fn check_signature(handler: &Handler, errors: &mut Vec<syn::Error>) -> bool {
    let expected = match handler.kind {
        Kind::Read => "fn name(&mut self, s: &mut Stream<Self>, frame: &[u8])",
        Kind::Connect
        | Kind::Write
        | Kind::Close
        | Kind::PauseWriting
        | Kind::ResumeWriting
        | Kind::Shutdown
        | Kind::Handshake => "fn name(&mut self, s: &mut Stream<Self>)",
        Kind::ConnectError | Kind::OverflowError | Kind::HandshakeError | Kind::DatagramError => {
            "fn name(&mut self, s: &mut Stream<Self>, error: &pants::Error)"
        }
        Kind::Timeout => "fn name(&mut self, s: &mut Stream<Self>, timeout: pants::Timeout)",
    };
    let want_args = match handler.kind {
        Kind::Connect
        | Kind::Write
        | Kind::Close
        | Kind::PauseWriting
        | Kind::ResumeWriting
        | Kind::Shutdown
        | Kind::Handshake => 1,
        Kind::Read
        | Kind::ConnectError
        | Kind::OverflowError
        | Kind::Timeout
        | Kind::HandshakeError
        | Kind::DatagramError => 2,
    };
    let sig = &handler.sig;
    // Spanned at the offending parameters; at the parentheses when some are missing.
    let (problem, at): (String, proc_macro2::TokenStream) = match handler.receiver {
        Receiver::Missing => ("takes no `self`".to_owned(), params(sig, 0)),
        Receiver::Other => (
            "must take `&mut self`".to_owned(),
            sig.inputs
                .first()
                .map(ToTokens::to_token_stream)
                .unwrap_or_default(),
        ),
        Receiver::MutRef if handler.args == want_args => return true,
        Receiver::MutRef => (
            format!(
                "takes {} argument(s) after `&mut self`, expected {want_args}",
                handler.args
            ),
            // Too many: the extra ones. Too few: the parentheses.
            params(sig, 1 + want_args),
        ),
    };
    let typed = if handler.kind == Kind::Read {
        " (or a typed frame, as in `(a, b): (u16, u16)`)"
    } else {
        ""
    };
    let message = format!(
        "this #[{}] handler {problem}; write `{expected}`{typed}",
        handler.kind.name()
    );
    errors.push(if at.is_empty() {
        syn::Error::new(sig.paren_token.span.join(), message)
    } else {
        syn::Error::new_spanned(at, message)
    });
    false
}

/// Forms a handler cannot take: `async`, `unsafe`, type or const
/// parameters (`fn data<T>`, `frame: impl AsRef<[u8]>`). Lifetime
/// parameters are fine. Returns whether the form is fine, so that one
/// mistake is one error.
pub(crate) fn check_form(handler: &Handler, errors: &mut Vec<syn::Error>) -> bool {
    let sig = &handler.sig;
    let kind = handler.kind.name();
    if let Some(token) = &sig.asyncness {
        errors.push(syn::Error::new_spanned(
            token,
            format!("a #[{kind}] handler cannot be `async`: the engine calls it on its event loop and awaits nothing; remove `async`, and for work that waits, keep the state in the channel (a read state, `s.switch`, a timer)"),
        ));
        return false;
    }
    if let Some(token) = &sig.unsafety {
        errors.push(syn::Error::new_spanned(
            token,
            format!("a #[{kind}] handler cannot be `unsafe`: the engine calls it as a safe method; remove `unsafe` (and use an `unsafe` block inside if needed)"),
        ));
        return false;
    }
    let generic = sig.generics.params.iter().find_map(|p| match p {
        syn::GenericParam::Type(t) => Some((t.ident.to_token_stream(), t.ident.to_string())),
        syn::GenericParam::Const(c) => Some((c.to_token_stream(), c.ident.to_string())),
        syn::GenericParam::Lifetime(_) => None,
    });
    if let Some((at, name)) = generic {
        errors.push(syn::Error::new_spanned(
            at,
            format!("a #[{kind}] handler cannot be generic: the engine calls it with one type for each argument; replace `{name}` with a concrete type (or make it a parameter of the channel type)"),
        ));
        return false;
    }
    let impl_trait = sig.inputs.iter().find_map(|a| match a {
        syn::FnArg::Typed(t) => find_impl_trait(&t.ty),
        syn::FnArg::Receiver(_) => None,
    });
    if let Some(ty) = impl_trait {
        errors.push(syn::Error::new_spanned(
            ty,
            format!("a #[{kind}] handler cannot be generic: the engine calls it with one type for each argument; replace `{}` with a concrete type", type_text(ty)),
        ));
        return false;
    }
    true
}

/// An `impl Trait` type, at any depth of references, tuples and arrays.
fn find_impl_trait(ty: &syn::Type) -> Option<&syn::Type> {
    match ty {
        syn::Type::ImplTrait(_) => Some(ty),
        syn::Type::Reference(r) => find_impl_trait(&r.elem),
        syn::Type::Tuple(t) => t.elems.iter().find_map(find_impl_trait),
        syn::Type::Array(a) => find_impl_trait(&a.elem),
        syn::Type::Slice(s) => find_impl_trait(&s.elem),
        syn::Type::Paren(p) => find_impl_trait(&p.elem),
        _ => None,
    }
}

/// The stream parameter is `&mut Stream<Self>`: by value or shared it is a
/// type error in generated code, and `Stream` without its channel type gets
/// rustc's help naming the struct's own parameter (`Stream<C>`). Returns
/// whether it is fine.
fn check_stream_param(
    handler: &Handler,
    self_ty: &syn::Type,
    errors: &mut Vec<syn::Error>,
) -> bool {
    let Some(ty) = handler.arg_type(0) else {
        return true;
    };
    let kind = handler.kind.name();
    let write = "write `s: &mut Stream<Self>`";
    let error = |at: &dyn ToTokens, message: String| syn::Error::new_spanned(at, message);
    let inner = match ty {
        syn::Type::Reference(r) if r.mutability.is_some() => {
            if let Some(lifetime) = &r.lifetime
                && lifetime.ident == "static"
            {
                errors.push(error(lifetime, format!("the stream is lent to a #[{kind}] handler for the call only, not for `'static`; {write}")));
                return false;
            }
            &*r.elem
        }
        syn::Type::Reference(r) => {
            errors.push(error(
                r,
                format!("a #[{kind}] handler takes the stream by `&mut`: {write}"),
            ));
            return false;
        }
        other => {
            let shown = type_text(other);
            errors.push(error(
                other,
                format!("a #[{kind}] handler takes the stream by `&mut`, not `{shown}`: {write}"),
            ));
            return false;
        }
    };
    let syn::Type::Path(path) = inner else {
        return true;
    };
    let Some(last) = path.path.segments.last() else {
        return true;
    };
    if last.ident != "Stream" {
        return true;
    }
    let channel_ty = match &last.arguments {
        syn::PathArguments::AngleBracketed(a) => a.args.iter().find_map(|g| match g {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    };
    let Some(channel_ty) = channel_ty else {
        errors.push(error(
            inner,
            format!("`Stream` needs its channel type: {write}"),
        ));
        return false;
    };
    let is_self = matches!(channel_ty, syn::Type::Path(p) if p.path.is_ident("Self"))
        || type_text(channel_ty) == type_text(self_ty);
    if !is_self {
        errors.push(error(
            channel_ty,
            format!("a #[{kind}] handler gets this channel's stream, `Stream<Self>`, not a `Stream<{}>`; {write}", type_text(channel_ty)),
        ));
        return false;
    }
    true
}

/// The event's value, syntactically: a frame is `&[u8]`, a regex `Match`
/// (match mode) or a typed frame; an error is `&pants::Error`; a timeout is
/// `pants::Timeout`. Borrowed values are lent for the call only. Catches
/// the common mistakes in the macro's words rather than as a type error in
/// generated code (which names generated bindings).
fn check_value_param(handler: &Handler, errors: &mut Vec<syn::Error>) {
    let Some(ty) = handler.arg_type(1) else {
        return;
    };
    let kind = handler.kind.name();
    if let Some(lifetime) = static_lifetime(ty) {
        errors.push(syn::Error::new_spanned(
            lifetime,
            format!("a #[{kind}] handler's argument is lent for the call only, not for `'static`; remove `'static` (copy what should be kept, e.g. `frame.to_vec()`)"),
        ));
        return;
    }
    let last_ident = |ty: &syn::Type| match ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    };
    let named = |ty: &syn::Type, names: &[&str]| {
        last_ident(ty).is_some_and(|n| names.contains(&n.as_str()))
    };
    let shown = type_text(ty);
    // Only forms that are certainly wrong: an alias (`type Bytes = [u8];`)
    // or a full path (`&[::core::primitive::u8]`) is left to the compiler.
    let message = match (handler.kind, ty) {
        (Kind::Read, syn::Type::Reference(r)) if r.mutability.is_some() => {
            format!("a frame is lent read-only: take `frame: &[u8]`, not `{shown}`")
        }
        (Kind::Read, syn::Type::Reference(r))
            if named(&r.elem, &["str", "String", "Vec"])
                || matches!(&*r.elem, syn::Type::Array(_)) =>
        {
            let decode = if named(&r.elem, &["str", "String"]) {
                " (for text, decode it with `std::str::from_utf8`)"
            } else {
                ""
            };
            format!("a frame is bytes: take `frame: &[u8]`, not `{shown}`{decode}")
        }
        (Kind::Read, _) if handler.takes_match() && !is_match_mode(handler) => {
            MATCH_OUTSIDE_MATCH_MODE.to_owned()
        }
        (Kind::ConnectError | Kind::OverflowError | Kind::HandshakeError, ty)
            if match ty {
                syn::Type::Reference(r) => {
                    r.mutability.is_some() || named(&r.elem, &["String", "str", "Option", "Box"])
                }
                other => named(
                    other,
                    &["Error", "Option", "String", "str", "Box", "Result"],
                ),
            } =>
        {
            format!(
                "a #[{kind}] handler gets the error as `&pants::Error`, not `{shown}`; write `error: &pants::Error`"
            )
        }
        (Kind::Timeout, ty)
            if match ty {
                syn::Type::Reference(r) => named(&r.elem, &["Timeout"]),
                other => named(
                    other,
                    &[
                        "Option", "Duration", "Instant", "String", "bool", "u8", "u16", "u32",
                        "u64", "usize",
                    ],
                ),
            } =>
        {
            format!(
                "a #[{kind}] handler gets which timeout expired as a `pants::Timeout`, not `{shown}`; write `timeout: pants::Timeout`"
            )
        }
        _ => return,
    };
    errors.push(syn::Error::new_spanned(ty, message));
}

const MATCH_OUTSIDE_MATCH_MODE: &str = "a `Match` frame comes from a regex state in match mode, `#[on_read(regex = \"...\", mode = \"match\")]`; in this state take `frame: &[u8]`";

/// Whether a read state is a regex in match mode.
fn is_match_mode(handler: &Handler) -> bool {
    handler.read.as_ref().is_some_and(|r| {
        matches!(r.framing, Framing::Regex(_)) && matches!(r.mode, Some((Mode::Match, _)))
    })
}

/// A `'static` lifetime in a borrowed argument type.
fn static_lifetime(ty: &syn::Type) -> Option<&syn::Lifetime> {
    match ty {
        syn::Type::Reference(r) => r
            .lifetime
            .as_ref()
            .filter(|l| l.ident == "static")
            .or_else(|| static_lifetime(&r.elem)),
        syn::Type::Path(p) => p.path.segments.last().and_then(|s| match &s.arguments {
            syn::PathArguments::AngleBracketed(a) => a.args.iter().find_map(|g| match g {
                syn::GenericArgument::Lifetime(l) if l.ident == "static" => Some(l),
                syn::GenericArgument::Type(t) => static_lifetime(t),
                _ => None,
            }),
            _ => None,
        }),
        syn::Type::Tuple(t) => t.elems.iter().find_map(static_lifetime),
        _ => None,
    }
}

/// A handler returns nothing: the engine calls it for its effects.
pub(crate) fn check_return(handler: &Handler, errors: &mut Vec<syn::Error>) {
    let syn::ReturnType::Type(arrow, ty) = &handler.sig.output else {
        return;
    };
    if matches!(&**ty, syn::Type::Tuple(t) if t.elems.is_empty()) {
        return;
    }
    let shown = type_text(ty);
    errors.push(syn::Error::new_spanned(
        quote::quote!(#arrow #ty),
        format!(
            "a #[{}] handler returns nothing: the engine has no use for a `{shown}`; remove `-> {shown}` and deal with the outcome in the handler (e.g. `s.close()` on an error)",
            handler.kind.name()
        ),
    ));
}

/// The parameters from the `skip`th on, to span an error at them.
fn params(sig: &syn::Signature, skip: usize) -> proc_macro2::TokenStream {
    let rest = sig.inputs.iter().skip(skip);
    quote::quote!(#(#rest),*)
}

/// Framing values that cannot work: bad regex, `max` below a frame, `mode` without a regex.
fn check_read_state(read: &ReadAttr, errors: &mut Vec<syn::Error>) {
    match &read.framing {
        Framing::Regex(lit) => {
            let mode = read.mode.map_or(Mode::Search, |(m, _)| m);
            // The user's pattern first, so that an error shows it and not
            // the anchored form match mode compiles.
            let compiled = regex::bytes::Regex::new(&lit.value())
                .and_then(|_| regex::bytes::Regex::new(&regex_source(&lit.value(), mode)));
            match compiled {
                Err(e) => errors.push(syn::Error::new(lit.span(), format!("invalid regex: {e}"))),
                Ok(re) if re.is_match(b"") => errors.push(syn::Error::new(
                    lit.span(),
                    "this regex matches the empty string, so it cannot end a frame; make it match at least one byte (`+` instead of `*`)",
                )),
                Ok(_) => {}
            }
        }
        _ => {
            if let Some((_, span)) = read.mode {
                errors.push(syn::Error::new(
                    span,
                    "`mode` applies to `regex = \"...\"` states only",
                ));
            }
        }
    }
    // A length prefix's `max` caps the payload; a `bytes = expr` length is
    // checked against `max` at run time, on entering the state.
    let needed = match &read.framing {
        Framing::Bytes(count) => count.value,
        Framing::Delimiter(_, d) => d.len() as u64,
        Framing::Any | Framing::Regex(_) | Framing::BytesExpr(_) | Framing::Prefix(_) => 0,
    };
    if let Some(max) = read.max
        && max.value < needed
    {
        errors.push(syn::Error::new(
            max.span,
            format!("`max = {}` is smaller than one frame of this state ({needed} bytes); raise it to at least {needed}", max.value),
        ));
    }
}

/// A typed frame argument is its own framing rule: it cannot be combined
/// with a framing key, which hands over bytes.
fn check_typed_frame(handler: &Handler, read: &ReadAttr, errors: &mut Vec<syn::Error>) {
    let Some(ty) = handler.typed_frame() else {
        return;
    };
    if let Some(platform) = platform_sized_in(ty) {
        errors.push(crate::packed::platform_sized_error(platform));
        return;
    }
    let key = match &read.framing {
        Framing::Any => return,
        Framing::Bytes(..) | Framing::BytesExpr(_) => {
            errors.push(syn::Error::new(
                read.framing_span,
                format!(
                    "the typed frame `{}` is read by its own size; remove `bytes = ...` (or take `frame: &[u8]` for raw bytes)",
                    type_text(ty)
                ),
            ));
            return;
        }
        Framing::Delimiter(..) => "delimiter",
        Framing::Regex(_) => "regex",
        Framing::Prefix(_) => "prefix",
    };
    errors.push(syn::Error::new_spanned(
        ty,
        format!(
            "`{key}` frames are bytes: take `frame: &[u8]`; a typed frame such as `{}` needs a bare #[on_read], which reads its fixed size",
            type_text(ty)
        ),
    ));
}

/// A `usize` or `isize` in a typed frame, alone or inside a tuple or array.
pub(crate) fn platform_sized_in(ty: &syn::Type) -> Option<&syn::Type> {
    match ty {
        syn::Type::Tuple(t) => t.elems.iter().find_map(platform_sized_in),
        syn::Type::Array(a) => platform_sized_in(&a.elem),
        syn::Type::Paren(p) => platform_sized_in(&p.elem),
        syn::Type::Group(g) => platform_sized_in(&g.elem),
        other => crate::packed::is_platform_sized(other).then_some(other),
    }
}

/// A type as the user would write it: `(u16, u16)`, not `(u16 , u16)`.
pub(crate) fn type_text(ty: &syn::Type) -> String {
    let text = ty.to_token_stream().to_string();
    [
        (" :: ", "::"),
        (":: ", "::"),
        (" ,", ","),
        ("( ", "("),
        (" )", ")"),
        ("[ ", "["),
        (" ]", "]"),
        (" ;", ";"),
        ("& ", "&"),
        (" < ", "<"),
        (" <", "<"),
        ("< ", "<"),
        (" >", ">"),
    ]
    .iter()
    .fold(text, |t, (from, to)| t.replace(from, to))
}

/// The regex the runtime compiles: match mode is anchored at the first byte.
pub(crate) fn regex_source(pattern: &str, mode: Mode) -> String {
    match mode {
        Mode::Search => pattern.to_owned(),
        Mode::Match => format!("\\A(?:{pattern})"),
    }
}

/// Events other than reads have one handler each. Handlers that are all
/// under `#[cfg]` may be alternatives; one without `#[cfg]` has no twin.
/// (Alternatives that are both compiled in are caught at compile time.)
fn check_single_handlers(channel: &Channel, errors: &mut Vec<syn::Error>) {
    for (i, handler) in channel.handlers.iter().enumerate() {
        if handler.kind == Kind::Read {
            continue;
        }
        if let Some(first) = channel.handlers[..i]
            .iter()
            .find(|h| h.kind == handler.kind && !alternatives(h, handler))
        {
            errors.push(syn::Error::new_spanned(
                &handler.attr,
                second_handler_message(first, handler),
            ));
        }
    }
}

/// The error for a second handler of the same event.
pub(crate) fn second_handler_message(first: &Handler, second: &Handler) -> String {
    let cfg_hint = if first.cfgs.is_empty() && second.cfgs.is_empty() {
        ""
    } else if first.cfgs.is_empty() || second.cfgs.is_empty() {
        " (handlers that are #[cfg] alternatives all need a #[cfg])"
    } else {
        " (these two are #[cfg] alternatives, and both are compiled in)"
    };
    format!(
        "a second #[{}] handler; `{}` already handles this event, and a channel has one handler per event{cfg_hint}",
        second.kind.name(),
        first.name
    )
}

/// The error for a second read state marked `initial`.
pub(crate) fn second_initial_message(first: &Handler, second: &Handler) -> String {
    let cfg_hint = if first.cfgs.is_empty() && second.cfgs.is_empty() {
        ""
    } else if first.cfgs.is_empty() || second.cfgs.is_empty() {
        " (states that are #[cfg] alternatives all need a #[cfg])"
    } else {
        " (these two are #[cfg] alternatives, and both are compiled in)"
    };
    format!(
        "`{}` is already the initial read state; mark only one #[on_read] method `initial`{cfg_hint}",
        first.name
    )
}

/// The error for several read states and none marked `initial`.
pub(crate) const NO_INITIAL_MESSAGE: &str = "several #[on_read] states and none is marked `initial`; add `initial` to the one that reads first, e.g. #[on_read(delimiter = \"\\r\\n\", initial)]";

/// Several read states need one marked `initial`; one state is initial by
/// itself. States under `#[cfg]` may be alternatives, so each can be marked
/// `initial`, and whether several are compiled in is known only at compile
/// time: those cases are checked there (`expand::cfg_checks`).
fn check_initial_state(channel: &Channel, errors: &mut Vec<syn::Error>) {
    let states: Vec<&Handler> = channel
        .handlers
        .iter()
        .filter(|h| h.kind == Kind::Read)
        .collect();
    let initial: Vec<(&Handler, Span)> = states
        .iter()
        .filter_map(|h| Some((*h, h.read.as_ref()?.initial?)))
        .collect();
    for (i, (extra, span)) in initial.iter().enumerate() {
        if let Some((first, _)) = initial[..i].iter().find(|(h, _)| !alternatives(h, extra)) {
            errors.push(syn::Error::new(*span, second_initial_message(first, extra)));
        }
    }
    let always = states.iter().filter(|h| h.cfgs.is_empty()).count();
    if always > 1 && initial.is_empty() {
        errors.push(syn::Error::new_spanned(&states[0].attr, NO_INITIAL_MESSAGE));
    }
}

/// Whether two handlers may be `#[cfg]` alternatives: both are under `#[cfg]`.
fn alternatives(a: &Handler, b: &Handler) -> bool {
    !a.cfgs.is_empty() && !b.cfgs.is_empty()
}
