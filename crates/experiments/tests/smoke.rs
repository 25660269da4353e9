//! The CI smoke test: all five experiments on the embedded digits at the smallest budget,
//! into a temporary directory; every figure (SVG and PNG copy) and the report must exist and
//! contain data.

use nabla_experiments::{
    load_records, run, Budget, DataChoice, Experiment, Options, Progress, Verdict, PNG_SCALE,
};
use std::path::Path;

const FIGURES: [&str; 9] = [
    "dropout-error",
    "activation-loss",
    "activation-gradients",
    "batchnorm-test",
    "batchnorm-preactivations",
    "init-loss",
    "init-activation-std",
    "optimizer-loss",
    "optimizer-accuracy",
];

/// The numbers in the `points="x,y x,y ..."` attributes of an SVG's polylines.
fn polyline_points(svg: &str) -> usize {
    svg.split("<polyline")
        .skip(1)
        .filter_map(|el| {
            let start = el.find("points=\"")? + 8;
            let end = el[start..].find('"')? + start;
            Some(
                el[start..end]
                    .split_whitespace()
                    .filter(|p| p.split(',').all(|v| v.parse::<f64>().is_ok()))
                    .count(),
            )
        })
        .sum()
}

/// Decodes a PNG as the figures are written (8-bit RGB, not interlaced): its size and its
/// pixels. Panics, naming the figure, on anything else.
fn decode_png(name: &str, bytes: &[u8]) -> ((usize, usize), Vec<[u8; 3]>) {
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}: no PNG signature");
    let be32 = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let (mut at, mut size, mut idat) = (8, (0, 0), Vec::new());
    while at + 8 <= bytes.len() {
        let (len, kind) = (be32(at), &bytes[at + 4..at + 8]);
        let data = &bytes[at + 8..at + 8 + len];
        match kind {
            b"IHDR" => {
                size = (be32(at + 8), be32(at + 12));
                assert_eq!(&data[8..13], &[8, 2, 0, 0, 0], "{name}: not 8-bit RGB, non-interlaced");
            }
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => break,
            _ => {}
        }
        at += 12 + len; // length, type, data, CRC
    }
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::ZlibDecoder::new(&idat[..]), &mut raw)
        .unwrap_or_else(|e| panic!("{name}: image data does not inflate: {e}"));
    let (w, h) = size;
    let stride = 3 * w;
    assert_eq!(raw.len(), h * (stride + 1), "{name}: {} bytes of image data for {w} x {h}", raw.len());
    // Undo the per-row filters (PNG spec, section 9), 3 bytes per pixel.
    let mut pixels = vec![0u8; h * stride];
    for y in 0..h {
        let filter = raw[y * (stride + 1)];
        for i in 0..stride {
            let x = raw[y * (stride + 1) + 1 + i];
            let a = if i >= 3 { pixels[y * stride + i - 3] } else { 0 };
            let b = if y > 0 { pixels[(y - 1) * stride + i] } else { 0 };
            let c = if i >= 3 && y > 0 { pixels[(y - 1) * stride + i - 3] } else { 0 };
            let predicted = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                4 => {
                    let p = i16::from(a) + i16::from(b) - i16::from(c);
                    let (pa, pb, pc) =
                        ((p - i16::from(a)).abs(), (p - i16::from(b)).abs(), (p - i16::from(c)).abs());
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                f => panic!("{name}: row {y} has the unknown filter {f}"),
            };
            pixels[y * stride + i] = x.wrapping_add(predicted);
        }
    }
    (size, pixels.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect())
}

/// The `width="..." height="..."` of an SVG document.
fn svg_size(svg: &str) -> (usize, usize) {
    let attr = |key: &str| -> usize {
        let start = svg.find(key).unwrap() + key.len();
        svg[start..start + svg[start..].find('"').unwrap()].parse().unwrap()
    };
    (attr("width=\""), attr("height=\""))
}

