//! Generated case diagrams (概要図) as SVG.
//!
//! The layout is a set of nested swimlanes: every actor without parts gets a lane, and an actor
//! that contains others (the operator with its departments, a vendor with its systems) is drawn
//! as a box around its parts' lanes, reaching down the whole diagram. A group that events name
//! directly also gets a lane of its own, first inside its box. Below the actors, every incident
//! step and then every response gets a row of its own: a badge at the lane of the actor where it
//! happens (or who acts), arrows to the other actors it involves, and its text in a callout
//! beside or above them. One row per event is what guarantees that no two texts overlap, whatever
//! the case; texts are wrapped to measured widths so none leaves its box.
//!
//! A step or response with a time (「10:30」, 「3時間後」) shows it in small type just above its
//! badge, inside the row, so it takes part in the row's layout like the badge itself; rows
//! without a time are laid out exactly as if times did not exist.
//!
//! Steps ("what happened") are red: filled badges "(1)", solid arrows, solid callouts.
//! Responses ("what was done") are blue: outlined badges "対処1", dashed arrows, dashed rounded
//! callouts. A legend says so.
//!
//! Everything is computed from the case alone, in declaration order, with fixed-precision number
//! formatting, so the same case always gives the same bytes.

use crate::text::{max_line_width, text_width, widest_word, wrap_balanced};
use kizuki_domain::case::{Actor, ActorKind, CaseContent, Step};
use std::fmt::Write;

/// A rendered diagram and its size in SVG user units.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagram {
    pub svg: String,
    pub width: f64,
    pub height: f64,
    /// Heights (top to bottom, in user units) at which a horizontal cut crosses no text:
    /// under the actors, between rows and above the legend. A diagram too tall for one page
    /// is printed in slices cut there, each at full width, rather than shrunk.
    pub cuts: Vec<f64>,
}

impl Diagram {
    /// The narrowest it may be printed, in millimetres, for its smallest type to stay at 8 pt.
    pub fn min_print_width_mm(&self) -> f64 {
        const EIGHT_POINTS_MM: f64 = 8.0 / 72.0 * 25.4;
        EIGHT_POINTS_MM * self.width / SMALLEST_SIZE
    }
}

/// The nominal width of every diagram. Keeping it fixed keeps the font size the same from one
/// case to the next when diagrams are scaled to the page width.
pub const WIDTH: f64 = 1000.0;

const MARGIN: f64 = 12.0;
const GROUP_PAD: f64 = 8.0;
const SIBLING_GAP: f64 = 8.0;
const ROOT_GAP: f64 = 14.0;
const LANE_MIN: f64 = 64.0;
const LANE_MAX: f64 = 230.0;
const BOX_PAD: f64 = 6.0;

/// The smallest type in a diagram, in user units. Diagrams are printed at most
/// [`PRINT_WIDTH_MM`] wide for [`WIDTH`] units, so this is 8 pt on paper: nothing smaller is
/// comfortable to read in print.
pub const MIN_FONT: f64 = 8.0 / (PRINT_WIDTH_MM / 25.4 * 72.0) * WIDTH;
/// The width a diagram is printed at on an A4 page in portrait.
pub const PRINT_WIDTH_MM: f64 = 174.0;

const ACTOR_SIZE: f64 = 17.0;
const ACTOR_LINE: f64 = 21.0;
const EVENT_SIZE: f64 = 17.0;
const EVENT_LINE: f64 = 22.0;
const SMALL_SIZE: f64 = 17.0;
const SMALLEST_SIZE: f64 = SMALL_SIZE.min(ACTOR_SIZE).min(EVENT_SIZE);
/// The widest a diagram may grow past [`WIDTH`] to keep its words whole: scaled to the page,
/// its smallest type still prints at [`MIN_FONT`].
const MAX_WIDTH: f64 = WIDTH * SMALLEST_SIZE / MIN_FONT;
const BADGE_SIZE: f64 = SMALL_SIZE;
const BADGE_H: f64 = 26.0;
const CALLOUT_PAD_X: f64 = 8.0;
const CALLOUT_PAD_Y: f64 = 6.0;
const SIDE_MIN: f64 = 150.0;
const SIDE_MAX: f64 = 470.0;
const ABOVE_MIN: f64 = 360.0;
const ABOVE_MAX: f64 = 640.0;
const ROW_GAP: f64 = 10.0;
const TIME_SIZE: f64 = SMALL_SIZE;
const TIME_LINE: f64 = 20.0;
const STACK_STEP: f64 = 7.0;
/// Fraction of the font size from the top of a line box to the baseline, for CJK fonts.
const ASCENT: f64 = 0.86;

