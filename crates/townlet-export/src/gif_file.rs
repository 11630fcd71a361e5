//! The GIF: the fixed palette is the GIF's global colour table, and each frame after the
//! first stores only the rectangle that changed; the `gif` crate does the LZW coding.

use crate::{Canvas, ExportError, ExportOptions, ExportWorld, PALETTE, Plan};
use townlet_recording::LiveEpisode;

/// The smallest rectangle (x, y, w, h) where `a` and `b` differ, if they do.
fn changed(a: &Canvas, b: &Canvas) -> Option<(u32, u32, u32, u32)> {
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for y in 0..a.height {
        let row = (y * a.width) as usize;
        let (ra, rb) = (
            &a.pixels[row..row + a.width as usize],
            &b.pixels[row..row + a.width as usize],
        );
        if ra == rb {
            continue;
        }
        let first = ra.iter().zip(rb).position(|(p, q)| p != q).unwrap_or(0) as u32;
        let last = ra.iter().zip(rb).rposition(|(p, q)| p != q).unwrap_or(0) as u32;
        x0 = x0.min(first);
        x1 = x1.max(last);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    (x0 != u32::MAX).then(|| (x0, y0, x1 - x0 + 1, y1 - y0 + 1))
}

/// The episode (or `opts.steps` of it) as an animated GIF that loops.
pub fn episode_gif(
    ep: &LiveEpisode,
    world: &ExportWorld,
    opts: &ExportOptions,
) -> Result<Vec<u8>, ExportError> {
    let plan = Plan::new(ep, world, opts)?;
    let (w, h) = (plan.width, plan.height);
    let palette: Vec<u8> = PALETTE.iter().flatten().copied().collect();
    let mut out = Vec::new();
    {
        let mut enc = gif::Encoder::new(&mut out, w as u16, h as u16, &palette)
            .map_err(ExportError::Encode)?;
        enc.set_repeat(gif::Repeat::Infinite)
            .map_err(ExportError::Encode)?;
        let delay = (100.0 / opts.fps).round().max(2.0) as u16;
        let mut prev: Option<Canvas> = None;
        plan.render(|canvas| {
            let rect = match &prev {
                None => Some((0, 0, w, h)),
                Some(p) => changed(p, canvas),
            };
            // An unchanged frame still needs its own delay: one pixel, same colour.
            let (x, y, fw, fh) = rect.unwrap_or((0, 0, 1, 1));
            let mut buffer = Vec::with_capacity((fw * fh) as usize);
            for yy in y..y + fh {
                let row = (yy * w + x) as usize;
                buffer.extend_from_slice(&canvas.pixels[row..row + fw as usize]);
            }
            let frame = gif::Frame {
                left: x as u16,
                top: y as u16,
                width: fw as u16,
                height: fh as u16,
                delay,
                dispose: gif::DisposalMethod::Keep,
                buffer: std::borrow::Cow::Owned(buffer),
                ..gif::Frame::default()
            };
            enc.write_frame(&frame).map_err(ExportError::Encode)?;
            match &mut prev {
                Some(p) => p.pixels.copy_from_slice(&canvas.pixels),
                None => prev = Some(canvas.clone()),
            }
            Ok(())
        })?;
    }
    Ok(out)
}
