//! The generated TypeScript declarations: the checked-in file is current, and the JSON
//! serde produces conforms to them — every example and fixture message is checked
//! against its declared type with exact field sets (no undeclared field, no missing
//! required one), by a checker for the small TypeScript subset ts-rs emits.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use townlet_protocol::examples::{client_examples, episode, frontend_fixtures, server_examples};
use townlet_protocol::{ServerMessage, TYPESCRIPT_PATH, to_json, typescript};

fn generated_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(TYPESCRIPT_PATH)
}

#[test]
fn generated_typescript_is_current() {
    let path = generated_path();
    let built = typescript();
    if std::env::var_os("TOWNLET_BLESS").is_some() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(&path, &built).unwrap();
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        stored == built,
        "{TYPESCRIPT_PATH} is stale (or missing); rewrite it with:\n    \
         TOWNLET_BLESS=1 cargo test -p townlet-protocol"
    );
}

#[test]
fn generation_is_deterministic_and_sorted() {
    let text = typescript();
    assert_eq!(text, typescript());
    let version = format!(
        "export const PROTOCOL_VERSION = {};",
        townlet_protocol::PROTOCOL_VERSION
    );
    assert!(text.contains(&version));
    let decls = Decls::parse(&text);
    for needed in [
        "ServerFrame",
        "ServerMessage",
        "ClientMessage",
        "Hello",
        "Speed",
    ] {
        assert!(decls.0.contains_key(needed), "{needed} not declared");
    }
    let order: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("export type "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(order, sorted);
}

#[test]
fn every_example_conforms_to_its_declaration() {
    let decls = Decls::parse(&typescript());
    for (name, message) in server_examples() {
        let value: Value = serde_json::from_str(&to_json(&message)).unwrap();
        decls
            .check_named("ServerFrame", &value)
            .unwrap_or_else(|e| panic!("server {name}: {e}"));
    }
    for (name, message) in client_examples() {
        let value: Value = serde_json::from_str(&message.to_json()).unwrap();
        decls
            .check_named("ClientMessage", &value)
            .unwrap_or_else(|e| panic!("client {name}: {e}"));
    }
    // The fixture stream: a temporal hello, stats with history, long and replay episodes.
    let fixtures: Value = serde_json::from_str(&frontend_fixtures()).unwrap();
    for (key, v) in fixtures["stream"].as_object().unwrap() {
        let items = v.as_array().cloned().unwrap_or_else(|| vec![v.clone()]);
        for item in items {
            decls
                .check_named("ServerFrame", &item)
                .unwrap_or_else(|e| panic!("stream {key}: {e}"));
        }
    }
}

/// Non-finite floats arrive as `null`; the declarations allow it where it can happen.
#[test]
fn null_floats_conform() {
    let decls = Decls::parse(&typescript());
    let mut ep = episode(5, 3, true);
    ep.steps.reward[0] = f32::NAN;
    ep.steps.meters[1][2] = f32::INFINITY;
    ep.steps.q_values[2] = Some(vec![f32::NEG_INFINITY; 8]);
    ep.start.meters[0] = f32::NAN;
    ep.metadata.total_reward = f32::NAN;
    ep.metadata.timestamp = f64::INFINITY;
    let row = ep.step_message(0).unwrap();
    for message in [ServerMessage::Episode(ep), ServerMessage::Step(row)] {
        let value: Value = serde_json::from_str(&to_json(&message)).unwrap();
        decls.check_named("ServerFrame", &value).unwrap();
    }
}

/// What a client may leave out (serde defaults) is optional in `ClientMessage`.
#[test]
fn minimal_client_messages_conform() {
    let decls = Decls::parse(&typescript());
    for input in [
        r#"{"type":"subscribe"}"#,
        r#"{"type":"next"}"#,
        r#"{"type":"next","after":null,"order":"sequential"}"#,
        r#"{"type":"list_recordings"}"#,
        r#"{"type":"list_recordings","filters":{"limit":2}}"#,
        r#"{"type":"set_filter","filter":{"kind":"every_nth"}}"#,
        r#"{"type":"set_speed","speed":"instant"}"#,
    ] {
        townlet_protocol::parse_client_message(input).unwrap();
        let value: Value = serde_json::from_str(input).unwrap();
        decls
            .check_named("ClientMessage", &value)
            .unwrap_or_else(|e| panic!("{input}: {e}"));
    }
}

/// The checker is not vacuous: an extra, a missing or a mistyped field is refused.
#[test]
fn checker_refuses_wrong_shapes() {
    let decls = Decls::parse(&typescript());
    let (_, hello) = &server_examples()[0];
    let good: Value = serde_json::from_str(&to_json(hello)).unwrap();
    decls.check_named("ServerFrame", &good).unwrap();
    let mut extra = good.clone();
    extra["grid"]["depth"] = Value::from(3);
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("pack");
    let mut mistyped = good.clone();
    mistyped["temporal"] = Value::from("yes");
    let mut no_version = good.clone();
    no_version.as_object_mut().unwrap().remove("v");
    for bad in [extra, missing, mistyped, no_version] {
        assert!(decls.check_named("ServerFrame", &bad).is_err(), "{bad}");
    }
    let bad_client: Value = serde_json::from_str(r#"{"type":"seek"}"#).unwrap();
    assert!(decls.check_named("ClientMessage", &bad_client).is_err());
}

// ---- a checker for the TypeScript ts-rs emits ------------------------------------------

#[derive(Debug, Clone)]
enum Ty {
    /// `number`, `string`, `boolean`, `null`.
    Prim(String),
    /// A string literal type.
    Lit(String),
    /// A declared type by name.
    Ref(String),
    Array(Box<Ty>),
    Tuple(Vec<Ty>),
    /// `{ [key in string]: T }`.
    Map(Box<Ty>),
    /// Fields: name, optional, type.
    Object(Vec<(String, bool, Ty)>),
    Union(Vec<Ty>),
    Inter(Vec<Ty>),
}

type Field = (String, bool, Ty);

struct Decls(BTreeMap<String, Ty>);

struct Parser {
    tokens: Vec<String>,
    at: usize,
}

fn tokenize(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            while !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '"' {
            let start = i;
            i += 1;
            while chars[i] != '"' {
                i += 1;
            }
            i += 1;
            out.push(chars[start..i].iter().collect());
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else {
            out.push(c.to_string());
            i += 1;
        }
    }
    out
}

impl Parser {
    fn peek(&self) -> &str {
        self.tokens.get(self.at).map_or("", String::as_str)
    }
    fn next(&mut self) -> String {
        self.at += 1;
        self.tokens[self.at - 1].clone()
    }
    fn eat(&mut self, token: &str) -> bool {
        let hit = self.peek() == token;
        if hit {
            self.at += 1;
        }
        hit
    }
    fn expect(&mut self, token: &str) {
        let got = self.next();
        assert_eq!(got, token, "TypeScript parse error at token {}", self.at);
    }

    /// `item (sep item)*`, wrapped when there is more than one.
    fn separated(&mut self, sep: &str, item: fn(&mut Self) -> Ty, wrap: fn(Vec<Ty>) -> Ty) -> Ty {
        let mut items = vec![item(self)];
        while self.eat(sep) {
            items.push(item(self));
        }
        if items.len() == 1 {
            items.remove(0)
        } else {
            wrap(items)
        }
    }
    fn ty(&mut self) -> Ty {
        self.separated("|", Self::inter, Ty::Union)
    }
    fn inter(&mut self) -> Ty {
        self.separated("&", Self::primary, Ty::Inter)
    }
    fn primary(&mut self) -> Ty {
        let token = self.next();
        match token.as_str() {
            "(" => {
                let t = self.ty();
                self.expect(")");
                t
            }
            "[" => {
                let mut items = vec![self.ty()];
                while self.eat(",") {
                    items.push(self.ty());
                }
                self.expect("]");
                Ty::Tuple(items)
            }
            "{" if self.peek() == "[" => {
                // { [key in string]: T }
                for t in ["[", "key", "in", "string", "]", ":"] {
                    self.expect(t);
                }
                let value = self.ty();
                self.eat(",");
                self.expect("}");
                Ty::Map(Box::new(value))
            }
            "{" => {
                let mut fields = Vec::new();
                while !self.eat("}") {
                    let name = self.next().trim_matches('"').to_owned();
                    let optional = self.eat("?");
                    self.expect(":");
                    fields.push((name, optional, self.ty()));
                    self.eat(",");
                }
                Ty::Object(fields)
            }
            "Array" => {
                self.expect("<");
                let t = self.ty();
                self.expect(">");
                Ty::Array(Box::new(t))
            }
            "number" | "string" | "boolean" | "null" => Ty::Prim(token),
            t if t.starts_with('"') => Ty::Lit(t.trim_matches('"').to_owned()),
            _ => Ty::Ref(token),
        }
    }
}

impl Decls {
    fn parse(text: &str) -> Decls {
        let mut p = Parser {
            tokens: tokenize(text),
            at: 0,
        };
        let mut decls = BTreeMap::new();
        while p.at < p.tokens.len() {
            p.expect("export");
            if p.eat("const") {
                while p.next() != ";" {}
                continue;
            }
            p.expect("type");
            let name = p.next();
            p.expect("=");
            decls.insert(name, p.ty());
            p.expect(";");
        }
        Decls(decls)
    }

    fn get(&self, name: &str) -> Result<&Ty, String> {
        self.0
            .get(name)
            .ok_or_else(|| format!("type {name} is not declared"))
    }

    fn check_named(&self, name: &str, v: &Value) -> Result<(), String> {
        self.check(self.get(name)?, v, "$")
    }

    /// The field lists an object-like type allows (one per union alternative), or `None`
    /// when the type is not an object type.
    fn shapes(&self, ty: &Ty) -> Result<Option<Vec<Vec<Field>>>, String> {
        Ok(match ty {
            Ty::Object(fields) => Some(vec![fields.clone()]),
            Ty::Ref(name) => self.shapes(self.get(name)?)?,
            Ty::Union(alts) => {
                let mut all = Vec::new();
                for alt in alts {
                    let Some(shapes) = self.shapes(alt)? else {
                        return Ok(None);
                    };
                    all.extend(shapes);
                }
                Some(all)
            }
            Ty::Inter(parts) => {
                let mut all: Vec<Vec<Field>> = vec![Vec::new()];
                for part in parts {
                    let Some(shapes) = self.shapes(part)? else {
                        return Ok(None);
                    };
                    all = all
                        .iter()
                        .flat_map(|a| shapes.iter().map(move |s| [a.clone(), s.clone()].concat()))
                        .collect();
                }
                Some(all)
            }
            _ => None,
        })
    }

    fn check_fields(&self, fields: &[Field], v: &Value, path: &str) -> Result<(), String> {
        let object = v
            .as_object()
            .ok_or_else(|| format!("{path}: expected an object, got {v}"))?;
        for key in object.keys() {
            if !fields.iter().any(|(name, ..)| name == key) {
                return Err(format!("{path}: field `{key}` is not declared"));
            }
        }
        for (name, optional, ty) in fields {
            match object.get(name) {
                Some(value) => self.check(ty, value, &format!("{path}.{name}"))?,
                None if *optional => {}
                None => return Err(format!("{path}: required field `{name}` is missing")),
            }
        }
        Ok(())
    }

    fn check(&self, ty: &Ty, v: &Value, path: &str) -> Result<(), String> {
        if let Ty::Object(_) | Ty::Inter(_) = ty {
            let shapes = self
                .shapes(ty)?
                .ok_or_else(|| format!("{path}: not an object type"))?;
            let errors: Vec<String> = shapes
                .iter()
                .filter_map(|fields| self.check_fields(fields, v, path).err())
                .collect();
            return if errors.len() < shapes.len() {
                Ok(())
            } else {
                Err(best(errors))
            };
        }
        let ok = match ty {
            Ty::Prim(p) => match p.as_str() {
                "number" => v.is_number(),
                "string" => v.is_string(),
                "boolean" => v.is_boolean(),
                _ => v.is_null(),
            },
            Ty::Lit(s) => v.as_str() == Some(s),
            Ty::Ref(name) => return self.check(self.get(name)?, v, path),
            Ty::Array(item) => {
                let items = v
                    .as_array()
                    .ok_or_else(|| format!("{path}: expected an array, got {v}"))?;
                for (i, x) in items.iter().enumerate() {
                    self.check(item, x, &format!("{path}[{i}]"))?;
                }
                true
            }
            Ty::Tuple(types) => {
                let items = v
                    .as_array()
                    .ok_or_else(|| format!("{path}: expected a tuple, got {v}"))?;
                if items.len() != types.len() {
                    return Err(format!("{path}: expected {} items, got {v}", types.len()));
                }
                for (i, (t, x)) in types.iter().zip(items).enumerate() {
                    self.check(t, x, &format!("{path}[{i}]"))?;
                }
                true
            }
            Ty::Map(value) => {
                let object = v
                    .as_object()
                    .ok_or_else(|| format!("{path}: expected a map, got {v}"))?;
                for (k, x) in object {
                    self.check(value, x, &format!("{path}.{k}"))?;
                }
                true
            }
            Ty::Union(alts) => {
                let errors: Vec<String> = alts
                    .iter()
                    .filter_map(|t| self.check(t, v, path).err())
                    .collect();
                return if errors.len() < alts.len() {
                    Ok(())
                } else {
                    Err(best(errors))
                };
            }
            Ty::Object(_) | Ty::Inter(_) => unreachable!("handled above"),
        };
        if ok {
            Ok(())
        } else {
            Err(format!("{path}: {v} is not {ty:?}"))
        }
    }
}

/// Of the alternatives' errors, the one that got deepest (the likely intended one).
fn best(errors: Vec<String>) -> String {
    errors
        .into_iter()
        .max_by_key(|e| e.split(':').next().map_or(0, str::len))
        .unwrap_or_default()
}