const INK: &str = "#1f2933";
const STEP: &str = "#c62828";
const STEP_FILL: &str = "#fdecea";
const RESPONSE: &str = "#1f5fa8";
const RESPONSE_FILL: &str = "#e8f0fb";
const LIFELINE: &str = "#9aa5b1";
const FONT_FAMILY: &str = "IPAexGothic, 'IPAexゴシック', 'Noto Sans CJK JP', 'Noto Sans JP', \
     'Hiragino Sans', 'Yu Gothic', Meiryo, sans-serif";

/// Renders the case's diagram as a standalone SVG document.
pub fn render_svg(case: &CaseContent) -> String {
    render(case).svg
}

/// Renders the case's diagram and reports its size.
pub fn render(case: &CaseContent) -> Diagram {
    let tree = Tree::new(case);
    let mut canvas = Canvas::default();
    let lanes = layout_actors(&tree);
    let rows_top = lanes.header_bottom + 16.0;

    let mut rows = String::new();
    let mut y = rows_top;
    let mut cuts = vec![(lanes.header_bottom + rows_top) / 2.0];
    y = divider(
        &mut rows,
        y,
        lanes.width,
        STEP,
        "事象の経過（何が起きたか）",
    );
    for s in &case.steps {
        cuts.push(y - ROW_GAP / 2.0);
        y = event_row(&mut rows, &tree, &lanes, EventKind::Step, s, y);
    }
    cuts.push(y);
    y = divider(
        &mut rows,
        y + 2.0,
        lanes.width,
        RESPONSE,
        "対処（何をしたか）",
    );
    for s in &case.responses {
        cuts.push(y - ROW_GAP / 2.0);
        y = event_row(&mut rows, &tree, &lanes, EventKind::Response, s, y);
    }
    let deepest = lanes.nodes.iter().map(|n| n.depth).max().unwrap_or(0);
    let bands_bottom = y + 6.0 + deepest as f64 * 6.0;
    cuts.push(bands_bottom + 7.0);

    // Background first: group boxes, then lifelines, then leaf boxes, then events on top.
    for n in &lanes.nodes {
        if n.is_group {
            draw_group(&mut canvas.body, &tree.actors[n.actor], n, bands_bottom);
        }
    }
    for n in &lanes.nodes {
        if let Some(top) = n.lifeline_top {
            let x = n.anchor;
            line(
                &mut canvas.body,
                (x, top),
                (x, bands_bottom - n.depth as f64 * 6.0 - 4.0),
                LIFELINE,
                1.0,
                Some("2 4"),
            );
        }
    }
    for n in &lanes.nodes {
        if !n.is_group {
            draw_leaf(&mut canvas.body, &tree.actors[n.actor], n);
        }
    }
    canvas.body.push_str(&rows);
    let height = legend(&mut canvas.body, bands_bottom + 14.0, lanes.width) + MARGIN;

    let width = lanes.width;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" \
         height=\"{h}\" role=\"img\" font-family=\"{FONT_FAMILY}\" \
         class=\"kz-diagram\" data-case=\"{n}\">",
        w = num(width),
        h = num(height),
        n = case.number,
    );
    let _ = write!(
        svg,
        "<title>事例{} {} 概要図</title>",
        case.number,
        esc(&case.title)
    );
    let _ = write!(
        svg,
        "<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>",
        num(width),
        num(height)
    );
    svg.push_str(&canvas.body);
    svg.push_str("</svg>\n");
    Diagram {
        svg,
        width,
        height,
        cuts,
    }
}

#[derive(Default)]
struct Canvas {
    body: String,
}

/// The actors as a forest, in declaration order.
struct Tree<'a> {
    actors: &'a [Actor],
    children: Vec<Vec<usize>>,
    roots: Vec<usize>,
    /// Whether an event names the actor itself (only matters for groups).
    referenced: Vec<bool>,
}

