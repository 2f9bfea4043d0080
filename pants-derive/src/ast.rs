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
        let at = ty.map_or_else(|| self.name.span(), Spanned::span);
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
        (!matches!(ty, Type::Reference(_)) && !self.takes_match()).then_some(ty)
    }

    /// Whether the frame argument is a regex [`Match`](pants::Match).
    pub(crate) fn takes_match(&self) -> bool {
        self.kind == Kind::Read
            && matches!(self.arg_type(1), Some(Type::Path(p))
                if p.path.segments.last().is_some_and(|s| s.ident == "Match"))
    }

    /// Span for code generated for this handler as a whole: located at the
    /// method name, resolved like the rest of the generated code.
    pub(crate) fn span(&self) -> Span {
        Span::call_site().located_at(self.name.span())
    }

    /// The generated call `self.name(args)`, spanned in the macro's context
    /// at the method name: rustc points there, but splices no suggestion
    /// into the user's signature (`fn.expect("REASON") hello(`) and shows
    /// no generated binding as if the user had written it.
    pub(crate) fn call(&self, args: &TokenStream) -> TokenStream {
        let span = self.span();
        let mut name = self.name.clone();
        name.set_span(span);
        quote::quote_spanned!(span=> self.#name(#args))
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
                ImplItem::Const(syn::ImplItemConst { attrs, .. })
                | ImplItem::Type(syn::ImplItemType { attrs, .. }) => {
                    not_on_methods(attrs, errors);
                }
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

const CHANNEL_KEYS: [&str; 6] = [
    "app",
    "idle_timeout",
    "read_timeout",
    "write_timeout",
    "connect_timeout",
    "handshake_timeout",
];

const CHANNEL_EXPECTED: &str = "expected `app = EnumName` (an enum with #[derive(App)]), `idle_timeout`, `read_timeout`, `write_timeout`, `connect_timeout` or `handshake_timeout` (as in `idle_timeout = \"30s\"`)";

/// `#[channel]`, `#[channel(app = Path)]`, `#[channel(idle_timeout = "30s", ...)]`.
///
/// Parsed by hand, entry by entry, so that a mistake in one argument is one
/// error and the others still count: above all `app`, whose loss would make
/// the channel its own app and bring type errors wherever it is used. A
/// misspelt or malformed `app` is reported and its enum still taken.
pub(crate) fn parse_args(
    args: TokenStream,
    errors: &mut Vec<syn::Error>,
) -> (Option<Path>, Vec<TimeoutArg>) {
    use proc_macro2::TokenTree;
    let mut app: Option<Path> = None;
    let mut timeouts: Vec<TimeoutArg> = Vec::new();
    for entry in attr::split_commas(args) {
        let Some(first) = entry.first() else {
            continue;
        };
        let TokenTree::Ident(key) = first else {
            errors.push(syn::Error::new(
                first.span(),
                format!("#[channel] takes `key = value` arguments; {CHANNEL_EXPECTED}"),
            ));
            continue;
        };
        let given = key.to_string();
        let name = if CHANNEL_KEYS.contains(&given.as_str()) {
            given.clone()
        } else {
            let guess = attr::closest(&given, &CHANNEL_KEYS)
                .or_else(|| (given.eq_ignore_ascii_case("app")).then_some("app"));
            let hint = guess
                .map(|k| format!("did you mean `{k}`? "))
                .unwrap_or_default();
            errors.push(syn::Error::new(
                key.span(),
                format!("unknown key `{given}` in #[channel]; {hint}{CHANNEL_EXPECTED}"),
            ));
            // `App = Proxy`, `ap = Proxy`: keep the enum, so this is the only error.
            if guess != Some("app") || app.is_some() {
                continue;
            }
            "app".to_owned()
        };
        let example = if name == "app" {
            "app = Proxy".to_owned()
        } else {
            format!("{name} = \"30s\"")
        };
        let value: TokenStream = match &entry[1..] {
            [TokenTree::Punct(p), value @ ..] if p.as_char() == '=' && !value.is_empty() => {
                value.iter().cloned().collect()
            }
            [TokenTree::Group(g)] if g.delimiter() == proc_macro2::Delimiter::Parenthesis => {
                errors.push(syn::Error::new(
                    g.span(),
                    format!("write `{example}`, with `=`"),
                ));
                g.stream()
            }
            _ => {
                let at = entry.last().map_or_else(|| key.span(), TokenTree::span);
                errors.push(syn::Error::new(
                    at,
                    format!("`{name}` takes a value, as in `{example}`"),
                ));
                continue;
            }
        };
        if name == "app" {
            if app.is_some() {
                errors.push(syn::Error::new(
                    key.span(),
                    "duplicate key `app`; give it once",
                ));
            } else {
                app = app_path(value, errors);
            }
            continue;
        }
        let Some(&(_, short)) = TIMEOUT_KEYS.iter().find(|(k, _)| *k == name) else {
            continue;
        };
        if timeouts.iter().any(|t| t.key == short) {
            errors.push(syn::Error::new(
                key.span(),
                format!("duplicate key `{name}`; give it once"),
            ));
            continue;
        }
        let duration = format!(
            "`{name}` takes a duration greater than zero with a unit: `\"500ms\"`, `\"30s\"`, `\"5m\"` or `\"1h\"`"
        );
        match syn::parse2::<syn::Lit>(value.clone()) {
            Ok(syn::Lit::Str(lit)) => match parse_duration(&lit.value()) {
                Some(millis) => timeouts.push(TimeoutArg { key: short, millis }),
                None => errors.push(syn::Error::new(lit.span(), duration)),
            },
            Ok(lit) if attr::rejected_by_lexer(&lit) => {
                errors.push(attr::already_reported(lit.span()));
            }
            _ => errors.push(syn::Error::new_spanned(value, duration)),
        }
    }
    (app, timeouts)
}

/// The enum named by `app = ...`. A string (`app = "Proxy"`) or another
/// mistake is reported, and the enum still made out when it can be.
fn app_path(value: TokenStream, errors: &mut Vec<syn::Error>) -> Option<Path> {
    if let Ok(path) = syn::parse2::<Path>(value.clone()) {
        return Some(path);
    }
    match syn::parse2::<syn::Lit>(value.clone()) {
        Ok(syn::Lit::Str(lit)) => {
            let path = lit.parse::<Path>().ok();
            let written = path
                .as_ref()
                .map_or_else(|| "Proxy".to_owned(), |_| lit.value());
            errors.push(syn::Error::new(
                lit.span(),
                format!("`app` takes the enum itself, not a string: write `app = {written}`"),
            ));
            return path;
        }
        Ok(lit) if attr::rejected_by_lexer(&lit) => {
            errors.push(attr::already_reported(lit.span()));
            return None;
        }
        _ => {}
    }
    errors.push(syn::Error::new_spanned(
        &value,
        "`app` takes the name of an enum with #[derive(App)], as in `app = Proxy`",
    ));
    value.into_iter().find_map(|tree| match tree {
        proc_macro2::TokenTree::Ident(i) => Some(Path::from(i)),
        _ => None,
    })
}

/// `"500ms"`, `"30s"`, `"5m"`, `"1h"` in milliseconds; `None` if malformed or zero.
pub(crate) fn parse_duration(text: &str) -> Option<u64> {
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

/// Handler attributes on an associated constant or type: reported and
/// removed (they would otherwise expand on their own, and say the impl has
/// no #[channel]).
fn not_on_methods(attrs: &mut Vec<Attribute>, errors: &mut Vec<syn::Error>) {
    attrs.retain(|attr| {
        let Some(kind) = Kind::of(attr) else {
            return true;
        };
        errors.push(syn::Error::new_spanned(
            attr,
            format!(
                "#[{}] goes on a method (a handler), not on an associated constant or type",
                kind.name()
            ),
        ));
        false
    });
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
                cfgs: cfgs.clone(),
                read,
                args,
                receiver,
            }
        })
        .collect()
}
