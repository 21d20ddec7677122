//! `pulldoctor mcp`: the command line of [`crate::mcp`].

use super::load::load_named;
use super::{Failure, Global};
use crate::mcp::Input;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// How long a live read answers the tools before the next call reads the cluster again.
const LIVE_FRESH_FOR: Duration = Duration::from_secs(30);

pub fn run(global: &Global) -> Result<ExitCode, Failure> {
    if global.allow_writes {
        return Err(Failure(
            "the MCP server writes nothing, whatever it is asked: drop --allow-writes".into(),
        ));
    }
    // stdout is the protocol's: no progress line may reach it, nor stderr's terminal.
    let global = Global {
        quiet: true,
        ..global.clone()
    };
    let input = if global.offline() {
        Input::Offline
    } else {
        Input::Live {
            fresh_for: LIVE_FRESH_FOR,
        }
    };
    let load: crate::mcp::Load =
        Arc::new(move |named| load_named(&global, false, false, named).map_err(|f| f.0));
    super::block_on(crate::mcp::serve(load, input))?.map_err(Failure)?;
    Ok(ExitCode::SUCCESS)
}