impl<'a> Tree<'a> {
    fn new(case: &'a CaseContent) -> Tree<'a> {
        let actors = &case.actors[..];
        let index = |key: &str| actors.iter().position(|a| a.key == key);
        let mut children = vec![Vec::new(); actors.len()];
        let mut roots = Vec::new();
        for (i, a) in actors.iter().enumerate() {
            match a.group.as_deref().and_then(index) {
                // A group that leads back to the actor itself would hide it; draw it at the top.
                Some(p) if p != i && !leads_to(actors, p, i) => children[p].push(i),
                _ => roots.push(i),
            }
        }
        let mut referenced = vec![false; actors.len()];
        for s in case.steps.iter().chain(&case.responses) {
            for k in &s.actors {
                if let Some(i) = index(k) {
                    referenced[i] = true;
                }
            }
        }
        Tree {
            actors,
            children,
            roots,
            referenced,
        }
    }

    fn is_group(&self, i: usize) -> bool {
        !self.children[i].is_empty()
    }

    fn index(&self, key: &str) -> Option<usize> {
        self.actors.iter().position(|a| a.key == key)
    }
}

/// Whether following `from`'s groups upwards reaches `target`.
fn leads_to(actors: &[Actor], from: usize, target: usize) -> bool {
    let mut cur = from;
    for _ in 0..=actors.len() {
        let Some(g) = actors[cur].group.as_deref() else {
            return false;
        };
        match actors.iter().position(|a| a.key == g) {
            Some(p) if p == target => return true,
            Some(p) => cur = p,
            None => return false,
        }
    }
    true
}

/// Where each actor was placed.
struct Placed {
    actor: usize,
    is_group: bool,
    x: f64,
    w: f64,
    top: f64,
    depth: usize,
    /// Label lines: a group's strip or a leaf's box.
    lines: Vec<String>,
    /// Height of a group's label strip, or of a leaf's box.
    label_h: f64,
    /// The x where events at this actor are anchored.
    anchor: f64,
    /// Where its lifeline starts, if it has one.
    lifeline_top: Option<f64>,
}

struct Lanes {
    nodes: Vec<Placed>,
    /// Node index by actor index.
    by_actor: Vec<Option<usize>>,
    header_bottom: f64,
    width: f64,
}

impl Lanes {
    fn anchor(&self, actor: usize) -> Option<f64> {
        self.by_actor
            .get(actor)
            .copied()
            .flatten()
            .and_then(|n| self.nodes[n].lifeline_top.map(|_| self.nodes[n].anchor))
    }
}

/// Lanes under each actor, and the room each lane would like.
struct LanePlan {
    /// Preferred width of each lane, left to right.
    prefs: Vec<f64>,
    /// The least width of each lane that keeps every word of its labels whole.
    floors: Vec<f64>,
    /// Lanes under each actor: `start..end`.
    ranges: Vec<(usize, usize)>,
    /// Paddings and gaps inside each actor, independent of lane widths.
    fixed: Vec<f64>,
}

fn plan_lanes(tree: &Tree) -> LanePlan {
    let n = tree.actors.len();
    let mut plan = LanePlan {
        prefs: Vec::new(),
        floors: Vec::new(),
        ranges: vec![(0, 0); n],
        fixed: vec![0.0; n],
    };
    for &r in &tree.roots {
        plan_actor(tree, &mut plan, r, 0);
    }
    plan
}

fn plan_actor(tree: &Tree, plan: &mut LanePlan, i: usize, depth: usize) {
    let start = plan.prefs.len();
    let label = &tree.actors[i].label;
    let label_w = text_width(label, ACTOR_SIZE);
    let word_w = widest_word(label, ACTOR_SIZE);
    if !tree.is_group(i) || depth > tree.actors.len() {
        plan.prefs
            .push((label_w + 2.0 * BOX_PAD + 4.0).clamp(LANE_MIN, LANE_MAX));
        plan.floors
            .push((word_w + 2.0 * BOX_PAD + 4.0).clamp(LANE_MIN, LANE_MAX));
        plan.ranges[i] = (start, start + 1);
        return;
    }
    let own = usize::from(tree.referenced[i]);
    if own == 1 {
        plan.prefs.push(LANE_MIN);
        plan.floors.push(LANE_MIN);
    }
    let parts = tree.children[i].len() + own;
    let mut fixed = 2.0 * GROUP_PAD + (parts.saturating_sub(1)) as f64 * SIBLING_GAP;
    for &c in &tree.children[i] {
        plan_actor(tree, plan, c, depth + 1);
        fixed += plan.fixed[c];
    }
    let end = plan.prefs.len();
    plan.ranges[i] = (start, end);
    plan.fixed[i] = fixed;
    // A group whose parts are narrower than its own name asks for more room for them.
    let have: f64 = plan.prefs[start..end].iter().sum::<f64>() + fixed;
    let need = label_w.min(2.0 * LANE_MAX) + 2.0 * GROUP_PAD + 8.0;
    if need > have && end > start {
        let extra = (need - have) / (end - start) as f64;
        for p in &mut plan.prefs[start..end] {
            *p += extra;
        }
    }
    // Nor may its name break inside a word for want of room.
    let floor: f64 = plan.floors[start..end].iter().sum::<f64>() + fixed;
    let need = word_w.min(2.0 * LANE_MAX) + 2.0 * GROUP_PAD + 4.0;
    if need > floor && end > start {
        let extra = (need - floor) / (end - start) as f64;
        for f in &mut plan.floors[start..end] {
            *f += extra;
        }
    }
}

/// Shares `room` between lanes: each gets what it asks for if all fit, else the widest are
/// cut back to a common cap, never below its floor; spare room is shared evenly. When even
/// the floors do not fit, each lane gets its floor and the lanes take more than `room`.
fn lane_widths(prefs: &[f64], floors: &[f64], room: f64) -> Vec<f64> {
    let n = prefs.len().max(1) as f64;
    let total: f64 = prefs.iter().sum();
    if total <= room {
        let extra = (room - total) / n;
        return prefs
            .iter()
            .map(|p| (p + extra).min(2.0 * LANE_MAX).max(*p))
            .collect();
    }
    let capped = |cap: f64| {
        prefs
            .iter()
            .zip(floors)
            .map(move |(p, f)| p.min(cap).max(*f))
    };
    if floors.iter().sum::<f64>() >= room {
        return floors.to_vec();
    }
    let (mut lo, mut hi) = (LANE_MIN, prefs.iter().copied().fold(LANE_MIN, f64::max));
    for _ in 0..40 {
        let cap = (lo + hi) / 2.0;
        if capped(cap).sum::<f64>() > room {
            hi = cap;
        } else {
            lo = cap;
        }
    }
    capped(lo).collect()
}

struct Widths<'a> {
    plan: &'a LanePlan,
    lanes: Vec<f64>,
}

