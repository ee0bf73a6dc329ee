//! The column table of dotnet-dump's managed commands (`gcheapstat`, `sizestats`,
//! `listnearobj`): each column has an alignment, a width (or none) and a kind of value;
//! cells are joined by one space; a row with more cells than columns prints the rest
//! unpadded. Text cells longer than their column are cut (`...` and the tail when the
//! column is left-aligned, the head and `...` otherwise); numbers never are.
use super::format::thousands;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// How a column formats a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text, cut to the width.
    Text,
    /// A decimal number without separators.
    Plain,
    /// A decimal number with thousands separators (`n0`).
    Thousands,
    /// A pointer: lowercase hex, at least 12 digits.
    Pointer,
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub align: Align,
    /// `None`: as wide as the value.
    pub width: Option<usize>,
    pub kind: Kind,
}

impl Column {
    pub const fn new(align: Align, width: Option<usize>, kind: Kind) -> Column {
        Column { align, width, kind }
    }
    /// Text, unpadded (dotnet-dump's `ColumnKind.Text`).
    pub const TEXT: Column = Column::new(Align::Left, None, Kind::Text);
    /// dotnet-dump's `IntegerWithoutCommas`: right-aligned, 10 wide.
    pub const PLAIN: Column = Column::new(Align::Right, Some(10), Kind::Plain);
    /// dotnet-dump's `Integer` (and `ByteCount`): right-aligned, 14 wide, `n0`.
    pub const INTEGER: Column = Column::new(Align::Right, Some(14), Kind::Thousands);
    /// dotnet-dump's `Pointer`: right-aligned, 16 wide.
    pub const POINTER: Column = Column::new(Align::Right, Some(16), Kind::Pointer);

    pub const fn width(self, width: usize) -> Column {
        Column { width: Some(width), ..self }
    }
    pub const fn left(self) -> Column {
        Column { align: Align::Left, ..self }
    }
}

/// One cell's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(u64),
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }
}
impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}
impl From<u64> for Cell {
    fn from(n: u64) -> Cell {
        Cell::Number(n)
    }
}

fn cell_text(column: &Column, cell: &Cell) -> String {
    let text = match cell {
        Cell::Empty => return String::new(),
        Cell::Text(t) => t.clone(),
        Cell::Number(n) => match column.kind {
            Kind::Thousands => thousands(*n),
            Kind::Pointer => format!("{n:012x}"),
            Kind::Text | Kind::Plain => n.to_string(),
        },
    };
    let Some(width) = column.width else { return text };
    let len = text.chars().count();
    if column.kind != Kind::Text || len <= width {
        return text;
    }
    if width <= 3 {
        return ".".repeat(width);
    }
    match column.align {
        Align::Left => {
            let tail: String = text.chars().skip(len - (width - 3)).collect();
            format!("...{tail}")
        }
        Align::Right => {
            let head: String = text.chars().take(width - 3).collect();
            format!("{head}...")
        }
    }
}

/// A table with its columns.
#[derive(Debug, Clone)]
pub struct Table {
    pub columns: Vec<Column>,
}

impl Table {
    pub fn new(columns: &[Column]) -> Table {
        Table { columns: columns.to_vec() }
    }

    /// Every column left-aligned (dotnet-dump's `SetAlignment(Align.Left)`).
    pub fn all_left(mut self) -> Table {
        for c in &mut self.columns {
            c.align = Align::Left;
        }
        self
    }

    /// The text of one row, without its line end.
    pub fn row_text(&self, cells: &[Cell]) -> String {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i != 0 {
                line.push(' ');
            }
            let column = self.columns.get(i).copied().unwrap_or(Column::TEXT);
            let text = cell_text(&column, cell);
            let pad = column.width.unwrap_or(0).saturating_sub(text.chars().count());
            match column.align {
                Align::Left => {
                    line.push_str(&text);
                    line.extend(std::iter::repeat_n(' ', pad));
                }
                Align::Right => {
                    line.extend(std::iter::repeat_n(' ', pad));
                    line.push_str(&text);
                }
            }
        }
        line
    }

    pub fn write_row(&self, out: &mut dyn Write, cells: &[Cell]) -> std::io::Result<()> {
        writeln!(out, "{}", self.row_text(cells))
    }

    /// A header: its labels in the columns (the labels beyond the columns unpadded). As
    /// dotnet-dump's table does, a column narrower than its label is widened to it, but
    /// only when the label is longer than the table has columns.
    pub fn write_header(&mut self, out: &mut dyn Write, labels: &[&str]) -> std::io::Result<()> {
        let count = self.columns.len();
        for (column, label) in self.columns.iter_mut().zip(labels) {
            let len = label.chars().count();
            if len > count && column.width.is_some_and(|w| w < len) {
                column.width = Some(len);
            }
        }
        let cells: Vec<Cell> = labels.iter().map(|l| Cell::from(*l)).collect();
        self.write_row(out, &cells)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_cuts_and_overflows() {
        let t = Table::new(&[Column::TEXT.width(8), Column::PLAIN]).all_left();
        assert_eq!(t.row_text(&["Heap0".into(), 123u64.into(), "SOH:2%".into()]), "Heap0    123        SOH:2%");
        assert_eq!(t.row_text(&["Heap123456".into(), Cell::Empty]), "...23456           ");
        let r = Table::new(&[Column::INTEGER, Column::POINTER]);
        assert_eq!(r.row_text(&[1234567u64.into(), 0x7fu64.into()]), "     1,234,567     00000000007f");
    }
}
