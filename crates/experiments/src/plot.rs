//! Figures: line panels (mean over seeds with a min-max band) and horizontal bar panels,
//! drawn with `plotters`, each into an SVG and a PNG copy from the same drawing code.
//!
//! Text is laid out, and drawn into the PNG, with DejaVu Sans, bundled in `fonts/` (licence
//! in `fonts/LICENSE-DejaVu.txt`) and registered with plotters' `ab_glyph` backend, so no
//! system font is needed. The SVG names the family (`sans-serif`) and lets the viewer draw
//! the text. The PNG is drawn [`PNG_SCALE`] times larger: every size (fonts, margins, lines,
//! markers) is multiplied by the scale, so both files show the same picture.

use crate::stats::BandPoint;
use crate::ExperimentError;
use plotters::chart::MeshStyle;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;
use std::sync::OnceLock;

/// DejaVu Sans 2.37 (Bitstream Vera licence with public-domain DejaVu changes).
const DEJAVU_SANS: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// How much larger the PNG copy of a figure is drawn than its SVG (whose sizes are in CSS
/// pixels): every length, font size and line width is multiplied by it.
pub const PNG_SCALE: f64 = 1.25;

/// The family every text of a figure uses.
const FONT: &str = "sans-serif";

/// Registers the bundled font as `sans-serif`, once per process. Plotters lays out (and,
/// in a bitmap, draws) text only with a registered font.
fn register_font() -> Result<(), String> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FONT, FontStyle::Normal, DEJAVU_SANS).is_ok());
    if ok {
        Ok(())
    } else {
        Err("the bundled font fonts/DejaVuSans.ttf is not a valid font".to_string())
    }
}

/// Sizes at a drawing scale: SVG at 1, PNG at [`PNG_SCALE`].
#[derive(Clone, Copy, Debug)]
struct Scale(f64);

impl Scale {
    /// A length in pixels.
    fn px(self, v: u32) -> u32 {
        (f64::from(v) * self.0).round() as u32
    }

    /// A signed length in pixels (legend glyph offsets).
    fn off(self, v: i32) -> i32 {
        (f64::from(v) * self.0).round() as i32
    }

    /// A font size, rounded to an even number of pixels: plotters' bitmap text puts each
    /// glyph half the size above its top edge, rounded, so at an odd or fractional size the
    /// glyphs of a line sit a pixel apart (a decimal point above the baseline).
    fn font(self, size: f64) -> (&'static str, f64) {
        (FONT, 2.0 * (size * self.0 / 2.0).round())
    }
}

/// Distinguishable colours, picked by index: Tableau 10 (matplotlib's `tab10`, in its
/// published hex codes) and two more, navy and maroon.
const PALETTE: [u32; 12] = [
    0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf,
    0x000080, 0x800000,
];

fn color(i: usize) -> RGBColor {
    let [_, r, g, b] = PALETTE[i % PALETTE.len()].to_be_bytes();
    RGBColor(r, g, b)
}

/// Where a panel's legend goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Legend {
    UpperRight,
    LowerRight,
    UpperLeft,
    LowerLeft,
}

impl Legend {
    fn position(self) -> SeriesLabelPosition {
        match self {
            Legend::UpperRight => SeriesLabelPosition::UpperRight,
            Legend::LowerRight => SeriesLabelPosition::LowerRight,
            Legend::UpperLeft => SeriesLabelPosition::UpperLeft,
            Legend::LowerLeft => SeriesLabelPosition::LowerLeft,
        }
    }
}

/// One line: mean over seeds, with the min-max band shaded.
#[derive(Clone, Debug)]
pub(crate) struct Series {
    pub label: String,
    pub color: usize,
    pub points: Vec<BandPoint>,
    pub dashed: bool,
    pub markers: bool,
}

impl Series {
    pub fn new(label: impl Into<String>, color: usize, points: Vec<BandPoint>) -> Series {
        Series { label: label.into(), color, points, dashed: false, markers: false }
    }

    pub fn dashed(mut self) -> Series {
        self.dashed = true;
        self
    }

    pub fn markers(mut self) -> Series {
        self.markers = true;
        self
    }
}

/// A panel of lines.
#[derive(Clone, Debug)]
pub(crate) struct LinePanel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
    /// Label only whole-number ticks of the x axis (layers, epochs).
    pub integer_x: bool,
    /// Values above this are drawn at this value (the top edge), so that one exploding curve
    /// does not flatten the others.
    pub y_max: Option<f64>,
    pub legend: Legend,
    pub series: Vec<Series>,
}

