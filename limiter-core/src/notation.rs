//! The rate-limit notation: `"2 per minute"`, `"10/hour"`, `"5 per 3 seconds; 100/day"`.
//!
//! Accepts and rejects exactly what Python's `limits.parse_many` does (the notation Flask-Limiter
//! users already write in their configuration), so limits can be copied between the two:
//!
//! ```text
//! LIMITS := EXPR ( [":"] SEP EXPR )*        SEP := "," | ";" | "|"
//! EXPR   := AMOUNT ( "/" | "per" ) [MULTIPLES] UNIT      (whitespace allowed around every token)
//! UNIT   := second | minute | hour | day | month | year, or their plurals (case-insensitive)
//! ```
//!
//! A month is 30 days and a year 360 days. Multiples of `0` (or none) mean `1`. An amount of `0`
//! is valid and blocks every request.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The namespace every storage key starts with, as in Python's `limits`.
pub const KEY_NAMESPACE: &str = "LIMITER";

/// The unit of a rate-limit window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Granularity {
    /// 1 second.
    Second,
    /// 60 seconds.
    Minute,
    /// 3,600 seconds.
    Hour,
    /// 86,400 seconds.
    Day,
    /// 30 days (2,592,000 seconds), as in `limits`.
    Month,
    /// 360 days (31,104,000 seconds), as in `limits`.
    Year,
}

impl Granularity {
    /// Every granularity, shortest first.
    pub const ALL: [Granularity; 6] = [
        Granularity::Second,
        Granularity::Minute,
        Granularity::Hour,
        Granularity::Day,
        Granularity::Month,
        Granularity::Year,
    ];

    /// Length of one unit in seconds.
    pub const fn seconds(self) -> u64 {
        match self {
            Granularity::Second => 1,
            Granularity::Minute => 60,
            Granularity::Hour => 3_600,
            Granularity::Day => 86_400,
            Granularity::Month => 2_592_000,
            Granularity::Year => 31_104_000,
        }
    }

    /// The singular unit word used in the canonical form and in storage keys.
    pub const fn name(self) -> &'static str {
        match self {
            Granularity::Second => "second",
            Granularity::Minute => "minute",
            Granularity::Hour => "hour",
            Granularity::Day => "day",
            Granularity::Month => "month",
            Granularity::Year => "year",
        }
    }

    /// Matches a unit word the way `limits` does: the singular or plural name, any case.
    /// Abbreviations (`s`, `sec`, `min`, `hr`) are not units.
    pub fn from_word(word: &str) -> Option<Granularity> {
        let lower = word.to_ascii_lowercase();
        let singular = lower.strip_suffix('s').unwrap_or(&lower);
        Granularity::ALL
            .into_iter()
            .find(|granularity| lower == granularity.name() || singular == granularity.name())
    }
}

impl fmt::Display for Granularity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One parsed limit: `amount` requests per `multiples` × `granularity`.
///
/// ```
/// use limiter_core::RateLimit;
///
/// let limit: RateLimit = "10 per 2 hours".parse()?;
/// assert_eq!(limit.amount(), 10);
/// assert_eq!(limit.to_string(), "10 per 2 hour");
/// assert_eq!(limit.expiry().as_secs(), 7_200);
/// # Ok::<(), limiter_core::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit {
    amount: u64,
    multiples: u64,
    granularity: Granularity,
}

impl RateLimit {
    /// A limit of `amount` per `multiples` units. Multiples of `0` become `1`, as in `limits`.
    pub const fn new(amount: u64, multiples: u64, granularity: Granularity) -> Self {
        RateLimit {
            amount,
            multiples: if multiples == 0 { 1 } else { multiples },
            granularity,
        }
    }

    /// How many requests (or units of cost) the window admits.
    pub const fn amount(&self) -> u64 {
        self.amount
    }

    /// How many units long the window is.
    pub const fn multiples(&self) -> u64 {
        self.multiples
    }

    /// The unit of the window.
    pub const fn granularity(&self) -> Granularity {
        self.granularity
    }

    /// The window length in whole seconds (`limits`' `get_expiry()`), saturating on overflow.
    pub const fn expiry_seconds(&self) -> u64 {
        self.granularity.seconds().saturating_mul(self.multiples)
    }

    /// The window length.
    pub const fn expiry(&self) -> Duration {
        Duration::from_secs(self.expiry_seconds())
    }

