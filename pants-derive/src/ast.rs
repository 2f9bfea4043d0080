//! The parsed form of a `#[channel]` impl block.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, ImplItem, ImplItemFn, ItemImpl, Path, Signature, Type, Visibility};

use crate::attr::{self, Kind, ReadAttr};

/// A `#[channel]` impl: the user's impl (helper attributes removed) and its handlers.
pub(crate) struct Channel {
    pub(crate) item: ItemImpl,
    pub(crate) app: Option<Path>,
    pub(crate) handlers: Vec<Handler>,
    /// `idle_timeout = "30s"` and friends.
    pub(crate) timeouts: Vec<TimeoutArg>,
}

/// One `*_timeout = "..."` argument of `#[channel]`.
pub(crate) struct TimeoutArg {
    /// `idle`, `read`, `write` or `connect`.
    pub(crate) key: &'static str,
    pub(crate) millis: u64,
}

/// One annotated method.
pub(crate) struct Handler {
    pub(crate) kind: Kind,
    pub(crate) name: syn::Ident,
    pub(crate) vis: Visibility,
    /// The attribute, for errors about it and to mark its import used.
    pub(crate) attr: Attribute,
    /// The signature, for errors about it.
    pub(crate) sig: Signature,
    /// Span of generated calls to the method.
    pub(crate) sig_span: Span,
    /// `#[cfg]`s copied onto everything generated from this method.
    pub(crate) cfgs: Vec<Attribute>,
    pub(crate) read: Option<ReadAttr>,
    /// Inputs after the receiver.
    pub(crate) args: usize,
    pub(crate) receiver: Receiver,
}

impl Handler {
    /// The type of the `n`th input after the receiver, to span what is passed there.
    pub(crate) fn arg_type(&self, n: usize) -> Option<&Type> {
        self.sig
            .inputs
            .iter()
            .filter_map(|a| match a {
                FnArg::Typed(t) => Some(&*t.ty),
                FnArg::Receiver(_) => None,
            })
            .nth(n)
    }

    /// Span for the `n`th argument of a generated call: located at the
    /// user's parameter type, so a type mismatch points at it, and resolved
    /// like the rest of the generated code.
    pub(crate) fn arg_span(&self, n: usize) -> Span {
        let mut ty = self.arg_type(n);
        // Past the `&`: a span is one token on stable, and `str` in `&str`
        // (or `[u8]` in `&[u8]`) says more than `&`.
        while let Some(Type::Reference(r)) = ty {
            ty = Some(&*r.elem);
        }
        let at = ty.map_or(self.sig_span, Spanned::span);
        Span::call_site().located_at(at)
    }

    /// The frame argument's type when it is a typed (packed) frame: an
    /// `#[on_read]` argument that is neither a reference (`&[u8]`) nor a
    /// regex [`Match`](pants::Match).
    pub(crate) fn typed_frame(&self) -> Option<&Type> {
        if self.kind != Kind::Read {
            return None;
        }
        let ty = self.arg_type(1)?;
        let is_match = match ty {
            Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Match"),
            _ => false,
        };
        (!matches!(ty, Type::Reference(_)) && !is_match).then_some(ty)
    }

    /// Span for code generated for this handler as a whole: located at the
    /// method name, resolved like the rest of the generated code.
    pub(crate) fn span(&self) -> Span {
        Span::call_site().located_at(self.name.span())
    }

