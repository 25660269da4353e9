//! Derive macros of [`nabla-registry`](https://docs.rs/nabla-registry), re-exported by it:
//! use them as `nabla_registry::HyperParams` and `nabla_registry::ParamChoice`.
//!
//! `#[derive(HyperParams)]` on a struct with named fields makes the struct the single
//! declaration of a component's hyper-parameters: every field is one key, its doc comment
//! the key's documentation, `#[param(...)]` its default and valid range. The derive writes the
//! schema (`HyperParams::SCHEMA`), the reader from validated parameters
//! (`HyperParams::from_params`) and the writer back to raw parameters (`HyperParams::to_raw`).
//!
//! `#[derive(ParamChoice)]` on a fieldless enum makes it a string choice (`"fan_in"`,
//! `"fan_out"`): variants in snake_case unless renamed with `#[param(name = "...")]`.
//!
//! The attribute grammar and the field types accepted are documented on the re-exports in
//! `nabla-registry`.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::{quote, ToTokens};
use syn::{
    parse_macro_input, spanned::Spanned, Attribute, Data, DeriveInput, Error, Expr, ExprLit, Fields,
    GenericArgument, Lit, LitStr, Path, PathArguments, Type,
};

/// Derives `nabla_registry::HyperParams` for a struct with named fields, or a unit struct
/// (no hyper-parameters).
///
/// Field attribute `#[param(...)]`: `default = EXPR`, `range = NAME | EXPR` (a bare name is a
/// `Range` constant such as `NON_NEGATIVE`), `required`, `name = "key"`, `skip` (not a
/// hyper-parameter: filled with `Default::default()`), `flatten` (a field whose type derives
/// `HyperParams` itself: its keys join this struct's, for keys shared by several components;
/// the deriving struct must not be generic then). Struct attribute `#[hyper(...)]`:
/// `check = path` (a `fn(&Self) -> Result<(), String>` run after reading, for constraints
/// between keys), `crate = "path"` (where `nabla_registry` is, default `::nabla_registry`).
#[proc_macro_derive(HyperParams, attributes(param, hyper))]
pub fn derive_hyper_params(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    hyper_params(&input).unwrap_or_else(Error::into_compile_error).into()
}

/// Derives `nabla_registry::ParamChoice` (and `ParamValue`) for a fieldless enum.
#[proc_macro_derive(ParamChoice, attributes(param, hyper))]
pub fn derive_param_choice(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    param_choice(&input).unwrap_or_else(Error::into_compile_error).into()
}

/// The struct-level `#[hyper(...)]` options.
struct StructOptions {
    krate: Path,
    check: Option<Path>,
}

fn struct_options(attrs: &[Attribute]) -> syn::Result<StructOptions> {
    let mut options = StructOptions { krate: syn::parse_quote!(::nabla_registry), check: None };
    for attr in attrs.iter().filter(|a| a.path().is_ident("hyper")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let path: LitStr = meta.value()?.parse()?;
                options.krate = path.parse()?;
            } else if meta.path.is_ident("check") {
                options.check = Some(meta.value()?.parse()?);
            } else {
                return Err(meta.error("expected `crate = \"path\"` or `check = path`"));
            }
            Ok(())
        })?;
    }
    Ok(options)
}

/// What the schema needs to know about a field's type to write its default as a constant.
#[derive(Clone, Copy, PartialEq)]
enum Category {
    Float,
    Int,
    Bool,
    Str,
    Floats,
    Ints,
    /// A type of the user's (a `ParamChoice` enum): the default is its string spelling.
    Other,
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        _ => None,
    }
}

/// The `T` of `Option<T>`, if `ty` is an option.
fn option_inner(ty: &Type) -> Option<&Type> {
    let seg = last_segment(ty)?;
    if seg.ident != "Option" {
        return None;
    }
    match &seg.arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}

