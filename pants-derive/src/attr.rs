//! Parsing of the method attributes: `#[on_read(...)]` and the bare event markers.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, Lit, LitInt, LitStr};

/// The events a method can handle, one attribute each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Read,
    Connect,
    Write,
    Close,
    ConnectError,
    OverflowError,
    PauseWriting,
    ResumeWriting,
    Timeout,
    Shutdown,
    Handshake,
    HandshakeError,
    DatagramError,
}

impl Kind {
    pub(crate) const ALL: [(&'static str, Self); 13] = [
        ("on_read", Self::Read),
        ("on_connect", Self::Connect),
        ("on_write", Self::Write),
        ("on_close", Self::Close),
        ("on_connect_error", Self::ConnectError),
        ("on_overflow_error", Self::OverflowError),
        ("on_pause_writing", Self::PauseWriting),
        ("on_resume_writing", Self::ResumeWriting),
        ("on_timeout", Self::Timeout),
        ("on_shutdown", Self::Shutdown),
        ("on_handshake", Self::Handshake),
        ("on_handshake_error", Self::HandshakeError),
        ("on_datagram_error", Self::DatagramError),
    ];

    pub(crate) fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("on_read", |(n, _)| n)
    }

    /// Which helper attribute this is, if any: `on_read`, `pants::on_read`,
    /// or any path that ends in a handler attribute's name
    /// (`pants::prelude::on_read`).
    pub(crate) fn of(attr: &Attribute) -> Option<Self> {
        let last = attr.path().segments.last()?;
        Self::ALL
            .iter()
            .find(|(n, _)| last.ident == n)
            .map(|(_, k)| *k)
    }
}

/// A byte count written as an integer literal (`bytes = 8`, `max = 4096u32`):
/// its value, emitted as an unsuffixed literal where a `usize` is expected.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Count {
    pub(crate) value: u64,
    pub(crate) span: Span,
}

impl quote::ToTokens for Count {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let mut lit = proc_macro2::Literal::u64_unsuffixed(self.value);
        lit.set_span(self.span);
        tokens.extend([TokenTree::Literal(lit)]);
    }
}

/// An integer literal's value as a byte count; any unsigned suffix is fine.
pub(crate) fn parse_count(lit: &LitInt, key: &str) -> syn::Result<Count> {
    let suffix = lit.suffix();
    if !matches!(suffix, "" | "u8" | "u16" | "u32" | "u64" | "u128" | "usize") {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "`{key} = {lit}`: a byte count is an unsigned integer; write `{key} = {}`",
                lit.base10_digits()
            ),
        ));
    }
    let value = lit.base10_parse::<u64>().map_err(|_| {
        syn::Error::new(
            lit.span(),
            format!("`{key} = {lit}` is too large for a byte count"),
        )
    })?;
    Ok(Count {
        value,
        span: lit.span(),
    })
}

/// How an `#[on_read]` state frames input.
#[derive(Clone)]
pub(crate) enum Framing {
    Any,
    Bytes(Count),
    /// `bytes = expr`: evaluated on entering the state.
    BytesExpr(Box<Expr>),
    /// `prefix = u16`: the width in bytes, and the type's span.
    Prefix(usize),
    Delimiter(LitStr, Vec<u8>),
    Regex(LitStr),
}

/// Regex mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Search,
    Match,
}

/// Everything `#[on_read(...)]` says.
pub(crate) struct ReadAttr {
    pub(crate) framing: Framing,
    pub(crate) framing_span: Span,
    pub(crate) mode: Option<(Mode, Span)>,
    pub(crate) max: Option<Count>,
    pub(crate) initial: Option<Span>,
}

pub(crate) const READ_KEYS: &str =
    "`delimiter`, `bytes`, `regex`, `prefix`, `mode`, `max`, `initial`";
const KEYS: [&str; 7] = [
    "delimiter",
    "bytes",
    "regex",
    "prefix",
    "mode",
    "max",
    "initial",
];

