//! The OpenAPI document's answers that every route shares.
//!
//! Handlers document what is theirs (their success, their conflicts); the
//! answers the middleware and the extractors give on any route — a
//! malformed body or query (400), a missing or ended session (401), a
//! denied role (403), an unknown id (404), an oversized body (413), a wrong
//! content type (415), invalid fields (422), a write conflicting with the
//! current state or a retry racing its first copy (409), a timeout (408) —
//! are added here from what each operation takes,
//! so a client generated from the document (or a fuzzer checking it) meets
//! no undocumented status. Every problem is documented as what it is on
//! the wire: `application/problem+json`.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

const PROBLEM: &str = "application/problem+json";

/// Adds the shared answers to every operation of `doc` and files problems
/// under their media type.
pub(super) fn document_shared_answers(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [
            ("GET", &mut item.get),
            ("PUT", &mut item.put),
            ("POST", &mut item.post),
            ("DELETE", &mut item.delete),
            ("PATCH", &mut item.patch),
            ("HEAD", &mut item.head),
            ("OPTIONS", &mut item.options),
        ];
        for (method, operation) in operations {
            if let Some(operation) = operation {
                shared_answers(method, path, operation);
                file_problems(operation);
            }
        }
    }
}

fn shared_answers(method: &str, path: &str, op: &mut Operation) {
    let takes = |place: ParameterIn| {
        op.parameters.iter().flatten().any(|p| match p {
            RefOr::T(p) => p.parameter_in == place,
            RefOr::Ref(_) => false,
        })
    };
    let (in_path, in_query) = (takes(ParameterIn::Path), takes(ParameterIn::Query));
    let body = op.request_body.is_some();
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let webhook = path.starts_with("/webhooks/");
    let mut add = |status: &str, description: &str| {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| problem(description));
    };
    add("408", "The request took too long");
    if in_path || in_query || body {
        add("400", "Malformed request: JSON, query string or path");
    }
    if in_path || in_query || body {
        add("422", "Invalid fields; `errors` names each");
    }
    if body {
        add("413", "Request body too large");
        add("415", "Expected application/json");
    }
    if secured {
        add(
            "401",
            "Missing, invalid or expired token, or the session ended",
        );
        add("403", "Not allowed for this account");
    }
    if in_path {
        add("404", "Not found");
    }
    if method != "GET" && secured {
        add("409", "Conflicts with the current state (`type` says how)");
    }
    if method == "POST" && secured && !path.starts_with("/api/v1/auth/") && !webhook {
        add(
            "409",
            "Conflicts with the current state, or a retry with the same Idempotency-Key is still running (see Retry-After)",
        );
        add(
            "422",
            "Invalid fields, or an Idempotency-Key reused for another request",
        );
    }
}

/// A problem+json response.
fn problem(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
        .into()
}

/// Moves every response whose JSON body is a `Problem` under
/// `application/problem+json`.
fn file_problems(op: &mut Operation) {
    for response in op.responses.responses.values_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let is_problem = response
            .content
            .get("application/json")
            .is_some_and(|c| match c {
                RefOr::T(content) => matches!(
                    &content.schema,
                    Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem")
                ),
                RefOr::Ref(_) => false,
            });
        if is_problem && let Some(content) = response.content.shift_remove("application/json") {
            response.content.insert(PROBLEM.to_owned(), content);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::Value;

    fn document() -> Value {
        serde_json::to_value(super::super::openapi()).unwrap()
    }

    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let mut found = Vec::new();
        refs(&doc["paths"], &mut found);
        refs(&doc["components"], &mut found);
        for r in found {
            let name = r.trim_start_matches("#/components/schemas/");
            assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "{r} names no schema"
            );
        }
    }

    #[test]
    fn problems_are_problem_json_and_common_answers_are_documented() {
        let doc = document();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                for (status, response) in responses {
                    if let Some(content) = response["content"].as_object() {
                        let problem = content.values().any(|c| {
                            c["schema"]["$ref"]
                                .as_str()
                                .is_some_and(|r| r.ends_with("/Problem"))
                        });
                        if problem {
                            assert!(
                                content.contains_key("application/problem+json")
                                    && !content.contains_key("application/json"),
                                "{method} {path} {status}: a problem as application/json"
                            );
                        }
                    }
                }
                let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
                if secured {
                    for status in ["401", "403", "408"] {
                        assert!(
                            responses.contains_key(status),
                            "{method} {path} lacks {status}"
                        );
                    }
                }
                if op.get("requestBody").is_some() {
                    for status in ["400", "413", "415", "422"] {
                        assert!(
                            responses.contains_key(status),
                            "{method} {path} lacks {status}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn paging_and_hashes_declare_their_bounds() {
        let doc = document();
        let params = |path: &str, method: &str| doc["paths"][path][method]["parameters"].clone();
        let limit = params("/api/v1/customers", "get")
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .cloned()
            .unwrap();
        assert_eq!(limit["schema"]["minimum"], 1);
        assert_eq!(limit["schema"]["maximum"], 200);
        let sha = params("/api/v1/blobs/{sha256}", "get")[0].clone();
        assert_eq!(sha["schema"]["pattern"], "^[0-9a-f]{64}$");
    }
}