fn scalar_category(ty: &Type) -> Category {
    match ty {
        Type::Reference(r) => scalar_category(&r.elem),
        Type::Array(a) => match scalar_category(&a.elem) {
            Category::Float => Category::Floats,
            Category::Int => Category::Ints,
            _ => Category::Other,
        },
        _ => {
            let Some(seg) = last_segment(ty) else { return Category::Other };
            match seg.ident.to_string().as_str() {
                "f64" | "f32" => Category::Float,
                "i8" | "i16" | "i32" | "i64" | "isize" | "u8" | "u16" | "u32" | "u64" | "usize" => {
                    Category::Int
                }
                "bool" => Category::Bool,
                "String" | "str" => Category::Str,
                "Vec" => match option_like_arg(seg).map(scalar_category) {
                    Some(Category::Float) => Category::Floats,
                    Some(Category::Int) => Category::Ints,
                    _ => Category::Other,
                },
                _ => Category::Other,
            }
        }
    }
}

fn option_like_arg(seg: &syn::PathSegment) -> Option<&Type> {
    match &seg.arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}

/// One `#[param(...)]` field.
struct FieldDecl {
    ident: syn::Ident,
    ty: Type,
    key: String,
    doc: String,
    default: Option<Expr>,
    range: Option<Expr>,
    required: bool,
    skip: bool,
    flatten: bool,
}

fn doc_of(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("doc")) {
        if let syn::Meta::NameValue(nv) = &attr.meta {
            if let Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) = &nv.value {
                let line = s.value();
                let line = line.trim();
                if !line.is_empty() {
                    lines.push(line.to_string());
                }
            }
        }
    }
    lines.join(" ")
}

fn field_decl(field: &syn::Field) -> syn::Result<FieldDecl> {
    let ident = field.ident.clone().ok_or_else(|| Error::new(field.span(), "fields must be named"))?;
    let mut decl = FieldDecl {
        key: ident.to_string().trim_start_matches("r#").to_string(),
        ident,
        ty: field.ty.clone(),
        doc: doc_of(&field.attrs),
        default: None,
        range: None,
        required: false,
        skip: false,
        flatten: false,
    };
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("param")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("default") {
                decl.default = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("range") {
                decl.range = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("name") {
                let name: LitStr = meta.value()?.parse()?;
                decl.key = name.value();
            } else if meta.path.is_ident("required") {
                decl.required = true;
            } else if meta.path.is_ident("skip") {
                decl.skip = true;
            } else if meta.path.is_ident("flatten") {
                decl.flatten = true;
            } else {
                return Err(meta.error(
                    "expected `default = ..`, `range = ..`, `name = \"..\"`, `required`, `skip` or `flatten`",
                ));
            }
            Ok(())
        })?;
    }
    if !decl.skip && !decl.flatten && decl.doc.is_empty() {
        return Err(Error::new(
            decl.ident.span(),
            "a hyper-parameter needs a doc comment: it is the key's documentation in `nabla list` and in errors",
        ));
    }
    if decl.required && decl.default.is_some() {
        return Err(Error::new(
            decl.ident.span(),
            "a hyper-parameter cannot be both `required` and have a `default`",
        ));
    }
    Ok(decl)
}