impl LinePanel {
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> LinePanel {
        LinePanel {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_x: false,
            log_y: false,
            integer_x: false,
            y_max: None,
            legend: Legend::UpperRight,
            series: Vec::new(),
        }
    }
}

/// One bar: a mean with a min-max whisker.
#[derive(Clone, Debug)]
pub(crate) struct Bar {
    pub label: String,
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
    pub color: usize,
}

/// A panel of horizontal bars, one per category, top to bottom in the given order.
#[derive(Clone, Debug)]
pub(crate) struct BarPanel {
    pub title: String,
    pub value_label: String,
    pub bars: Vec<Bar>,
}

/// A panel of a figure.
#[derive(Clone, Debug)]
pub(crate) enum Panel {
    Lines(LinePanel),
    Bars(BarPanel),
}

/// A figure: a title over a grid of panels.
#[derive(Clone, Debug)]
pub(crate) struct Figure {
    pub title: String,
    pub panels: Vec<Panel>,
    pub columns: usize,
    pub panel_size: (u32, u32),
}

impl Figure {
    pub fn new(title: impl Into<String>, panels: Vec<Panel>, columns: usize) -> Figure {
        Figure { title: title.into(), panels, columns, panel_size: (520, 400) }
    }

    fn grid(&self) -> (usize, usize) {
        let cols = self.columns.clamp(1, self.panels.len().max(1));
        (self.panels.len().div_ceil(cols).max(1), cols)
    }

    /// The size in pixels at a scale.
    fn size(&self, scale: Scale) -> (u32, u32) {
        let (rows, cols) = self.grid();
        (scale.px(self.panel_size.0 * cols as u32), scale.px(self.panel_size.1 * rows as u32 + 44))
    }

    /// Draws the figure onto `root` (of [`Figure::size`] at `scale`): the code behind both
    /// the SVG and the PNG.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, scale: Scale) -> Result<(), String> {
        register_font()?;
        root.fill(&WHITE).map_err(drawing_error)?;
        // The title, shrunk until it fits the width (measured with the bundled font).
        let (width, _) = root.dim_in_pixel();
        let measure = |style: &TextStyle| root.estimate_text_size(&self.title, style).map_err(drawing_error);
        let (full, _) = measure(&scale.font(22.0).into())?;
        let fit = 22.0 * 0.95 * f64::from(width) / f64::from(full.max(1));
        let style = TextStyle::from(scale.font(fit.clamp(12.0, 22.0)));
        let body = titled(root, &self.title, style, (scale.px(9), scale.px(5)))?;
        for (area, panel) in body.split_evenly(self.grid()).iter().zip(&self.panels) {
            match panel {
                Panel::Lines(p) => draw_lines(area, p, scale)?,
                Panel::Bars(p) => draw_bars(area, p, scale)?,
            }
        }
        root.present().map_err(drawing_error)
    }

    /// Draws the figure as an SVG document.
    pub fn to_svg(&self) -> Result<String, String> {
        let scale = Scale(1.0);
        let mut svg = String::new();
        self.draw(&SVGBackend::with_string(&mut svg, self.size(scale)).into_drawing_area(), scale)?;
        Ok(svg)
    }

    /// Draws the figure at [`PNG_SCALE`] into a PNG file at `path` (which must end in `.png`:
    /// the encoder picks the format by the extension).
    fn draw_png(&self, path: &Path) -> Result<(), String> {
        let scale = Scale(PNG_SCALE);
        self.draw(&BitMapBackend::new(path, self.size(scale)).into_drawing_area(), scale)
    }

    /// Writes the SVG to `path` and the PNG copy beside it (`path` with the extension `png`),
    /// each atomically: a temporary file in the same directory, then a rename.
    pub fn save(&self, path: &Path) -> Result<(), ExperimentError> {
        let plot_error = |path: &Path, message| ExperimentError::Plot { path: path.to_path_buf(), message };
        let svg = self.to_svg().map_err(|m| plot_error(path, m))?;
        crate::report::write_file(path, svg.as_bytes())?;

        let png = path.with_extension("png");
        let name = png.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        // The temporary name keeps the `.png` extension, which the encoder needs.
        let tmp = png.with_file_name(format!(".{name}.tmp-{}.png", std::process::id()));
        let io_error = |e: std::io::Error| ExperimentError::Io { path: png.clone(), message: e.to_string() };
        let written = self.draw_png(&tmp).map_err(|m| plot_error(&png, m)).and_then(|()| {
            std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(io_error)?;
            std::fs::rename(&tmp, &png).map_err(io_error)
        });
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }
}

