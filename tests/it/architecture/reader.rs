//! A file of `src/` read with `syn`: the paths it names (made absolute),
//! the functions of its shipped code with their lengths, the modules it
//! declares and what it re-exports. Line numbers are those of the tokens
//! (proc-macro2's span locations), so a comment or a string counts for
//! nothing and a signature is measured whatever it holds.

use proc_macro2::{Spacing, TokenStream, TokenTree};
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

/// The module path of a file under `src/`: `batch/commit.rs` -> `batch::commit`,
/// `batch/mod.rs` -> `batch`, `lib.rs` -> the crate root (empty).
pub(super) fn module_path(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// A path named in a file, made absolute (from the crate root).
#[derive(Clone, Debug)]
pub(super) struct Ref {
    pub(super) path: Vec<String>,
    pub(super) line: usize,
    /// Under `#[cfg(test)]`: counts for the stage order, not for circles.
    pub(super) test: bool,
}

/// A function's length: from the first line of its signature to the line
/// of its closing brace.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct FnLength {
    pub(super) name: String,
    pub(super) line: usize,
    pub(super) lines: usize,
}

/// What one file says, read from its syntax tree.
#[derive(Debug, Default)]
pub(super) struct FileFacts {
    /// Every `crate::`, `self::` or `super::` path, in `use` trees, code,
    /// types, patterns and macro arguments alike.
    pub(super) refs: Vec<Ref>,
    /// Functions of the code that ships.
    pub(super) fns: Vec<FnLength>,
    /// Modules declared with `mod x;` (their file is elsewhere), and
    /// whether the declaration is under `#[cfg(test)]`.
    pub(super) mods: Vec<(Vec<String>, bool)>,
    /// What the shipped code re-exports: `pub use finish::Written;` in
    /// `batch/mod.rs` maps `batch::Written` to `batch::finish::Written`.
    pub(super) exports: Vec<(Vec<String>, Vec<String>)>,
}

/// Reads a file's facts; `module` is the module path of the file, changed
/// while inside an inline `mod x { .. }`.
struct Reader {
    module: Vec<String>,
    test: bool,
    facts: FileFacts,
}

/// Whether these attributes hold `#[cfg(test)]`.
fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| match &a.meta {
        syn::Meta::List(list) => list.path.is_ident("cfg") && list.tokens.to_string() == "test",
        _ => false,
    })
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    use syn::Item::*;
    match item {
        Const(i) => &i.attrs,
        Enum(i) => &i.attrs,
        ExternCrate(i) => &i.attrs,
        Fn(i) => &i.attrs,
        ForeignMod(i) => &i.attrs,
        Impl(i) => &i.attrs,
        Macro(i) => &i.attrs,
        Mod(i) => &i.attrs,
        Static(i) => &i.attrs,
        Struct(i) => &i.attrs,
        Trait(i) => &i.attrs,
        TraitAlias(i) => &i.attrs,
        Type(i) => &i.attrs,
        Union(i) => &i.attrs,
        Use(i) => &i.attrs,
        _ => &[],
    }
}

fn impl_item_attrs(item: &syn::ImplItem) -> &[syn::Attribute] {
    match item {
        syn::ImplItem::Const(i) => &i.attrs,
        syn::ImplItem::Fn(i) => &i.attrs,
        syn::ImplItem::Type(i) => &i.attrs,
        syn::ImplItem::Macro(i) => &i.attrs,
        _ => &[],
    }
}

fn trait_item_attrs(item: &syn::TraitItem) -> &[syn::Attribute] {
    match item {
        syn::TraitItem::Const(i) => &i.attrs,
        syn::TraitItem::Fn(i) => &i.attrs,
        syn::TraitItem::Type(i) => &i.attrs,
        syn::TraitItem::Macro(i) => &i.attrs,
        _ => &[],
    }
}

/// A path of a `use` tree, each segment with its line, and the name it
/// binds (`None` for a glob).
type BoundPath = (Vec<(String, usize)>, Option<String>);

fn line_of(span: proc_macro2::Span) -> usize {
    span.start().line
}

