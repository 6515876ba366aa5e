//! What a GraphQL request may cost, checked before async-graphql validates
//! or runs it, and held while it runs: the query's size with every fragment
//! spread expanded, the answer's size, the request's time, and the length of
//! what an error reply echoes.
//!
//! async-graphql validates and executes a query with its fragment spreads
//! expanded, once per spread: a 1 KB document whose fragments each spread
//! the previous one twice asks for 2^25 fields. [`expanded_cost`] counts
//! that size in time linear in the document (each fragment is counted once
//! and remembered), so such a query is refused before any work that grows
//! with the expansion. [`Budget`] is the per-request meter the
//! [`Metered`] extension charges as fields resolve: the time left and the
//! bytes of the answer so far.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::parser::types::{Directive, ExecutableDocument, Field, Selection, SelectionSet};
use async_graphql::{Positioned, ServerError, ServerResult, Value};

/// What an error reply may echo of a message (the query's text, a name).
pub const MAX_ERROR_MESSAGE_CHARS: usize = 240;

/// Errors one reply carries; the rest are counted in one last error.
pub const MAX_ERRORS: usize = 20;

/// Fragment spreads inside fragments, nested: deeper is refused (a chain of
/// thousands of fragments would otherwise be followed by recursion).
pub const MAX_FRAGMENT_NESTING: usize = 32;

/// The size and depth of a document's operations with every fragment
/// spread expanded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    /// Fields, fragment spreads, directives and argument value nodes, each
    /// counted once per place the expansion puts it.
    pub size: usize,
    /// Field nesting.
    pub depth: usize,
}

/// Why a document is refused before it is validated.
#[derive(Debug, PartialEq, Eq)]
pub enum CostError {
    /// Expanded past the limit (the size is a lower bound: counting stops).
    TooLarge { limit: usize },
    /// Fields nested past the limit once fragments are expanded.
    TooDeep { limit: usize },
    /// A fragment spreads itself, directly or through others.
    Cycle { fragment: String },
    /// Fragments nested past [`MAX_FRAGMENT_NESTING`].
    FragmentsTooNested,
}

impl std::fmt::Display for CostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CostError::TooLarge { limit } => write!(
                f,
                "query too large once its fragments are expanded: more than {limit} \
                 fields, arguments and directives (the expanded-size limit)"
            ),
            CostError::TooDeep { limit } => write!(
                f,
                "query nested too deep: more than {limit} levels once its fragments are \
                 expanded (the depth limit)"
            ),
            CostError::Cycle { fragment } => {
                write!(f, "fragment {} spreads itself", excerpt(fragment))
            }
            CostError::FragmentsTooNested => {
                write!(f, "fragments nested more than {MAX_FRAGMENT_NESTING} deep")
            }
        }
    }
}

/// The expanded cost of every operation of `doc` together (async-graphql
/// validates them all, whichever runs), refused past `max_size` or
/// `max_depth`. Each fragment is counted once, however often it is spread.
/// Spreads of unknown fragments count 1 (validation names them).
pub fn expanded_cost(
    doc: &ExecutableDocument,
    max_size: usize,
    max_depth: usize,
) -> Result<Cost, CostError> {
    let mut counter = Counter {
        doc,
        max_size,
        known: HashMap::new(),
        open: Vec::new(),
    };
    let mut total = Cost::default();
    for (_, operation) in doc.operations.iter() {
        let directives = directives_cost(&operation.node.directives);
        let cost = counter.selection_set(&operation.node.selection_set)?;
        total.size = total
            .size
            .saturating_add(cost.size)
            .saturating_add(directives);
        total.depth = total.depth.max(cost.depth);
        if total.size > max_size {
            return Err(CostError::TooLarge { limit: max_size });
        }
    }
    if total.depth > max_depth {
        return Err(CostError::TooDeep { limit: max_depth });
    }
    Ok(total)
}

struct Counter<'a> {
    doc: &'a ExecutableDocument,
    max_size: usize,
    /// Fragments counted so far.
    known: HashMap<&'a str, Cost>,
    /// Fragments being counted (the spread path), to find cycles.
    open: Vec<&'a str>,
}

impl<'a> Counter<'a> {
    fn selection_set(&mut self, set: &'a Positioned<SelectionSet>) -> Result<Cost, CostError> {
        let mut cost = Cost::default();
        for selection in &set.node.items {
            let (size, depth) = match &selection.node {
                Selection::Field(field) => {
                    let inner = self.selection_set(&field.node.selection_set)?;
                    let own = field_cost(&field.node);
                    (own.saturating_add(inner.size), inner.depth + 1)
                }
                Selection::InlineFragment(inline) => {
                    let inner = self.selection_set(&inline.node.selection_set)?;
                    let own = 1 + directives_cost(&inline.node.directives);
                    (own.saturating_add(inner.size), inner.depth)
                }
                Selection::FragmentSpread(spread) => {
                    let own = 1 + directives_cost(&spread.node.directives);
                    let inner = self.fragment(spread.node.fragment_name.node.as_str())?;
                    (own.saturating_add(inner.size), inner.depth)
                }
            };
            cost.size = cost.size.saturating_add(size);
            cost.depth = cost.depth.max(depth);
            if cost.size > self.max_size {
                return Err(CostError::TooLarge {
                    limit: self.max_size,
                });
            }
        }
        Ok(cost)
    }

