//! Episodes to take away (docs/usage.md#taking-an-episode-away): a recorded episode, or a
//! step range of it, as an animated GIF or an MP4 video (H.264) — the town, the agent, its
//! meters and the action chosen, one frame per step, at a chosen speed.
//!
//! Frames are drawn straight into a fixed 24-colour palette (axis-aligned cells, discs,
//! bars and a 3×5 pixel font) by one renderer that both formats share:
//! * [`episode_gif`]: the palette is the GIF's colour table, so no colour quantisation is
//!   needed, and each frame after the first stores only the rectangle that changed; the
//!   `gif` crate does the LZW coding.
//! * [`episode_mp4`]: each frame goes to 4:2:0 YUV through a per-palette-entry table and
//!   is coded by OpenH264 (the `openh264` crate, built from its bundled sources); the `mp4`
//!   crate writes the container (docs/decisions.md#episode-export-gif-and-mp4).
//!
//! Used by `townlet-recordings export ID --gif FILE / --video FILE` and the server's
//! `GET /api/runs/<run>/episodes/<id>.gif` and `.mp4`.
//!
//! ```
//! use townlet_export::{ExportOptions, ExportWorld, episode_gif, episode_mp4};
//! use townlet_recording::{LiveEpisode, RecordedStep};
//!
//! let mut ep = LiveEpisode { episode_id: 7, agent_id: 0, metadata: Default::default(),
//!     layout: vec![], start: Default::default(), steps: Default::default(), finished_at: 0 };
//! for i in 0..3u32 {
//!     let step = RecordedStep { step: i + 1, position: (i as i32, 0), meters: vec![0.5; 2],
//!         action: 3, ..Default::default() };
//!     ep.steps.push(&step).unwrap();
//! }
//! let world = ExportWorld {
//!     grid: 4,
//!     meters: vec!["energy".into(), "money".into()],
//!     actions: ["UP", "DOWN", "LEFT", "RIGHT"].map(String::from).to_vec(),
//! };
//! let gif = episode_gif(&ep, &world, &ExportOptions::default()).unwrap();
//! assert!(gif.starts_with(b"GIF89a"));
//! let mp4 = episode_mp4(&ep, &world, &ExportOptions::default()).unwrap();
//! assert_eq!(&mp4[4..8], b"ftyp");
//! ```

mod font;
mod gif_file;
mod mp4_file;

pub use gif_file::episode_gif;
pub use mp4_file::episode_mp4;

use std::ops::RangeInclusive;
use townlet_recording::{LiveEpisode, RecordedStep};

/// What a frame needs to know about the world besides the episode.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportWorld {
    /// Side of the square grid.
    pub grid: u32,
    /// Meter names, index order.
    pub meters: Vec<String>,
    /// Action names, index order.
    pub actions: Vec<String>,
}

