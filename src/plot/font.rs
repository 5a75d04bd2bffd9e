//! A compact built-in bitmap font (printable ASCII 32–126), so charts and montages can carry text
//! without a font library. Each glyph is 5 pixels wide and 8 tall: rows 0–6 hold capitals and digits,
//! row 7 is the descender row (g, j, p, q, y, comma). Text is scaled by whole factors (each font pixel
//! becomes a `scale × scale` block), which keeps it crisp in PNGs.

/// Glyph width in font pixels.
pub const GLYPH_W: u32 = 5;
/// Glyph height in font pixels (including the descender row).
pub const GLYPH_H: u32 = 8;
/// Horizontal advance per character in font pixels (glyph plus one column of spacing).
pub const ADVANCE: u32 = 6;

/// Rows of each glyph, top to bottom; bit 4 is the leftmost column. Index = code point − 32.
/// Parsed at compile time from the drawing in `assets/font/font5x8.txt`, so a malformed file fails
/// the build rather than a chart.
const GLYPHS: [[u8; 8]; 95] = parse_font(include_bytes!("../../assets/font/font5x8.txt"));

/// Reads the font file: comment lines, then per glyph in code-point order a line `= c` and 8 rows
/// of 5 pixels (`#` ink, `.` blank).
const fn parse_font(text: &[u8]) -> [[u8; 8]; 95] {
    let mut glyphs = [[0u8; 8]; 95];
    // The glyph being read, and its next row (8: expecting the `= c` line).
    let (mut glyph, mut row) = (0usize, 8usize);
    let mut pos = 0;
    while pos < text.len() {
        let start = pos;
        while pos < text.len() && text[pos] != b'\n' {
            pos += 1;
        }
        let line = (start, pos - start);
        pos += 1;
        if row == 8 {
            if line.1 == 3 && text[line.0] == b'=' && text[line.0 + 1] == b' ' {
                assert!(glyph < 95, "font: more than 95 glyphs");
                assert!(
                    text[line.0 + 2] as usize == 32 + glyph,
                    "font: glyph out of order"
                );
                row = 0;
            } else {
                assert!(glyph == 0, "font: a glyph has more than 8 rows");
            }
            continue;
        }
        assert!(
            line.1 == GLYPH_W as usize,
            "font: a row is not 5 pixels wide"
        );
        let mut bits = 0u8;
        let mut x = 0;
        while x < line.1 {
            bits = (bits << 1)
                | match text[line.0 + x] {
                    b'#' => 1,
                    b'.' => 0,
                    _ => panic!("font: a pixel is neither '#' nor '.'"),
                };
            x += 1;
        }
        glyphs[glyph][row] = bits;
        row += 1;
        if row == 8 {
            glyph += 1;
        }
    }
    assert!(
        glyph == 95 && row == 8,
        "font: fewer than 95 complete glyphs"
    );
    glyphs
}

/// The rows of `c`'s glyph; characters outside printable ASCII draw as `?`.
pub fn glyph(c: char) -> &'static [u8; 8] {
    let code = c as u32;
    let idx = if (32..=126).contains(&code) {
        code - 32
    } else {
        '?' as u32 - 32
    };
    &GLYPHS[idx as usize]
}

/// True when font pixel `(x, y)` of `c` is ink (`x < GLYPH_W`, `y < GLYPH_H`).
pub fn ink(c: char, x: u32, y: u32) -> bool {
    x < GLYPH_W && y < GLYPH_H && glyph(c)[y as usize] >> (GLYPH_W - 1 - x) & 1 == 1
}

/// Width in pixels of `text` drawn at `scale` (no trailing spacing column).
pub fn text_width(text: &str, scale: u32) -> u32 {
    let n = text.chars().count() as u32;
    if n == 0 {
        0
    } else {
        (n * ADVANCE - (ADVANCE - GLYPH_W)) * scale
    }
}

/// Height in pixels of one line of text at `scale`.
pub fn text_height(scale: u32) -> u32 {
    GLYPH_H * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_printable_glyph_but_space_has_ink() {
        for code in 33u8..=126 {
            let c = code as char;
            let any = (0..GLYPH_H).any(|y| (0..GLYPH_W).any(|x| ink(c, x, y)));
            assert!(any, "glyph {c:?} is blank");
        }
        assert!((0..GLYPH_H).all(|y| (0..GLYPH_W).all(|x| !ink(' ', x, y))));
    }

    #[test]
    fn known_glyph_pixels() {
        // 'L': left column full for rows 0..7, bottom row of the body full.
        assert!((0..7).all(|y| ink('L', 0, y)));
        assert!((0..5).all(|x| ink('L', x, 6)));
        assert!(!ink('L', 4, 0));
        // '-' is one horizontal bar on row 3.
        assert!((0..5).all(|x| ink('-', x, 3)) && !ink('-', 2, 2));
        // Unknown characters fall back to '?'.
        assert_eq!(glyph('µ'), glyph('?'));
        // Descenders use row 7.
        assert!((0..5).any(|x| ink('g', x, 7)) && !(0..5).any(|x| ink('a', x, 7)));
    }

    #[test]
    fn widths_scale() {
        assert_eq!(text_width("", 3), 0);
        assert_eq!(text_width("A", 1), 5);
        assert_eq!(text_width("AB", 2), 22);
        assert_eq!(text_height(2), 16);
    }
}
