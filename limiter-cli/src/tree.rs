//! Trees drawn as `rich` draws them (`├── `, `│   `, `└── `), with optional colours.
//!
//! Hand-rendered rather than with `ptree`: the text must be byte-for-byte Flask-Limiter's, each
//! line needs its own colours (label and state differ), and `ptree`'s defaults (3-column
//! indent, a user configuration file read from the environment) would make the output depend
//! on the operator's setup.

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
    fn code(self) -> Option<&'static str> {
        match self {
            Style::Plain => None,
            Style::Gold => Some("\x1b[38;5;178m"),
            Style::Blue => Some("\x1b[34m"),
            Style::BoldRed => Some("\x1b[1;31m"),
            Style::Yellow => Some("\x1b[33m"),
            Style::Magenta => Some("\x1b[35m"),
            Style::Green => Some("\x1b[32m"),
            Style::Red => Some("\x1b[31m"),
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

    /// Draws the tree, one line per node.
    pub fn render(&self, color: bool, out: &mut String) {
        self.write_label(color, out);
        self.render_children("", color, out);
    }

    fn render_children(&self, prefix: &str, color: bool, out: &mut String) {
        let last = self.children.len().saturating_sub(1);
        for (index, child) in self.children.iter().enumerate() {
            let (branch, continuation) = if index == last {
                ("└── ", "    ")
            } else {
                ("├── ", "│   ")
            };
            out.push_str(prefix);
            out.push_str(branch);
            child.write_label(color, out);
            child.render_children(&format!("{prefix}{continuation}"), color, out);
        }
    }

    fn write_label(&self, color: bool, out: &mut String) {
        for (text, style) in &self.label {
            match style.code().filter(|_| color) {
                Some(code) => {
                    out.push_str(code);
                    out.push_str(text);
                    out.push_str("\x1b[0m");
                }
                None => out.push_str(text),
            }
        }
        out.push('\n');
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
        root.render(false, &mut out);
        assert_eq!(
            out,
            "app\n├── fast: /fast\n│   ├── 2 per 1 minute\n│   └── 1 per 1 second\n\
             └── slow: /slow\n    └── 1 per 1 day\n"
        );
        let mut colored = String::new();
        Node::new("Exempt", Style::BoldRed).render(true, &mut colored);
        assert_eq!(colored, "\x1b[1;31mExempt\x1b[0m\n");
    }
}