impl Widths<'_> {
    fn of(&self, i: usize) -> f64 {
        let (a, b) = self.plan.ranges[i];
        self.lanes[a..b].iter().sum::<f64>() + self.plan.fixed[i]
    }
    fn lane(&self, i: usize) -> f64 {
        let (a, _) = self.plan.ranges[i];
        self.lanes.get(a).copied().unwrap_or(LANE_MIN)
    }
}

fn layout_actors(tree: &Tree) -> Lanes {
    let plan = plan_lanes(tree);
    let mut fixed = 2.0 * MARGIN + (tree.roots.len().saturating_sub(1)) as f64 * ROOT_GAP;
    for &r in &tree.roots {
        fixed += plan.fixed[r];
    }
    let room = WIDTH - fixed;
    let mut lanes = lane_widths(&plan.prefs, &plan.floors, room);
    // Whole words may widen the diagram only while its type still prints large enough; past
    // that, a word breaks rather than the type shrinking.
    if fixed + lanes.iter().sum::<f64>() > MAX_WIDTH {
        let least = vec![LANE_MIN; plan.prefs.len()];
        lanes = lane_widths(&plan.prefs, &least, room);
    }
    let widths = Widths { lanes, plan: &plan };
    let used = fixed + widths.lanes.iter().sum::<f64>();
    let width = used.max(WIDTH);
    let mut out = Lanes {
        nodes: Vec::new(),
        by_actor: vec![None; tree.actors.len()],
        header_bottom: 0.0,
        width,
    };
    let mut x = (width - used) / 2.0 + MARGIN;
    for &r in &tree.roots {
        let w = place(tree, &widths, &mut out, r, x, MARGIN, 0);
        x += w + ROOT_GAP;
    }
    // Leaf boxes share one height and one bottom line, so all lifelines start level.
    let leaf_h = out
        .nodes
        .iter()
        .filter(|n| !n.is_group)
        .map(|n| n.label_h)
        .fold(0.0, f64::max);
    let bottom = out
        .nodes
        .iter()
        .filter(|n| !n.is_group)
        .map(|n| n.top + leaf_h)
        .fold(MARGIN, f64::max);
    for n in out.nodes.iter_mut().filter(|n| !n.is_group) {
        n.top = bottom - leaf_h;
        n.label_h = leaf_h;
        n.lifeline_top = Some(bottom);
    }
    out.header_bottom = bottom;
    out
}

/// Places actor `i` with its left edge at `x` and top at `top`; returns its width.
fn place(
    tree: &Tree,
    widths: &Widths,
    out: &mut Lanes,
    i: usize,
    x: f64,
    top: f64,
    depth: usize,
) -> f64 {
    let actor = &tree.actors[i];
    let w = widths.of(i);
    if !tree.is_group(i) || depth > tree.actors.len() {
        let lines = wrap_balanced(&actor.label, ACTOR_SIZE, w - 2.0 * BOX_PAD);
        let h = lines.len() as f64 * ACTOR_LINE + 2.0 * BOX_PAD;
        out.by_actor[i] = Some(out.nodes.len());
        out.nodes.push(Placed {
            actor: i,
            is_group: false,
            x,
            w,
            top,
            depth,
            lines,
            label_h: h,
            anchor: x + w / 2.0,
            lifeline_top: None,
        });
        return w;
    }
    let lines = wrap_balanced(&actor.label, ACTOR_SIZE, w - 2.0 * GROUP_PAD);
    let strip = lines.len() as f64 * ACTOR_LINE + 10.0;
    let inner_top = top + strip;
    let own_lane = tree.referenced[i];
    let own_w = widths.lane(i);
    out.by_actor[i] = Some(out.nodes.len());
    out.nodes.push(Placed {
        actor: i,
        is_group: true,
        x,
        w,
        top,
        depth,
        lines,
        label_h: strip,
        anchor: x + GROUP_PAD + own_w / 2.0,
        lifeline_top: own_lane.then_some(inner_top + 4.0),
    });
    let mut cx = x + GROUP_PAD;
    if own_lane {
        cx += own_w + SIBLING_GAP;
    }
    for &c in &tree.children[i] {
        let cw = place(tree, widths, out, c, cx, inner_top + 4.0, depth + 1);
        cx += cw + SIBLING_GAP;
    }
    w
}

