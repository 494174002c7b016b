//! The trove classifiers PyPI accepts, from PyPA's `trove-classifiers`
//! package (fetched by `scripts/setup.sh`, embedded by `build.rs`).

include!(concat!(env!("OUT_DIR"), "/trove.rs"));

/// Why a classifier cannot be used on an upload.
#[derive(Debug, PartialEq, Eq)]
pub enum ClassifierError {
    Unknown,
    /// Deprecated, with what to use instead (possibly nothing).
    Deprecated(&'static [&'static str]),
}

/// Checks one classifier against the list.
pub fn check(classifier: &str) -> Result<(), ClassifierError> {
    if CLASSIFIERS.binary_search(&classifier).is_ok() {
        return Ok(());
    }
    match DEPRECATED.binary_search_by(|(name, _)| (*name).cmp(classifier)) {
        Ok(i) => Err(ClassifierError::Deprecated(DEPRECATED[i].1)),
        Err(_) => Err(ClassifierError::Unknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_the_real_one() {
        assert!(CLASSIFIERS.len() > 500);
        assert!(CLASSIFIERS.windows(2).all(|w| w[0] < w[1]), "sorted, no duplicates");
        assert_eq!(check("Programming Language :: Python :: 3"), Ok(()));
        assert_eq!(check("Framework :: Django"), Ok(()));
        assert_eq!(check("Programming Language :: Cheese"), Err(ClassifierError::Unknown));
        assert_eq!(
            check("programming language :: python :: 3"),
            Err(ClassifierError::Unknown)
        );
        if let Some((name, _)) = DEPRECATED.first() {
            assert!(matches!(check(name), Err(ClassifierError::Deprecated(_))));
        }
    }
}
