//! The OpenAPI document's answers that every route shares.
//!
//! Handlers document what is theirs (their success, their conflicts); the
//! answers the middleware and the extractors give on any route — a
//! malformed body or query (400), a missing or ended session (401), a
//! denied role (403), an unknown id (404), an oversized body (413), a wrong
//! content type (415), invalid fields (422), a retry racing its first copy
//! (409), a timeout (408) — are added here from what each operation takes,
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
    if in_query || body {
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
    if method == "POST" && secured && !path.starts_with("/api/v1/auth/") && !webhook {
        add(
            "409",
            "A retry with the same Idempotency-Key is still running (see Retry-After)",
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
