//! HTTP requests on the heap: `HttpClient`'s outgoing ones (`System.Net.Http.
//! HttpRequestMessage`, and their answers, `HttpResponseMessage`) for `dumphttp`, and
//! ASP.NET Core's incoming ones (`Microsoft.AspNetCore.Http.DefaultHttpContext`) for
//! `dumprequests`, read the way dotnet-dump reads them, in ClrMD's walk order.
use crate::heap::object::ObjectAddr;
use crate::heap::{Heap, WalkWarning};
use anyhow::{anyhow, Result};
use std::collections::HashMap;

/// Longest string read for a method, URI or path.
const MAX_STRING: usize = 1 << 16;

/// One outgoing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The `HttpRequestMessage`.
    pub address: u64,
    pub mt: u64,
    /// `GET`, `POST`...
    pub method: String,
    pub uri: String,
    /// The response's status code, when a response was found for it.
    pub status: Option<i32>,
}

/// One incoming ASP.NET Core request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingRequest {
    /// The `DefaultHttpContext`.
    pub address: u64,
    pub method: String,
    pub scheme: String,
    /// Path and query string.
    pub url: String,
}

impl Heap {
    /// Every `HttpRequestMessage`, and for every `HttpResponseMessage` its request with
    /// the status code, in heap order (a request found both ways appears twice), and
    /// the walk's warnings.
    pub fn http_requests(&self) -> Result<(Vec<HttpRequest>, Vec<WalkWarning>)> {
        let (mut requests, mut responses) = (HashMap::new(), HashMap::new());
        // The messages, in walk order: (address, is a response).
        let mut messages = Vec::new();
        let warnings = self.walk_clrmd_order(|o| {
            if self.named(&mut requests, o.mt, "System.Net.Http.HttpRequestMessage") {
                messages.push((o.address, false));
            } else if self.named(&mut responses, o.mt, "System.Net.Http.HttpResponseMessage") {
                messages.push((o.address, true));
            }
        });
        let mut out = Vec::new();
        for (address, is_response) in messages {
            crate::interrupt::check()?;
            if !is_response {
                out.push(self.http_request(address, None)?);
            } else {
                let request = self
                    .any_object_field(address, &["_requestMessage", "requestMessage"], "Unable to read HttpResponseMessage")?;
                out.push(self.http_request(request, Some(address))?);
            }
        }
        Ok((out, warnings))
    }

    /// Whether the type of `mt` is called `name` (cached per MethodTable).
    fn named(&self, cache: &mut HashMap<u64, bool>, mt: u64, name: &str) -> bool {
        *cache.entry(mt).or_insert_with(|| self.try_type_name(mt).is_some_and(|n| &*n == name))
    }

    fn http_request(&self, request: u64, response: Option<u64>) -> Result<HttpRequest> {
        let method = self.any_object_field(request, &["_method", "method"], "Unable to read HTTP Method")?;
        let method = self.any_string_field(method, &["_method", "method"], "Unable to read Method")?;
        let uri = self.any_object_field(request, &["_requestUri", "requestUri"], "Unable to read request uri")?;
        let uri = self.any_string_field(uri, &["_string", "m_String"], "Unable to read uri string")?;
        let status = match response {
            None => None,
            Some(r) => Some(self.any_i32_field(r, &["_statusCode", "statusCode"], "Unable to read status code")?),
        };
        let mt = self.object_mt(request)?;
        Ok(HttpRequest { address: request, mt, method, uri, status })
    }

    fn missing_field(&self, obj: u64, names: &[&str], message: &str) -> anyhow::Error {
        let type_name = self.object_mt(obj).map(|mt| self.type_name(mt).to_string()).unwrap_or_default();
        anyhow!("{message}. Type '{type_name}' does not contain any field named {}", names.join(" or "))
    }

    /// The first of the reference fields `names` the object has.
    fn any_object_field(&self, obj: u64, names: &[&str], message: &str) -> Result<u64> {
        let mt = self.object_mt(obj).map_err(|_| self.missing_field(obj, names, message))?;
        for name in names {
            if self.has_instance_field(mt, name) {
                return self.read_object_field(obj, name);
            }
        }
        Err(self.missing_field(obj, names, message))
    }

    fn any_string_field(&self, obj: u64, names: &[&str], message: &str) -> Result<String> {
        let s = self.any_object_field(obj, names, message)?;
        if s == 0 {
            return Ok(String::new());
        }
        self.string_value(s, MAX_STRING)
    }

    fn any_i32_field(&self, obj: u64, names: &[&str], message: &str) -> Result<i32> {
        let mt = self.object_mt(obj).map_err(|_| self.missing_field(obj, names, message))?;
        for name in names {
            if self.has_instance_field(mt, name) {
                return self.read_i32_field(obj, name);
            }
        }
        Err(self.missing_field(obj, names, message))
    }

    /// Every ASP.NET Core request in progress (a `DefaultHttpContext` whose features
    /// collection is set), in heap order, and the walk's warnings.
    pub fn incoming_requests(&self) -> Result<(Vec<IncomingRequest>, Vec<WalkWarning>)> {
        let mut named = HashMap::new();
        let mut contexts = Vec::new();
        let warnings = self.walk_clrmd_order(|o| {
            if self.named(&mut named, o.mt, "Microsoft.AspNetCore.Http.DefaultHttpContext") {
                contexts.push(o);
            }
        });
        let mut out = Vec::new();
        for o in contexts {
            crate::interrupt::check()?;
            let Ok(features) = self.field_addr(o.address, "_features") else { continue };
            let Ok(features_mt) = self.instance_field(o.mt, "_features").map(|fd| self.field_type_mt(&fd)) else {
                continue;
            };
            let Some(features_mt) = features_mt else { continue };
            let Ok(collection) = self.read_struct_object_field(features, features_mt, "<Collection>k__BackingField") else {
                continue;
            };
            if collection == 0 || self.object(ObjectAddr(collection)).is_none() {
                continue;
            }
            let string = |name: &str| -> Option<String> {
                let s = self.read_object_field(collection, name).ok()?;
                if s == 0 { None } else { self.string_value(s, MAX_STRING).ok() }
            };
            let cmt = self.object_mt(collection)?;
            let method = if self.has_instance_field(cmt, "<Method>k__BackingField") {
                string("<Method>k__BackingField").unwrap_or_default()
            } else {
                string("_methodText").unwrap_or_default()
            };
            let scheme = string("<Scheme>k__BackingField").unwrap_or_default();
            let path = string("<Path>k__BackingField").unwrap_or_default();
            let query = string("<QueryString>k__BackingField").unwrap_or_default();
            out.push(IncomingRequest { address: o.address, method, scheme, url: format!("{path}{query}") });
        }
        Ok((out, warnings))
    }
}