/// An example of each `#[on_read]` key, for messages.
fn example(key: &str) -> &'static str {
    match key {
        "delimiter" => "delimiter = \"\\r\\n\"",
        "bytes" => "bytes = 8",
        "regex" => "regex = r\"\\s+\"",
        "prefix" => "prefix = u16",
        "mode" => "mode = \"match\"",
        "max" => "max = 4096",
        _ => "initial",
    }
}

/// The tokens of each comma-separated entry of an attribute's arguments.
pub(crate) fn split_commas(args: TokenStream) -> Vec<Vec<TokenTree>> {
    let mut entries = vec![Vec::new()];
    for tree in args {
        match &tree {
            TokenTree::Punct(p) if p.as_char() == ',' => entries.push(Vec::new()),
            _ => entries.last_mut().expect("one entry at least").push(tree),
        }
    }
    entries
}

/// What the keys seen so far in one `#[on_read(...)]` say.
#[derive(Default)]
struct Seen {
    keys: Vec<String>,
    framing: Option<String>,
}

/// Parses `#[on_read]` / `#[on_read(key = value, ...)]`, collecting errors.
///
/// Entry by entry, so a mistake in one (a bare value, `initial = true`, a
/// key without `=`) is one error in these words and the others still count.
pub(crate) fn parse_on_read(attr: &Attribute, errors: &mut Vec<syn::Error>) -> ReadAttr {
    let mut out = ReadAttr {
        framing: Framing::Any,
        framing_span: Span::call_site(),
        mode: None,
        max: None,
        initial: None,
    };
    let list = match &attr.meta {
        syn::Meta::Path(_) => return out,
        syn::Meta::NameValue(nv) => {
            errors.push(syn::Error::new_spanned(
                &nv.value,
                format!("#[on_read] takes `key = value` pairs in parentheses, as in #[on_read(delimiter = \"\\n\")]; the keys are {READ_KEYS}"),
            ));
            return out;
        }
        syn::Meta::List(list) => list,
    };
    let mut seen = Seen::default();
    for entry in split_commas(list.tokens.clone()) {
        let Some(first) = entry.first() else {
            continue;
        };
        if !matches!(first, TokenTree::Ident(_)) {
            errors.push(bare_value_error(first));
            continue;
        }
        let tokens: TokenStream = entry.into_iter().collect();
        let parser = syn::meta::parser(|meta| parse_key(&meta, &mut out, &mut seen, errors));
        if let Err(e) = syn::parse::Parser::parse2(parser, tokens) {
            errors.push(e);
        }
    }
    out
}

/// `#[on_read("\r\n")]`: a value where a key should be.
fn bare_value_error(first: &TokenTree) -> syn::Error {
    let text = first.to_string();
    let hint = match first {
        TokenTree::Literal(_) if text.starts_with(['"', 'r', 'b']) => {
            format!("for a delimiter write `delimiter = {text}` (or `regex = {text}`); ")
        }
        TokenTree::Literal(_) if text.starts_with(|c: char| c.is_ascii_digit()) => {
            format!("for frames of {text} bytes write `bytes = {text}`; ")
        }
        _ => String::new(),
    };
    syn::Error::new(
        first.span(),
        format!(
            "#[on_read] takes `key = value` pairs, not a bare value; {hint}the keys are {READ_KEYS}"
        ),
    )
}

