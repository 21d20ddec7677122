//! Colours, with `NO_COLOR` honoured: every status also carries a glyph and a word, so the screen
//! reads the same without colour.

use crate::report::Status;
use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub fn from_env() -> Theme {
        Theme {
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    fn fg(self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    pub fn status(self, s: Status) -> Style {
        match s {
            Status::Ok => self.fg(Color::Green),
            Status::Skipped => self.fg(Color::DarkGray),
            Status::Warning => self.fg(Color::Yellow),
            Status::Unknown => self.fg(Color::Magenta),
            Status::Broken => self.fg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }

    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn title(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn dim(self) -> Style {
        self.fg(Color::DarkGray)
    }

    pub fn key(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn added(self) -> Style {
        self.fg(Color::Green)
    }

    pub fn removed(self) -> Style {
        self.fg(Color::Red)
    }
}

/// A status as glyph and word.
pub fn marker(s: Status) -> &'static str {
    crate::report::text::marker(s)
}