/// How to export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportOptions {
    /// Steps per second of the animation or video (the viewer's 1× is 5).
    pub fps: f32,
    /// Only these steps (1-based, inclusive); `None` = the whole episode.
    pub steps: Option<RangeInclusive<u32>>,
    /// Pixels per grid cell.
    pub cell: u32,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            fps: 5.0,
            steps: None,
            cell: 40,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("episode {episode} has no steps to export")]
    Empty { episode: u64 },
    #[error("steps {from}..={to} are outside episode {episode}'s steps 1..={len}")]
    Range {
        episode: u64,
        from: u32,
        to: u32,
        len: usize,
    },
    #[error("speed {0} is not a number of steps per second in [0.1, 100]")]
    Speed(f32),
    #[error("cell size {0} px is outside 8..=128")]
    Cell(u32),
    #[error("grid of {0} cells per side is outside 1..=64")]
    Grid(u32),
    #[error("the GIF encoder failed")]
    Encode(#[source] gif::EncodingError),
    #[error("the H.264 encoder failed")]
    H264(#[source] openh264::Error),
    #[error("the H.264 encoder's output is unusable: {0}")]
    H264Output(&'static str),
    #[error("the MP4 writer failed")]
    Mp4(#[source] mp4::Error),
}

impl ExportError {
    /// Whether the request was at fault (an empty episode, a step range, speed, cell or
    /// grid size out of bounds) rather than an encoder.
    pub fn is_request(&self) -> bool {
        matches!(
            self,
            ExportError::Empty { .. }
                | ExportError::Range { .. }
                | ExportError::Speed(_)
                | ExportError::Cell(_)
                | ExportError::Grid(_)
        )
    }
}

// The palette: every colour a frame uses.
const BG: u8 = 0;
const CELL: u8 = 1;
const LINE: u8 = 2;
const TEXT: u8 = 3;
const DIM: u8 = 4;
const AGENT: u8 = 5;
const AGENT_MARK: u8 = 6;
const BAR_BG: u8 = 7;
const GOOD: u8 = 8;
const MID: u8 = 9;
const LOW: u8 = 10;
const TRAIL: u8 = 11;
/// Affordance colours start here (12 of them, by a hash of the name).
const AFF0: u8 = 12;
const AFF_COLOURS: u8 = 12;

const PALETTE: [[u8; 3]; 24] = [
    [0x1b, 0x1f, 0x2a], // background
    [0xf4, 0xf1, 0xe8], // cell
    [0xcf, 0xc9, 0xb8], // grid line
    [0xf0, 0xf0, 0xf0], // text
    [0x8a, 0x90, 0x9c], // dim text
    [0x24, 0x3b, 0x8f], // agent
    [0xff, 0xff, 0xff], // agent's action mark
    [0x3a, 0x40, 0x4e], // bar background
    [0x4c, 0xaf, 0x50], // good
    [0xf5, 0xa6, 0x23], // middling
    [0xe0, 0x4f, 0x3f], // low
    [0xd6, 0xdc, 0xf0], // trail
    [0xe5, 0x73, 0x73],
    [0x64, 0xb5, 0xf6],
    [0x81, 0xc7, 0x84],
    [0xff, 0xb7, 0x4d],
    [0xba, 0x68, 0xc8],
    [0x4d, 0xd0, 0xe1],
    [0xf0, 0x62, 0x92],
    [0xa1, 0x88, 0x7f],
    [0xae, 0xd5, 0x81],
    [0x90, 0xa4, 0xae],
    [0xff, 0xd5, 0x4f],
    [0x79, 0x86, 0xcb],
];

/// The RGB colour of the agent in frames (for tests and docs).
pub const AGENT_RGB: [u8; 3] = PALETTE[AGENT as usize];

const HEADER: u32 = 22;
const PANEL: u32 = 170;
const FONT_SCALE: u32 = 2;

/// An indexed-colour picture.
#[derive(Debug, Clone, PartialEq)]
pub struct Canvas {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: u32, height: u32) -> Canvas {
        Canvas {
            width,
            height,
            pixels: vec![BG; (width * height) as usize],
        }
    }

    fn rect(&mut self, x: u32, y: u32, w: u32, h: u32, c: u8) {
        for yy in y..(y + h).min(self.height) {
            let row = (yy * self.width) as usize;
            for xx in x..(x + w).min(self.width) {
                self.pixels[row + xx as usize] = c;
            }
        }
    }

    fn disc(&mut self, cx: f32, cy: f32, r: f32, c: u8) {
        let (x0, x1) = ((cx - r).floor().max(0.0) as u32, (cx + r).ceil() as u32);
        let (y0, y1) = ((cy - r).floor().max(0.0) as u32, (cy + r).ceil() as u32);
        for y in y0..y1.min(self.height) {
            for x in x0..x1.min(self.width) {
                let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
                if dx * dx + dy * dy <= r * r {
                    self.pixels[(y * self.width + x) as usize] = c;
                }
            }
        }
    }

    /// Text at (`x`, `y`) (top-left), `scale` pixels per font pixel; returns the width.
    fn text(&mut self, x: u32, y: u32, s: &str, scale: u32, c: u8) -> u32 {
        let advance = (font::GLYPH_W + 1) * scale;
        for (i, ch) in s.chars().enumerate() {
            let gx = x + i as u32 * advance;
            for py in 0..font::GLYPH_H {
                for px in 0..font::GLYPH_W {
                    if font::pixel(ch, px, py) {
                        self.rect(gx + px * scale, y + py * scale, scale, scale, c);
                    }
                }
            }
        }
        s.chars().count() as u32 * advance
    }

    /// The palette colour of pixel (`x`, `y`).
    pub fn rgb(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        let i = *self.pixels.get((y * self.width + x) as usize)?;
        PALETTE.get(i as usize).copied()
    }
}

/// Where the centre of grid cell (`x`, `y`) is drawn, in pixels of a frame.
pub fn cell_centre(opts: &ExportOptions, x: i32, y: i32) -> (u32, u32) {
    let c = opts.cell;
    (
        x.max(0) as u32 * c + c / 2,
        HEADER + y.max(0) as u32 * c + c / 2,
    )
}

/// Short label of an affordance: the capitals of a CamelCase name (`LuxuryBed` → `LB`),
/// else its first two letters.
fn label(name: &str) -> String {
    let caps: String = name.chars().filter(char::is_ascii_uppercase).collect();
    if caps.len() >= 2 {
        caps.chars().take(3).collect()
    } else {
        name.chars().take(2).collect()
    }
}

fn affordance_colour(name: &str) -> u8 {
    let h = name
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    AFF0 + (h % u32::from(AFF_COLOURS)) as u8
}

fn meter_colour(v: f32) -> u8 {
    if v > 0.5 {
        GOOD
    } else if v > 0.2 {
        MID
    } else {
        LOW
    }
}

/// Checks the options against the episode and returns the step indices (0-based) to draw.
fn indices(
    ep: &LiveEpisode,
    world: &ExportWorld,
    opts: &ExportOptions,
) -> Result<RangeInclusive<usize>, ExportError> {
    if !(0.1..=100.0).contains(&opts.fps) {
        return Err(ExportError::Speed(opts.fps));
    }
    if !(8..=128).contains(&opts.cell) {
        return Err(ExportError::Cell(opts.cell));
    }
    if !(1..=64).contains(&world.grid) {
        return Err(ExportError::Grid(world.grid));
    }
    let len = ep.len();
    if len == 0 {
        return Err(ExportError::Empty {
            episode: ep.episode_id,
        });
    }
    let (from, to) = opts
        .steps
        .clone()
        .map_or((1, len as u32), |r| (*r.start(), *r.end()));
    if from == 0 || from > to || to as usize > len {
        return Err(ExportError::Range {
            episode: ep.episode_id,
            from,
            to,
            len,
        });
    }
    Ok(from as usize - 1..=to as usize - 1)
}

/// Draws the frame of step `s` (0-based index `i`) of `ep`.
fn draw(
    canvas: &mut Canvas,
    ep: &LiveEpisode,
    world: &ExportWorld,
    opts: &ExportOptions,
    s: &RecordedStep,
    trail: &[(i32, i32)],
) {
    let c = opts.cell;
    let side = world.grid;
    canvas.pixels.fill(BG);
    // Header: episode, step, action.
    let action = world
        .actions
        .get(s.action as usize)
        .cloned()
        .unwrap_or_else(|| s.action.to_string());
    let head = format!(
        "EPISODE {}  STEP {}/{}  {}{}",
        ep.episode_id,
        s.step,
        ep.len(),
        action,
        if s.explored { " (RANDOM)" } else { "" }
    );
    canvas.text(4, 5, &head, FONT_SCALE, TEXT);
    // The town.
    canvas.rect(0, HEADER, side * c, side * c, LINE);
    for y in 0..side {
        for x in 0..side {
            canvas.rect(x * c + 1, HEADER + y * c + 1, c - 2, c - 2, CELL);
        }
    }
    for &(x, y) in trail {
        let (cx, cy) = cell_centre(opts, x, y);
        canvas.disc(cx as f32, cy as f32, c as f32 * 0.12, TRAIL);
    }
    for a in &ep.layout {
        if a.x < 0 || a.y < 0 || a.x as u32 >= side || a.y as u32 >= side {
            continue;
        }
        let (x0, y0) = (a.x as u32 * c + 3, HEADER + a.y as u32 * c + 3);
        canvas.rect(x0, y0, c - 6, c - 6, affordance_colour(&a.name));
        let l = label(&a.name);
        let scale = if c >= 32 { 2 } else { 1 };
        canvas.text(x0 + 2, y0 + 2, &l, scale, BG);
    }
    // The agent, with the action it chose.
    let (cx, cy) = cell_centre(opts, s.position.0, s.position.1);
    let r = c as f32 * 0.34;
    canvas.disc(cx as f32, cy as f32, r, AGENT);
    let mark: String = action.chars().take(1).collect();
    let arrow = match s.action {
        0 => Some((0.0, -1.0)),
        1 => Some((0.0, 1.0)),
        2 => Some((-1.0, 0.0)),
        3 => Some((1.0, 0.0)),
        _ => None,
    };
    match arrow {
        Some((dx, dy)) => {
            for k in 0..4 {
                let t = r * (0.1 + 0.2 * k as f32);
                canvas.disc(
                    cx as f32 + dx * t,
                    cy as f32 + dy * t,
                    r * (0.32 - 0.06 * k as f32),
                    AGENT_MARK,
                );
            }
        }
        None => {
            canvas.text(
                cx.saturating_sub(3),
                cy.saturating_sub(5),
                &mark,
                2,
                AGENT_MARK,
            );
        }
    }
    // Meters.
    let px = side * c + 10;
    let mut y = HEADER + 2;
    for (i, name) in world.meters.iter().enumerate() {
        let v = s.meters.get(i).copied().unwrap_or(0.0).clamp(0.0, 1.0);
        let short: String = name.chars().take(9).collect();
        canvas.text(px, y, &short, FONT_SCALE, DIM);
        let bar_y = y + 12;
        canvas.rect(px, bar_y, PANEL - 20, 8, BAR_BG);
        canvas.rect(
            px,
            bar_y,
            ((PANEL - 20) as f32 * v) as u32,
            8,
            meter_colour(v),
        );
        y += 26;
    }
    if let Some(t) = s.time_of_day {
        canvas.text(px, y + 2, &format!("{t:02}:00"), FONT_SCALE, TEXT);
    }
}

/// Width and height of every frame: the town, the meter panel and the header, rounded up
/// to even numbers (H.264's 4:2:0 colour needs them; the extra row or column is background).
fn frame_size(world: &ExportWorld, opts: &ExportOptions) -> (u32, u32) {
    let grid_px = world.grid * opts.cell;
    let panel_h = 26 * world.meters.len() as u32 + 30;
    let (w, h) = (grid_px + PANEL, HEADER + grid_px.max(panel_h) + 4);
    (w.next_multiple_of(2), h.next_multiple_of(2))
}

/// An export whose options were checked: which steps, how large a frame.
struct Plan<'a> {
    ep: &'a LiveEpisode,
    world: &'a ExportWorld,
    opts: &'a ExportOptions,
    steps: RangeInclusive<usize>,
    width: u32,
    height: u32,
}

impl<'a> Plan<'a> {
    fn new(
        ep: &'a LiveEpisode,
        world: &'a ExportWorld,
        opts: &'a ExportOptions,
    ) -> Result<Plan<'a>, ExportError> {
        let steps = indices(ep, world, opts)?;
        let (width, height) = frame_size(world, opts);
        Ok(Plan {
            ep,
            world,
            opts,
            steps,
            width,
            height,
        })
    }

    /// Draws the frames one after another into one canvas and hands each to `each`: the
    /// one frame renderer of every format.
    fn render(
        &self,
        mut each: impl FnMut(&Canvas) -> Result<(), ExportError>,
    ) -> Result<(), ExportError> {
        let mut canvas = Canvas::new(self.width, self.height);
        let mut trail = Vec::new();
        for i in self.steps.clone() {
            let Some(s) = self.ep.step(i) else { break };
            draw(&mut canvas, self.ep, self.world, self.opts, &s, &trail);
            trail.push(s.position);
            each(&canvas)?;
        }
        Ok(())
    }
}

/// Every frame of the export, fully drawn (what the GIF and the video show, one per step).
pub fn frames(
    ep: &LiveEpisode,
    world: &ExportWorld,
    opts: &ExportOptions,
) -> Result<Vec<Canvas>, ExportError> {
    let mut out = Vec::new();
    Plan::new(ep, world, opts)?.render(|c| {
        out.push(c.clone());
        Ok(())
    })?;
    Ok(out)
}
