//! The expansion shared by `#[corral::main]` and `#[corral::test]`.
//!
//! The pieces, in the order [`expand`] runs them:
//!
//! 1. [`ItemFn::parse`] splits the item into outer attributes, visibility,
//!    signature, inner attributes and the body. The body is kept as raw
//!    tokens (never parsed into statements), so its spans survive untouched
//!    and a half-typed body in an IDE does not stop the expansion.
//! 2. [`Config::parse`] reads the attribute arguments (`flavor`,
//!    `worker_threads`, `start_paused`; `start_paused = true` needs the
//!    current-thread flavor) and [`check_signature`] checks the function. Every
//!    problem found becomes a [`syn::Error`] spanned on the offending tokens;
//!    they are combined so the user sees all of them in one build.
//! 3. [`expand_fn`] writes the synchronous function: the body moves into an
//!    `async move` block which a freshly built runtime blocks on.
//!
//! On error the output is the errors plus the closest item that still
//! compiles, so one mistake produces one diagnostic: a bad attribute
//! argument or a missing `async` still expands the body (with the default
//! configuration) so that type errors in it keep being reported; a signature
//! the runtime cannot call (parameters, generics) leaves behind an empty
//! function of the same name, which keeps `main` present and stops rustc
//! from piling its own complaints about the signature on top of ours.

use proc_macro2::{Delimiter, Group, Literal, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Lit, Meta, Signature, Token, Visibility};

/// Which attribute is being expanded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `#[corral::main]`: multi-thread by default.
    Main,
    /// `#[corral::test]`: current-thread by default, adds `#[test]`.
    Test,
}

impl Kind {
    /// The attribute as the user wrote it, for messages.
    fn attr(self) -> &'static str {
        match self {
            Kind::Main => "#[corral::main]",
            Kind::Test => "#[corral::test]",
        }
    }

    fn default_flavor(self) -> Flavor {
        match self {
            Kind::Main => Flavor::MultiThread,
            Kind::Test => Flavor::CurrentThread,
        }
    }
}

/// The runtime flavors a user can ask for with `flavor = "..."`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    MultiThread,
    CurrentThread,
}

/// The accepted `flavor` strings, for parsing and for error messages.
const FLAVORS: [(&str, Flavor); 2] = [
    ("multi_thread", Flavor::MultiThread),
    ("current_thread", Flavor::CurrentThread),
];

/// The accepted attribute keys, for error messages.
const KEYS: &str = "`flavor`, `worker_threads`, `start_paused`";

/// Collects errors so that all of them are reported at once.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn spanned(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    fn into_compile_error(self) -> TokenStream {
        self.0.map(syn::Error::into_compile_error).unwrap_or_default()
    }
}

/// The runtime configuration read from the attribute arguments.
struct Config {
    flavor: Flavor,
    /// The thread count, as an unsuffixed literal carrying the user's span.
    worker_threads: Option<Literal>,
    /// `start_paused = true/false`, with the user's span.
    start_paused: Option<syn::LitBool>,
}

impl Config {
    /// Reads `flavor = "..."` and `worker_threads = N`. Whatever is wrong is
    /// pushed onto `errors`; the returned config then holds the defaults for
    /// the bad keys so that the body can still be expanded.
    fn parse(kind: Kind, args: TokenStream, errors: &mut Errors) -> Config {
        let mut config = Config {
            flavor: kind.default_flavor(),
            worker_threads: None,
            start_paused: None,
        };
        let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args) {
            Ok(metas) => metas,
            Err(error) => {
                errors.push(error);
                return config;
            }
        };

        // `Some` once the key was seen, holding the whole `key = value` so a
        // later conflict can point at it.
        let mut flavor: Option<&Meta> = None;
        let mut worker_threads: Option<&Meta> = None;
        let mut start_paused: Option<&Meta> = None;
        let mut flavor_ok = true;

