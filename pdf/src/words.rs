//! Amounts in Indonesian words (*terbilang*), as printed under an
//! invoice's total: `1.250.000` → `satu juta dua ratus lima puluh ribu rupiah`.

const DIGITS: [&str; 10] = [
    "", "satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "delapan", "sembilan",
];

/// Words for 1–999 (empty for 0).
fn hundreds(n: u64) -> Vec<&'static str> {
    let mut words = Vec::new();
    let (h, rest) = (n / 100, n % 100);
    match h {
        0 => {}
        1 => words.push("seratus"),
        h => words.extend([DIGITS[h as usize], "ratus"]),
    }
    match rest {
        0 => {}
        10 => words.push("sepuluh"),
        11 => words.push("sebelas"),
        12..=19 => words.extend([DIGITS[(rest - 10) as usize], "belas"]),
        20..=99 => {
            words.extend([DIGITS[(rest / 10) as usize], "puluh"]);
            if rest % 10 > 0 {
                words.push(DIGITS[(rest % 10) as usize]);
            }
        }
        d => words.push(DIGITS[d as usize]),
    }
    words
}

/// `amount` whole rupiah in words, ending in `rupiah`.
pub fn terbilang(amount: i64) -> String {
    const SCALES: [&str; 5] = ["", "ribu", "juta", "miliar", "triliun"];
    let n = amount.unsigned_abs();
    if n == 0 {
        return "nol rupiah".into();
    }
    let mut groups = Vec::new();
    let mut rest = n;
    while rest > 0 {
        groups.push(rest % 1000);
        rest /= 1000;
    }
    let mut words: Vec<&str> = Vec::new();
    if amount < 0 {
        words.push("minus");
    }
    for (scale, group) in groups.iter().enumerate().rev() {
        match (*group, scale) {
            (0, _) => {}
            // "seribu", never "satu ribu".
            (1, 1) => words.push("seribu"),
            (g, s) => {
                words.extend(hundreds(g));
                match SCALES.get(s) {
                    Some(word) if !word.is_empty() => words.push(word),
                    Some(_) => {}
                    // Beyond triliun: thousands of trillions.
                    None => words.extend(["ribu", "triliun"]),
                }
            }
        }
    }
    words.push("rupiah");
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::terbilang;

    #[test]
    fn amounts_read_as_indonesians_say_them() {
        for (n, words) in [
            (0, "nol rupiah"),
            (1, "satu rupiah"),
            (11, "sebelas rupiah"),
            (15, "lima belas rupiah"),
            (100, "seratus rupiah"),
            (110, "seratus sepuluh rupiah"),
            (1_000, "seribu rupiah"),
            (1_500, "seribu lima ratus rupiah"),
            (21_000, "dua puluh satu ribu rupiah"),
            (101_000, "seratus satu ribu rupiah"),
            (1_250_000, "satu juta dua ratus lima puluh ribu rupiah"),
            (
                804_750,
                "delapan ratus empat ribu tujuh ratus lima puluh rupiah",
            ),
            (2_000_000_000, "dua miliar rupiah"),
            (-5, "minus lima rupiah"),
        ] {
            assert_eq!(terbilang(n), words, "{n}");
        }
    }
}