fn kind_colours(kind: ActorKind) -> (&'static str, &'static str) {
    match kind {
        ActorKind::Operator => ("#eef2f7", "#51657d"),
        ActorKind::Department => ("#ffffff", "#51657d"),
        ActorKind::Vendor => ("#f5f1e8", "#7d6a4f"),
        ActorKind::System => ("#eaf4ee", "#4f7d5f"),
        ActorKind::Store => ("#fbf4e2", "#8a6d1f"),
        ActorKind::Customer => ("#fdf0e6", "#9a5b2a"),
        ActorKind::Attacker => ("#f9e3e3", "#8b1e1e"),
        ActorKind::ThirdParty => ("#f0edf7", "#5e4f86"),
    }
}

fn draw_group(out: &mut String, actor: &Actor, n: &Placed, bottom: f64) {
    let (fill, stroke) = kind_colours(actor.kind);
    let b = bottom - n.depth as f64 * 6.0;
    let _ = write!(
        out,
        "<g class=\"kz-actor kz-group\" data-actor=\"{}\"><rect x=\"{}\" y=\"{}\" width=\"{}\" \
         height=\"{}\" rx=\"6\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.5\"/>",
        esc(&actor.key),
        num(n.x),
        num(n.top),
        num(n.w),
        num(b - n.top),
    );
    for (k, l) in n.lines.iter().enumerate() {
        let y = n.top + 5.0 + k as f64 * ACTOR_LINE + ACTOR_SIZE * ASCENT + 2.0;
        text(
            out,
            n.x + n.w / 2.0,
            y,
            ACTOR_SIZE,
            stroke,
            "middle",
            true,
            l,
        );
    }
    out.push_str("</g>");
}

fn draw_leaf(out: &mut String, actor: &Actor, n: &Placed) {
    let (fill, stroke) = kind_colours(actor.kind);
    let rx = match actor.kind {
        ActorKind::System => 9.0,
        _ => 3.0,
    };
    let sw = if actor.kind == ActorKind::Attacker {
        2.5
    } else {
        1.5
    };
    let _ = write!(
        out,
        "<g class=\"kz-actor\" data-actor=\"{}\"><rect x=\"{}\" y=\"{}\" width=\"{}\" \
         height=\"{}\" rx=\"{}\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{}\"/>",
        esc(&actor.key),
        num(n.x),
        num(n.top),
        num(n.w),
        num(n.label_h),
        num(rx),
        num(sw),
    );
    let block = n.lines.len() as f64 * ACTOR_LINE;
    let y0 = n.top + (n.label_h - block) / 2.0;
    for (k, l) in n.lines.iter().enumerate() {
        let y = y0 + k as f64 * ACTOR_LINE + (ACTOR_LINE - ACTOR_SIZE) / 2.0 + ACTOR_SIZE * ASCENT;
        text(out, n.x + n.w / 2.0, y, ACTOR_SIZE, INK, "middle", false, l);
    }
    out.push_str("</g>");
}

#[derive(Clone, Copy, PartialEq)]
enum EventKind {
    Step,
    Response,
}

impl EventKind {
    fn badge(self, n: u32) -> String {
        match self {
            EventKind::Step => format!("({n})"),
            EventKind::Response => format!("対処{n}"),
        }
    }
    fn colour(self) -> &'static str {
        match self {
            EventKind::Step => STEP,
            EventKind::Response => RESPONSE,
        }
    }
    fn class(self) -> &'static str {
        match self {
            EventKind::Step => "kz-step",
            EventKind::Response => "kz-response",
        }
    }
}

fn badge_width(label: &str) -> f64 {
    text_width(label, BADGE_SIZE) + 16.0
}