impl Reader {
    /// The absolute base a path starting with `first` stands on: `crate` the
    /// root, `self` this module, `super` its parent. `None` for any other
    /// start (an external crate, a local name).
    fn base(&self, first: &str) -> Option<Vec<String>> {
        match first {
            "crate" => Some(Vec::new()),
            "self" => Some(self.module.clone()),
            "super" => Some(self.module[..self.module.len().saturating_sub(1)].to_vec()),
            _ => None,
        }
    }

    /// The absolute path a path given as its segments (with their lines)
    /// names, if it starts at `crate`, `self` or `super` and names
    /// something there.
    fn resolve(&self, segments: &[(String, usize)]) -> Option<Vec<String>> {
        let ((first, _), mut rest) = segments.split_first()?;
        let mut base = self.base(first)?;
        while first == "super" && rest.first().is_some_and(|(s, _)| s == "super") {
            base.pop();
            rest = &rest[1..];
        }
        if rest.is_empty() {
            return None; // `pub(crate)`, `pub(super)`, a bare `self`
        }
        Some(
            base.into_iter()
                .chain(rest.iter().map(|(s, _)| s.clone()))
                .collect(),
        )
    }

    /// Records the path given as its segments, if [`Reader::resolve`] makes
    /// it absolute, at the line of the first name after its `crate`,
    /// `self` or `super` (in a `use` group, the line naming the module).
    fn record(&mut self, segments: &[(String, usize)]) {
        if let Some(path) = self.resolve(segments) {
            let named = segments
                .iter()
                .find(|(s, _)| !matches!(s.as_str(), "crate" | "self" | "super"));
            self.facts.refs.push(Ref {
                path,
                line: named.map_or(segments[0].1, |(_, line)| *line),
                test: self.test,
            });
        }
    }

    /// The paths of a `use` tree, each segment with its line, and the name
    /// each path binds (`None` for a glob). `a::{self, b}` gives `a` and
    /// `a::b`.
    fn use_paths(tree: &syn::UseTree, prefix: &mut Vec<(String, usize)>, out: &mut Vec<BoundPath>) {
        let seg = |i: &syn::Ident| (i.to_string(), line_of(i.span()));
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(seg(&p.ident));
                Self::use_paths(&p.tree, prefix, out);
                prefix.pop();
            }
            syn::UseTree::Name(n) if n.ident == "self" && !prefix.is_empty() => {
                let name = prefix.last().map(|(s, _)| s.clone());
                out.push((prefix.clone(), name));
            }
            syn::UseTree::Name(n) => {
                let mut path = prefix.clone();
                path.push(seg(&n.ident));
                out.push((path, Some(n.ident.to_string())));
            }
            syn::UseTree::Rename(r) => {
                let mut path = prefix.clone();
                path.push(seg(&r.ident));
                out.push((path, Some(r.rename.to_string())));
            }
            syn::UseTree::Glob(_) => out.push((prefix.clone(), None)),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    Self::use_paths(t, prefix, out);
                }
            }
        }
    }

    /// `crate::a::b` paths in a macro's tokens (which `syn` leaves unparsed:
    /// `format!`, `matches!`, `tracing::info!` arguments).
    fn macro_tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let punct =
            |i: usize, c: char| matches!(&tokens[i], TokenTree::Punct(p) if p.as_char() == c);
        let colons = |i: usize| {
            matches!((tokens.get(i), tokens.get(i + 1)),
                (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
                    if a.as_char() == ':' && a.spacing() == Spacing::Joint && b.as_char() == ':')
        };
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                TokenTree::Group(g) => self.macro_tokens(g.stream()),
                TokenTree::Ident(id) if self.base(&id.to_string()).is_some() => {
                    // `a::self` is not a path from here (`$crate::x` is:
                    // a macro of this crate naming `x`).
                    let inside_a_path = i > 1 && punct(i - 2, ':') && punct(i - 1, ':');
                    let mut segments = vec![(id.to_string(), line_of(id.span()))];
                    let mut j = i + 1;
                    while colons(j) {
                        let Some(TokenTree::Ident(next)) = tokens.get(j + 2) else {
                            break;
                        };
                        segments.push((next.to_string(), line_of(next.span())));
                        j += 3;
                    }
                    if !inside_a_path {
                        self.record(&segments);
                    }
                    i = j;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }

    /// Records a function's length, outside test code.
    fn function(
        &mut self,
        vis: Option<&syn::Visibility>,
        sig: &syn::Signature,
        block: &syn::Block,
    ) {
        if self.test {
            return;
        }
        let mut start = line_of(sig.span());
        if let Some(v) = vis.filter(|v| !matches!(v, syn::Visibility::Inherited)) {
            start = start.min(line_of(v.span()));
        }
        let end = block.brace_token.span.close().end().line;
        self.facts.fns.push(FnLength {
            name: sig.ident.to_string(),
            line: start,
            lines: end + 1 - start,
        });
    }

    /// Runs `f` with `test` set when `attrs` hold `#[cfg(test)]`.
    fn within(&mut self, attrs: &[syn::Attribute], f: impl FnOnce(&mut Self)) {
        let outer = self.test;
        self.test |= is_test(attrs);
        f(self);
        self.test = outer;
    }
}