/// One `key = value` (or `initial`) of `#[on_read(...)]`.
fn parse_key(
    meta: &ParseNestedMeta<'_>,
    out: &mut ReadAttr,
    seen: &mut Seen,
    errors: &mut Vec<syn::Error>,
) -> syn::Result<()> {
    let key = meta
        .path
        .get_ident()
        .map(ToString::to_string)
        .unwrap_or_default();
    let key_span = meta
        .path
        .get_ident()
        .map_or_else(Span::call_site, syn::Ident::span);
    if !KEYS.contains(&key.as_str()) {
        let hint = closest(&key, &KEYS)
            .map(|k| format!("did you mean `{k}`? "))
            .unwrap_or_default();
        errors.push(meta.error(format!(
            "unknown key `{key}` in #[on_read]; {hint}expected one of {READ_KEYS}"
        )));
        return skip_rest(meta);
    }
    if seen.keys.contains(&key) {
        errors.push(meta.error(format!("duplicate key `{key}`; give it once")));
        return skip_rest(meta);
    }
    seen.keys.push(key.clone());
    if key == "initial" {
        if !meta.input.is_empty() {
            errors.push(syn::Error::new(
                key_span,
                "`initial` is a flag: write `initial` alone, not `initial = ...` (and leave it out of the states that are not initial)",
            ));
            return skip_rest(meta);
        }
        out.initial = Some(key_span);
        return Ok(());
    }
    if !meta.input.peek(syn::Token![=]) {
        let message = if meta.input.peek(syn::token::Paren) {
            format!("write `{}`, with `=`", example(&key))
        } else {
            format!("`{key}` takes a value, as in `{}`", example(&key))
        };
        errors.push(syn::Error::new(key_span, message));
        return skip_rest(meta);
    }
    match key.as_str() {
        "delimiter" | "bytes" | "regex" | "prefix" => {
            if let Some(first) = &seen.framing {
                errors.push(meta.error(format!(
                    "`{key}` and `{first}` are two framing kinds; a read state has one (use another #[on_read] method for another state)"
                )));
                return skip_rest(meta);
            }
            seen.framing = Some(key.clone());
            out.framing_span = key_span;
            out.framing = parse_framing(&key, meta, errors)?;
        }
        "mode" => {
            let value = match meta.value()?.parse::<Lit>()? {
                Lit::Str(value) => value,
                lit if rejected_by_lexer(&lit) => {
                    errors.push(already_reported(lit.span()));
                    return Ok(());
                }
                lit => {
                    errors.push(syn::Error::new(
                        lit.span(),
                        "expected `mode = \"search\"` or `mode = \"match\"`",
                    ));
                    return Ok(());
                }
            };
            match value.value().as_str() {
                "search" => out.mode = Some((Mode::Search, value.span())),
                "match" => out.mode = Some((Mode::Match, value.span())),
                other => errors.push(syn::Error::new(
                    value.span(),
                    format!("unknown regex mode `{other}`; expected `mode = \"search\"` or `mode = \"match\"`"),
                )),
            }
        }
        _ => {
            let value: Expr = meta.value()?.parse()?;
            let Expr::Lit(syn::ExprLit {
                lit: Lit::Int(lit), ..
            }) = &value
            else {
                errors.push(syn::Error::new_spanned(
                    &value,
                    "`max` takes an integer literal, as in `max = 4096` or `max = 64_000`: #[on_read] checks it against the state's frame size when it expands, before constants and arithmetic have values",
                ));
                return Ok(());
            };
            match parse_count(lit, "max") {
                Ok(max) if max.value == 0 => errors.push(syn::Error::new(
                    max.span,
                    "`max = 0` leaves no room for a frame; give a byte count > 0",
                )),
                Ok(max) => out.max = Some(max),
                Err(e) => errors.push(e),
            }
        }
    }
    Ok(())
}