    fn fragment(&mut self, name: &'a str) -> Result<Cost, CostError> {
        if let Some(cost) = self.known.get(name) {
            return Ok(*cost);
        }
        let Some(fragment) = self.doc.fragments.get(name) else {
            return Ok(Cost::default());
        };
        if self.open.contains(&name) {
            return Err(CostError::Cycle {
                fragment: name.to_owned(),
            });
        }
        if self.open.len() >= MAX_FRAGMENT_NESTING {
            return Err(CostError::FragmentsTooNested);
        }
        self.open.push(name);
        let cost = self.selection_set(&fragment.node.selection_set);
        self.open.pop();
        let mut cost = cost?;
        cost.size = cost
            .size
            .saturating_add(directives_cost(&fragment.node.directives));
        self.known.insert(name, cost);
        Ok(cost)
    }
}

fn field_cost(field: &Field) -> usize {
    let arguments: usize = field
        .arguments
        .iter()
        .map(|(_, value)| 1 + value_nodes(&value.node))
        .sum();
    1 + arguments + directives_cost(&field.directives)
}

fn directives_cost(directives: &[Positioned<Directive>]) -> usize {
    directives
        .iter()
        .map(|directive| {
            1 + directive
                .node
                .arguments
                .iter()
                .map(|(_, value)| 1 + value_nodes(&value.node))
                .sum::<usize>()
        })
        .sum()
}

/// Nodes of an argument value (lists and objects count their items), walked
/// without recursion.
fn value_nodes(value: &async_graphql_value::Value) -> usize {
    use async_graphql_value::Value as V;
    let mut count = 0usize;
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        count += 1;
        match value {
            V::List(items) => stack.extend(items.iter()),
            V::Object(fields) => stack.extend(fields.values()),
            _ => {}
        }
    }
    count
}

/// At most [`MAX_ERROR_MESSAGE_CHARS`] characters of `text` on one line, and
/// how much was left out.
pub fn excerpt(text: &str) -> String {
    let line = provgraph_model::one_line(text);
    let mut chars = line.char_indices();
    match chars.nth(MAX_ERROR_MESSAGE_CHARS) {
        None => line,
        Some((cut, _)) => format!(
            "{}... ({} more bytes not shown)",
            &line[..cut],
            line.len() - cut
        ),
    }
}

/// Error replies made short: each message an [`excerpt`], at most
/// [`MAX_ERRORS`] errors and one more that counts the rest.
pub fn shorten_errors(errors: &mut Vec<ServerError>) {
    let more = errors.len().saturating_sub(MAX_ERRORS);
    errors.truncate(MAX_ERRORS);
    for error in errors.iter_mut() {
        if error.message.len() > MAX_ERROR_MESSAGE_CHARS || error.message.contains('\n') {
            error.message = excerpt(&error.message);
        }
        error.locations.truncate(MAX_ERRORS);
    }
    if more > 0 {
        errors.push(ServerError::new(
            format!("{more} more errors not shown"),
            None,
        ));
    }
}

/// One request's meter: its deadline and the bytes its answer holds so far.
pub struct Budget {
    deadline: Instant,
    timeout: Duration,
    max_response_bytes: usize,
    response_bytes: AtomicUsize,
    over: AtomicBool,
    late: AtomicBool,
}

impl Budget {
    pub fn new(timeout: Duration, max_response_bytes: usize) -> Arc<Budget> {
        Arc::new(Budget {
            deadline: Instant::now() + timeout,
            timeout,
            max_response_bytes,
            response_bytes: AtomicUsize::new(0),
            over: AtomicBool::new(false),
            late: AtomicBool::new(false),
        })
    }

    /// Why the request's answer was cut (past the time limit or the answer's
    /// size limit), for the reply that replaces it.
    pub fn spent(&self) -> Option<String> {
        if self.over.load(Ordering::Relaxed) {
            Some(format!(
                "answer larger than {} bytes (the response size limit): ask for fewer \
                 fields or items",
                self.max_response_bytes
            ))
        } else if self.late.load(Ordering::Relaxed) {
            Some(format!(
                "query took longer than the {:?} limit",
                self.timeout
            ))
        } else {
            None
        }
    }

    /// Before a field resolves: refused once the deadline has passed.
    fn check_time(&self) -> ServerResult<()> {
        if Instant::now() >= self.deadline {
            self.late.store(true, Ordering::Relaxed);
        }
        match self.spent() {
            Some(why) => Err(ServerError::new(why, None)),
            None => Ok(()),
        }
    }

    fn charge(&self, value: &Value) -> ServerResult<()> {
        let total = self
            .response_bytes
            .fetch_add(leaf_bytes(value), Ordering::Relaxed)
            .saturating_add(leaf_bytes(value));
        if total > self.max_response_bytes {
            self.over.store(true, Ordering::Relaxed);
            return Err(ServerError::new(self.spent().unwrap_or_default(), None));
        }
        Ok(())
    }
}

/// The bytes a resolved value adds to the answer beyond its object fields
/// (which are charged as they resolve): scalars, and lists of scalars.
fn leaf_bytes(value: &Value) -> usize {
    match value {
        Value::String(text) => text.len() + 2,
        Value::Enum(name) => name.len() + 2,
        Value::Binary(bytes) => bytes.len(),
        Value::List(items) => items.iter().map(|item| 1 + leaf_bytes(item)).sum(),
        Value::Object(_) => 2,
        Value::Null | Value::Number(_) | Value::Boolean(_) => 8,
    }
}

/// The extension that charges every field of a request to its [`Budget`]
/// (given as request data): a field that starts after the deadline, or whose
/// value takes the answer past its size limit, fails, and the error stops
/// its siblings (async-graphql joins them until the first error).
pub struct Metered;

impl ExtensionFactory for Metered {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Metered)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Metered {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let Some(budget) = ctx.data_opt::<Arc<Budget>>() else {
            return next.run(ctx, info).await;
        };
        budget.check_time()?;
        let value = next.run(ctx, info).await?;
        if let Some(value) = &value {
            budget.charge(value)?;
        }
        Ok(value)
    }
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