impl<'ast> Visit<'ast> for Reader {
    fn visit_item(&mut self, i: &'ast syn::Item) {
        self.within(item_attrs(i), |r| visit::visit_item(r, i));
    }

    fn visit_impl_item(&mut self, i: &'ast syn::ImplItem) {
        self.within(impl_item_attrs(i), |r| visit::visit_impl_item(r, i));
    }

    fn visit_trait_item(&mut self, i: &'ast syn::TraitItem) {
        self.within(trait_item_attrs(i), |r| visit::visit_trait_item(r, i));
    }

    fn visit_item_mod(&mut self, i: &'ast syn::ItemMod) {
        self.module.push(i.ident.to_string());
        if i.content.is_none() {
            self.facts.mods.push((self.module.clone(), self.test));
        }
        visit::visit_item_mod(self, i);
        self.module.pop();
    }

    fn visit_item_use(&mut self, i: &'ast syn::ItemUse) {
        let mut paths = Vec::new();
        Self::use_paths(&i.tree, &mut Vec::new(), &mut paths);
        let public = !matches!(i.vis, syn::Visibility::Inherited);
        for (segments, alias) in paths {
            self.record(&segments);
            let Some(alias) = alias.filter(|_| public && !self.test) else {
                continue;
            };
            // A re-export; a path without `crate`, `self` or `super` is
            // one of this module's own (a child module or item).
            let target = self.resolve(&segments).unwrap_or_else(|| {
                let names = segments.iter().map(|(s, _)| s.clone());
                self.module.iter().cloned().chain(names).collect()
            });
            let alias_path = self.module.iter().cloned().chain([alias]).collect();
            self.facts.exports.push((alias_path, target));
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segments: Vec<(String, usize)> = p
            .segments
            .iter()
            .map(|s| (s.ident.to_string(), line_of(s.ident.span())))
            .collect();
        if p.leading_colon.is_none() {
            self.record(&segments);
        }
        visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        visit::visit_macro(self, m);
        self.macro_tokens(m.tokens.clone());
    }

    fn visit_item_fn(&mut self, i: &'ast syn::ItemFn) {
        self.function(Some(&i.vis), &i.sig, &i.block);
        visit::visit_item_fn(self, i);
    }

    fn visit_impl_item_fn(&mut self, i: &'ast syn::ImplItemFn) {
        self.function(Some(&i.vis), &i.sig, &i.block);
        visit::visit_impl_item_fn(self, i);
    }

    fn visit_trait_item_fn(&mut self, i: &'ast syn::TraitItemFn) {
        if let Some(block) = &i.default {
            self.function(None, &i.sig, block);
        }
        visit::visit_trait_item_fn(self, i);
    }
}

/// Parses one file (`rel` under `src/`) and reads its facts.
pub(super) fn read(rel: &str, text: &str) -> FileFacts {
    let file = syn::parse_file(text)
        .unwrap_or_else(|e| panic!("src/{rel}:{}: does not parse: {e}", line_of(e.span())));
    let mut reader = Reader {
        module: module_path(rel),
        test: false,
        facts: FileFacts::default(),
    };
    reader.visit_file(&file);
    reader.facts
}