fn parse_framing(
    key: &str,
    meta: &ParseNestedMeta<'_>,
    errors: &mut Vec<syn::Error>,
) -> syn::Result<Framing> {
    let expr: Expr = meta.value()?.parse()?;
    if key == "prefix" {
        return parse_prefix(&expr);
    }
    let Expr::Lit(lit) = &expr else {
        if key == "bytes" {
            return Ok(Framing::BytesExpr(Box::new(expr)));
        }
        let example = if key == "regex" {
            "regex = r\"\\s+\""
        } else {
            "delimiter = \"\\r\\n\""
        };
        return Err(syn::Error::new_spanned(
            &expr,
            format!("`{key}` takes a literal, checked at compile time, as in `{example}`"),
        ));
    };
    match (key, &lit.lit) {
        (_, other) if rejected_by_lexer(other) => Err(already_reported(other.span())),
        ("delimiter", Lit::Str(s)) => {
            let bytes = s.value().into_bytes();
            if bytes.is_empty() {
                errors.push(syn::Error::new(s.span(), "empty delimiter: a frame would never end; give at least one byte, e.g. `delimiter = \"\\r\\n\"`"));
            }
            Ok(Framing::Delimiter(s.clone(), bytes))
        }
        ("delimiter", Lit::ByteStr(b)) => {
            let bytes = b.value();
            if bytes.is_empty() {
                errors.push(syn::Error::new(b.span(), "empty delimiter: a frame would never end; give at least one byte, e.g. `delimiter = b\"\\r\\n\"`"));
            }
            Ok(Framing::Delimiter(
                LitStr::new(&String::from_utf8_lossy(&bytes), b.span()),
                bytes,
            ))
        }
        ("bytes", Lit::Int(i)) => {
            let count = parse_count(i, "bytes")?;
            if count.value == 0 {
                errors.push(syn::Error::new(
                    i.span(),
                    "`bytes = 0` would hand out empty frames forever; give a size > 0",
                ));
            }
            Ok(Framing::Bytes(count))
        }
        ("regex", Lit::Str(s)) => Ok(Framing::Regex(s.clone())),
        ("delimiter", other) => Err(syn::Error::new(
            other.span(),
            "expected a string, as in `delimiter = \"\\r\\n\"`",
        )),
        ("bytes", other) => Err(syn::Error::new(
            other.span(),
            "expected a byte count, as in `bytes = 8`, or an expression, as in `bytes = self.length`",
        )),
        (_, other) => Err(syn::Error::new(
            other.span(),
            "expected a string, as in `regex = r\"\\s+\"`",
        )),
    }
}

/// `prefix = u8 | u16 | u32`.
fn parse_prefix(expr: &Expr) -> syn::Result<Framing> {
    let width = match expr {
        Expr::Path(p) if p.qself.is_none() => {
            p.path
                .get_ident()
                .and_then(|i| match i.to_string().as_str() {
                    "u8" => Some(1),
                    "u16" => Some(2),
                    "u32" => Some(4),
                    _ => None,
                })
        }
        _ => None,
    };
    width.map(Framing::Prefix).ok_or_else(|| {
        syn::Error::new_spanned(
            expr,
            "a length prefix is `u8`, `u16` or `u32` (big endian), as in `prefix = u16`",
        )
    })
}

/// Skips what is left of an entry (each entry is parsed on its own).
fn skip_rest(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    let _: TokenStream = meta.input.parse()?;
    Ok(())
}

/// Whether a literal is one the lexer rejected, and so has reported: syn
/// gives a string with an invalid escape (`"\\d+"`) as `Lit::Verbatim`.
pub(crate) fn rejected_by_lexer(lit: &Lit) -> bool {
    let Lit::Verbatim(lit) = lit else {
        return false;
    };
    let text = lit.to_string();
    ['"', '\'', 'r', 'b', 'c']
        .iter()
        .any(|c| text.starts_with(*c))
}

/// The marker of an error that rustc has already reported (see
/// [`rejected_by_lexer`]): the macro fails, so the user's impl is emitted
/// as it is, but adds no message of its own.
const ALREADY_REPORTED: &str = "\u{0}pants: already reported";

pub(crate) fn already_reported(span: Span) -> syn::Error {
    syn::Error::new(span, ALREADY_REPORTED)
}

/// The errors as `compile_error!`s, less the ones already reported.
pub(crate) fn to_compile_errors(errors: Vec<syn::Error>) -> TokenStream {
    errors
        .into_iter()
        .filter(|e| e.to_string() != ALREADY_REPORTED)
        .map(|e| e.to_compile_error())
        .collect()
}

/// The known key a misspelt one most likely meant: at most two edits away.
pub(crate) fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}
