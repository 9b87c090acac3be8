//! The GitHub REST description (`tests/fixtures/github/github-rest-subset.json`) as the stand-in
//! server's contract: routing by path template, the declared query parameters, and a validator
//! for the OpenAPI 3.0 schema keywords the subset uses.

#![allow(dead_code)]

use std::path::Path;

use serde_json::Value;

/// The parsed description.
pub struct Spec {
    /// The whole document.
    doc: Value,
    /// `(template segments, template, method, operation)` for every operation.
    routes: Vec<Route>,
}

/// One operation of the description.
#[derive(Clone)]
pub struct Route {
    /// The path template, e.g. `/repos/{owner}/{repo}/issues/{issue_number}/comments`.
    pub template: String,
    /// Lower-case method.
    pub method: String,
    /// The operation object.
    pub operation: Value,
}

/// A matched request: the route and its path parameters.
pub struct Matched {
    /// The route.
    pub route: Route,
    /// `name -> value` of the path parameters, percent-decoded.
    pub params: Vec<(String, String)>,
}

impl Matched {
    /// A path parameter.
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

impl Spec {
    /// Loads the fixture.
    pub fn load() -> Spec {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/github/github-rest-subset.json");
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("spec")).expect("json");
        let mut routes = Vec::new();
        for (template, item) in doc["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("path item") {
                if method != "parameters" {
                    routes.push(Route {
                        template: template.clone(),
                        method: method.clone(),
                        operation: operation.clone(),
                    });
                }
            }
        }
        Spec { doc, routes }
    }

    /// Finds the operation for a method and a path (below the API root). A template whose last
    /// segment is `{ref}` or `{tag}` takes the rest of the path, since git refs have slashes.
    pub fn route(&self, method: &str, path: &str) -> Option<Matched> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.routes
            .iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method))
            .find_map(|route| {
                let params = match_template(&route.template, &segments)?;
                Some(Matched {
                    route: route.clone(),
                    params,
                })
            })
    }

    /// True when the description has this method and template.
    pub fn has_route(&self, method: &str, template: &str) -> bool {
        self.routes
            .iter()
            .any(|r| r.template == template && r.method.eq_ignore_ascii_case(method))
    }

    /// Checks query parameter names against the operation's declared `in: query` parameters.
    pub fn check_query(&self, route: &Route, query: &[(String, String)]) -> Result<(), String> {
        let declared: Vec<String> = route.operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| self.resolve(p))
            .filter(|p| p["in"] == "query")
            .filter_map(|p| p["name"].as_str().map(str::to_string))
            .collect();
        match query.iter().find(|(name, _)| !declared.contains(name)) {
            Some((name, _)) => Err(format!(
                "query parameter `{name}` is not declared (declared: {declared:?})"
            )),
            None => Ok(()),
        }
    }

    /// Validates a JSON request body against the operation's `application/json` schema.
    pub fn check_request_body(&self, route: &Route, body: &Value) -> Result<(), String> {
        let schema = &route.operation["requestBody"]["content"]["application/json"]["schema"];
        if schema.is_null() {
            return Ok(());
        }
        self.validate(schema, body, "body")
    }

    /// The response schema for a status, if the operation declares JSON content for it.
    pub fn response_schema(&self, route: &Route, status: u16) -> Option<Value> {
        let response = self.resolve(&route.operation["responses"][status.to_string()]);
        let schema = &response["content"]["application/json"]["schema"];
        (!schema.is_null()).then(|| schema.clone())
    }

    /// An example object by component name (`issue-comment`, `release`...).
    pub fn example(&self, name: &str) -> Value {
        let value = self.doc["components"]["examples"][name]["value"].clone();
        assert!(!value.is_null(), "no example `{name}` in the spec");
        value
    }

    /// Follows a `$ref` (once per level) to its target.
    pub fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        let mut value = value;
        while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
            let pointer = reference.trim_start_matches('#');
            value = self.doc.pointer(pointer).unwrap_or(&Value::Null);
        }
        value
    }

    /// Validates a value against a schema; the error names the JSON path.
    ///
    /// `oneOf` is checked as "at least one branch": GitHub's branches overlap (a private user
    /// also matches the public-user shape apart from `additionalProperties`), and GitHub itself
    /// picks by a discriminator this validator does not model.
    pub fn validate(&self, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        let schema = self.resolve(schema);
        if value.is_null() {
            if schema["nullable"] == true || schema["type"] == "null" {
                return Ok(());
            }
            if schema.get("type").is_some() {
                return Err(format!("{at}: null where the schema does not allow it"));
            }
        }
        if let Some(all) = schema["allOf"].as_array() {
            for branch in all {
                self.validate(branch, value, at)?;
            }
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(branches) = schema[key].as_array() {
                let errors: Vec<String> = branches
                    .iter()
                    .filter_map(|b| self.validate(b, value, at).err())
                    .collect();
                if errors.len() == branches.len() {
                    return Err(format!("{at}: matches no branch of {key}: {errors:?}"));
                }
            }
        }
        if let Some(options) = schema["enum"].as_array() {
            if !options.contains(value) {
                return Err(format!("{at}: {value} is not one of {options:?}"));
            }
        }
        match schema["type"].as_str() {
            Some(kind) => self.validate_typed(schema, kind, value, at),
            None => Ok(()),
        }
    }

    /// The `type`-specific keywords.
    fn validate_typed(
        &self,
        schema: &Value,
        kind: &str,
        value: &Value,
        at: &str,
    ) -> Result<(), String> {
        let ok = match kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            _ => true,
        };
        if !ok {
            return Err(format!("{at}: expected {kind}, got {value}"));
        }
        if let Some(text) = value.as_str() {
            let length = text.chars().count() as u64;
            if schema["maxLength"].as_u64().is_some_and(|max| length > max) {
                return Err(format!(
                    "{at}: longer than maxLength {}",
                    schema["maxLength"]
                ));
            }
            if schema["minLength"].as_u64().is_some_and(|min| length < min) {
                return Err(format!(
                    "{at}: shorter than minLength {}",
                    schema["minLength"]
                ));
            }
        }
        if let Some(number) = value.as_f64() {
            if schema["minimum"].as_f64().is_some_and(|min| number < min)
                || schema["maximum"].as_f64().is_some_and(|max| number > max)
            {
                return Err(format!("{at}: {number} outside minimum/maximum"));
            }
        }
        if let Some(items) = value.as_array() {
            let count = items.len() as u64;
            if schema["maxItems"].as_u64().is_some_and(|max| count > max)
                || schema["minItems"].as_u64().is_some_and(|min| count < min)
            {
                return Err(format!("{at}: {count} items outside minItems/maxItems"));
            }
            for (i, item) in items.iter().enumerate() {
                self.validate(&schema["items"], item, &format!("{at}[{i}]"))?;
            }
        }
        if let Some(object) = value.as_object() {
            let properties = schema["properties"].as_object();
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap_or_default();
                if !object.contains_key(name) {
                    return Err(format!("{at}: missing required `{name}`"));
                }
            }
            for (name, field) in object {
                let path = format!("{at}.{name}");
                match properties.and_then(|p| p.get(name)) {
                    Some(property) => self.validate(property, field, &path)?,
                    None => match &schema["additionalProperties"] {
                        Value::Bool(false) => {
                            return Err(format!(
                                "{path}: not allowed (additionalProperties: false)"
                            ))
                        }
                        extra @ Value::Object(_) => self.validate(extra, field, &path)?,
                        _ => {}
                    },
                }
            }
        }
        Ok(())
    }
}

/// Matches path segments against a template, returning the parameters.
fn match_template(template: &str, segments: &[&str]) -> Option<Vec<(String, String)>> {
    let parts: Vec<&str> = template.trim_matches('/').split('/').collect();
    let mut params = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let greedy = i + 1 == parts.len() && (*part == "{ref}" || *part == "{tag}");
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            let value = if greedy {
                (i < segments.len()).then(|| segments[i..].join("/"))?
            } else {
                segments.get(i)?.to_string()
            };
            if value.is_empty() {
                return None;
            }
            params.push((name.to_string(), percent_decode(&value)));
            if greedy {
                return Some(params);
            }
        } else if segments.get(i) != Some(part) {
            return None;
        }
    }
    (segments.len() == parts.len()).then_some(params)
}

/// Decodes `%XX` escapes.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(byte) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