/// The PNG copy: the SVG's picture at [`PNG_SCALE`] times the size, drawn (many colours,
/// dark pixels of text and axes, a mostly white background).
fn check_png(dir: &Path, name: &str, svg: &str) {
    let path = dir.join("figures").join(format!("{name}.png"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let ((w, h), pixels) = decode_png(name, &bytes);
    let (sw, sh) = svg_size(svg);
    let scaled = |v: usize| (v as f64 * PNG_SCALE).round() as usize;
    assert_eq!((w, h), (scaled(sw), scaled(sh)), "{name}: not the SVG's {sw} x {sh} scaled");
    let mut colours = pixels.clone();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 200, "{name}: only {} distinct colours", colours.len());
    let white = pixels.iter().filter(|p| **p == [255, 255, 255]).count();
    let dark = pixels.iter().filter(|p| p.iter().map(|&c| u32::from(c)).sum::<u32>() < 150).count();
    assert!(white * 10 > pixels.len() * 5, "{name}: background not white ({white} of {})", pixels.len());
    assert!(dark * 1000 > pixels.len(), "{name}: almost no dark pixels (text, axes): {dark}");
}

fn check_figure(dir: &Path, name: &str) {
    let path = dir.join("figures").join(format!("{name}.svg"));
    let svg = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
        "{name}: not a whole SVG document"
    );
    assert!(svg.contains("<text"), "{name}: no text (title, labels, legend)");
    let data_elements = svg.matches("<polyline").count() + svg.matches("<rect").count();
    assert!(data_elements > 3, "{name}: only {data_elements} drawn elements");
    assert!(polyline_points(&svg) > 10, "{name}: the lines carry almost no points");
    check_png(dir, name, &svg);
}

#[test]
fn all_five_experiments_write_figures_records_and_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        data: DataChoice::Digits,
        out_dir: dir.path().to_path_buf(),
        progress: Progress::Quiet,
        ..Options::new(Budget::Smoke)
    };
    let summary = run(&Experiment::ALL, &options).unwrap();
    assert_eq!(summary.results.len(), 5);
    assert_eq!(summary.report, dir.path().join("README.md"));
    for name in FIGURES {
        check_figure(dir.path(), name);
    }
    let figures: usize = summary.results.iter().map(|r| r.figures.len()).sum();
    assert_eq!(figures, FIGURES.len());

    let readme = std::fs::read_to_string(&summary.report).unwrap();
    for e in Experiment::ALL {
        assert!(readme.contains(&format!("`{}`: {}", e.name(), e.claim())), "section of {e} missing");
    }
    for name in FIGURES {
        assert!(readme.contains(&format!("(figures/{name}.svg)")), "{name} not linked from the report");
    }
    assert!(readme.contains("PNG copy beside it (`figures/<name>.png`"), "PNG copies not mentioned");
    assert!(readme.contains("Runtime of the suite"), "runtime missing");
    assert!(readme.contains("logical cores") && readme.contains("at commit `"), "machine or commit missing");
    // Tables with numbers: every table row after a header rule has a digit in it.
    let table_rows: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---") && !l.starts_with("| #"))
        .collect();
    assert!(table_rows.len() > 20, "too few table rows: {}", table_rows.len());
    let numeric_rows = table_rows.iter().filter(|l| l.chars().any(|c| c.is_ascii_digit())).count();
    assert!(numeric_rows * 10 >= table_rows.len() * 7, "tables without numbers:\n{}", table_rows.join("\n"));
    assert!(readme.contains("### Did the claim hold?"));

    // Records round-trip and agree with the summary; no temporary files are left behind.
    let records = load_records(dir.path()).unwrap();
    assert_eq!(records.len(), 5);
    for ((e, rec), res) in records.iter().zip(&summary.results) {
        assert_eq!(*e, res.experiment);
        assert_eq!(rec.verdict, res.verdict);
        assert_eq!((rec.data.as_str(), rec.budget.as_str(), rec.seeds), ("digits", "smoke", 1));
        assert!(matches!(rec.verdict, Verdict::Strong | Verdict::Weak | Verdict::NotHeld));
    }
    for sub in ["", "figures", "results"] {
        for entry in std::fs::read_dir(dir.path().join(sub)).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.contains(".tmp"), "temporary file left behind: {name}");
        }
    }

    // Running one experiment again keeps the other sections.
    let again = run(&[Experiment::Dropout], &options).unwrap();
    assert_eq!(again.results.len(), 1);
    let readme = std::fs::read_to_string(&again.report).unwrap();
    assert!(readme.contains("`optimizer`: ") && readme.contains("`dropout`: "));
}

#[test]
fn mnist_without_a_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        data_dir: Some(dir.path().join("nowhere")),
        out_dir: dir.path().join("out"),
        progress: Progress::Quiet,
        ..Options::new(Budget::Smoke)
    };
    let err = run(&[Experiment::Dropout], &options).unwrap_err().to_string();
    assert!(err.contains("dropout") && err.contains("nowhere"), "{err}");
    assert!(!dir.path().join("out").join("README.md").exists(), "no report for a failed run");
}