/// Draws `text` centred at the top of `area`, `pad.0` pixels below its edge and `pad.1` above
/// the rest, which it returns. (Plotters' own `titled`, also behind chart captions, caps its
/// padding at 5 pixels, which would not scale with the drawing.)
fn titled<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: TextStyle<'_>,
    (above, below): (u32, u32),
) -> Result<DrawingArea<DB, Shift>, String> {
    let style = style.pos(Pos::new(HPos::Center, VPos::Top));
    let (_, height) = area.estimate_text_size(text, &style).map_err(drawing_error)?;
    let (head, rest) = area.split_vertically(above + height + below);
    let centre = (head.dim_in_pixel().0 / 2) as i32;
    head.draw_text(text, &style, (centre, above as i32)).map_err(drawing_error)?;
    Ok(rest)
}

/// The plotting area of a panel: the margin, then the caption above the rest.
fn panel_area<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    scale: Scale,
) -> Result<DrawingArea<DB, Shift>, String> {
    let m = scale.px(12) as i32;
    titled(&area.margin(m, m, m, m), caption, scale.font(16.0).into(), (scale.px(5), scale.px(5)))
}

/// An axis label of a linear axis: short, without float noise.
fn number_label(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return "0".to_string();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        return format!("{v:.0e}");
    }
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// An axis label of a log axis, where the coordinate is `log10` of the value.
fn pow10_label(exponent: f64) -> String {
    let x = 10f64.powf(exponent);
    if !(1e-3..1e5).contains(&x) {
        return format!("{x:.0e}");
    }
    let digits = (1 - x.log10().floor() as i32).max(0) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn transform(v: f64, log: bool) -> Option<f64> {
    let t = if log { v.log10() } else { v };
    t.is_finite().then_some(t)
}

fn padded(lo: f64, hi: f64, fraction: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        let d = if lo.abs() > 1e-9 { lo.abs() * 0.1 } else { 1.0 };
        return (lo - d, hi + d);
    }
    let d = (hi - lo) * fraction;
    (lo - d, hi + d)
}

/// A plotters drawing error as the message a figure's error carries.
fn drawing_error<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> String {
    e.to_string()
}

/// Draws a panel's mesh, given its labels and formatters, in the style every panel shares:
/// label and axis-title sizes, tick length and the light grid colour.
fn draw_mesh<X, Y, DB>(mesh: &mut MeshStyle<'_, '_, X, Y, DB>, scale: Scale) -> Result<(), String>
where
    X: Ranged + ValueFormatter<X::ValueType>,
    Y: Ranged + ValueFormatter<Y::ValueType>,
    DB: DrawingBackend,
{
    mesh.label_style(scale.font(12.0))
        .axis_desc_style(scale.font(13.0))
        .set_all_tick_mark_size(scale.px(5))
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(drawing_error)
}

