//! The `recording:` section of `training.yaml`: whether and which episodes are recorded
//! (periodic, around stage transitions, best and worst, first of each stage).

use crate::types::{
    PerformanceCriterion, PeriodicCriterion, RecordingConfig, RecordingCriteria,
    StageBoundariesCriterion, StageTransitionsCriterion,
};
use crate::walk::{Errs, Obj, R, as_str};

pub(super) fn parse(e: &mut Errs, mut r: Obj) -> Option<RecordingConfig> {
    let d = RecordingConfig::default();
    let enabled = r.opt_bool(e, "enabled", d.enabled);
    let output_dir = match r.get_opt("output_dir") {
        None => Some(d.output_dir.clone()),
        Some(v) => as_str(e, r.file, &r.key("output_dir"), v).map(str::to_string),
    };
    let queue = r.opt_int::<usize>(e, "max_queue_size", d.max_queue_size, 1);
    let compression = r.opt_word(e, "compression", d.compression);
    let criteria = match r.opt_obj(e, "criteria") {
        Err(()) => None,
        Ok(None) => Some(d.criteria.clone()),
        Ok(Some(c)) => parse_criteria(e, c),
    };
    r.finish(e);
    Some(RecordingConfig {
        enabled: enabled?,
        output_dir: output_dir?,
        max_queue_size: queue?,
        compression: compression?,
        criteria: criteria?,
    })
}

fn parse_criteria(e: &mut Errs, mut c: Obj) -> Option<RecordingCriteria> {
    let d = RecordingCriteria::default();
    let periodic = match c.opt_obj(e, "periodic") {
        Err(()) => None,
        Ok(None) => Some(d.periodic.clone()),
        Ok(Some(mut p)) => {
            let enabled = p.opt_bool(e, "enabled", d.periodic.enabled);
            let interval = p.opt_int::<u64>(e, "interval", d.periodic.interval, 1);
            p.finish(e);
            enabled
                .zip(interval)
                .map(|(enabled, interval)| PeriodicCriterion { enabled, interval })
        }
    };
    let transitions = match c.opt_obj(e, "stage_transitions") {
        Err(()) => None,
        Ok(None) => Some(d.stage_transitions.clone()),
        Ok(Some(mut s)) => {
            let x = &d.stage_transitions;
            let enabled = s.opt_bool(e, "enabled", x.enabled);
            let before = s.opt_int::<u32>(e, "before", x.before, 0);
            let after = s.opt_int::<u32>(e, "after", x.after, 0);
            s.finish(e);
            match (enabled, before, after) {
                (Some(enabled), Some(before), Some(after)) => Some(StageTransitionsCriterion {
                    enabled,
                    before,
                    after,
                }),
                _ => None,
            }
        }
    };
    let performance = match c.opt_obj(e, "performance") {
        Err(()) => None,
        Ok(None) => Some(d.performance.clone()),
        Ok(Some(mut p)) => {
            let x = &d.performance;
            let enabled = p.opt_bool(e, "enabled", x.enabled);
            let top = p.opt_f64(e, "top_percent", x.top_percent, R::InOpenLo(0.0, 100.0));
            let bottom = p.opt_f64(
                e,
                "bottom_percent",
                x.bottom_percent,
                R::InOpenLo(0.0, 100.0),
            );
            let window = p.opt_int::<u32>(e, "window", x.window, 10);
            p.finish(e);
            match (enabled, top, bottom, window) {
                (Some(enabled), Some(top_percent), Some(bottom_percent), Some(window)) => {
                    Some(PerformanceCriterion {
                        enabled,
                        top_percent,
                        bottom_percent,
                        window,
                    })
                }
                _ => None,
            }
        }
    };
    let boundaries = match c.opt_obj(e, "stage_boundaries") {
        Err(()) => None,
        Ok(None) => Some(d.stage_boundaries.clone()),
        Ok(Some(mut b)) => {
            let x = &d.stage_boundaries;
            let enabled = b.opt_bool(e, "enabled", x.enabled);
            let first_n = b.opt_int::<u32>(e, "first_n", x.first_n, 1);
            b.finish(e);
            enabled
                .zip(first_n)
                .map(|(enabled, first_n)| StageBoundariesCriterion { enabled, first_n })
        }
    };
    c.finish(e);
    Some(RecordingCriteria {
        periodic: periodic?,
        stage_transitions: transitions?,
        performance: performance?,
        stage_boundaries: boundaries?,
    })
}
