//! The assignors against assignments recorded from Java's own (see `java_vectors.txt`).

use super::*;

const VECTORS: &str = include_str!("java_vectors.txt");

fn list(field: &str) -> Vec<String> {
    field
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn partitions(field: &str) -> Vec<(String, i32)> {
    list(field)
        .iter()
        .map(|tp| {
            let (topic, partition) = tp.rsplit_once(':').unwrap();
            (topic.to_owned(), partition.parse().unwrap())
        })
        .collect()
}

#[test]
fn same_assignments_as_java() {
    let mut cases = 0;
    let mut name = "";
    let mut topics = BTreeMap::new();
    let mut members = Vec::new();
    let mut want = GroupAssignment::new();
    for line in VECTORS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let f: Vec<&str> = line.split(' ').collect();
        match f[0] {
            "case" => {
                name = f[1];
                topics.clear();
                members.clear();
                want.clear();
            }
            "topic" => {
                topics.insert(f[1].to_owned(), f[2].parse().unwrap());
            }
            "member" => members.push(MemberSubscription {
                member_id: f[1].to_owned(),
                group_instance_id: (f[2] != "-").then(|| f[2].to_owned()),
                generation: (f[3] != "-").then(|| f[3].parse().unwrap()),
                user_data: match f[4] {
                    "-" => None,
                    "short" => Some(Bytes::from_static(&[1, 2])),
                    g => Some(Bytes::copy_from_slice(
                        &g.parse::<i32>().unwrap().to_be_bytes(),
                    )),
                },
                topics: list(f[5]),
                owned_partitions: partitions(f[6]),
                rack_id: None,
            }),
            "expect" => {
                want.insert(f[1].to_owned(), partitions(f[2]));
            }
            "end" => {
                let got = builtin(name).unwrap().assign(&members, &topics);
                assert_eq!(got, want, "case {cases} ({name}): {members:#?}");
                cases += 1;
            }
            other => panic!("unknown line {other}"),
        }
    }
    assert_eq!(cases, 300);
}
