//! Every Flyway checksum vector (tests/data/flyway-checksum-vectors/expected.tsv) through discovery and the checksum.

use schemagate::core::checksum::checksum;
use schemagate::core::discover::{Entry, discover};

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/flyway-checksum-vectors"
);

#[test]
fn every_vector_matches_flyway() {
    let table = std::fs::read_to_string(format!("{DIR}/expected.tsv")).unwrap();
    let mut checked = 0;
    for line in table.lines().skip(1) {
        let mut cols = line.split('\t');
        let (file, expected) = (
            cols.next().unwrap(),
            cols.next().unwrap().parse::<i32>().unwrap(),
        );
        let bytes = std::fs::read(format!("{DIR}/{file}")).unwrap();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert_eq!(checksum(text), expected, "{file}");

        // The same file through discovery, under a migration name, as the runner sees it.
        let scripts = discover(vec![Entry {
            path: "V1__vector.sql".into(),
            display: file.into(),
            bytes,
        }])
        .unwrap();
        assert_eq!(
            scripts.migrations[0].checksum, expected,
            "{file} via discovery"
        );
        checked += 1;
    }
    assert_eq!(checked, 25, "expected.tsv lost rows");
}