fn draw_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &LinePanel,
    scale: Scale,
) -> Result<(), String> {
    let cap = p.y_max;
    let ty = move |v: f64| transform(cap.map_or(v, |m| if v.is_nan() { v } else { v.min(m) }), p.log_y);
    let (mut x0, mut x1, mut y0, mut y1) =
        (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for s in &p.series {
        for b in &s.points {
            if let Some(x) = transform(b.x, p.log_x) {
                x0 = x0.min(x);
                x1 = x1.max(x);
            }
            for y in [b.lo, b.mean, b.hi].into_iter().filter_map(ty) {
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
        }
    }
    let (x0, x1) = padded(x0, x1, 0.02);
    let (y0, y1) = padded(y0, y1, 0.05);
    let mut chart = ChartBuilder::on(&panel_area(area, &p.title, scale)?)
        .x_label_area_size(scale.px(44))
        .y_label_area_size(scale.px(64))
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(drawing_error)?;
    let (log_x, log_y, integer_x) = (p.log_x, p.log_y, p.integer_x);
    // Ticks closer to zero than a millionth of the axis span are zero (no `-3e-17`).
    let (x_eps, y_eps) = ((x1 - x0) * 1e-6, (y1 - y0) * 1e-6);
    let fx = move |v: &f64| {
        if log_x {
            pow10_label(*v)
        } else if integer_x && (v - v.round()).abs() > x_eps {
            String::new()
        } else {
            number_label(if v.abs() < x_eps { 0.0 } else { *v })
        }
    };
    let fy = move |v: &f64| {
        if log_y {
            pow10_label(*v)
        } else {
            number_label(if v.abs() < y_eps { 0.0 } else { *v })
        }
    };
    let x_ticks = if integer_x { ((x1 - x0).round() as usize + 1).clamp(2, 12) } else { 10 };
    draw_mesh(
        chart
            .configure_mesh()
            .x_labels(x_ticks)
            .x_desc(p.x_label.as_str())
            .y_desc(p.y_label.as_str())
            .x_label_formatter(&fx)
            .y_label_formatter(&fy),
        scale,
    )?;
    for s in &p.series {
        let c = color(s.color);
        let pts: Vec<(f64, f64)> =
            s.points.iter().filter_map(|b| Some((transform(b.x, log_x)?, ty(b.mean)?))).collect();
        let band: Vec<(f64, f64, f64)> =
            s.points.iter().filter_map(|b| Some((transform(b.x, log_x)?, ty(b.lo)?, ty(b.hi)?))).collect();
        if band.len() > 1 && band.iter().any(|(_, lo, hi)| hi > lo) {
            let outline: Vec<(f64, f64)> = band
                .iter()
                .map(|&(x, _, hi)| (x, hi))
                .chain(band.iter().rev().map(|&(x, lo, _)| (x, lo)))
                .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(outline, c.mix(0.16).filled())))
                .map_err(drawing_error)?;
        }
        let style = c.stroke_width(scale.px(2));
        let drawn = if s.dashed {
            chart
                .draw_series(DashedLineSeries::new(pts.clone(), scale.px(7), scale.px(4), style))
                .map_err(drawing_error)?
        } else {
            chart.draw_series(LineSeries::new(pts.clone(), style)).map_err(drawing_error)?
        };
        let dashed = s.dashed;
        drawn.label(s.label.as_str()).legend(move |(x, y)| {
            let end = x + scale.off(if dashed { 8 } else { 20 });
            PathElement::new(vec![(x, y), (end, y)], style)
        });
        if s.markers || pts.len() < 3 {
            chart
                .draw_series(pts.iter().map(|&q| Circle::new(q, scale.px(3), c.filled())))
                .map_err(drawing_error)?;
        }
    }
    if p.series.iter().any(|s| !s.label.is_empty()) {
        chart
            .configure_series_labels()
            .position(p.legend.position())
            .label_font(scale.font(12.0))
            .margin(scale.px(10))
            .legend_area_size(scale.px(30))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()
            .map_err(drawing_error)?;
    }
    Ok(())
}