        for meta in &metas {
            let key = meta.path();
            let name = key.get_ident().map(ToString::to_string).unwrap_or_default();
            match (name.as_str(), meta) {
                ("flavor", Meta::NameValue(nv)) => {
                    if flavor.is_some() {
                        errors.spanned(key, "`flavor` is given more than once");
                        continue;
                    }
                    flavor = Some(meta);
                    match parse_flavor(&nv.value) {
                        Ok(f) => config.flavor = f,
                        Err(error) => {
                            flavor_ok = false;
                            errors.push(error);
                        }
                    }
                }
                ("worker_threads", Meta::NameValue(nv)) => {
                    if worker_threads.is_some() {
                        errors.spanned(key, "`worker_threads` is given more than once");
                        continue;
                    }
                    worker_threads = Some(meta);
                    match parse_worker_threads(&nv.value) {
                        Ok(n) => config.worker_threads = Some(n),
                        Err(error) => errors.push(error),
                    }
                }
                ("start_paused", Meta::NameValue(nv)) => {
                    if config.start_paused.is_some() {
                        errors.spanned(key, "`start_paused` is given more than once");
                        continue;
                    }
                    match &nv.value {
                        Expr::Lit(syn::ExprLit {
                            lit: Lit::Bool(b), ..
                        }) => {
                            config.start_paused = Some(b.clone());
                            start_paused = Some(meta);
                        }
                        other => errors.spanned(other, "`start_paused` takes `true` or `false`"),
                    }
                }
                ("start_paused", _) => {
                    errors.spanned(meta, "`start_paused` takes a boolean, e.g. `start_paused = true`")
                }
                ("flavor", _) => {
                    flavor_ok = false;
                    errors.spanned(
                        meta,
                        "`flavor` takes a string, e.g. `flavor = \"current_thread\"`",
                    );
                }
                ("worker_threads", _) => {
                    errors.spanned(meta, "`worker_threads` takes a number, e.g. `worker_threads = 4`")
                }
                ("multi_thread" | "current_thread", Meta::Path(_)) => {
                    errors.spanned(
                        meta,
                        format_args!(
                            "unknown attribute `{name}`; choose the runtime with `flavor = \"{name}\"`",
                        ),
                    )
                }
                _ => errors.spanned(
                    key,
                    format_args!(
                        "unknown attribute `{}`; expected one of: {KEYS}",
                        key.to_token_stream().to_string().replace(' ', ""),
                    ),
                ),
            }
        }

        // `worker_threads` sizes the multi-thread runtime only. (A bad
        // `flavor` has already been reported; don't guess what it meant.)
        if let (Some(meta), Flavor::CurrentThread, true) = (worker_threads, config.flavor, flavor_ok) {
            let n = config.worker_threads.clone();
            let message = if flavor.is_some() {
                "`worker_threads` cannot be used with `flavor = \"current_thread\"`, \
                 which runs every task on the thread that calls `block_on`"
                    .to_owned()
            } else {
                let attr = kind.attr();
                let n = n.map_or_else(|| "N".to_owned(), |n| n.to_string());
                format!(
                    "`worker_threads` needs the multi-thread runtime, and `{attr}` defaults to \
                     `flavor = \"current_thread\"`; write `{}(flavor = \"multi_thread\", \
                     worker_threads = {n})]`",
                    attr.trim_end_matches(']'),
                )
            };
            errors.spanned(meta, message);
        }
        if config.flavor == Flavor::CurrentThread {
            config.worker_threads = None;
        }
        // A paused clock jumps to the next timer only on a current-thread
        // runtime; `Builder::build` refuses the multi-thread combination, so
        // say so here, at compile time.
        let paused = config.start_paused.as_ref().is_some_and(|b| b.value);
        if let (Some(meta), true, Flavor::MultiThread, true) =
            (start_paused, paused, config.flavor, flavor_ok)
        {
            let message = if flavor.is_some() {
                "`start_paused = true` cannot be used with `flavor = \"multi_thread\"`: only a \
                 current-thread runtime moves its paused clock to the next timer when every task \
                 waits; use `flavor = \"current_thread\"`"
                    .to_owned()
            } else {
                format!(
                    "`start_paused = true` needs the current-thread runtime, and `{}` defaults \
                     to `flavor = \"multi_thread\"`; write `{}(flavor = \"current_thread\", \
                     start_paused = true)]`",
                    kind.attr(),
                    kind.attr().trim_end_matches(']'),
                )
            };
            errors.spanned(meta, message);
            config.start_paused = None;
        }
        config
    }
}

