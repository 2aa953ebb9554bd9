//! Path routing over the contract's templates (matchit), with method dispatch on top:
//! matchit matches paths only, so 404 versus 405 is decided here. HEAD is answered wherever GET
//! is (RFC 9110 §9.3.2: a general-purpose server supports HEAD where it supports GET): a HEAD
//! request to a path without a HEAD operation routes to its GET operation, whose answer the
//! pipeline sends without its body, and `Allow` lists HEAD beside GET.

use http::Method;

/// Maps paths to the operations of each method.
#[derive(Default)]
pub struct Router {
    paths: matchit::Router<usize>,
    /// Per path: (method, operation index), in `Allow` order.
    methods: Vec<Vec<(Method, usize)>>,
}

/// The outcome of routing one request.
#[derive(Debug, PartialEq, Eq)]
pub enum RouteMatch<'r, 'p> {
    /// An operation; path parameters still percent-encoded, as in the request.
    Found {
        /// Index of the operation in the contract.
        operation: usize,
        /// Captured path parameters.
        params: Vec<(&'r str, &'p str)>,
    },
    /// The path exists with other methods; the `Allow` header value.
    MethodNotAllowed(String),
    /// No template matches.
    NotFound,
}

impl Router {
    /// Adds a path template with its operations.
    pub(crate) fn insert(&mut self, template: &str, methods: Vec<(Method, usize)>) -> Result<(), String> {
        if !braces_are_parameters(template) {
            // matchit reads `{{` and `}}` as escaped literal braces, so such a template would
            // route paths other than the one it documents.
            return Err(format!(
                "path template {template:?} has a brace outside a {{name}} parameter; \
                 literal braces in a path must be percent-encoded (%7B, %7D)"
            ));
        }
        self.paths
            .insert(template, self.methods.len())
            .map_err(|e| format!("path template {template:?} cannot be routed: {e}"))?;
        self.methods.push(methods);
        Ok(())
    }

    /// Routes a method and a raw path.
    pub fn route<'r, 'p>(&'r self, method: &Method, path: &'p str) -> RouteMatch<'r, 'p> {
        let Ok(found) = self.paths.at(path) else { return RouteMatch::NotFound };
        let methods = &self.methods[*found.value];
        let matched = methods
            .iter()
            .find(|(m, _)| m == method)
            .or_else(|| (method == Method::HEAD).then(|| methods.iter().find(|(m, _)| m == Method::GET)).flatten());
        match matched {
            Some((_, operation)) => RouteMatch::Found { operation: *operation, params: found.params.iter().collect() },
            None if methods.is_empty() => RouteMatch::NotFound,
            None => RouteMatch::MethodNotAllowed(allow(methods)),
        }
    }
}

/// The `Allow` value of a path: its methods in contract order, HEAD right after GET when the
/// path has GET and no HEAD operation of its own.
fn allow(methods: &[(Method, usize)]) -> String {
    let has_head = methods.iter().any(|(m, _)| m == Method::HEAD);
    let mut names = Vec::with_capacity(methods.len() + 1);
    for (method, _) in methods {
        names.push(method.as_str());
        if method == Method::GET && !has_head {
            names.push(Method::HEAD.as_str());
        }
    }
    names.join(", ")
}

/// Whether every brace of `template` opens or closes a non-empty `{name}` parameter.
fn braces_are_parameters(template: &str) -> bool {
    let mut open = false;
    let mut name_len = 0;
    for c in template.chars() {
        match (c, open) {
            ('{', false) => (open, name_len) = (true, 0),
            ('}', true) if name_len > 0 => open = false,
            ('{' | '}', _) => return false,
            (_, true) => name_len += 1,
            (_, false) => {}
        }
    }
    !open
}

/// The `{name}` parameters of a path template, in order.
pub(crate) fn template_params(template: &str) -> impl Iterator<Item = &str> {
    template.split('{').skip(1).filter_map(|part| part.split_once('}').map(|(name, _)| name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router {
        let mut router = Router::default();
        router.insert("/users/{id}", vec![(Method::GET, 0), (Method::DELETE, 1)]).unwrap();
        router.insert("/users/me", vec![(Method::GET, 2)]).unwrap();
        router
    }

    #[test]
    fn braces_outside_parameters_are_refused() {
        for template in ["/a}}b/{id}", "/}}{id}", "/a/{{b}}/{id}", "/{}", "/{id", "/id}", "/{a{b}}"] {
            let error = Router::default().insert(template, vec![(Method::GET, 0)]).unwrap_err();
            assert!(error.contains("percent-encoded"), "{template}: {error}");
        }
        assert!(Router::default().insert("/a/{b}/c/{d}", vec![(Method::GET, 0)]).is_ok());
    }

    #[test]
    fn static_segments_win_over_parameters() {
        assert_eq!(router().route(&Method::GET, "/users/me"), RouteMatch::Found { operation: 2, params: vec![] });
        assert_eq!(
            router().route(&Method::GET, "/users/7"),
            RouteMatch::Found { operation: 0, params: vec![("id", "7")] }
        );
    }

    #[test]
    fn other_method_lists_allowed_ones() {
        assert_eq!(router().route(&Method::POST, "/users/7"), RouteMatch::MethodNotAllowed("GET, HEAD, DELETE".into()));
    }

    #[test]
    fn head_routes_to_get_unless_the_path_has_its_own() {
        let found = RouteMatch::Found { operation: 0, params: vec![("id", "7")] };
        assert_eq!(router().route(&Method::HEAD, "/users/7"), found);
        let mut router = Router::default();
        router.insert("/files/{id}", vec![(Method::GET, 0), (Method::HEAD, 1)]).unwrap();
        router.insert("/upload", vec![(Method::POST, 2)]).unwrap();
        assert_eq!(
            router.route(&Method::HEAD, "/files/1"),
            RouteMatch::Found { operation: 1, params: vec![("id", "1")] }
        );
        assert_eq!(router.route(&Method::PUT, "/files/1"), RouteMatch::MethodNotAllowed("GET, HEAD".into()));
        assert_eq!(router.route(&Method::HEAD, "/upload"), RouteMatch::MethodNotAllowed("POST".into()));
    }

    #[test]
    fn unknown_and_trailing_slash_are_not_found() {
        assert_eq!(router().route(&Method::GET, "/nope"), RouteMatch::NotFound);
        assert_eq!(router().route(&Method::GET, "/users/7/"), RouteMatch::NotFound);
    }

    #[test]
    fn conflicting_templates_are_refused() {
        let mut router = router();
        assert!(router.insert("/users/{name}", vec![]).is_err());
    }

    #[test]
    fn template_parameters() {
        assert_eq!(template_params("/a/{x}/b/{y}").collect::<Vec<_>>(), vec!["x", "y"]);
        assert_eq!(template_params("/a").count(), 0);
    }
}
