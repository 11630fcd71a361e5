//! `townlet-recordings`: list, show and export a run's recorded episodes.

use anyhow::{Context, Result, anyhow, bail};
use clap::{ArgGroup, Args, Parser, Subcommand};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use townlet_cli::report;
use townlet_recording::listing::{Export, write_list, write_show};
use townlet_recording::{RecordingFilter, ReplayManager};

#[derive(Parser)]
#[command(
    name = "townlet-recordings",
    version,
    about = "Inspect a Townlet run's recorded episodes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Source {
    /// Run folder (reads RUN/metrics.db); default: the current folder.
    #[arg(long, value_name = "DIR", conflicts_with = "db")]
    run: Option<PathBuf>,
    /// The metrics database itself.
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
}

impl Source {
    fn db_path(&self) -> PathBuf {
        match (&self.db, &self.run) {
            (Some(db), _) => db.clone(),
            (None, Some(run)) => run.join("metrics.db"),
            (None, None) => PathBuf::from("metrics.db"),
        }
    }

    fn open(&self) -> Result<ReplayManager> {
        let path = self.db_path();
        ReplayManager::open(&path).with_context(|| format!("opening {}", path.display()))
    }
}

#[derive(Subcommand)]
enum Command {
    /// List recordings (newest first) as a table.
    List {
        #[command(flatten)]
        source: Source,
        /// Only this curriculum stage.
        #[arg(long)]
        stage: Option<u32>,
        /// Only this reason (periodic, stage_transition_before, stage_transition_after,
        /// performance_top, performance_bottom, stage_boundary).
        #[arg(long)]
        reason: Option<String>,
        /// Total reward at least this.
        #[arg(long, allow_negative_numbers = true)]
        min_reward: Option<f32>,
        /// Total reward at most this.
        #[arg(long, allow_negative_numbers = true)]
        max_reward: Option<f32>,
        /// At most N rows.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Summary and a per-step table of one recorded episode.
    Show {
        /// Episode id.
        id: u64,
        #[command(flatten)]
        source: Source,
    },
    /// The whole episode as JSON on stdout (non-finite numbers become null), or as an
    /// animated GIF (`--gif FILE`) and / or an MP4 video (`--video FILE`).
    #[command(group(ArgGroup::new("picture").args(["gif", "video"]).multiple(true)))]
    Export {
        /// Episode id.
        id: u64,
        #[command(flatten)]
        source: Source,
        /// JSON output.
        #[arg(long, required_unless_present = "picture", conflicts_with = "picture")]
        json: bool,
        /// Write to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// An animated GIF of the episode to FILE.gif (the town, the agent, its meters and
        /// the action chosen, one frame per step).
        #[arg(long, value_name = "FILE")]
        gif: Option<PathBuf>,
        /// An MP4 video (H.264) of the episode to FILE.mp4: the GIF's frames, one per step.
        #[arg(long, value_name = "FILE")]
        video: Option<PathBuf>,
        /// First step of the GIF / video (1-based).
        #[arg(long, requires = "picture")]
        from: Option<u32>,
        /// Last step of the GIF / video (inclusive).
        #[arg(long, requires = "picture")]
        to: Option<u32>,
        /// Steps per second of the GIF / video (the viewer's 1x is 5).
        #[arg(long, requires = "picture", default_value_t = 5.0)]
        fps: f32,
    },
}

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with 2.
    let cli = Cli::parse();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let result = run(cli, &mut out).and_then(|()| out.flush().map_err(Into::into));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `| head` closing the pipe is not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => report::fail(&e),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>().map(io::Error::kind) == Some(io::ErrorKind::BrokenPipe)
    })
}

fn load(source: &Source, id: u64) -> Result<ReplayManager> {
    let mut rm = source.open()?;
    rm.load(id)
        .with_context(|| format!("loading episode {id}"))?;
    Ok(rm)
}