/// Draws a section divider across the rows; returns the y below it.
fn divider(out: &mut String, y: f64, width: f64, colour: &str, label: &str) -> f64 {
    let size = SMALL_SIZE;
    let tw = text_width(label, size);
    let base = y + size * ASCENT + 3.0;
    let _ = write!(
        out,
        "<g class=\"kz-divider\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"3\" \
         fill=\"#ffffff\" fill-opacity=\"0.9\"/>",
        num(MARGIN),
        num(y),
        num(tw + 12.0),
        num(size + 8.0),
    );
    text(out, MARGIN + 6.0, base, size, colour, "start", true, label);
    line(
        out,
        (MARGIN + tw + 16.0, y + size / 2.0 + 4.0),
        (width - MARGIN, y + size / 2.0 + 4.0),
        colour,
        1.0,
        Some("1 3"),
    );
    out.push_str("</g>");
    y + size + 8.0 + 8.0
}

struct Callout {
    lines: Vec<String>,
    w: f64,
    h: f64,
}

fn callout_for(text_src: &str, max_w: f64) -> Callout {
    let lines = wrap_balanced(text_src, EVENT_SIZE, max_w - 2.0 * CALLOUT_PAD_X);
    let w = max_line_width(&lines, EVENT_SIZE) + 2.0 * CALLOUT_PAD_X;
    let h = lines.len() as f64 * EVENT_LINE + 2.0 * CALLOUT_PAD_Y;
    Callout { lines, w, h }
}

/// Lays out one step or response as a row starting at `y`; returns the y of the next row.
fn event_row(
    out: &mut String,
    tree: &Tree,
    lanes: &Lanes,
    kind: EventKind,
    s: &Step,
    y: f64,
) -> f64 {
    let mut anchors: Vec<f64> = Vec::new();
    for k in &s.actors {
        if let Some(x) = tree.index(k).and_then(|i| lanes.anchor(i))
            && !anchors.iter().any(|a| (a - x).abs() < 0.5)
        {
            anchors.push(x);
        }
    }
    let label = kind.badge(s.number);
    let bw = badge_width(&label);
    let time = s.time.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let tw = time.map_or(0.0, |t| text_width(t, TIME_SIZE));
    let origin = anchors
        .first()
        .copied()
        .unwrap_or(MARGIN + bw.max(tw) / 2.0);
    // The time is centred over the badge but kept inside the picture: a badge at the first
    // lane may be narrower than a long time such as 「令和元年5月7日 9時30分ごろ」.
    let time_x = origin
        .min(lanes.width - MARGIN - tw / 2.0)
        .max(MARGIN + tw / 2.0);
    let (own_min, own_max) = match time {
        Some(_) => (
            (origin - bw / 2.0).min(time_x - tw / 2.0),
            (origin + bw / 2.0).max(time_x + tw / 2.0),
        ),
        None => (origin - bw / 2.0, origin + bw / 2.0),
    };
    let targets: Vec<f64> = anchors.iter().skip(1).copied().collect();
    let span_min = targets.iter().copied().fold(own_min, f64::min);
    let span_max = targets.iter().copied().fold(own_max, f64::max);

    // Arrows to targets on the same side are stacked, nearest first.
    let mut right: Vec<f64> = targets.iter().copied().filter(|t| *t > origin).collect();
    let mut left: Vec<f64> = targets.iter().copied().filter(|t| *t < origin).collect();
    right.sort_by(f64::total_cmp);
    left.sort_by(|a, b| b.total_cmp(a));
    let stack = right.len().max(left.len()).max(1);
    let stack_h = (stack - 1) as f64 * STACK_STEP;
    // The core is the badge with its arrows, under the time's line when there is one.
    let arrows_h = BADGE_H.max(stack_h + 8.0);
    let time_h = if time.is_some() { TIME_LINE } else { 0.0 };
    let core_h = arrows_h + time_h;

    // Beside the arrows if the text fits there in three lines; otherwise above them.
    let gap = 14.0;
    let right_room = (lanes.width - MARGIN) - (span_max + gap);
    let left_room = (span_min - gap) - MARGIN;
    let mut side: Option<(bool, Callout)> = None;
    for (is_right, room) in [(true, right_room), (false, left_room)] {
        if room < SIDE_MIN {
            continue;
        }
        let c = callout_for(&s.text, room.min(SIDE_MAX));
        if c.lines.len() > 3 {
            continue;
        }
        let better = match &side {
            None => true,
            Some((_, best)) => c.lines.len() < best.lines.len(),
        };
        if better {
            side = Some((is_right, c));
        }
    }
    let span = span_max - span_min;
    let above_w = (span + 40.0)
        .clamp(ABOVE_MIN, ABOVE_MAX)
        .min(lanes.width - 2.0 * MARGIN);
    let above = callout_for(&s.text, above_w);
    // Whichever makes the shorter row; beside wins ties, as it reads more directly.
    if let Some((_, c)) = &side
        && c.h.max(core_h) > above.h + 6.0 + core_h
    {
        side = None;
    }

    let _ = write!(
        out,
        "<g class=\"{}\" data-number=\"{}\">",
        kind.class(),
        s.number
    );
    let (line_y, row_h) = match side {
        Some((is_right, c)) => {
            let row_h = c.h.max(core_h);
            // The core centred in the row: its arrows' line is half a time line lower.
            let line_y = y + row_h / 2.0 + time_h / 2.0;
            let cy = y + (row_h - c.h) / 2.0;
            let (cx, lead_from, lead_to) = if is_right {
                let cx = span_max + gap;
                (cx, span_max, cx)
            } else {
                let cx = span_min - gap - c.w;
                (cx, span_min, cx + c.w)
            };
            // A faint leader ties the text to its arrows when they are not adjacent.
            line(
                out,
                (lead_from, line_y),
                (lead_to, line_y),
                kind.colour(),
                1.0,
                Some("1 3"),
            );
            draw_callout(out, kind, &c, cx, cy);
            (line_y, row_h)
        }
        None => {
            let c = above;
            let centre = (span_min + span_max) / 2.0;
            let cx = (centre - c.w / 2.0).clamp(MARGIN, lanes.width - MARGIN - c.w);
            draw_callout(out, kind, &c, cx, y);
            let line_y = y + c.h + 6.0 + time_h + arrows_h / 2.0;
            (line_y, c.h + 6.0 + core_h)
        }
    };

    for side_targets in [&right, &left] {
        let m = side_targets.len();
        for (k, &t) in side_targets.iter().enumerate() {
            let dy = (k as f64 - (m as f64 - 1.0) / 2.0) * STACK_STEP;
            let ly = line_y + dy;
            let dir = if t > origin { 1.0 } else { -1.0 };
            let start = origin + dir * (bw / 2.0 - 2.0);
            arrow(out, kind, (start, ly), (t, ly));
        }
    }
    draw_badge(out, kind, &label, origin, line_y, bw);
    if let Some(t) = time {
        let top = line_y - arrows_h / 2.0 - TIME_LINE;
        let base = top + (TIME_LINE - TIME_SIZE) / 2.0 + TIME_SIZE * ASCENT;
        out.push_str("<g class=\"kz-time\">");
        text(
            out,
            time_x,
            base,
            TIME_SIZE,
            kind.colour(),
            "middle",
            true,
            t,
        );
        out.push_str("</g>");
    }
    out.push_str("</g>");
    y + row_h + ROW_GAP
}

