//! Fitting a report into a size limit without breaking its markdown.
//!
//! GitHub refuses a comment over 65,536 characters and cuts a step summary over 1 MiB. Cutting
//! the text at the limit could end inside a table row, a `<details>` block or an HTML comment,
//! which breaks everything after it, so the report is instead re-rendered with less in it:
//! first the optional (collapsed) sections are left out, lowest priority first; then every
//! long table is shortened to the same number of rows, the largest number that fits (found by
//! bisection; the renderer adds an "N more rows" line). Each render is whole markdown, so
//! whatever is chosen is well formed.

/// GitHub's limit on a comment body, in characters.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;

/// Characters left for what `mlgate comment` puts above the report (its sticky marker and an
/// optional header), so the posted comment stays under [`GITHUB_COMMENT_LIMIT`].
pub const COMMENT_HEADER_RESERVE: usize = 1_024;

/// How much a rendered report may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Characters (Unicode scalar values, as GitHub counts them).
    pub chars: usize,
    /// Bytes of UTF-8.
    pub bytes: usize,
}

impl Budget {
    /// The budget of `report.md`, the PR comment.
    pub fn comment() -> Budget {
        Budget {
            chars: GITHUB_COMMENT_LIMIT - COMMENT_HEADER_RESERVE,
            bytes: usize::MAX,
        }
    }

    /// The comment's budget, further limited to `bytes` (what is left of a job summary).
    pub fn within_bytes(self, bytes: usize) -> Budget {
        Budget {
            bytes: self.bytes.min(bytes),
            ..self
        }
    }

    /// Whether `text` fits.
    pub fn fits(&self, text: &str) -> bool {
        text.len() <= self.bytes && text.chars().count() <= self.chars
    }
}

/// What a render may include.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How many optional sections to keep, counted from the highest priority.
    pub sections: usize,
    /// The most rows any table shows.
    pub rows: usize,
}

impl Limits {
    /// Whether a render with these limits left anything out.
    pub fn shortened(&self, all: Limits) -> bool {
        self.sections < all.sections || self.rows < all.rows
    }
}

/// A render that fits, and the limits it was made with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fitted {
    /// The markdown.
    pub text: String,
    /// The limits used; `None` when not even the smallest render fitted.
    pub limits: Option<Limits>,
}

/// The fullest render within `budget`. `all` is everything (every section, the longest table's
/// rows); `render` must produce well-formed markdown for any limits, and its size must not grow
/// when either limit shrinks. When even the smallest render is too large the result is empty
/// (`limits: None`), never a cut.
pub fn fit<E>(
    all: Limits,
    budget: Budget,
    mut render: impl FnMut(Limits) -> Result<String, E>,
) -> Result<Fitted, E> {
    for sections in (0..=all.sections).rev() {
        let limits = Limits {
            sections,
            rows: all.rows,
        };
        let text = render(limits)?;
        if budget.fits(&text) {
            return Ok(Fitted {
                text,
                limits: Some(limits),
            });
        }
    }
    // Bisection over the row cap with no optional sections: every cap below `low` fits, none
    // from `high` up does.
    let mut best = None;
    let (mut low, mut high) = (0usize, all.rows);
    while low < high {
        let mid = low + (high - low) / 2;
        let limits = Limits {
            sections: 0,
            rows: mid,
        };
        let text = render(limits)?;
        if budget.fits(&text) {
            best = Some((limits, text));
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    Ok(match best {
        Some((limits, text)) => Fitted {
            text,
            limits: Some(limits),
        },
        None => Fitted {
            text: String::new(),
            limits: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake report: a fixed head, 100 characters per optional section, 10 per table row.
    fn render(limits: Limits) -> Result<String, std::convert::Infallible> {
        Ok(format!(
            "{}{}{}",
            "h".repeat(50),
            "s".repeat(100 * limits.sections),
            "r".repeat(10 * limits.rows)
        ))
    }

    fn budget(chars: usize) -> Budget {
        Budget {
            chars,
            bytes: usize::MAX,
        }
    }

    const ALL: Limits = Limits {
        sections: 3,
        rows: 1000,
    };

    #[test]
    fn everything_when_it_fits() {
        let fitted = fit(ALL, budget(100_000), render).unwrap();
        assert_eq!(fitted.limits, Some(ALL));
    }

    #[test]
    fn drops_sections_before_rows() {
        let fitted = fit(ALL, budget(50 + 100 + 10_000), render).unwrap();
        assert_eq!(
            fitted.limits,
            Some(Limits {
                sections: 1,
                rows: 1000
            })
        );
    }

    #[test]
    fn then_keeps_the_most_rows_that_fit() {
        let fitted = fit(ALL, budget(50 + 10 * 437 + 9), render).unwrap();
        assert_eq!(
            fitted.limits,
            Some(Limits {
                sections: 0,
                rows: 437
            })
        );
        assert!(fitted.text.chars().count() <= 50 + 10 * 437 + 9);
    }

    #[test]
    fn nothing_rather_than_a_cut() {
        let fitted = fit(ALL, budget(10), render).unwrap();
        assert_eq!(fitted.limits, None);
        assert!(fitted.text.is_empty());
    }

    #[test]
    fn counts_characters_and_bytes() {
        let b = Budget { chars: 3, bytes: 6 };
        assert!(b.fits("ééé"));
        assert!(!b.fits("éééé"));
        assert!(!Budget { chars: 3, bytes: 5 }.fits("ééé"));
    }
}
