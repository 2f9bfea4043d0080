//! Rules that look at more than one attribute. One function per rule.

use crate::ast::{Channel, Handler, Receiver};
use crate::attr::{Framing, Kind, Mode};

/// Checks the whole channel; errors are appended.
pub(crate) fn validate(channel: &Channel, errors: &mut Vec<syn::Error>) {
    for handler in &channel.handlers {
        check_signature(handler, errors);
        if let Some(read) = &handler.read {
            check_read_state(read, errors);
        }
    }
    check_single_handlers(channel, errors);
    check_initial_state(channel, errors);
}

/// A handler takes `&mut self`, the stream, and the event's value if it has one.
fn check_signature(handler: &Handler, errors: &mut Vec<syn::Error>) {
    let expected = match handler.kind {
        Kind::Read => "fn name(&mut self, s: &mut Stream<Self>, frame: &[u8])",
        Kind::Connect | Kind::Write | Kind::Close => "fn name(&mut self, s: &mut Stream<Self>)",
        Kind::ConnectError | Kind::OverflowError => {
            "fn name(&mut self, s: &mut Stream<Self>, error: &pants::Error)"
        }
    };
    let want_args = match handler.kind {
        Kind::Connect | Kind::Write | Kind::Close => 1,
        Kind::Read | Kind::ConnectError | Kind::OverflowError => 2,
    };
    let problem = match handler.receiver {
        Receiver::Missing => Some("takes no `self`".to_owned()),
        Receiver::Other => Some("must take `&mut self`".to_owned()),
        Receiver::MutRef if handler.args != want_args => Some(format!(
            "takes {} argument(s) after `&mut self`, expected {want_args}",
            handler.args
        )),
        Receiver::MutRef => None,
    };
    if let Some(problem) = problem {
        errors.push(syn::Error::new(
            handler.sig_span,
            format!(
                "this #[{}] handler {problem}; write `{expected}`",
                handler.kind.name()
            ),
        ));
    }
}

/// Framing values that cannot work: bad regex, `max` below a frame, `mode` without a regex.
fn check_read_state(read: &crate::attr::ReadAttr, errors: &mut Vec<syn::Error>) {
    match &read.framing {
        Framing::Regex(lit) => {
            let mode = read.mode.map_or(Mode::Search, |(m, _)| m);
            match regex::bytes::Regex::new(&regex_source(&lit.value(), mode)) {
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
    let needed = match &read.framing {
        Framing::Bytes(_, n) => *n,
        Framing::Delimiter(_, d) => d.len() as u64,
        Framing::Any | Framing::Regex(_) => 0,
    };
    if let Some((lit, max)) = &read.max {
        if *max < needed {
            errors.push(syn::Error::new(
                lit.span(),
                format!("`max = {max}` is smaller than one frame of this state ({needed} bytes); raise it to at least {needed}"),
            ));
        }
    }
}

/// The regex the runtime compiles: match mode is anchored at the first byte.
pub(crate) fn regex_source(pattern: &str, mode: Mode) -> String {
    match mode {
        Mode::Search => pattern.to_owned(),
        Mode::Match => format!("\\A(?:{pattern})"),
    }
}

/// Events other than reads have one handler each.
fn check_single_handlers(channel: &Channel, errors: &mut Vec<syn::Error>) {
    for (i, handler) in channel.handlers.iter().enumerate() {
        if handler.kind == Kind::Read {
            continue;
        }
        if let Some(first) = channel.handlers[..i]
            .iter()
            .find(|h| h.kind == handler.kind && h.cfgs.is_empty())
        {
            if handler.cfgs.is_empty() {
                errors.push(syn::Error::new(
                    handler.attr_span,
                    format!(
                        "a second #[{}] handler; `{}` already handles this event, and a channel has one handler per event",
                        handler.kind.name(),
                        first.name
                    ),
                ));
            }
        }
    }
}

/// Several read states need exactly one marked `initial`; one state is initial by itself.
fn check_initial_state(channel: &Channel, errors: &mut Vec<syn::Error>) {
    let states: Vec<&Handler> = channel
        .handlers
        .iter()
        .filter(|h| h.kind == Kind::Read)
        .collect();
    let initial: Vec<&Handler> = states
        .iter()
        .copied()
        .filter(|h| h.read.as_ref().is_some_and(|r| r.initial.is_some()))
        .collect();
    if initial.len() > 1 {
        for extra in &initial[1..] {
            let span = extra
                .read
                .as_ref()
                .and_then(|r| r.initial)
                .unwrap_or(extra.attr_span);
            errors.push(syn::Error::new(
                span,
                format!("`{}` is already the initial read state; mark only one #[on_read] method `initial`", initial[0].name),
            ));
        }
    }
    if states.len() > 1 && initial.is_empty() {
        errors.push(syn::Error::new(
            states[0].attr_span,
            "several #[on_read] states and none is marked `initial`; add `initial` to the one that reads first, e.g. #[on_read(delimiter = \"\\r\\n\", initial)]",
        ));
    }
}
