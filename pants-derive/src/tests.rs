//! Unit tests of the parse and validate steps: cheaper than a UI case for
//! each small rule. Each mistake must give exactly one error.

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::Parser;

use crate::ast::{self, Channel};
use crate::attr::{self, Framing};
use crate::valid;

/// The errors `#[channel(args)]` on `item` reports before generating code.
fn errors(args: TokenStream, item: TokenStream) -> Vec<String> {
    let item: syn::ItemImpl = syn::parse2(item).expect("an impl block");
    let mut errors = Vec::new();
    let channel = Channel::from_syn(args, item, &mut errors);
    if errors.is_empty() {
        valid::validate(&channel, &mut errors);
    }
    errors.iter().map(ToString::to_string).collect()
}

/// The one error of a channel, which must contain `part`.
fn one_error(args: TokenStream, item: TokenStream, part: &str) {
    let errors = errors(args, item);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].contains(part), "{:?} lacks {part:?}", errors[0]);
}

fn on_read(attr: TokenStream) -> (attr::ReadAttr, Vec<String>) {
    let attr: syn::Attribute = syn::Attribute::parse_outer
        .parse2(attr)
        .expect("an attribute")
        .remove(0);
    let mut errors = Vec::new();
    let read = attr::parse_on_read(&attr, &mut errors);
    (read, errors.iter().map(ToString::to_string).collect())
}

fn one_read_error(attr: TokenStream, part: &str) {
    let (_, errors) = on_read(attr);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].contains(part), "{:?} lacks {part:?}", errors[0]);
}

#[test]
fn durations() {
    assert_eq!(ast::parse_duration("500ms"), Some(500));
    assert_eq!(ast::parse_duration("30s"), Some(30_000));
    assert_eq!(ast::parse_duration("5m"), Some(300_000));
    assert_eq!(ast::parse_duration("5min"), Some(300_000));
    assert_eq!(ast::parse_duration(" 1h "), Some(3_600_000));
    for bad in ["0s", "30", "s", "1x", "-1s", "99999999999999999999h"] {
        assert_eq!(ast::parse_duration(bad), None, "{bad}");
    }
}

#[test]
fn closest_key() {
    let keys = ["app", "idle_timeout", "read_timeout"];
    assert_eq!(attr::closest("idle_timout", &keys), Some("idle_timeout"));
    assert_eq!(attr::closest("App", &keys), Some("app"));
    assert_eq!(attr::closest("application", &keys), None);
}

#[test]
fn counts_take_unsigned_suffixes() {
    let count = |lit: TokenStream| attr::parse_count(&syn::parse2(lit).unwrap(), "bytes");
    assert_eq!(count(quote!(4u32)).unwrap().value, 4);
    assert_eq!(count(quote!(4_096usize)).unwrap().value, 4096);
    assert_eq!(count(quote!(8)).unwrap().value, 8);
    assert!(
        count(quote!(4i32))
            .unwrap_err()
            .to_string()
            .contains("unsigned")
    );
    assert!(
        count(quote!(99999999999999999999999))
            .unwrap_err()
            .to_string()
            .contains("too large")
    );
}