fn draw_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &BarPanel,
    scale: Scale,
) -> Result<(), String> {
    let n = p.bars.len().max(1);
    let finite: Vec<f64> =
        p.bars.iter().flat_map(|b| [b.lo, b.mean, b.hi]).filter(|v| v.is_finite()).collect();
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (v0, v1) = padded(lo, hi, 0.15);
    let v1 = v1 + (v1 - v0) * 0.08; // room for the value labels
    let longest = p.bars.iter().map(|b| b.label.chars().count()).max().unwrap_or(4) as u32;
    let mut chart = ChartBuilder::on(&panel_area(area, &p.title, scale)?)
        .x_label_area_size(scale.px(44))
        .y_label_area_size(scale.px(16 + 8 * longest))
        .build_cartesian_2d(v0..v1, -0.5f64..(n as f64 - 0.5))
        .map_err(drawing_error)?;
    let names: Vec<String> = p.bars.iter().map(|b| b.label.clone()).collect();
    let fy = move |v: &f64| {
        let r = v.round();
        if (v - r).abs() > 1e-6 || r < 0.0 || r as usize >= names.len() {
            return String::new();
        }
        names[names.len() - 1 - r as usize].clone()
    };
    draw_mesh(
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n + 1)
            .y_label_formatter(&fy)
            .x_label_formatter(&|v| number_label(*v))
            .x_desc(p.value_label.as_str()),
        scale,
    )?;
    for (i, b) in p.bars.iter().enumerate() {
        if !b.mean.is_finite() {
            continue;
        }
        let y = (p.bars.len() - 1 - i) as f64;
        let c = color(b.color);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(v0, y - 0.32), (b.mean, y + 0.32)],
                c.mix(0.75).filled(),
            )))
            .map_err(drawing_error)?;
        let end = if b.hi.is_finite() { b.hi.max(b.mean) } else { b.mean };
        chart
            .draw_series(std::iter::once(Text::new(
                format!("  {:.2}", b.mean),
                (end, y + 0.12),
                scale.font(11.0).into_font().color(&BLACK),
            )))
            .map_err(drawing_error)?;
        if b.hi > b.lo {
            let whisker = BLACK.stroke_width(scale.px(2));
            chart
                .draw_series([
                    PathElement::new(vec![(b.lo, y), (b.hi, y)], whisker),
                    PathElement::new(vec![(b.lo, y - 0.15), (b.lo, y + 0.15)], whisker),
                    PathElement::new(vec![(b.hi, y - 0.15), (b.hi, y + 0.15)], whisker),
                ])
                .map_err(drawing_error)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(ys: &[f64]) -> Vec<BandPoint> {
        ys.iter()
            .enumerate()
            .map(|(i, &y)| BandPoint { x: i as f64 + 1.0, mean: y, lo: y * 0.9, hi: y * 1.1 })
            .collect()
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(number_label(0.30000000000000004), "0.3");
        assert_eq!(number_label(2.0), "2");
        assert_eq!(number_label(1e-5), "1e-5");
        assert_eq!(pow10_label(-2.0), "0.01");
        assert_eq!(pow10_label(0.0), "1");
        assert_eq!(pow10_label(2.0), "100");
        assert_eq!(pow10_label(-6.0), "1e-6");
        assert_eq!(pow10_label(0.5), "3.2");
    }

    #[test]
    fn font_sizes_are_even_pixels() {
        let sizes = |scale: f64| [11.0, 12.0, 13.0, 16.0].map(|s| Scale(scale).font(s).1);
        assert_eq!(sizes(1.0), [12.0, 12.0, 14.0, 16.0]);
        assert_eq!(sizes(PNG_SCALE), [14.0, 16.0, 16.0, 20.0]);
        assert_eq!(Scale(PNG_SCALE).px(44), 55);
    }

    fn example() -> Figure {
        let mut lines = LinePanel::new("loss", "epoch", "loss (nats)");
        lines.log_y = true;
        lines.series.push(Series::new("relu", 0, pts(&[2.3, 1.0, 0.5])));
        lines.series.push(Series::new("sigmoid", 1, pts(&[2.3, 2.2, 2.1])).dashed().markers());
        let bars = BarPanel {
            title: "accuracy".into(),
            value_label: "test accuracy (%)".into(),
            bars: vec![
                Bar { label: "adam".into(), mean: 97.0, lo: 96.5, hi: 97.5, color: 0 },
                Bar { label: "sgd".into(), mean: 93.0, lo: 92.0, hi: 94.0, color: 1 },
            ],
        };
        Figure::new("Title <&>", vec![Panel::Lines(lines), Panel::Bars(bars)], 2)
    }

    /// The figure drawn into an RGB buffer at `scale`, with its size.
    fn rgb(figure: &Figure, scale: f64) -> (Vec<u8>, (u32, u32)) {
        let size = figure.size(Scale(scale));
        let mut buf = vec![0u8; size.0 as usize * size.1 as usize * 3];
        figure.draw(&BitMapBackend::with_buffer(&mut buf, size).into_drawing_area(), Scale(scale)).unwrap();
        (buf, size)
    }

    #[test]
    fn a_figure_has_lines_bands_legend_and_bars() {
        let svg = example().to_svg().unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        assert!(svg.contains("<polyline"), "lines");
        assert!(svg.contains("<polygon"), "bands");
        assert!(svg.contains("<rect"), "bars");
        assert!(svg.contains("<circle"), "markers");
        for text in
            ["relu", "sigmoid", "adam", "sgd", "test accuracy (%)", "loss (nats)", "Title &lt;&amp;&gt;"]
        {
            assert!(svg.contains(text), "missing {text}");
        }
    }

    #[test]
    fn the_bitmap_draws_the_text_with_the_bundled_font() {
        let figure = example();
        let (buf, (w, h)) = rgb(&figure, PNG_SCALE);
        assert_eq!((w, h), (1300, 555), "PNG_SCALE times the SVG's 1040 x 444");
        let pixel = |x: u32, y: u32| {
            let i = 3 * (y as usize * w as usize + x as usize);
            [buf[i], buf[i + 1], buf[i + 2]]
        };
        // The title is the only thing in the top band: black text, anti-aliased (grey edges).
        let title: Vec<[u8; 3]> =
            (0..30).flat_map(|y| (0..w).map(move |x| (x, y))).map(|(x, y)| pixel(x, y)).collect();
        let dark = title.iter().filter(|p| p.iter().all(|&c| c < 80)).count();
        let grey = title.iter().filter(|p| p[0] == p[1] && p[1] == p[2] && (80..230).contains(&p[0])).count();
        assert!(dark > 100 && grey > 50, "title: {dark} dark and {grey} grey pixels");
        // Without a title, the band stays white: the ink above came from the text.
        let untitled = Figure { title: String::new(), ..figure.clone() };
        let (blank, _) = rgb(&untitled, PNG_SCALE);
        assert!(blank[..30 * 3 * w as usize].iter().all(|&c| c == 255), "ink without a title");
        // Lines, bands, bars and text give many colours; a blank image has one.
        let mut colours: Vec<[u8; 3]> = buf.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect();
        colours.sort_unstable();
        colours.dedup();
        assert!(colours.len() > 50, "{} colours", colours.len());
        // The palette's first two colours (relu, adam / sigmoid, sgd) are drawn.
        for c in [color(0), color(1)] {
            assert!(colours.contains(&[c.0, c.1, c.2]), "{c:?} not drawn");
        }
    }

    #[test]
    fn every_size_scales_with_the_drawing() {
        // Drawn at scale 1 and 2, the dark pixels (text, axes, whiskers) of the small image
        // lie where the large one has dark pixels: titles, margins, label areas, fonts and
        // legend all scale together (a size left unscaled shifts the panels apart).
        let figure = example();
        let svg = figure.to_svg().unwrap();
        assert!(svg.starts_with(r#"<svg width="1040" height="444""#), "{}", &svg[..60]);
        let (small, (w, h)) = rgb(&figure, 1.0);
        let (large, (lw, lh)) = rgb(&figure, 2.0);
        assert_eq!((w, h, lw, lh), (1040, 444, 2080, 888));
        let dark = |buf: &[u8], width: u32, x: u32, y: u32| {
            let i = 3 * (y as usize * width as usize + x as usize);
            u32::from(buf[i]) + u32::from(buf[i + 1]) + u32::from(buf[i + 2]) < 300
        };
        let (mut total, mut matched) = (0, 0);
        for y in 0..h {
            for x in (0..w).filter(|&x| dark(&small, w, x, y)) {
                total += 1;
                let near = (2 * y).saturating_sub(2)..(2 * y + 4).min(lh);
                let found = near.into_iter().any(|ly| {
                    ((2 * x).saturating_sub(2)..(2 * x + 4).min(lw)).any(|lx| dark(&large, lw, lx, ly))
                });
                matched += usize::from(found);
            }
        }
        assert!(total > 2000, "{total} dark pixels");
        assert!(matched * 100 >= total * 98, "{matched} of {total} dark pixels have a match");
    }

    #[test]
    fn save_writes_the_svg_and_the_png_and_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("figures").join("example.svg");
        example().save(&path).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().starts_with("<svg"));
        let png = std::fs::read(dir.path().join("figures").join("example.png")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        let dim = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
        assert_eq!((dim(16), dim(20)), (1300, 555));
        let names: Vec<String> = std::fs::read_dir(dir.path().join("figures"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        // A PNG that cannot be written is an error naming it, and leaves nothing behind.
        let blocked = dir.path().join("blocked");
        std::fs::create_dir_all(blocked.join("x.png")).unwrap();
        let err = example().save(&blocked.join("x.svg")).unwrap_err().to_string();
        assert!(err.contains("x.png"), "{err}");
        let left: Vec<_> = std::fs::read_dir(&blocked).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }

    #[test]
    fn empty_and_degenerate_panels_still_draw() {
        let mut p = LinePanel::new("flat", "x", "y");
        p.series.push(Series::new("c", 0, pts(&[1.0, 1.0])));
        p.series.push(Series::new("nan", 1, vec![BandPoint { x: 1.0, mean: f64::NAN, lo: 0.0, hi: 0.0 }]));
        assert!(Figure::new("t", vec![Panel::Lines(p)], 1).to_svg().is_ok());
        assert!(Figure::new("t", vec![Panel::Lines(LinePanel::new("e", "x", "y"))], 1).to_svg().is_ok());
    }
}
