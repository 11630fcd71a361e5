//! Loads each pack folder given on the command line and prints its errors or a summary.
//! `cargo run -p townlet-config --example check_pack -- configs/L1_full_observability`

use std::path::Path;

fn main() {
    let mut failed = false;
    for arg in std::env::args().skip(1) {
        match townlet_config::load_pack(Path::new(&arg)) {
            Ok(p) => {
                println!(
                    "{}: ok ({} meters, {} actions, {} affordances deployed, hash {})",
                    p.name,
                    p.meters.len(),
                    p.action_dim(),
                    p.deployed_affordances().len(),
                    townlet_config::config_hash_hex(&p)
                );
                for w in &p.warnings {
                    println!("  warning: {w}");
                }
            }
            Err(e) => {
                failed = true;
                println!("{e}");
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}