#[test]
fn on_read_keys() {
    let (read, errors) = on_read(quote!(#[on_read(bytes = 4u32, max = 4096u32, initial)]));
    assert!(errors.is_empty(), "{errors:?}");
    assert!(matches!(read.framing, Framing::Bytes(c) if c.value == 4));
    assert_eq!(read.max.map(|m| m.value), Some(4096));
    assert!(read.initial.is_some());
    let (read, errors) = on_read(quote!(#[pants::on_read(delimiter = b"\r\n")]));
    assert!(errors.is_empty(), "{errors:?}");
    assert!(matches!(read.framing, Framing::Delimiter(_, ref d) if d == b"\r\n"));
    let (read, errors) = on_read(quote!(#[on_read(bytes = self.len + 2)]));
    assert!(errors.is_empty(), "{errors:?}");
    assert!(matches!(read.framing, Framing::BytesExpr(_)));
}

#[test]
fn on_read_mistakes_are_one_error_each() {
    one_read_error(quote!(#[on_read("\r\n")]), "delimiter = \"\\r\\n\"");
    one_read_error(quote!(#[on_read(8)]), "bytes = 8");
    one_read_error(quote!(#[on_read(initial = true)]), "is a flag");
    one_read_error(quote!(#[on_read(delimiter("\n"))]), "with `=`");
    one_read_error(quote!(#[on_read(delimiter)]), "takes a value");
    one_read_error(
        quote!(#[on_read(delimter = "\n")]),
        "did you mean `delimiter`",
    );
    one_read_error(
        quote!(#[on_read(bytes = 4, delimiter = "\n")]),
        "two framing kinds",
    );
    one_read_error(
        quote!(#[on_read(bytes = 4, bytes = 8)]),
        "duplicate key `bytes`",
    );
    one_read_error(quote!(#[on_read(max = LIMIT)]), "integer literal");
    one_read_error(quote!(#[on_read(max = 1024 * 4)]), "integer literal");
    one_read_error(quote!(#[on_read(max = 0)]), "`max = 0`");
    one_read_error(quote!(#[on_read(bytes = 0)]), "`bytes = 0`");
    one_read_error(quote!(#[on_read(delimiter = "")]), "empty delimiter");
    one_read_error(quote!(#[on_read(prefix = u64)]), "`u8`, `u16` or `u32`");
    one_read_error(
        quote!(#[on_read(regex = "a", mode = "first")]),
        "unknown regex mode",
    );
    // The keys after a mistake still count.
    let (read, errors) = on_read(quote!(#[on_read("\n", bytes = 4, initial)]));
    assert_eq!(errors.len(), 1);
    assert!(matches!(read.framing, Framing::Bytes(_)) && read.initial.is_some());
}

#[test]
fn channel_args_keep_app() {
    let app = |args: TokenStream| {
        let mut errors = Vec::new();
        let (app, timeouts) = ast::parse_args(args, &mut errors);
        let app = app.map(|p| quote!(#p).to_string());
        (app, timeouts.len(), errors.len())
    };
    assert_eq!(
        app(quote!(app = Proxy, idle_timeout = "30s")),
        (Some("Proxy".into()), 1, 0)
    );
    assert_eq!(
        app(quote!(app = crate::Proxy<u8>)).0.as_deref(),
        Some("crate :: Proxy < u8 >")
    );
    // Mistakes: one error, and the enum is kept.
    for args in [
        quote!(app = "Proxy"),
        quote!(App = Proxy),
        quote!(app(Proxy)),
        quote!(app = &Proxy),
    ] {
        assert_eq!(app(args.clone()), (Some("Proxy".into()), 0, 1), "{args}");
    }
    assert_eq!(app(quote!(app)), (None, 0, 1));
    assert_eq!(app(quote!(idle_timeout = 30)), (None, 0, 1));
    assert_eq!(app(quote!(idle_timout = "30s")), (None, 0, 1));
    assert_eq!(app(quote!(app = A, app = B)), (Some("A".into()), 0, 1));
}

#[test]
fn valid_channels_have_no_errors() {
    let errors = errors(
        quote!(),
        quote! {
            impl Echo {
                #[on_read(delimiter = "\n", initial)]
                fn line(self: &mut Self, s: &mut Stream<Self>, line: &[u8]) {}
                #[on_read]
                fn pair<'a>(&'a mut self, s: &mut pants::Stream<'_, Echo>, (a, b): (u16, u16)) -> () {}
                #[on_read(regex = r"(\w+)", mode = "match")]
                fn word(&mut self, s: &mut Stream<Self>, m: Match<'_>) {}
                #[on_connect_error]
                fn failed(&mut self, s: &mut Stream<Self>, e: &pants::Error) {}
                #[on_timeout]
                fn expired(&mut self, s: &mut Stream<Self>, t: pants::Timeout) {}
                #[cfg(unix)]
                #[on_close]
                fn a(&mut self, s: &mut Stream<Self>) {}
                #[cfg(not(unix))]
                #[on_close]
                fn b(&mut self, s: &mut Stream<Self>) {}
            }
        },
    );
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn handler_mistakes_are_one_error_each() {
    let handler = |sig: TokenStream, part: &str| {
        one_error(quote!(), quote!(impl Echo { #sig {} }), part);
    };
    handler(
        quote!(#[on_read] fn d(&mut self, s: &mut Stream<Self>, d: &[u8]) -> usize),
        "returns nothing",
    );
    handler(
        quote!(#[on_read] async fn d(&mut self, s: &mut Stream<Self>, d: &[u8])),
        "`async`",
    );
    handler(
        quote!(#[on_read] unsafe fn d(&mut self, s: &mut Stream<Self>, d: &[u8])),
        "`unsafe`",
    );
    handler(
        quote!(#[on_read] fn d<T>(&mut self, s: &mut Stream<Self>, d: &[u8])),
        "generic",
    );
    handler(
        quote!(#[on_read] fn d(&mut self, s: &mut Stream<Self>, d: impl AsRef<[u8]>)),
        "generic",
    );
    handler(
        quote!(#[on_read] fn d(&self, s: &mut Stream<Self>, d: &[u8])),
        "`&mut self`",
    );
    handler(
        quote!(#[on_read] fn d(s: &mut Stream<Self>, d: &[u8])),
        "no `self`",
    );
    handler(
        quote!(#[on_read] fn d(&mut self, s: &mut Stream<Self>)),
        "expected 2",
    );
    handler(
        quote!(#[on_connect] fn c(&mut self, s: Stream<Self>)),
        "by `&mut`",
    );
    handler(
        quote!(#[on_connect] fn c(&mut self, s: &mut Stream)),
        "needs its channel type",
    );
    handler(
        quote!(#[on_connect] fn c(&mut self, s: &mut Stream<Other>)),
        "`Stream<Other>`",
    );
    handler(
        quote!(#[on_read] fn d(&mut self, s: &mut Stream<Self>, d: &str)),
        "from_utf8",
    );
    handler(
        quote!(#[on_read] fn d(&mut self, s: &mut Stream<Self>, d: &'static [u8])),
        "`'static`",
    );
    handler(
        quote!(#[on_read] fn d(&mut self, s: &mut Stream<Self>, d: Match<'_>)),
        "match mode",
    );
    handler(
        quote!(#[on_read] fn d(&mut self, s: &mut Stream<Self>, d: (u8, usize))),
        "`usize`",
    );
    handler(
        quote!(#[on_read(bytes = 4)] fn d(&mut self, s: &mut Stream<Self>, d: u32)),
        "own size",
    );
    handler(
        quote!(#[on_read(max = 1, delimiter = "\r\n")] fn d(&mut self, s: &mut Stream<Self>, d: &[u8])),
        "smaller than one frame",
    );
    handler(
        quote!(#[on_read(regex = "(a", mode = "match")] fn d(&mut self, s: &mut Stream<Self>, d: &[u8])),
        "\n    (a\n",
    );
    handler(
        quote!(#[on_read(regex = "a*")] fn d(&mut self, s: &mut Stream<Self>, d: &[u8])),
        "empty string",
    );
    handler(
        quote!(#[on_connect_error] fn f(&mut self, s: &mut Stream<Self>, e: pants::Error)),
        "`&pants::Error`",
    );
    handler(
        quote!(#[on_timeout] fn t(&mut self, s: &mut Stream<Self>, t: Duration)),
        "`pants::Timeout`",
    );
    handler(
        quote!(#[on_close(now)] fn c(&mut self, s: &mut Stream<Self>)),
        "takes no arguments",
    );
}

#[test]
fn handlers_and_states_across_methods() {
    let connect = quote!(
        #[on_connect]
        fn a(&mut self, s: &mut Stream<Self>) {}
    );
    let connect2 = quote!(
        #[on_connect]
        fn b(&mut self, s: &mut Stream<Self>) {}
    );
    one_error(
        quote!(),
        quote!(impl E { #connect #connect2 }),
        "a second #[on_connect]",
    );
    let cfg_connect = quote!(
        #[cfg(unix)]
        #[on_connect]
        fn b(&mut self, s: &mut Stream<Self>) {}
    );
    one_error(
        quote!(),
        quote!(impl E { #connect #cfg_connect }),
        "all need a #[cfg]",
    );
    let line = quote!(
        #[on_read(delimiter = "\n")]
        fn line(&mut self, s: &mut Stream<Self>, l: &[u8]) {}
    );
    let block = quote!(
        #[on_read(bytes = 4)]
        fn block(&mut self, s: &mut Stream<Self>, b: &[u8]) {}
    );
    one_error(
        quote!(),
        quote!(impl E { #line #block }),
        "none is marked `initial`",
    );
    // Whether two #[cfg]'d states are both on is known at compile time only.
    let cfg_line = quote!(
        #[cfg(unix)]
        #[on_read(delimiter = "\n")]
        fn line(&mut self, s: &mut Stream<Self>, l: &[u8]) {}
    );
    let cfg_block = quote!(
        #[cfg(windows)]
        #[on_read(bytes = 4)]
        fn block(&mut self, s: &mut Stream<Self>, b: &[u8]) {}
    );
    assert!(errors(quote!(), quote!(impl E { #cfg_line #cfg_block })).is_empty());
    let first = quote!(
        #[on_read(delimiter = "\n", initial)]
        fn line(&mut self, s: &mut Stream<Self>, l: &[u8]) {}
    );
    let second = quote!(
        #[on_read(bytes = 4, initial)]
        fn block(&mut self, s: &mut Stream<Self>, b: &[u8]) {}
    );
    one_error(
        quote!(),
        quote!(impl E { #first #second }),
        "`line` is already the initial",
    );
    let constant = quote!(
        #[on_read]
        const N: usize = 1;
    );
    one_error(quote!(), quote!(impl E { #constant }), "goes on a method");
}

#[test]
fn platform_sized_types() {
    let find = |ty: TokenStream| {
        let ty: syn::Type = syn::parse2(ty).unwrap();
        valid::platform_sized_in(&ty).map(|t| quote!(#t).to_string())
    };
    assert_eq!(find(quote!(usize)).as_deref(), Some("usize"));
    assert_eq!(find(quote!((u8, [isize; 2]))).as_deref(), Some("isize"));
    assert_eq!(find(quote!((u8, u64, [u8; 4]))), None);
}

#[test]
fn types_as_written() {
    let text = |ty: TokenStream| valid::type_text(&syn::parse2(ty).unwrap());
    assert_eq!(text(quote!((u16, u16))), "(u16, u16)");
    assert_eq!(text(quote!(Option<&pants::Error>)), "Option<&pants::Error>");
    assert_eq!(text(quote!([u8; 4])), "[u8; 4]");
}