    /// The handler's `#[cfg]`s as one predicate, `all(a, b)`: true when
    /// it has none.
    pub(crate) fn cfg_predicate(&self) -> TokenStream {
        let predicates = self.cfgs.iter().map(|attr| match &attr.meta {
            syn::Meta::List(list) => list.tokens.clone(),
            other => other.to_token_stream(),
        });
        quote::quote!(all(#(#predicates),*))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Receiver {
    MutRef,
    Other,
    Missing,
}

impl Channel {
    /// Parses the attribute arguments and the impl, collecting errors.
    pub(crate) fn from_syn(
        args: TokenStream,
        mut item: ItemImpl,
        errors: &mut Vec<syn::Error>,
    ) -> Self {
        let (app, timeouts) = parse_args(args, errors);
        let mut handlers = Vec::new();
        for impl_item in &mut item.items {
            match impl_item {
                ImplItem::Fn(method) => {
                    handlers.extend(take_handlers(method, &item.self_ty, errors));
                }
                ImplItem::Macro(mac) => errors.push(syn::Error::new_spanned(
                    &mac.mac.path,
                    "a macro inside a #[channel] impl hides its methods from #[channel]; move the macro to a separate impl block",
                )),
                _ => {}
            }
        }
        Self {
            item,
            app,
            handlers,
            timeouts,
        }
    }
}

const TIMEOUT_KEYS: [(&str, &str); 5] = [
    ("idle_timeout", "idle"),
    ("read_timeout", "read"),
    ("write_timeout", "write"),
    ("connect_timeout", "connect"),
    ("handshake_timeout", "handshake"),
];

/// `#[channel]`, `#[channel(app = Path)]`, `#[channel(idle_timeout = "30s", ...)]`.
fn parse_args(args: TokenStream, errors: &mut Vec<syn::Error>) -> (Option<Path>, Vec<TimeoutArg>) {
    let mut app = None;
    let mut timeouts: Vec<TimeoutArg> = Vec::new();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("app") {
            if app.is_some() {
                return Err(meta.error("duplicate key `app`; give it once"));
            }
            app = Some(meta.value()?.parse::<Path>()?);
            return Ok(());
        }
        let found = TIMEOUT_KEYS.iter().find(|(k, _)| meta.path.is_ident(k));
        let Some(&(name, key)) = found else {
            let given = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            let known = [
                "app",
                "idle_timeout",
                "read_timeout",
                "write_timeout",
                "connect_timeout",
                "handshake_timeout",
            ];
            let hint = attr::closest(&given, &known)
                .map(|k| format!("did you mean `{k}`? "))
                .unwrap_or_default();
            return Err(meta.error(format!("unknown key in #[channel]; {hint}expected `app = EnumName` (an enum with #[derive(App)]), `idle_timeout`, `read_timeout`, `write_timeout`, `connect_timeout` or `handshake_timeout` (as in `idle_timeout = \"30s\"`)")));
        };
        if timeouts.iter().any(|t| t.key == key) {
            return Err(meta.error(format!("duplicate key `{name}`; give it once")));
        }
        let lit: syn::LitStr = meta.value()?.parse()?;
        match parse_duration(&lit.value()) {
            Some(millis) => timeouts.push(TimeoutArg { key, millis }),
            None => errors.push(syn::Error::new(
                lit.span(),
                format!("`{name}` takes a duration greater than zero with a unit: `\"500ms\"`, `\"30s\"`, `\"5m\"` or `\"1h\"`"),
            )),
        }
        Ok(())
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, args) {
        errors.push(e);
    }
    (app, timeouts)
}

/// `"500ms"`, `"30s"`, `"5m"`, `"1h"` in milliseconds; `None` if malformed or zero.
fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let scale = match unit.trim() {
        "ms" => 1,
        "s" => 1000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    n.checked_mul(scale).filter(|&ms| ms > 0)
}

/// Whether a receiver's type is `&mut Self`: `&mut self`, `&'a mut self`,
/// `self: &mut Self` or `self: &mut TheType` (syn gives every receiver a type).
fn is_mut_self(ty: &Type, self_ty: &Type) -> bool {
    let Type::Reference(r) = ty else {
        return false;
    };
    if r.mutability.is_none() {
        return false;
    }
    match &*r.elem {
        Type::Path(p) if p.qself.is_none() && p.path.is_ident("Self") => true,
        elem => elem.to_token_stream().to_string() == self_ty.to_token_stream().to_string(),
    }
}

/// Removes the helper attributes from a method and describes its handlers.
fn take_handlers(
    method: &mut ImplItemFn,
    self_ty: &Type,
    errors: &mut Vec<syn::Error>,
) -> Vec<Handler> {
    let mut found = Vec::new();
    method.attrs.retain(|attr| match Kind::of(attr) {
        Some(kind) => {
            found.push((kind, attr.clone()));
            false
        }
        None => true,
    });
    let cfgs: Vec<Attribute> = method
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .cloned()
        .collect();
    let receiver = match method.sig.inputs.first() {
        Some(FnArg::Receiver(r)) if is_mut_self(&r.ty, self_ty) => Receiver::MutRef,
        Some(FnArg::Receiver(_)) => Receiver::Other,
        _ => Receiver::Missing,
    };
    let args = method
        .sig
        .inputs
        .iter()
        .filter(|a| matches!(a, FnArg::Typed(_)))
        .count();
    found
        .into_iter()
        .map(|(kind, attr)| {
            let read = (kind == Kind::Read).then(|| attr::parse_on_read(&attr, errors));
            if kind != Kind::Read && !matches!(attr.meta, syn::Meta::Path(_)) {
                errors.push(syn::Error::new_spanned(
                    &attr.meta,
                    format!("#[{}] takes no arguments", kind.name()),
                ));
            }
            Handler {
                kind,
                name: method.sig.ident.clone(),
                vis: method.vis.clone(),
                attr,
                sig: method.sig.clone(),
                sig_span: method.sig.span(),
                cfgs: cfgs.clone(),
                read,
                args,
                receiver,
            }
        })
        .collect()
}
