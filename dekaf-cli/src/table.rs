//! Plain-text tables: rows in, a `String` out, nothing else.
//!
//! Columns keep the order they are given in; numbers are right-aligned, text left-aligned,
//! each column as wide as its widest cell, two spaces between columns, no trailing spaces.

/// How a column's cells line up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Text: left-aligned.
    Left,
    /// Numbers: right-aligned, so that digits of the same weight line up.
    Right,
}

/// A column: its heading and how its cells line up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// The heading, printed as given (upper case by convention).
    pub name: &'static str,
    /// How the heading and the cells line up.
    pub align: Align,
}

impl Column {
    /// A column of text.
    pub const fn text(name: &'static str) -> Column {
        Column {
            name,
            align: Align::Left,
        }
    }

    /// A column of numbers.
    pub const fn number(name: &'static str) -> Column {
        Column {
            name,
            align: Align::Right,
        }
    }
}

/// Renders `rows` under `columns`: a heading line, then one line per row, each ending in a
/// newline. A row shorter than `columns` is padded with empty cells; extra cells are dropped.
pub fn render(columns: &[Column], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .map(|r| cell(r, i).chars().count())
                .chain([c.name.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let headings: Vec<String> = columns.iter().map(|c| c.name.to_owned()).collect();
    for row in std::iter::once(&headings).chain(rows) {
        let mut line = String::new();
        for (i, (column, width)) in columns.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let text = cell(row, i);
            let pad = width - text.chars().count();
            match column.align {
                Align::Left => {
                    line.push_str(text);
                    line.extend(std::iter::repeat_n(' ', pad));
                }
                Align::Right => {
                    line.extend(std::iter::repeat_n(' ', pad));
                    line.push_str(text);
                }
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The `i`th cell of `row`, empty when the row is short.
fn cell(row: &[String], i: usize) -> &str {
    row.get(i).map(String::as_str).unwrap_or("")
}

/// A number, or `-` when there is none.
pub fn number(n: Option<i64>) -> String {
    n.map_or_else(|| "-".to_owned(), |n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_line_up_on_the_right_and_text_on_the_left() {
        let columns = [
            Column::text("TOPIC"),
            Column::number("PARTITION"),
            Column::number("LAG"),
            Column::text("OWNER"),
        ];
        let rows = vec![
            vec!["orders".into(), "0".into(), "7".into(), "member-1".into()],
            vec!["orders".into(), "10".into(), "12345".into(), "-".into()],
            vec!["payments-long-name".into(), "2".into(), "-".into()],
        ];
        assert_eq!(
            render(&columns, &rows),
            "\
TOPIC               PARTITION    LAG  OWNER
orders                      0      7  member-1
orders                     10  12345  -
payments-long-name          2      -
"
        );
    }

    #[test]
    fn a_table_without_rows_is_its_heading() {
        let columns = [Column::text("GROUP"), Column::text("STATE")];
        assert_eq!(render(&columns, &[]), "GROUP  STATE\n");
    }

    #[test]
    fn width_counts_characters_not_bytes() {
        let columns = [Column::text("KEY"), Column::number("N")];
        let rows = vec![
            vec!["ünï".into(), "1".into()],
            vec!["ab".into(), "22".into()],
        ];
        assert_eq!(render(&columns, &rows), "KEY   N\nünï   1\nab   22\n");
    }
}