fn draw_callout(out: &mut String, kind: EventKind, c: &Callout, x: f64, y: f64) {
    let (fill, dash, rx) = match kind {
        EventKind::Step => (STEP_FILL, "", 2.0),
        EventKind::Response => (RESPONSE_FILL, " stroke-dasharray=\"5 3\"", 9.0),
    };
    let _ = write!(
        out,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"{}\" fill=\"{fill}\" \
         stroke=\"{}\" stroke-width=\"1.3\"{dash}/>",
        num(x),
        num(y),
        num(c.w),
        num(c.h),
        num(rx),
        kind.colour(),
    );
    for (k, l) in c.lines.iter().enumerate() {
        let base = y
            + CALLOUT_PAD_Y
            + k as f64 * EVENT_LINE
            + (EVENT_LINE - EVENT_SIZE) / 2.0
            + EVENT_SIZE * ASCENT;
        text(
            out,
            x + CALLOUT_PAD_X,
            base,
            EVENT_SIZE,
            INK,
            "start",
            false,
            l,
        );
    }
}

fn draw_badge(out: &mut String, kind: EventKind, label: &str, cx: f64, cy: f64, w: f64) {
    let x = cx - w / 2.0;
    let y = cy - BADGE_H / 2.0;
    let base = cy - BADGE_SIZE / 2.0 + BADGE_SIZE * ASCENT;
    match kind {
        EventKind::Step => {
            let _ = write!(
                out,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"{}\" fill=\"{STEP}\"/>",
                num(x),
                num(y),
                num(w),
                num(BADGE_H),
                num(BADGE_H / 2.0),
            );
            text(out, cx, base, BADGE_SIZE, "#ffffff", "middle", true, label);
        }
        EventKind::Response => {
            let _ = write!(
                out,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"5\" fill=\"#ffffff\" \
                 stroke=\"{RESPONSE}\" stroke-width=\"1.8\" stroke-dasharray=\"4 2\"/>",
                num(x),
                num(y),
                num(w),
                num(BADGE_H),
            );
            text(out, cx, base, BADGE_SIZE, RESPONSE, "middle", true, label);
        }
    }
}