    /// Appends the storage key `LIMITER/<id>/<id>…/<amount>/<multiples>/<unit>` to `out`,
    /// byte-for-byte what `limits`' `key_for(*ids)` returns.
    pub fn write_key(&self, identifiers: &[&str], out: &mut String) {
        out.push_str(KEY_NAMESPACE);
        for identifier in identifiers {
            out.push('/');
            out.push_str(identifier);
        }
        let mut number = itoa::Buffer::new();
        out.push('/');
        out.push_str(number.format(self.amount));
        out.push('/');
        out.push_str(number.format(self.multiples));
        out.push('/');
        out.push_str(self.granularity.name());
    }

    /// The storage key for these identifiers, e.g. `LIMITER/127.0.0.1/fast/2/1/minute`.
    ///
    /// ```
    /// let limit: limiter_core::RateLimit = "1/second".parse().unwrap();
    /// assert_eq!(limit.key_for(&["a", "b"]), "LIMITER/a/b/1/1/second");
    /// ```
    pub fn key_for(&self, identifiers: &[&str]) -> String {
        let mut key = String::with_capacity(48);
        self.write_key(identifiers, &mut key);
        key
    }

    /// Orders limits the way `limits` does: by granularity only (shortest unit first), ignoring
    /// amount and multiples. Use with a stable sort to keep declaration order among ties.
    pub fn granularity_order(&self, other: &RateLimit) -> std::cmp::Ordering {
        self.granularity.cmp(&other.granularity)
    }
}

/// The canonical form: `"{amount} per {multiples} {unit}"`, singular unit, multiples always shown.
impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} per {} {}",
            self.amount, self.multiples, self.granularity
        )
    }
}

impl FromStr for RateLimit {
    type Err = ParseError;

    /// Parses the first limit of the string (all of it must be valid), as `limits.parse` does.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        parse_many(input).map(|limits| limits[0])
    }
}

/// Why a rate-limit string was rejected. Every message quotes the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The string does not follow the grammar.
    #[error(
        "couldn't parse rate limit string '{input}': expected \"<amount> per [<multiples>] <unit>\" \
         or \"<amount>/[<multiples>] <unit>\" (e.g. \"10 per minute\", \"5/2 hours\"), \
         several joined by ',', ';' or '|'"
    )]
    Syntax {
        /// The whole string that was given.
        input: String,
    },
    /// The unit word is not one of the six granularities.
    #[error(
        "no granularity matched for '{unit}' in rate limit string '{input}': expected second, \
         minute, hour, day, month or year (singular or plural; abbreviations are not accepted)"
    )]
    UnknownUnit {
        /// The unit word as written.
        unit: String,
        /// The whole string that was given.
        input: String,
    },
    /// A number is larger than the limiter can count.
    #[error(
        "number '{number}' in rate limit string '{input}' is too large: at most {}",
        u64::MAX
    )]
    NumberTooLarge {
        /// The digits as written.
        number: String,
        /// The whole string that was given.
        input: String,
    },
}

/// Parses every limit of a string such as `"10/day;20/hour"`, in order.
///
/// ```
/// let limits = limiter_core::parse_many("2 per minute, 1/second")?;
/// let canonical: Vec<String> = limits.iter().map(ToString::to_string).collect();
/// assert_eq!(canonical, ["2 per 1 minute", "1 per 1 second"]);
/// # Ok::<(), limiter_core::ParseError>(())
/// ```
pub fn parse_many(input: &str) -> Result<Vec<RateLimit>, ParseError> {
    // Check the whole grammar first, then the unit words, so that the error precedence is that of
    // `limits` (a grammar error anywhere wins over an unknown unit).
    let syntax_error = || ParseError::Syntax {
        input: input.to_owned(),
    };
    let mut expressions = Vec::new();
    let pieces: Vec<&str> = input.split([',', ';', '|']).collect();
    let last = pieces.len() - 1;
    for (index, piece) in pieces.into_iter().enumerate() {
        // `limits`' regex has a typo, `(:?SEP EXPR)`, that lets one ':' stand just before a separator.
        let piece = match piece.strip_suffix(':') {
            Some(stripped) if index < last => stripped,
            _ => piece,
        };
        expressions.push(Expression::parse(piece).ok_or_else(syntax_error)?);
    }
    expressions
        .into_iter()
        .map(|expression| expression.resolve(input))
        .collect()
}

/// One `AMOUNT per MULTIPLES UNIT` expression, before its numbers and unit are checked.
struct Expression<'a> {
    amount: &'a str,
    multiples: Option<&'a str>,
    unit: &'a str,
}