fn run(cli: Cli, out: &mut impl Write) -> Result<()> {
    match cli.command {
        Command::List {
            source,
            stage,
            reason,
            min_reward,
            max_reward,
            limit,
        } => {
            let filter = RecordingFilter {
                stage,
                reason,
                min_reward,
                max_reward,
                limit,
            };
            let rows = source.open()?.list_recordings(&filter)?;
            write_list(out, &rows)?;
        }
        Command::Show { id, source } => {
            let rm = load(&source, id)?;
            let (Some(ep), Some(row)) = (rm.episode(), rm.recording()) else {
                bail!("episode {id} did not load");
            };
            write_show(out, ep, row, rm.reason().unwrap_or("-"))?;
        }
        Command::Export {
            id,
            source,
            json,
            output,
            gif,
            video,
            from,
            to,
            fps,
        } => {
            if gif.is_some() || video.is_some() {
                let steps = (from.is_some() || to.is_some())
                    .then(|| from.unwrap_or(1)..=to.unwrap_or(u32::MAX));
                let files = Pictures { gif, video };
                return export_pictures(&source, id, &files, steps, fps);
            }
            if !json {
                bail!("choose --json, --gif FILE or --video FILE");
            }
            let rm = load(&source, id)?;
            let export = Export::of(&rm).ok_or_else(|| anyhow!("episode {id} did not load"))?;
            match output {
                Some(path) => {
                    let f = std::fs::File::create(&path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    let mut w = BufWriter::new(f);
                    export
                        .write_json(&mut w)
                        .and_then(|()| w.flush())
                        .with_context(|| format!("writing {}", path.display()))?;
                }
                None => export.write_json(out)?,
            }
        }
    }
    Ok(())
}

/// The files of `export ID --gif FILE --video FILE`.
struct Pictures {
    gif: Option<PathBuf>,
    video: Option<PathBuf>,
}

type Encode = fn(
    &townlet_recording::LiveEpisode,
    &townlet_export::ExportWorld,
    &townlet_export::ExportOptions,
) -> Result<Vec<u8>, townlet_export::ExportError>;

impl Pictures {
    /// Each file with its flag, the extension it must have and its encoder.
    fn each(&self) -> Vec<(&'static str, &Path, &'static str, Encode)> {
        let gif = self.gif.as_deref().map(|p| {
            let e: Encode = townlet_export::episode_gif;
            ("--gif", p, "gif", e)
        });
        let video = self.video.as_deref().map(|p| {
            let e: Encode = townlet_export::episode_mp4;
            ("--video", p, "mp4", e)
        });
        gif.into_iter().chain(video).collect()
    }
}

/// `export ID --gif FILE / --video FILE`: the world's names come from the run's config
/// snapshot; the file names are checked before anything is loaded.
fn export_pictures(
    source: &Source,
    id: u64,
    files: &Pictures,
    steps: Option<std::ops::RangeInclusive<u32>>,
    fps: f32,
) -> Result<()> {
    for (flag, path, ext, _) in files.each() {
        let ok = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case(ext));
        if !ok {
            let got = path.extension().map_or("no extension".into(), |e| {
                format!(".{}", e.to_string_lossy())
            });
            bail!(
                "{flag} {}: the file name must end in .{ext} (got {got}); {}",
                path.display(),
                match ext {
                    "gif" => "the animation is written as a GIF",
                    _ => "the video is written as MP4 (H.264)",
                }
            );
        }
    }
    let rm = load(source, id)?;
    let ep = rm
        .episode()
        .ok_or_else(|| anyhow!("episode {id} did not load"))?;
    let db = source.db_path();
    let run_dir = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let pack_dir = townlet_inference::snapshot_pack(run_dir)?;
    let pack = townlet_config::load_pack(&pack_dir)
        .with_context(|| format!("loading the run's pack {}", pack_dir.display()))?;
    let env = townlet_env::Env::new(&pack, 1, 0)?;
    let world = townlet_export::ExportWorld {
        grid: env.grid_size(),
        meters: env.meter_names().to_vec(),
        actions: env.action_names().to_vec(),
    };
    // `--to` past the end means "to the end".
    let steps = steps.map(|r| *r.start()..=(*r.end()).min(ep.len() as u32));
    let frames = steps.clone().map_or(ep.len(), |r| {
        (r.end() + 1).saturating_sub(*r.start()) as usize
    });
    let opts = townlet_export::ExportOptions {
        fps,
        steps,
        ..Default::default()
    };
    for (_, path, _, encode) in files.each() {
        let bytes = encode(ep, &world, &opts)?;
        std::fs::write(path, &bytes)
            .map_err(|e| anyhow!("could not write {}: {e}", path.display()))?;
        eprintln!(
            "wrote {} ({frames} frames, {} bytes)",
            path.display(),
            bytes.len()
        );
    }
    Ok(())
}