fn parse_flavor(value: &Expr) -> syn::Result<Flavor> {
    let valid = || {
        FLAVORS
            .iter()
            .map(|(name, _)| format!("\"{name}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Expr::Lit(syn::ExprLit {
        lit: Lit::Str(lit), ..
    }) = value
    else {
        return Err(syn::Error::new_spanned(
            value,
            format_args!("`flavor` takes a string; expected one of: {}", valid()),
        ));
    };
    let name = lit.value();
    if let Some(&(_, flavor)) = FLAVORS.iter().find(|(known, _)| *known == name) {
        return Ok(flavor);
    }
    // A near miss ("multi-thread", "Current_Thread") gets a suggestion.
    let normalized = name.trim().to_lowercase().replace(['-', ' '], "_");
    let hint = FLAVORS
        .iter()
        .find(|(known, _)| *known == normalized)
        .map(|(known, _)| format!("; did you mean \"{known}\"?"))
        .unwrap_or_default();
    Err(syn::Error::new_spanned(
        lit,
        format_args!(
            "unknown runtime flavor \"{name}\"; expected one of: {}{hint}",
            valid()
        ),
    ))
}

fn parse_worker_threads(value: &Expr) -> syn::Result<Literal> {
    let not_a_count = || {
        syn::Error::new_spanned(
            value,
            "`worker_threads` takes a positive integer literal, e.g. `worker_threads = 4`",
        )
    };
    let Expr::Lit(syn::ExprLit {
        lit: Lit::Int(lit), ..
    }) = value
    else {
        return Err(not_a_count());
    };
    // syn reads `-1` as one negative literal: zero and below are one mistake.
    let n = if lit.base10_digits().starts_with('-') {
        0
    } else {
        lit.base10_parse::<usize>()?
    };
    if n == 0 {
        return Err(syn::Error::new_spanned(
            lit,
            "`worker_threads` must be at least 1",
        ));
    }
    // Unsuffixed, so the literal takes whatever integer type
    // `Builder::worker_threads` expects; the user's span, so a problem with
    // the value is reported on what they wrote.
    let mut literal = Literal::usize_unsuffixed(n);
    literal.set_span(lit.span());
    Ok(literal)
}

/// An `fn` item with its body left as tokens.
struct ItemFn {
    outer_attrs: Vec<Attribute>,
    vis: Visibility,
    sig: Signature,
    /// The braces around the body, for their span.
    brace: Group,
    inner_attrs: Vec<Attribute>,
    /// The body after its inner attributes, untouched.
    stmts: TokenStream,
}

impl Parse for ItemFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let outer_attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig = input.parse()?;
        let brace: Group = input.parse()?;
        if brace.delimiter() != Delimiter::Brace {
            return Err(syn::Error::new(brace.span(), "expected the function body"));
        }
        let (inner_attrs, stmts) =
            (|body: ParseStream<'_>| Ok((body.call(Attribute::parse_inner)?, body.parse()?)))
                .parse2(brace.stream())?;
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the function"));
        }
        Ok(ItemFn {
            outer_attrs,
            vis,
            sig,
            brace,
            inner_attrs,
            stmts,
        })
    }
}

/// Expands `#[corral::main]` or `#[corral::test]` applied to `item`.
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let mut func = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(func) => func,
        Err(error) => {
            // Not a function: say what the attribute applies to, and give
            // the item back unchanged so nothing else breaks.
            let error = not_a_fn(kind, item.clone()).unwrap_or(error);
            let mut tokens = item;
            tokens.extend(error.into_compile_error());
            return tokens;
        }
    };

    let config = Config::parse(kind, args, &mut errors);
    let callable = check_signature(kind, &mut func, &mut errors);

    let mut tokens = if callable {
        expand_fn(kind, func, &config)
    } else {
        stub(kind, &func)
    };
    tokens.extend(errors.into_compile_error());
    tokens
}

