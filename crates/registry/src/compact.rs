//! The compact command-line form of a component with hyper-parameters:
//! `adam:lr=3e-4,betas=[0.9,0.98]`, `he_uniform:mode=fan_out`, or just `relu`.

use crate::value::is_bare_word;
use crate::{ParamError, RawParams, Value};
use std::collections::BTreeMap;

/// Parses `name[:key=value,...]` into the name and its (unvalidated) hyper-parameters.
///
/// Values are booleans (`true`/`false`), integers (`10`), floats (`3e-4`, `0.5`, `inf`),
/// lists in brackets (`[0.9,0.98]`), double-quoted strings with `\"`/`\\` escapes, or bare
/// words (`fan_in`). Whitespace around tokens is ignored.
///
/// ```
/// use nabla_registry::{parse_compact, Value};
/// let (name, params) = parse_compact("adam:lr=3e-4,betas=[0.9,0.98]").unwrap();
/// assert_eq!(name, "adam");
/// assert_eq!(params["lr"], Value::Float(3e-4));
/// assert_eq!(params["betas"], Value::List(vec![Value::Float(0.9), Value::Float(0.98)]));
/// ```
pub fn parse_compact(input: &str) -> Result<(String, RawParams), ParamError> {
    let mut p = Parser { input, chars: input.char_indices().collect(), pos: 0 };
    let name = p.name()?;
    let mut params = BTreeMap::new();
    p.skip_ws();
    if p.eat(':') {
        loop {
            p.skip_ws();
            let key_at = p.pos;
            let key = p.key()?;
            p.skip_ws();
            if !p.eat('=') {
                return Err(p.error("expected '=' after the key"));
            }
            let value = p.value()?;
            if params.insert(key.clone(), value).is_some() {
                return Err(ParamError::Syntax {
                    input: input.to_string(),
                    position: key_at,
                    message: format!("the key '{key}' is given twice"),
                });
            }
            p.skip_ws();
            if p.at_end() {
                break;
            }
            if !p.eat(',') {
                return Err(p.error("expected ',' or the end after a value"));
            }
        }
    }
    p.skip_ws();
    if !p.at_end() {
        return Err(p.error("expected ':' after the name"));
    }
    Ok((name, params))
}

/// Writes a name and its parameters in the compact form; [`parse_compact`] reads it back to
/// the same name and values.
pub fn format(name: &str, params: &BTreeMap<String, Value>) -> String {
    let mut out = name.to_string();
    for (i, (k, v)) in params.iter().enumerate() {
        out.push(if i == 0 { ':' } else { ',' });
        out.push_str(k);
        out.push('=');
        out.push_str(&v.to_string());
    }
    out
}

struct Parser<'a> {
    input: &'a str,
    chars: Vec<(usize, char)>,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).map(|&(_, c)| c)
    }
    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }
    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }
    fn error(&self, message: &str) -> ParamError {
        ParamError::Syntax { input: self.input.to_string(), position: self.pos, message: message.to_string() }
    }
    fn take_while(&mut self, f: impl Fn(char) -> bool) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek() {
            if !f(c) {
                break;
            }
            s.push(c);
            self.pos += 1;
        }
        s
    }
    fn name(&mut self) -> Result<String, ParamError> {
        self.skip_ws();
        let name = self.take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if name.is_empty() {
            return Err(self.error("expected a component name"));
        }
        Ok(name)
    }
    fn key(&mut self) -> Result<String, ParamError> {
        let key = self.take_while(|c| c.is_alphanumeric() || c == '_');
        if key.is_empty() {
            return Err(self.error("expected a hyper-parameter name"));
        }
        Ok(key)
    }
    fn value(&mut self) -> Result<Value, ParamError> {
        self.skip_ws();
        match self.peek() {
            None => Err(self.error("expected a value")),
            Some('[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.skip_ws();
                if self.eat(']') {
                    return Ok(Value::List(items));
                }
                loop {
                    items.push(self.value()?);
                    self.skip_ws();
                    if self.eat(']') {
                        return Ok(Value::List(items));
                    }
                    if !self.eat(',') {
                        return Err(self.error("expected ',' or ']' in a list"));
                    }
                }
            }
            Some('"') => {
                self.pos += 1;
                let mut s = String::new();
                loop {
                    match self.peek() {
                        None => return Err(self.error("unterminated string")),
                        Some('"') => {
                            self.pos += 1;
                            return Ok(Value::Str(s));
                        }
                        Some('\\') => {
                            self.pos += 1;
                            let escaped = match self.peek() {
                                Some('"') => '"',
                                Some('\\') => '\\',
                                Some('n') => '\n',
                                Some('t') => '\t',
                                _ => return Err(self.error("unknown escape in a string")),
                            };
                            s.push(escaped);
                            self.pos += 1;
                        }
                        Some(c) => {
                            s.push(c);
                            self.pos += 1;
                        }
                    }
                }
            }
            Some(_) => {
                let at = self.pos;
                let token = self.take_while(|c| !matches!(c, ',' | ']' | '[' | '"') && !c.is_whitespace());
                if token.is_empty() {
                    return Err(self.error("expected a value"));
                }
                classify(&token).ok_or_else(|| ParamError::Syntax {
                    input: self.input.to_string(),
                    position: at,
                    message: format!("'{token}' is not a number, boolean, list or bare word"),
                })
            }
        }
    }
}

fn classify(token: &str) -> Option<Value> {
    match token {
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        _ => {}
    }
    let lower = token.to_ascii_lowercase();
    if matches!(lower.trim_start_matches(['+', '-']), "inf" | "infinity" | "nan") {
        return token.parse::<f64>().ok().map(Value::Float);
    }
    let first = token.chars().next()?;
    if first.is_ascii_digit() || matches!(first, '+' | '-' | '.') {
        let is_int = token.trim_start_matches(['+', '-']).chars().all(|c| c.is_ascii_digit());
        if is_int {
            return token.parse::<i64>().ok().map(Value::Int);
        }
        return token.parse::<f64>().ok().map(Value::Float);
    }
    is_bare_word(token).then(|| Value::Str(token.to_string()))
}
