//! The screens the user has opened, the pod list always at the bottom: each with its own cursor
//! (the selected row or link) and scroll (the fix pane, the wizard), so going back finds the
//! screen as it was left.

use super::action::Screen;

#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub screen: Screen,
    /// The selected row of a list, or link of a chain.
    pub cursor: usize,
    /// Lines scrolled down in a pane of text (the fix, the wizard).
    pub scroll: u16,
    /// Which of the fix pane's fixes is chosen.
    pub choice: usize,
}

impl View {
    fn new(screen: Screen, cursor: usize) -> View {
        View {
            screen,
            cursor,
            scroll: 0,
            choice: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Views {
    /// The pod list: never closed.
    root: View,
    /// What was opened above it, the last on top.
    opened: Vec<View>,
}

impl Default for Views {
    fn default() -> Views {
        Views {
            root: View::new(Screen::Pods, 0),
            opened: Vec::new(),
        }
    }
}

impl Views {
    pub fn top(&self) -> &View {
        self.opened.last().unwrap_or(&self.root)
    }

    pub fn top_mut(&mut self) -> &mut View {
        self.opened.last_mut().unwrap_or(&mut self.root)
    }

    pub fn push(&mut self, screen: Screen, cursor: usize) {
        self.opened.push(View::new(screen, cursor));
    }

    /// What lies under every opened screen: the pod list, or why there is none.
    pub fn set_root(&mut self, screen: Screen) {
        self.root.screen = screen;
    }

    /// Closes the top screen; the pod list stays.
    pub fn pop(&mut self) {
        self.opened.pop();
    }

    /// Back to the pod list.
    pub fn close_all(&mut self) {
        self.opened.clear();
    }

    pub fn contains(&self, screen: &Screen) -> bool {
        self.root.screen == *screen || self.opened.iter().any(|v| v.screen == *screen)
    }

    /// Maps every opened screen onto new findings; the first that cannot be mapped (its finding
    /// is gone) is closed with everything above it.
    pub fn remap(&mut self, mut map: impl FnMut(&Screen) -> Option<Screen>) {
        let mut kept = Vec::new();
        for view in self.opened.drain(..) {
            match map(&view.screen) {
                Some(screen) => kept.push(View { screen, ..view }),
                None => break,
            }
        }
        self.opened = kept;
    }
}