/// The error for an item that is not a function at all, spanned on its head
/// (`struct Foo`, `impl Trait for Foo`, ...): everything after the outer
/// attributes up to the first body, `=` or `;`. `None` if `item` is a
/// function after all (it then failed to parse for some other reason).
fn not_a_fn(kind: Kind, item: TokenStream) -> Option<syn::Error> {
    let parser = |input: ParseStream<'_>| {
        input.call(Attribute::parse_outer)?;
        input.parse::<Visibility>()?;
        let mut head = TokenStream::new();
        let mut is_fn = false;
        while !input.is_empty() {
            let tt: TokenTree = input.parse()?;
            match &tt {
                TokenTree::Ident(ident) if ident == "fn" => is_fn = true,
                TokenTree::Group(g) if g.delimiter() != Delimiter::None => break,
                TokenTree::Punct(p) if p.as_char() == ';' || p.as_char() == '=' => break,
                _ => {}
            }
            head.extend([tt]);
        }
        // Drain whatever follows the head; only the head matters here.
        input.parse::<TokenStream>()?;
        Ok((is_fn, head))
    };
    let (is_fn, head) = parser.parse2(item).ok()?;
    if is_fn {
        return None;
    }
    let message = format!(
        "the `{}` attribute can only be applied to an `async fn`",
        kind.attr()
    );
    Some(if head.is_empty() {
        syn::Error::new(Span::call_site(), message)
    } else {
        syn::Error::new_spanned(head, message)
    })
}

/// Checks that the runtime can call the function: `async`, no arguments, no
/// generics, and (for tests) no `#[test]` of its own. Returns whether the
/// signature is callable without arguments, i.e. whether expanding the body
/// is worthwhile; removes `async` and any duplicate `#[test]` from `func`.
fn check_signature(kind: Kind, func: &mut ItemFn, errors: &mut Errors) -> bool {
    let sig = &mut func.sig;
    let mut callable = true;

    if sig.asyncness.take().is_none() {
        errors.spanned(
            sig.fn_token,
            "the `async` keyword is missing from the function declaration",
        );
    }

    if !sig.inputs.is_empty() || sig.variadic.is_some() {
        let mut args = sig.inputs.to_token_stream();
        sig.variadic.to_tokens(&mut args);
        let message = if kind == Kind::Main && sig.ident == "main" {
            "the `main` function cannot take arguments".to_owned()
        } else {
            format!(
                "a `{}` function cannot take arguments; the runtime calls it with none",
                kind.attr()
            )
        };
        errors.spanned(args, message);
        callable = false;
    }

    if !sig.generics.params.is_empty() {
        errors.spanned(
            &sig.generics,
            format_args!("a `{}` function cannot be generic", kind.attr()),
        );
        callable = false;
    } else if let Some(where_clause) = &sig.generics.where_clause {
        errors.spanned(
            where_clause,
            format_args!("a `{}` function cannot have a `where` clause", kind.attr()),
        );
        callable = false;
    }

    if kind == Kind::Test {
        let (duplicates, kept) = func
            .outer_attrs
            .drain(..)
            .partition::<Vec<_>, _>(is_test_attribute);
        func.outer_attrs = kept;
        for attr in duplicates {
            errors.spanned(
                attr,
                "`#[corral::test]` already adds `#[test]`; remove this attribute",
            );
        }
    }

    callable
}

/// `#[test]`, `#[core::prelude::*::test]` or `#[std::prelude::*::test]`,
/// with or without a leading `::`.
fn is_test_attribute(attr: &Attribute) -> bool {
    let Meta::Path(path) = &attr.meta else {
        return false;
    };
    let segments: Vec<String> = path
        .segments
        .iter()
        .map(|segment| {
            if segment.arguments.is_none() {
                segment.ident.to_string()
            } else {
                String::new()
            }
        })
        .collect();
    match segments.as_slice() {
        [test] => path.leading_colon.is_none() && test == "test",
        [krate, prelude, _, test] => {
            (krate == "core" || krate == "std") && prelude == "prelude" && test == "test"
        }
        _ => false,
    }
}

