//! The dependency graph's one rule: no self-edges, no cycles (SPEC §1).

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{SystemId, ValidationError};

/// Checks that giving `system` exactly `upstreams` keeps the graph acyclic,
/// given every other edge as (downstream, upstream). On a cycle the error
/// names the path, e.g. `db -> cache -> api -> db`.
pub fn check_upstreams(
    system: &SystemId,
    upstreams: &[SystemId],
    edges: &[(SystemId, SystemId)],
) -> Result<(), ValidationError> {
    if upstreams.contains(system) {
        return Err(ValidationError::new(
            "upstreamIds",
            format!("`{system}` cannot depend on itself"),
        ));
    }
    let mut graph: BTreeMap<&SystemId, Vec<&SystemId>> = BTreeMap::new();
    for (down, up) in edges.iter().filter(|(down, _)| down != system) {
        graph.entry(down).or_default().push(up);
    }
    graph.insert(system, upstreams.iter().collect());
    // A cycle through the new edges is a path from some new upstream back to
    // `system`; search depth-first remembering the path.
    for start in upstreams {
        let mut seen = BTreeSet::new();
        let mut stack = vec![(start, vec![start])];
        while let Some((node, path)) = stack.pop() {
            if node == system {
                let mut names: Vec<&str> = vec![system.as_str()];
                names.extend(path.iter().map(|id| id.as_str()));
                return Err(ValidationError::new(
                    "upstreamIds",
                    format!("would create a dependency cycle: {}", names.join(" -> ")),
                ));
            }
            if !seen.insert(node) {
                continue;
            }
            for next in graph.get(node).into_iter().flatten() {
                let mut next_path = path.clone();
                next_path.push(next);
                stack.push((next, next_path));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> SystemId {
        SystemId::parse(s, "id").unwrap()
    }

    #[test]
    fn refuses_self_edges_and_cycles() {
        let edges = vec![(id("api"), id("db")), (id("db"), id("disk"))];
        assert!(check_upstreams(&id("web"), &[id("api")], &edges).is_ok());
        let err = check_upstreams(&id("api"), &[id("api")], &edges).unwrap_err();
        assert!(err.message.contains("itself"));
        let err = check_upstreams(&id("disk"), &[id("api")], &edges).unwrap_err();
        assert_eq!(err.message, "would create a dependency cycle: disk -> api -> db -> disk");
    }

    #[test]
    fn replacing_edges_ignores_the_old_ones() {
        // api -> db exists; giving api only `cache` while db -> api would be a
        // cycle only if the old edge counted.
        let edges = vec![(id("api"), id("db"))];
        assert!(check_upstreams(&id("db"), &[id("api")], &edges).is_err());
        assert!(check_upstreams(&id("api"), &[id("cache")], &[(id("db"), id("api"))]).is_ok());
    }
}
