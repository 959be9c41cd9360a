//! Trees drawn as `rich` draws them (`├── `, `│   `, `└── `), with optional colours.
//!
//! Laid out by `ptree` with an explicit [`PrintConfig`] (4-column indent, rich's characters, no
//! styles of its own) so the text is byte-for-byte Flask-Limiter's whatever the operator's
//! ptree configuration; each label styles its own pieces, since label and state differ.

use anstyle::{Ansi256Color, AnsiColor};
use ptree::print_config::{IndentChars, PrintConfig, StyleWhen};
use ptree::TreeItem;
use std::borrow::Cow;
use std::io::{self, Write};

/// A colour of a piece of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// No colour.
    Plain,
    /// Group labels of the app, "Application Limits", "Meta Limits".
    Gold,
    /// Blueprint group labels.
    Blue,
    /// `Exempt` and blueprint limits.
    BoldRed,
    /// Route limits.
    Yellow,
    /// Default limits.
    Magenta,
    /// `Pass`.
    Green,
    /// `Fail`, `Storage not available`.
    Red,
}

impl Style {
    /// The terminal style; `None` for plain text.
    fn ansi(self) -> Option<anstyle::Style> {
        let fg = |color: AnsiColor| anstyle::Style::new().fg_color(Some(color.into()));
        match self {
            Style::Plain => None,
            Style::Gold => Some(anstyle::Style::new().fg_color(Some(Ansi256Color(178).into()))),
            Style::Blue => Some(fg(AnsiColor::Blue)),
            Style::BoldRed => Some(fg(AnsiColor::Red).bold()),
            Style::Yellow => Some(fg(AnsiColor::Yellow)),
            Style::Magenta => Some(fg(AnsiColor::Magenta)),
            Style::Green => Some(fg(AnsiColor::Green)),
            Style::Red => Some(fg(AnsiColor::Red)),
        }
    }
}

/// A node: its label (pieces of text, each with a style) and its children.
#[derive(Debug, Clone, Default)]
pub struct Node {
    /// The label's pieces.
    pub label: Vec<(String, Style)>,
    /// The children, in order.
    pub children: Vec<Node>,
}

impl Node {
    /// A node labelled with one piece of text.
    pub fn new(text: impl Into<String>, style: Style) -> Node {
        Node {
            label: vec![(text.into(), style)],
            children: Vec::new(),
        }
    }

    /// Appends a piece to the label.
    pub fn push_label(&mut self, text: impl Into<String>, style: Style) {
        self.label.push((text.into(), style));
    }

    /// Draws the tree, one line per node, with `ptree` and a fixed layout. Labels carry their
    /// styles; the output stream strips them when the terminal should not get them.
    pub fn render(&self, out: &mut String) {
        let mut bytes = Vec::new();
        let styled = Styled { node: self };
        // Writing into a Vec cannot fail, and every label is valid UTF-8.
        if ptree::write_tree_with(&styled, &mut bytes, &print_config()).is_ok() {
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
    }

    fn write_label(&self, out: &mut impl Write) -> io::Result<()> {
        for (text, style) in &self.label {
            match style.ansi() {
                Some(style) => write!(out, "{style}{text}{style:#}")?,
                None => out.write_all(text.as_bytes())?,
            }
        }
        Ok(())
    }
}

/// The layout `rich` draws, spelled out so that neither ptree's defaults nor a user's
/// configuration file or environment can change a byte of it.
fn print_config() -> PrintConfig {
    PrintConfig {
        depth: u32::MAX,
        indent: 4,
        padding: 1,
        styled: StyleWhen::Never,
        characters: IndentChars {
            down_and_right: "├".to_owned(),
            down: "│".to_owned(),
            turn_right: "└".to_owned(),
            right: "─".to_owned(),
            empty: " ".to_owned(),
        },
        // Labels carry their own colours; branches stay plain.
        branch: ptree::Style::default(),
        leaf: ptree::Style::default(),
    }
}

/// A node handed to ptree.
#[derive(Clone)]
struct Styled<'a> {
    node: &'a Node,
}

impl TreeItem for Styled<'_> {
    type Child = Self;

    fn write_self<W: Write>(&self, f: &mut W, _style: &ptree::Style) -> io::Result<()> {
        self.node.write_label(f)
    }

    fn children(&self) -> Cow<'_, [Self::Child]> {
        Cow::Owned(
            self.node
                .children
                .iter()
                .map(|node| Styled { node })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_like_rich() {
        let mut root = Node::new("app", Style::Gold);
        let mut fast = Node::new("fast: /fast", Style::Plain);
        fast.children
            .push(Node::new("2 per 1 minute", Style::Yellow));
        fast.children
            .push(Node::new("1 per 1 second", Style::Yellow));
        root.children.push(fast);
        let mut slow = Node::new("slow: /slow", Style::Plain);
        slow.children.push(Node::new("1 per 1 day", Style::Yellow));
        root.children.push(slow);
        let mut out = String::new();
        root.render(&mut out);
        assert_eq!(
            anstream::adapter::strip_str(&out).to_string(),
            "app\n├── fast: /fast\n│   ├── 2 per 1 minute\n│   └── 1 per 1 second\n\
             └── slow: /slow\n    └── 1 per 1 day\n"
        );
        let mut colored = String::new();
        Node::new("Exempt", Style::BoldRed).render(&mut colored);
        assert_eq!(colored, "\x1b[1m\x1b[31mExempt\x1b[0m\n");
    }

    #[test]
    fn continuation_lines_run_through_nested_levels() {
        let leaf = |text: &str| Node::new(text, Style::Plain);
        let mut inner = leaf("inner");
        inner.children = vec![leaf("a"), leaf("b")];
        let mut first = leaf("first");
        first.children = vec![inner, leaf("after")];
        let mut last = leaf("last");
        last.children = vec![leaf("only")];
        let mut root = leaf("root");
        root.children = vec![first, last];
        let mut out = String::new();
        root.render(&mut out);
        assert_eq!(
            out,
            "root\n├── first\n│   ├── inner\n│   │   ├── a\n│   │   └── b\n│   └── after\n\
             └── last\n    └── only\n"
        );
    }

    #[test]
    fn a_lone_node_is_its_label() {
        let mut node = Node::new("limit", Style::Plain);
        node.push_label(": Cleared", Style::Green);
        let mut out = String::new();
        node.render(&mut out);
        assert_eq!(out, "limit\x1b[32m: Cleared\x1b[0m\n");
    }
}
