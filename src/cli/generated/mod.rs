//! Code written by `scripts/gen_api.py`: the clap flag structs of every operation
//! ([`params`]). Nothing here is edited by hand; change the generator and run it again.

pub mod params;