/// `expr` cast to the constant's element type, element by element for array literals.
fn cast_elements(expr: &Expr, target: Tokens) -> Tokens {
    match expr {
        Expr::Array(array) => {
            let elems = array.elems.iter();
            quote!(&[#((#elems) as #target),*])
        }
        other => quote!(&#other),
    }
}

fn default_const(krate: &Path, decl: &FieldDecl) -> syn::Result<Tokens> {
    let optional = option_inner(&decl.ty).is_some();
    let Some(expr) = &decl.default else {
        return Ok(if optional && !decl.required {
            quote!(#krate::Const::Unset)
        } else {
            quote!(#krate::Const::Required)
        });
    };
    let value_ty = option_inner(&decl.ty).unwrap_or(&decl.ty);
    Ok(match scalar_category(value_ty) {
        Category::Float => quote!(#krate::Const::Float((#expr) as f64)),
        Category::Int => quote!(#krate::Const::Int((#expr) as i64)),
        Category::Bool => quote!(#krate::Const::Bool(#expr)),
        // A type of the user's with an integer default (a kernel size or stride written
        // `1` for both axes): the integer, which the type's `ParamValue::read` accepts.
        Category::Other if matches!(expr, Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(_), .. })) => {
            quote!(#krate::Const::Int((#expr) as i64))
        }
        Category::Str | Category::Other => quote!(#krate::Const::Str(#expr)),
        Category::Floats => {
            let elems = cast_elements(expr, quote!(f64));
            quote!(#krate::Const::Floats(#elems))
        }
        Category::Ints => {
            let elems = cast_elements(expr, quote!(i64));
            quote!(#krate::Const::Ints(#elems))
        }
    })
}

fn range_expr(krate: &Path, range: &Option<Expr>) -> Tokens {
    match range {
        None => quote!(#krate::Range::ANY),
        Some(Expr::Path(p)) if p.path.get_ident().is_some() => {
            let name = p.path.get_ident();
            quote!(#krate::Range::#name)
        }
        Some(other) => quote!({
            #[allow(unused_imports)]
            use #krate::{Bound, Range};
            #other
        }),
    }
}

fn hyper_params(input: &DeriveInput) -> syn::Result<Tokens> {
    let options = struct_options(&input.attrs)?;
    let krate = &options.krate;
    let Data::Struct(data) = &input.data else {
        return Err(Error::new(
            input.span(),
            "`HyperParams` is derived for structs; use `ParamChoice` for enums",
        ));
    };
    // A unit struct is a component without hyper-parameters (`zeros`, `relu`): an empty schema.
    let fields: Vec<&syn::Field> = match &data.fields {
        Fields::Named(named) => named.named.iter().collect(),
        Fields::Unit => Vec::new(),
        Fields::Unnamed(_) => {
            return Err(Error::new(
                input.span(),
                "`HyperParams` needs a struct with named fields or a unit struct",
            ))
        }
    };
    let decls = fields.into_iter().map(field_decl).collect::<syn::Result<Vec<_>>>()?;
    let params = decls.iter().filter(|d| !d.skip && !d.flatten);
    let flattened: Vec<&Type> = decls.iter().filter(|d| d.flatten).map(|d| &d.ty).collect();

    let specs = params.clone().map(|d| {
        let key = &d.key;
        let doc = &d.doc;
        let ty = &d.ty;
        let default = default_const(krate, d)?;
        let range = range_expr(krate, &d.range);
        Ok(quote! {
            #krate::ParamSpec {
                name: #key,
                ty: <#ty as #krate::ParamValue>::TYPE,
                default: #default,
                range: #range,
                doc: #doc,
            }
        })
    });
    let specs = specs.collect::<syn::Result<Vec<_>>>()?;

    let readers = decls.iter().map(|d| {
        let ident = &d.ident;
        let ty = &d.ty;
        let key = &d.key;
        if d.skip {
            quote!(#ident: ::core::default::Default::default())
        } else if d.flatten {
            quote!(#ident: <#ty as #krate::HyperParams>::from_params(params)?)
        } else {
            quote!(#ident: <#ty as #krate::ParamValue>::read(params, #key)?)
        }
    });
    let writers = params.map(|d| {
        let ident = &d.ident;
        let ty = &d.ty;
        let key = &d.key;
        quote! {
            if let ::core::option::Option::Some(value) = <#ty as #krate::ParamValue>::to_value(&self.#ident) {
                raw.insert(::std::string::String::from(#key), value);
            }
        }
    });
    let flatten_writers = decls.iter().filter(|d| d.flatten).map(|d| {
        let ident = &d.ident;
        let ty = &d.ty;
        quote!(raw.extend(<#ty as #krate::HyperParams>::to_raw(&self.#ident));)
    });
    let own = specs.len();
    // Flattened structs' keys follow the struct's own, concatenated at compile time (slices
    // cannot be joined in a const, fixed-size arrays can).
    let schema = if flattened.is_empty() {
        quote!(&[#(#specs),*])
    } else {
        quote!({
            const OWN: [#krate::ParamSpec; #own] = [#(#specs),*];
            const LEN: usize = #own #(+ <#flattened as #krate::HyperParams>::SCHEMA.len())*;
            const ALL: [#krate::ParamSpec; LEN] = {
                let mut all = [#krate::ParamSpec::bool("", false, ""); LEN];
                let mut at = 0;
                while at < #own {
                    all[at] = OWN[at];
                    at += 1;
                }
                #({
                    let inner = <#flattened as #krate::HyperParams>::SCHEMA;
                    let mut i = 0;
                    while i < inner.len() {
                        all[at] = inner[i];
                        at += 1;
                        i += 1;
                    }
                })*
                let _ = at;
                all
            };
            &ALL
        })
    };
    let check = options.check.as_ref().map(|check| {
        quote! {
            #check(&value).map_err(|message| params.invalid(message))?;
        }
    });

    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics #krate::HyperParams for #name #ty_generics #where_clause {
            const SCHEMA: &'static [#krate::ParamSpec] = #schema;

            // A struct without keys (only skipped fields, or none) does not read `params`.
            #[allow(unused_variables)]
            fn from_params(params: &#krate::Params) -> ::core::result::Result<Self, #krate::ParamError> {
                let value = #name { #(#readers),* };
                #check
                ::core::result::Result::Ok(value)
            }

            #[allow(unused_mut)]
            fn to_raw(&self) -> #krate::RawParams {
                let mut raw = #krate::RawParams::new();
                #(#writers)*
                #(#flatten_writers)*
                raw
            }
        }
    })
}

fn snake_case(ident: &str) -> String {
    let mut out = String::new();
    for (i, ch) in ident.chars().enumerate() {
        if ch.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(ch.to_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

fn param_choice(input: &DeriveInput) -> syn::Result<Tokens> {
    let options = struct_options(&input.attrs)?;
    let krate = &options.krate;
    let Data::Enum(data) = &input.data else {
        return Err(Error::new(input.span(), "`ParamChoice` is derived for fieldless enums"));
    };
    let mut variants = Vec::new();
    let mut spellings = Vec::new();
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            return Err(Error::new(variant.span(), "`ParamChoice` variants cannot have fields"));
        }
        let mut spelling = snake_case(&variant.ident.to_string());
        for attr in variant.attrs.iter().filter(|a| a.path().is_ident("param")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("name") {
                    let name: LitStr = meta.value()?.parse()?;
                    spelling = name.value();
                    Ok(())
                } else {
                    Err(meta.error("expected `name = \"...\"`"))
                }
            })?;
        }
        variants.push(variant.ident.clone());
        spellings.push(LitStr::new(&spelling, Span::call_site()));
    }
    let name = &input.ident;
    let name_str = name.to_token_stream().to_string();
    Ok(quote! {
        impl #krate::ParamChoice for #name {
            const OPTIONS: &'static [&'static str] = &[#(#spellings),*];

            fn from_option(option: &str) -> ::core::option::Option<Self> {
                match option {
                    #(#spellings => ::core::option::Option::Some(#name::#variants),)*
                    _ => ::core::option::Option::None,
                }
            }

            fn as_str(&self) -> &'static str {
                match self {
                    #(#name::#variants => #spellings,)*
                }
            }
        }

        impl #krate::ParamValue for #name {
            const TYPE: #krate::ParamType = #krate::ParamType::Choice(<#name as #krate::ParamChoice>::OPTIONS);

            fn read(params: &#krate::Params, key: &str) -> ::core::result::Result<Self, #krate::ParamError> {
                let given = params.str(key)?;
                <#name as #krate::ParamChoice>::from_option(given).ok_or_else(|| {
                    params.invalid(::std::format!("{key} = '{given}' is not one of the choices of {}", #name_str))
                })
            }

            fn to_value(&self) -> ::core::option::Option<#krate::Value> {
                ::core::option::Option::Some(#krate::Value::Str(::std::string::String::from(
                    <#name as #krate::ParamChoice>::as_str(self),
                )))
            }
        }

        impl ::core::fmt::Display for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(<#name as #krate::ParamChoice>::as_str(self))
            }
        }
    })
}
