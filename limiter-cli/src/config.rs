//! `limiter config`: the active configuration as a plain-text table.

use crate::args::Format;
use crate::json;
use crate::state;
use limiter_core::manifest::Manifest;
use limiter_core::model::{env, LimitInfo};

fn limits(limits: &[LimitInfo]) -> String {
    list(limits.iter().map(|limit| match &limit.method {
        Some(method) => format!("{} ({method})", limit.limit),
        None => limit.limit.clone(),
    }))
}

fn list(items: impl IntoIterator<Item = String>) -> String {
    let items: Vec<String> = items.into_iter().collect();
    if items.is_empty() {
        "(none)".to_owned()
    } else {
        items.join(", ")
    }
}

/// The table's rows: setting, configuration variable, value.
pub async fn rows(manifest: &Manifest) -> Vec<[String; 3]> {
    let config = &manifest.config;
    let status = match state::connect(manifest).await {
        Ok(_) => "OK".to_owned(),
        Err(crate::error::CliError::StorageUnavailable { reason, .. }) => {
            format!("Error: {reason}")
        }
        Err(error) => format!("Error: {error}"),
    };
    let row = |setting: &str, variable: &str, value: String| {
        [setting.to_owned(), variable.to_owned(), value]
    };
    let names = &config.header_names;
    let fallback = config.failure_mode == "in-memory-fallback";
    vec![
        row("Enabled", env::ENABLED, config.enabled.to_string()),
        row("Key function", "", config.key_func.clone()),
        row(
            "Key prefix",
            env::KEY_PREFIX,
            format!("'{}'", config.key_prefix),
        ),
        row(
            "Max key length",
            env::MAX_KEY_LENGTH,
            config.max_key_length.to_string(),
        ),
        row("Strategy", env::STRATEGY, config.strategy.clone()),
        row(
            "GCRA burst",
            env::GCRA_BURST,
            config.gcra_burst.map_or_else(
                || "(each limit's amount)".to_owned(),
                |burst| burst.to_string(),
            ),
        ),
        row("Storage URI", env::STORAGE_URI, state::shown_uri(manifest)),
        row("Storage status", "", status),
        row(
            "Default limits",
            env::DEFAULT,
            list(config.default_limits.iter().cloned()),
        ),
        row(
            "Application limits",
            env::APPLICATION,
            limits(&config.application_limits),
        ),
        row("Meta limits", env::META, limits(&config.meta_limits)),
        row(
            "In-memory fallback",
            env::IN_MEMORY_FALLBACK_ENABLED,
            fallback.to_string(),
        ),
        row(
            "Fallback limits",
            "",
            list(config.in_memory_fallback.iter().cloned()),
        ),
        row(
            "Swallow errors",
            env::SWALLOW_ERRORS,
            (config.failure_mode == "fail-open").to_string(),
        ),
        row("On storage error", "", config.failure_mode.clone()),
        row(
            "Fail on first breach",
            env::FAIL_ON_FIRST_BREACH,
            config.fail_on_first_breach.to_string(),
        ),
        row(
            "Shadow mode",
            env::SHADOW_MODE,
            config.shadow_mode.to_string(),
        ),
        row(
            "Headers enabled",
            env::HEADERS_ENABLED,
            config.headers_enabled.to_string(),
        ),
        row("Limit header", "", names.limit.clone()),
        row("Remaining header", "", names.remaining.clone()),
        row("Reset header", "", names.reset.clone()),
        row("Retry-After header", "", names.retry_after.clone()),
        row(
            "Retry-After value",
            env::HEADER_RETRY_AFTER_VALUE,
            config.retry_after.clone(),
        ),
        row(
            "Header style",
            env::HEADER_STYLE,
            config.header_style.clone(),
        ),
    ]
}

/// Lays rows out in aligned columns under a header, without trailing spaces.
pub fn table(title: &str, header: [&str; 3], rows: &[[String; 3]]) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = format!("{title}\n");
    let mut line = |cells: [&str; 3]| {
        let mut text = String::new();
        for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if index > 0 {
                text.push_str("  ");
            }
            text.push_str(cell);
            if index < 2 {
                text.push_str(&" ".repeat(width - cell.chars().count()));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header);
    let rules = widths.map(|width| "-".repeat(width));
    line([&rules[0], &rules[1], &rules[2]]);
    for row in rows {
        line([&row[0], &row[1], &row[2]]);
    }
    out
}

/// Runs `limiter config`: the table or the JSON document, whatever the storage's health (shown
/// in it).
pub async fn run(manifest: &Manifest, format: Format) -> String {
    let rows = rows(manifest).await;
    match format {
        Format::Text => table("Limiter Config", ["Setting", "Variable", "Value"], &rows),
        Format::Json => json::config_document(&rows),
    }
}
