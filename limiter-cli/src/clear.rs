//! `limiter clear`: shows a key's limits, asks, clears them on the real storage, and prints
//! what it cleared.

use crate::args::ClearArgs;
use crate::error::CliError;
use crate::limit_trees::{global_trees, limit_node, render, route_node, KeyState};
use crate::output::write_out;
use crate::select::select;
use crate::state::{self, Store};
use crate::tree::{Node, Style};
use limiter_core::manifest::Manifest;
use limiter_core::model::LimitInfo;

/// Runs `limiter clear`.
pub async fn run(manifest: &Manifest, args: &ClearArgs) -> Result<(), CliError> {
    let selection = select(manifest, &args.filter)?;
    state::warn_if_memory(manifest);
    let store = state::connect(manifest).await?;
    let key = args.key.as_str();
    if !args.yes {
        let state = KeyState {
            key,
            store: Some(&store),
        };
        let mut trees = if selection.filtered {
            Vec::new()
        } else {
            global_trees(manifest, Some(&state)).await
        };
        for route in &selection.routes {
            trees.push(route_node(route, &selection, Some(&state)).await);
        }
        let mut text = render(&trees);
        text.push_str(&format!(
            "Proceed with resetting limits for key: {key}? [y/n] "
        ));
        write_out(&text)?;
        let mut answer = String::new();
        let read = std::io::stdin().read_line(&mut answer);
        if !matches!(read, Ok(n) if n > 0) {
            write_out("\n")?;
            return Err(CliError::NotConfirmed);
        }
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            return Err(CliError::NotConfirmed);
        }
    }

    let mut trees = Vec::new();
    if !selection.filtered {
        let config = &manifest.config;
        for (label, limits) in [
            ("Meta Limits", &config.meta_limits),
            ("Application Limits", &config.application_limits),
        ] {
            if !limits.is_empty() {
                let mut tree = Node::new(label, Style::Gold);
                tree.children = clear_all(&store, limits.iter(), key, true).await?;
                trees.push(tree);
            }
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    for route in &selection.routes {
        if seen.contains(&route.endpoint.as_str()) {
            continue;
        }
        seen.push(&route.endpoint);
        // Every route of this endpoint (an endpoint may serve several paths).
        let limits: Vec<&LimitInfo> = selection
            .routes
            .iter()
            .filter(|other| other.endpoint == route.endpoint)
            .flat_map(|other| selection.limits(other))
            .collect();
        let mut tree = Node::new(route.endpoint.clone(), Style::Plain);
        tree.children =
            clear_all(&store, limits.into_iter(), key, selection.method.is_some()).await?;
        trees.push(tree);
    }
    write_out(&render(&trees))
}

/// Clears each limit and returns its `… : Cleared` line. Per-method entries of one limit are
/// all cleared but printed once (with their method only when `with_method`).
async fn clear_all<'a>(
    store: &Store,
    limits: impl Iterator<Item = &'a LimitInfo>,
    key: &str,
    with_method: bool,
) -> Result<Vec<Node>, CliError> {
    let mut nodes: Vec<Node> = Vec::new();
    let mut printed: Vec<(String, &str, Option<&str>)> = Vec::new();
    for limit in limits {
        let cleared = store.clear(limit, key).await?;
        let method = limit.method.as_deref().filter(|_| with_method);
        let line = (limit.limit.clone(), limit.scope.as_str(), method);
        if printed.contains(&line) {
            continue;
        }
        printed.push(line);
        let mut node = limit_node(limit, with_method);
        if cleared {
            node.push_label(": Cleared", Style::Green);
        } else {
            node.push_label(": Not cleared (dynamic limit)", Style::Red);
        }
        nodes.push(node);
    }
    Ok(nodes)
}
