//! WCAG 2.2 AA contrast of the design tokens, in the light and the dark
//! theme: text colours against the backgrounds they sit on at least 4.5:1,
//! the focus ring against the backgrounds at least 3:1 (non-text contrast).

const CSS: &str = include_str!("../assets/app.css");

/// The `--name: #rrggbb` tokens of the block that starts at `marker`.
fn tokens(marker: &str) -> Vec<(String, String)> {
    let start = CSS.find(marker).expect("theme block") + marker.len();
    let block = &CSS[start..start + CSS[start..].find('}').expect("block end")];
    block
        .split(';')
        .filter_map(|decl| {
            let (name, value) = decl.trim().split_once(':')?;
            let value = value.trim();
            (name.starts_with("--") && value.starts_with('#'))
                .then(|| (name.trim_start_matches("--").to_string(), value.to_string()))
        })
        .collect()
}

fn luminance(hex: &str) -> f64 {
    let channel = |i: usize| {
        let c = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap()) / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
}

fn ratio(a: &str, b: &str) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

fn check(theme: &str, marker: &str) {
    let mut t: std::collections::HashMap<String, String> = tokens(":root {").into_iter().collect();
    t.extend(tokens(marker));
    let text = ["fg", "muted", "accent", "danger", "ok", "warn"];
    for bg in ["bg", "surface"] {
        for fg in text {
            let r = ratio(&t[fg], &t[bg]);
            assert!(
                r >= 4.5,
                "{theme}: --{fg} on --{bg} is {r:.2}:1, below 4.5:1"
            );
        }
        let r = ratio(&t["focus"], &t[bg]);
        assert!(
            r >= 3.0,
            "{theme}: the focus ring on --{bg} is {r:.2}:1, below 3:1"
        );
    }
    let r = ratio(&t["accent-fg"], &t["accent"]);
    assert!(r >= 4.5, "{theme}: button text on --accent is {r:.2}:1");
}

#[test]
fn the_light_theme_meets_wcag_aa_contrast() {
    check("light", ":root {");
}

#[test]
fn the_dark_theme_meets_wcag_aa_contrast() {
    check("dark", "@media (prefers-color-scheme: dark) {\n  :root {");
}