fn arrow(out: &mut String, kind: EventKind, from: (f64, f64), to: (f64, f64)) {
    let dir = if to.0 >= from.0 { 1.0 } else { -1.0 };
    let head = 9.0;
    let shaft_end = (to.0 - dir * head, to.1);
    match kind {
        EventKind::Step => {
            line(out, from, shaft_end, STEP, 2.0, None);
            let _ = write!(
                out,
                "<path d=\"M{} {} L{} {} L{} {} Z\" fill=\"{STEP}\"/>",
                num(to.0),
                num(to.1),
                num(to.0 - dir * head),
                num(to.1 - 4.5),
                num(to.0 - dir * head),
                num(to.1 + 4.5),
            );
        }
        EventKind::Response => {
            line(
                out,
                from,
                (to.0 - dir * 2.0, to.1),
                RESPONSE,
                1.6,
                Some("6 4"),
            );
            let _ = write!(
                out,
                "<path d=\"M{} {} L{} {} L{} {}\" fill=\"none\" stroke=\"{RESPONSE}\" \
                 stroke-width=\"1.8\"/>",
                num(to.0 - dir * head),
                num(to.1 - 5.0),
                num(to.0),
                num(to.1),
                num(to.0 - dir * head),
                num(to.1 + 5.0),
            );
        }
    }
}

/// Draws the legend at `y`; returns its bottom.
fn legend(out: &mut String, y: f64, width: f64) -> f64 {
    let size = SMALL_SIZE;
    let items: [(EventKind, &str); 2] = [
        (EventKind::Step, "事象の経過（何が起きたか）"),
        (EventKind::Response, "対処（何をしたか）"),
    ];
    out.push_str("<g class=\"kz-legend\">");
    let mut x = MARGIN + 4.0;
    let cy = y + BADGE_H / 2.0;
    text(
        out,
        x,
        cy - size / 2.0 + size * ASCENT,
        size,
        INK,
        "start",
        true,
        "凡例",
    );
    x += text_width("凡例", size) + 16.0;
    for (kind, label) in items {
        let badge = kind.badge(0).replace('0', "n");
        let bw = badge_width(&badge);
        draw_badge(out, kind, &badge, x + bw / 2.0, cy, bw);
        x += bw + 4.0;
        arrow(out, kind, (x, cy), (x + 46.0, cy));
        x += 56.0;
        text(
            out,
            x,
            cy - size / 2.0 + size * ASCENT,
            size,
            INK,
            "start",
            false,
            label,
        );
        x += text_width(label, size) + 28.0;
    }
    let note = "囲み：組織とその部門・システム";
    if x + 30.0 + text_width(note, size) <= width - MARGIN {
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"26\" height=\"18\" rx=\"4\" fill=\"#eef2f7\" \
             stroke=\"#51657d\" stroke-width=\"1.5\"/>",
            num(x),
            num(cy - 9.0)
        );
        text(
            out,
            x + 32.0,
            cy - size / 2.0 + size * ASCENT,
            size,
            INK,
            "start",
            false,
            note,
        );
    }
    out.push_str("</g>");
    y + BADGE_H
}

#[allow(clippy::too_many_arguments)]
fn text(
    out: &mut String,
    x: f64,
    y: f64,
    size: f64,
    fill: &str,
    anchor: &str,
    bold: bool,
    s: &str,
) {
    let weight = if bold { " font-weight=\"bold\"" } else { "" };
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"{}\" font-size=\"{}\" fill=\"{fill}\" text-anchor=\"{anchor}\"{weight}>{}</text>",
        num(x),
        num(y),
        num(size),
        esc(s)
    );
}

fn line(out: &mut String, a: (f64, f64), b: (f64, f64), colour: &str, w: f64, dash: Option<&str>) {
    let dash = dash.map_or(String::new(), |d| format!(" stroke-dasharray=\"{d}\""));
    let _ = write!(
        out,
        "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{colour}\" stroke-width=\"{}\"{dash}/>",
        num(a.0),
        num(a.1),
        num(b.0),
        num(b.1),
        num(w)
    );
}

/// Fixed one-decimal formatting, without a trailing ".0", so output is stable and compact.
fn num(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    let r = if r == 0.0 { 0.0 } else { r };
    let s = format!("{r:.1}");
    s.strip_suffix(".0").map_or(s.clone(), str::to_owned)
}

/// Escapes text for SVG/XML content and attribute values.
pub(crate) use kizuki_domain::text::escape_html as esc;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_formatted_stably() {
        assert_eq!(num(12.0), "12");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(-0.01), "0");
    }
}