/// What is left of a function whose signature the runtime cannot call: an
/// empty function of the same name, so `main` still exists and the errors
/// already emitted stay the only ones.
fn stub(kind: Kind, func: &ItemFn) -> TokenStream {
    let vis = &func.vis;
    let ident = &func.sig.ident;
    let allow = (kind == Kind::Test || ident != "main").then(|| quote!(#[allow(dead_code)]));
    quote! {
        #allow
        #vis fn #ident() {}
    }
}

/// Writes the synchronous function that builds a runtime and blocks on the
/// body.
///
/// The runtime expression carries the span of the body's last statement
/// (its first token for the builder, its last for `block_on`), so when the
/// body evaluates to the wrong type rustc underlines that statement instead
/// of the attribute.
fn expand_fn(kind: Kind, func: ItemFn, config: &Config) -> TokenStream {
    let ItemFn {
        outer_attrs,
        vis,
        sig,
        brace,
        inner_attrs,
        stmts,
    } = func;
    let (start, end) = last_stmt_span(&stmts, &brace);

    let mut rt = match config.flavor {
        Flavor::MultiThread => quote_spanned!(start=> ::corral::Builder::new_multi_thread()),
        Flavor::CurrentThread => quote_spanned!(start=> ::corral::Builder::new_current_thread()),
    };
    if let Some(n) = &config.worker_threads {
        rt = quote_spanned!(start=> #rt.worker_threads(#n));
    }
    if let Some(b) = &config.start_paused {
        rt = quote_spanned!(start=> #rt.start_paused(#b));
    }

    // The local holding the future: mixed-site hygiene keeps it invisible to
    // (and safe from) the user's code.
    let body_ident = syn::Ident::new("body", Span::mixed_site());
    let mut body = Group::new(Delimiter::Brace, stmts);
    body.set_span(brace.span());

    let test_attr = (kind == Kind::Test).then(|| quote!(#[::core::prelude::v1::test]));
    let block_on = quote_spanned! {end=>
        #[allow(
            clippy::expect_used,
            clippy::unwrap_in_result,
            clippy::diverging_sub_expression,
        )]
        {
            #rt.build()
                .expect("failed to build the corral runtime")
                .block_on(#body_ident)
        }
    };

    let mut fn_body = TokenStream::new();
    fn_body.extend(inner_attrs.iter().map(ToTokens::to_token_stream));
    fn_body.extend(quote! {
        let #body_ident = async move #body;
        #block_on
    });
    let mut fn_body = Group::new(Delimiter::Brace, fn_body);
    fn_body.set_span(brace.span());

    quote! {
        #(#outer_attrs)*
        #test_attr
        #vis #sig #fn_body
    }
}

/// The spans of the first and last token of the body's last statement
/// (split on top-level `;`), or of the braces if the body is empty.
fn last_stmt_span(stmts: &TokenStream, brace: &Group) -> (Span, Span) {
    let mut current: Vec<Span> = Vec::new();
    let mut last: Vec<Span> = Vec::new();
    for tt in stmts.clone() {
        let is_semi = matches!(&tt, TokenTree::Punct(p) if p.as_char() == ';');
        current.push(tt.span());
        if is_semi {
            last = std::mem::take(&mut current);
        }
    }
    if !current.is_empty() {
        last = current;
    }
    match (last.first(), last.last()) {
        (Some(&start), Some(&end)) => (start, end),
        _ => (brace.span_open(), brace.span_close()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(kind: Kind, args: &str, item: &str) -> String {
        let args: TokenStream = args.parse().unwrap();
        let item: TokenStream = item.parse().unwrap();
        expand(kind, args, item).to_string()
    }

    /// The token text of the expected expansion, for comparison.
    fn tokens(text: &str) -> String {
        text.parse::<TokenStream>().unwrap().to_string()
    }

    #[test]
    fn main_blocks_on_a_multi_thread_runtime() {
        let out = expand_str(Kind::Main, "", "async fn main() { work().await; }");
        let expected = tokens(
            r#"fn main() {
                let body = async move { work().await; };
                #[allow(clippy::expect_used, clippy::unwrap_in_result, clippy::diverging_sub_expression,)]
                {
                    ::corral::Builder::new_multi_thread()
                        .build()
                        .expect("failed to build the corral runtime")
                        .block_on(body)
                }
            }"#,
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn main_keeps_return_type_and_sets_worker_threads() {
        let out = expand_str(
            Kind::Main,
            "worker_threads = 3",
            "pub async fn main() -> Result<(), E> { Ok(()) }",
        );
        let func: syn::ItemFn = syn::parse_str(&out).unwrap();
        assert!(func.sig.asyncness.is_none());
        assert_eq!(func.vis.to_token_stream().to_string(), "pub");
        assert_eq!(
            func.sig.output.to_token_stream().to_string(),
            tokens("-> Result<(), E>")
        );
        assert!(out.contains(&tokens("new_multi_thread().worker_threads(3).build()")));
    }

    #[test]
    fn main_current_thread_flavor() {
        let out = expand_str(Kind::Main, r#"flavor = "current_thread""#, "async fn main() {}");
        assert!(out.contains(&tokens("::corral::Builder::new_current_thread().build()")));
    }

    #[test]
    fn test_adds_test_attribute_after_the_users_attributes() {
        let out = expand_str(
            Kind::Test,
            "",
            "/// Doc.\n#[should_panic] async fn t() { #![allow(unused)] panic!() }",
        );
        let func: syn::ItemFn = syn::parse_str(&out).unwrap();
        let attrs: Vec<(bool, String)> = func
            .attrs
            .iter()
            .map(|attr| {
                let inner = matches!(attr.style, syn::AttrStyle::Inner(_));
                (inner, attr.path().to_token_stream().to_string())
            })
            .collect();
        let expected: Vec<(bool, String)> = [
            (false, "doc"),
            (false, "should_panic"),
            (false, ":: core :: prelude :: v1 :: test"),
            (true, "allow"),
        ]
        .iter()
        .map(|&(inner, path)| (inner, path.to_owned()))
        .collect();
        assert_eq!(attrs, expected);
        assert_eq!(
            func.block.stmts[0].to_token_stream().to_string(),
            tokens("let body = async move { panic!() };")
        );
        assert!(out.contains(&tokens("::corral::Builder::new_current_thread()")));
    }

    #[test]
    fn test_multi_thread_with_workers() {
        let out = expand_str(
            Kind::Test,
            r#"worker_threads = 2, flavor = "multi_thread""#,
            "async fn t() {}",
        );
        assert!(out.contains(&tokens("new_multi_thread().worker_threads(2)")));
    }

    #[test]
    fn errors_still_expand_the_body_with_defaults() {
        let out = expand_str(Kind::Test, "paused = true", "fn t() { x() }");
        assert!(out.contains("compile_error"));
        assert!(out.contains(&tokens("let body = async move { x() };")));
        assert!(out.contains(&tokens("new_current_thread().build()")));
    }

    #[test]
    fn start_paused_is_passed_to_the_builder() {
        let out = expand_str(Kind::Test, "start_paused = true", "async fn t() { x() }");
        assert!(
            out.contains(&tokens("new_current_thread().start_paused(true).build()")),
            "{out}"
        );
    }

    #[test]
    fn uncallable_signature_leaves_an_empty_function() {
        let out = expand_str(Kind::Main, "", "async fn main(x: u8) { body(x) }");
        assert!(out.starts_with(&tokens("fn main() {}")), "{out}");
        assert!(out.contains("compile_error"));
        assert!(!out.contains("body"));
    }

    #[test]
    fn recognises_test_attributes() {
        let is_test = |attr: &str| {
            let item: syn::ItemFn = syn::parse_str(&format!("{attr} fn f() {{}}")).unwrap();
            is_test_attribute(&item.attrs[0])
        };
        assert!(is_test("#[test]"));
        assert!(is_test("#[::core::prelude::v1::test]"));
        assert!(is_test("#[std::prelude::rust_2021::test]"));
        assert!(!is_test("#[corral::test]"));
        assert!(!is_test("#[::test]"));
        assert!(!is_test("#[test(x)]"));
    }
}
