//! Building the trees that `limiter limits` and `limiter clear` print: limit lines, route
//! nodes, the application's and blueprints' groups, and the "Meta Limits" and "Application
//! Limits" trees, optionally with one key's state on every limit line.

use crate::select::Selection;
use crate::state::{State, Store};
use crate::tree::{Node, Style};
use limiter_core::manifest::Manifest;
use limiter_core::model::{LimitInfo, LimitSource, RouteInfo};

/// The style of a limit line: blueprint bold red, route yellow, default magenta, as `flask limiter limits`.
fn limit_style(source: LimitSource) -> Style {
    match source {
        LimitSource::Blueprint => Style::BoldRed,
        LimitSource::Route => Style::Yellow,
        LimitSource::Default => Style::Magenta,
        _ => Style::Plain,
    }
}

/// A limit line: `2 per 1 minute`, `3 per 1 minute (GET)`,
/// `1 per 1 second {deduct_when: f, exempt_when: g}`, `5 per 1 minute {shadow}`.
pub fn limit_node(limit: &LimitInfo, with_method: bool) -> Node {
    let mut text = limit.limit.clone();
    if let (Some(method), true) = (&limit.method, with_method) {
        text.push_str(&format!(" ({method})"));
    }
    let mut options = Vec::new();
    if let Some(deduct_when) = &limit.deduct_when {
        options.push(format!("deduct_when: {deduct_when}"));
    }
    if let Some(exempt_when) = &limit.exempt_when {
        options.push(format!("exempt_when: {exempt_when}"));
    }
    // This crate's own options, which Flask-Limiter's tree does not have.
    if limit.shadow {
        options.push("shadow".to_owned());
    }
    if limit.cost_from_response {
        options.push("cost_from_response".to_owned());
    }
    if !options.is_empty() {
        text.push_str(&format!(" {{{}}}", options.join(", ")));
    }
    Node::new(text, limit_style(limit.source))
}

/// The state of one key, if `--key` was given: the key and the storage (or why it is not
/// available).
pub struct KeyState<'a> {
    /// The client key.
    pub key: &'a str,
    /// The opened storage, `None` when it is not available.
    pub store: Option<&'a Store>,
}

impl KeyState<'_> {
    /// The state of `limit` for the key.
    pub async fn state(&self, limit: &LimitInfo) -> State {
        match self.store {
            // The app skips every limit for an empty key: nothing is counted for it.
            _ if self.key.is_empty() => State::Skipped,
            Some(store) => store.state(limit, self.key).await,
            None => State::Unavailable,
        }
    }

    /// Appends the state of `limit` to its line.
    pub async fn annotate(&self, node: &mut Node, limit: &LimitInfo) {
        self.state(limit).await.annotate(node);
    }
}

async fn limit_nodes<'a>(
    limits: impl IntoIterator<Item = &'a LimitInfo>,
    key: Option<&KeyState<'_>>,
) -> Vec<Node> {
    let mut nodes = Vec::new();
    for limit in limits {
        let mut node = limit_node(limit, true);
        if let Some(key) = key {
            key.annotate(&mut node, limit).await;
        }
        nodes.push(node);
    }
    nodes
}

/// The route node `endpoint: path` with its limit lines, or `Exempt`.
pub async fn route_node(
    route: &RouteInfo,
    selection: &Selection<'_>,
    key: Option<&KeyState<'_>>,
) -> Node {
    let limits = selection.limits(route);
    let label = format!("{}: {}", route.endpoint, route.path);
    let mut node = Node::new(label, Style::Plain);
    if limits.is_empty() {
        if route.exempt {
            node.children.push(Node::new("Exempt", Style::BoldRed));
        }
    } else {
        node.children = limit_nodes(limits, key).await;
    }
    node
}

/// The "Meta Limits" and "Application Limits" trees (shown when either kind exists).
pub async fn global_trees(manifest: &Manifest, key: Option<&KeyState<'_>>) -> Vec<Node> {
    let config = &manifest.config;
    if config.meta_limits.is_empty() && config.application_limits.is_empty() {
        return Vec::new();
    }
    let mut meta = Node::new("Meta Limits", Style::Gold);
    meta.children = limit_nodes(&config.meta_limits, key).await;
    let mut application = Node::new("Application Limits", Style::Gold);
    application.children = limit_nodes(&config.application_limits, key).await;
    vec![meta, application]
}

/// Every tree `limiter limits` prints, in order: the global trees (without a filter), then one
/// tree per group of routes.
pub async fn trees(
    manifest: &Manifest,
    selection: &Selection<'_>,
    key: Option<&KeyState<'_>>,
) -> Vec<Node> {
    let mut trees = if selection.filtered {
        Vec::new()
    } else {
        global_trees(manifest, key).await
    };
    let mut groups: Vec<(&str, Node)> = Vec::new();
    for route in &selection.routes {
        let node = route_node(route, selection, key).await;
        let group = route.group(&manifest.app);
        let index = match groups.iter().position(|(name, _)| *name == group) {
            Some(index) => index,
            None => {
                let style = match route.blueprint {
                    None => Style::Gold,
                    Some(_) => Style::Blue,
                };
                groups.push((group, Node::new(group, style)));
                groups.len() - 1
            }
        };
        groups[index].1.children.push(node);
    }
    trees.extend(groups.into_iter().map(|(_, node)| node));
    trees
}

/// Draws trees one after the other, styled (the output stream strips the styles when needed).
pub fn render(trees: &[Node]) -> String {
    let mut out = String::new();
    for tree in trees {
        tree.render(&mut out);
    }
    out
}