impl<'a> Expression<'a> {
    fn parse(text: &'a str) -> Option<Self> {
        let mut cursor = Cursor { rest: text };
        cursor.skip_whitespace();
        let amount = cursor.take_while(|c| c.is_ascii_digit())?;
        cursor.skip_whitespace();
        if !cursor.eat("/") && !cursor.eat_ignore_case("per") {
            return None;
        }
        cursor.skip_whitespace();
        let multiples = cursor.take_while(|c| c.is_ascii_digit());
        cursor.skip_whitespace();
        let unit = cursor.take_while(|c| c.is_ascii_alphabetic())?;
        cursor.skip_whitespace();
        cursor.rest.is_empty().then_some(Expression {
            amount,
            multiples,
            unit,
        })
    }

    fn resolve(self, input: &str) -> Result<RateLimit, ParseError> {
        let number = |digits: &str| {
            digits
                .parse::<u64>()
                .map_err(|_| ParseError::NumberTooLarge {
                    number: digits.to_owned(),
                    input: input.to_owned(),
                })
        };
        let granularity =
            Granularity::from_word(self.unit).ok_or_else(|| ParseError::UnknownUnit {
                unit: self.unit.to_owned(),
                input: input.to_owned(),
            })?;
        let multiples = self.multiples.map(number).transpose()?.unwrap_or(1);
        Ok(RateLimit::new(number(self.amount)?, multiples, granularity))
    }
}

struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    fn skip_whitespace(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn take_while(&mut self, accept: impl Fn(char) -> bool) -> Option<&'a str> {
        let end = self.rest.find(|c| !accept(c)).unwrap_or(self.rest.len());
        let (taken, rest) = self.rest.split_at(end);
        self.rest = rest;
        (!taken.is_empty()).then_some(taken)
    }

    fn eat(&mut self, token: &str) -> bool {
        match self.rest.strip_prefix(token) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn eat_ignore_case(&mut self, token: &str) -> bool {
        match self.rest.get(..token.len()) {
            Some(head) if head.eq_ignore_ascii_case(token) => {
                self.rest = &self.rest[token.len()..];
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(input: &str) -> Vec<String> {
        parse_many(input)
            .unwrap_or_else(|error| panic!("{input:?} should parse: {error}"))
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn expiry(input: &str) -> u64 {
        input.parse::<RateLimit>().unwrap().expiry_seconds()
    }

    // Each canonical form `limits` prints (`str(limit)`), one test each.
    #[test]
    fn two_per_minute() {
        assert_eq!(canonical("2 per minute"), ["2 per 1 minute"]);
        assert_eq!(expiry("2 per minute"), 60);
    }

    #[test]
    fn one_slash_second() {
        assert_eq!(canonical("1/second"), ["1 per 1 second"]);
        assert_eq!(expiry("1/second"), 1);
    }

    #[test]
    fn ten_per_two_hours() {
        assert_eq!(canonical("10 per 2 hours"), ["10 per 2 hour"]);
        assert_eq!(expiry("10 per 2 hours"), 7_200);
    }

    #[test]
    fn five_slash_three_seconds() {
        assert_eq!(canonical("5/3 seconds"), ["5 per 3 second"]);
        assert_eq!(expiry("5/3 seconds"), 3);
    }

    #[test]
    fn case_insensitive() {
        assert_eq!(canonical("2 PER Minute"), ["2 per 1 minute"]);
        assert_eq!(canonical("1/SECOND"), ["1 per 1 second"]);
    }

    #[test]
    fn semicolon_separated() {
        assert_eq!(
            canonical("10/day;20/hour"),
            ["10 per 1 day", "20 per 1 hour"]
        );
    }

    #[test]
    fn comma_separated() {
        assert_eq!(
            canonical("1/second, 5/minute"),
            ["1 per 1 second", "5 per 1 minute"]
        );
    }

    #[test]
    fn whitespace_everywhere() {
        assert_eq!(canonical(" 4 / hour "), ["4 per 1 hour"]);
    }

    #[test]
    fn spaced_slash_with_multiples() {
        assert_eq!(canonical("1 / 2 minutes"), ["1 per 2 minute"]);
        assert_eq!(expiry("1 / 2 minutes"), 120);
    }

    #[test]
    fn years_are_360_days() {
        assert_eq!(canonical("1/years"), ["1 per 1 year"]);
        assert_eq!(expiry("1/years"), 31_104_000);
        assert_eq!(expiry("1/month"), 2_592_000);
    }

    #[test]
    fn grammar_errors() {
        for input in ["1/2/second", "1 minute", "1 per", "abc", ""] {
            assert_eq!(
                parse_many(input),
                Err(ParseError::Syntax {
                    input: input.to_owned()
                }),
                "{input:?}"
            );
        }
    }

    #[test]
    fn unknown_units() {
        for (input, unit) in [("1/s|2/minute", "s"), ("1 per sec", "sec")] {
            assert_eq!(
                parse_many(input),
                Err(ParseError::UnknownUnit {
                    unit: unit.to_owned(),
                    input: input.to_owned()
                })
            );
        }
        for abbreviation in ["secs", "min", "hr", "d", "hrs", "mins"] {
            assert!(matches!(
                parse_many(&format!("1 per {abbreviation}")),
                Err(ParseError::UnknownUnit { .. })
            ));
        }
    }

    // The rest of the grammar, granularities and value errors of `limits.parse`.
    #[test]
    fn per_needs_no_spaces() {
        assert_eq!(canonical("3perminute"), ["3 per 1 minute"]);
    }

    #[test]
    fn mixed_separators_and_pipe() {
        assert_eq!(
            canonical("1/second|2/minute;3/hour,4/day"),
            [
                "1 per 1 second",
                "2 per 1 minute",
                "3 per 1 hour",
                "4 per 1 day"
            ]
        );
    }

    #[test]
    fn colon_before_separator_quirk() {
        assert_eq!(
            canonical("1 per second:;2/minute"),
            ["1 per 1 second", "2 per 1 minute"]
        );
        // Only directly before a separator, and not at the end.
        assert!(parse_many("1 per second:").is_err());
        assert!(parse_many("1 per second: ;2/minute").is_err());
    }

    #[test]
    fn empty_expressions_fail() {
        assert!(parse_many("1/second;").is_err());
        assert!(parse_many("1/second,,2/minute").is_err());
    }

    #[test]
    fn zero_multiples_become_one_and_zero_amount_is_kept() {
        assert_eq!(canonical("5/0 seconds"), ["5 per 1 second"]);
        let zero: RateLimit = "0/minute".parse().unwrap();
        assert_eq!(zero.amount(), 0);
    }

    #[test]
    fn trailing_newline_is_tolerated() {
        assert_eq!(canonical("1/second\n"), ["1 per 1 second"]);
    }

    #[test]
    fn grammar_error_wins_over_unknown_unit() {
        assert!(matches!(
            parse_many("1/s|abc"),
            Err(ParseError::Syntax { .. })
        ));
    }

    #[test]
    fn huge_numbers_are_a_typed_error() {
        assert!(matches!(
            parse_many("99999999999999999999999 per second"),
            Err(ParseError::NumberTooLarge { .. })
        ));
    }

    #[test]
    fn parse_takes_the_first_of_many() {
        let first: RateLimit = "10/day;20/hour".parse().unwrap();
        assert_eq!(first.to_string(), "10 per 1 day");
    }

    #[test]
    fn error_messages_name_the_input_and_the_expectation() {
        let message = parse_many("1 per fortnight").unwrap_err().to_string();
        assert!(message.contains("'fortnight'") && message.contains("'1 per fortnight'"));
        assert!(message.contains("second, minute, hour, day, month or year"));
        let message = parse_many("often").unwrap_err().to_string();
        assert!(message.contains("'often'") && message.contains("<amount> per"));
    }

    #[test]
    fn storage_keys_match_limits() {
        let limit: RateLimit = "1/second".parse().unwrap();
        assert_eq!(limit.key_for(&["a", "b"]), "LIMITER/a/b/1/1/second");
        let limit: RateLimit = "50 per hour".parse().unwrap();
        assert_eq!(
            limit.key_for(&["127.0.0.1", "fast"]),
            "LIMITER/127.0.0.1/fast/50/1/hour"
        );
    }

    #[test]
    fn ordering_is_by_granularity_only() {
        let mut limits = parse_many("10 per 1 hour, 1 per 2 hour, 5/minute").unwrap();
        limits.sort_by(RateLimit::granularity_order);
        let canonical: Vec<String> = limits.iter().map(ToString::to_string).collect();
        assert_eq!(
            canonical,
            ["5 per 1 minute", "10 per 1 hour", "1 per 2 hour"]
        );
    }
}
