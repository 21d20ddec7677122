//! The demo cluster, embedded so that `pulldoctor demo` needs no cluster and no files.

use super::bundle::{self, Bundle};

pub const DEMO_SNAPSHOT: &str = include_str!("../../assets/scenarios/demo.yaml");

pub fn bundle() -> Bundle {
    let mut b = Bundle::default();
    bundle::add_text(&mut b, "demo.yaml", DEMO_SNAPSHOT);
    b
}
