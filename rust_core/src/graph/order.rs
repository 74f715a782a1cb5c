//! Common/Registry hot paths: deterministic topological order and cycle reports.
//!
//! Nodes are the indices `0..n`, in the caller's listing order; that order is the tie-break
//! everywhere, so every result is a function of the input alone. Edges `(source, target)`
//! mean "source before target". Every algorithm here is iterative, so a path of millions of
//! nodes cannot overflow the stack. The Python reference (`pyagent/registry_core.py`) follows
//! the same steps, which is what makes the cycles reported identical on both backends.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// An edge whose end is not one of the graph's nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownNode {
    /// Position of the edge in the input.
    pub edge: usize,
    /// The out-of-range node index.
    pub node: usize,
}

/// A graph in compressed sparse row form: the successors of `v` are
/// `targets[offsets[v]..offsets[v + 1]]`, in the order their edges were given.
#[derive(Debug, Clone)]
pub struct Graph {
    offsets: Vec<usize>,
    targets: Vec<usize>,
    edges: Vec<(usize, usize)>,
}

impl Graph {
    /// Builds the graph of `node_count` nodes; an edge end `>= node_count` is an error.
    pub fn new(node_count: usize, edges: Vec<(usize, usize)>) -> Result<Self, UnknownNode> {
        let mut offsets = vec![0usize; node_count + 1];
        for (position, &(source, target)) in edges.iter().enumerate() {
            for node in [source, target] {
                if node >= node_count {
                    return Err(UnknownNode {
                        edge: position,
                        node,
                    });
                }
            }
            offsets[source + 1] += 1;
        }
        let mut running = 0usize;
        for offset in offsets.iter_mut() {
            running += *offset;
            *offset = running;
        }
        let mut fill = offsets.clone();
        let mut targets = vec![0usize; edges.len()];
        for &(source, target) in &edges {
            targets[fill[source]] = target;
            fill[source] += 1;
        }
        Ok(Graph {
            offsets,
            targets,
            edges,
        })
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Successors of `node`, in edge order.
    pub fn successors(&self, node: usize) -> &[usize] {
        &self.targets[self.offsets[node]..self.offsets[node + 1]]
    }
}

/// The nodes in dependency order (Kahn; the earliest-listed ready node goes next), or
/// `Err(cycle)` with one cycle as `[c0, c1, ..., c0]` when there is no such order.
pub fn topo_sort(graph: &Graph) -> Result<Vec<usize>, Vec<usize>> {
    let n = graph.node_count();
    let mut indegree = vec![0usize; n];
    for &(_, target) in &graph.edges {
        indegree[target] += 1;
    }
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&v| indegree[v] == 0).map(Reverse).collect();
    let mut placed = Vec::with_capacity(n);
    while let Some(Reverse(node)) = ready.pop() {
        placed.push(node);
        for &target in graph.successors(node) {
            indegree[target] -= 1;
            if indegree[target] == 0 {
                ready.push(Reverse(target));
            }
        }
    }
    if placed.len() == n {
        return Ok(placed);
    }
    let remaining: Vec<bool> = indegree.iter().map(|&d| d > 0).collect();
    Err(cycle_among(graph, &remaining))
}

/// One cycle among the `remaining` nodes, each of which has a remaining predecessor.
///
/// Walks back from the earliest remaining node, always to its first remaining predecessor in
/// edge order, until a node repeats. The cycle is returned in edge direction, rotated to
/// start at its earliest node, with that node repeated at the end.
fn cycle_among(graph: &Graph, remaining: &[bool]) -> Vec<usize> {
    let n = remaining.len();
    // First remaining predecessor of each remaining node: the earliest qualifying edge.
    let mut first_predecessor = vec![usize::MAX; n];
    for &(source, target) in &graph.edges {
        if remaining[source] && remaining[target] && first_predecessor[target] == usize::MAX {
            first_predecessor[target] = source;
        }
    }
    let Some(start) = remaining.iter().position(|&r| r) else {
        return Vec::new();
    };
    let mut seen_at = vec![usize::MAX; n];
    let mut walk = vec![start];
    seen_at[start] = 0;
    let back: Vec<usize> = loop {
        let Some(&last) = walk.last() else {
            return Vec::new();
        };
        let step = first_predecessor[last];
        if step == usize::MAX {
            // Unreachable when `remaining` comes from a stalled Kahn run; no panic regardless.
            return Vec::new();
        }
        if seen_at[step] != usize::MAX {
            break walk[seen_at[step]..].to_vec();
        }
        seen_at[step] = walk.len();
        walk.push(step);
    };
    let mut cycle: Vec<usize> = back[..1]
        .iter()
        .chain(back[1..].iter().rev())
        .copied()
        .collect();
    if let Some(first) = (0..cycle.len()).min_by_key(|&i| cycle[i]) {
        cycle.rotate_left(first);
    }
    if let Some(&head) = cycle.first() {
        cycle.push(head);
    }
    cycle
}

/// Strongly connected components, by an iterative Tarjan's algorithm.
pub fn strong_components(graph: &Graph) -> Vec<Vec<usize>> {
    const UNVISITED: usize = usize::MAX;
    let n = graph.node_count();
    let mut number = vec![UNVISITED; n];
    let mut lowlink = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<usize> = Vec::new();
    let mut frames: Vec<(usize, usize)> = Vec::new();
    let mut components = Vec::new();
    let mut counter = 0usize;
    for root in 0..n {
        if number[root] != UNVISITED {
            continue;
        }
        number[root] = counter;
        lowlink[root] = counter;
        counter += 1;
        stack.push(root);
        on_stack[root] = true;
        frames.push((root, 0));
        while let Some(frame) = frames.last_mut() {
            let (node, position) = *frame;
            let children = graph.successors(node);
            if position < children.len() {
                frame.1 += 1;
                let child = children[position];
                if number[child] == UNVISITED {
                    number[child] = counter;
                    lowlink[child] = counter;
                    counter += 1;
                    stack.push(child);
                    on_stack[child] = true;
                    frames.push((child, 0));
                } else if on_stack[child] && number[child] < lowlink[node] {
                    lowlink[node] = number[child];
                }
                continue;
            }
            frames.pop();
            if let Some(&(parent, _)) = frames.last() {
                if lowlink[node] < lowlink[parent] {
                    lowlink[parent] = lowlink[node];
                }
            }
            if lowlink[node] == number[node] {
                let mut component = Vec::new();
                while let Some(member) = stack.pop() {
                    on_stack[member] = false;
                    component.push(member);
                    if member == node {
                        break;
                    }
                }
                components.push(component);
            }
        }
    }
    components
}

/// The shortest cycle through `start` within the nodes where `component[v] == label`,
/// found breadth-first with successors in edge order: `[start, ..., start]`.
///
/// `parent` is scratch space of `node_count` entries, all `usize::MAX`; they are restored
/// before returning, so one buffer serves every component without an O(n) reset each.
fn witness(
    graph: &Graph,
    start: usize,
    component: &[usize],
    label: usize,
    parent: &mut [usize],
) -> Vec<usize> {
    parent[start] = start;
    let mut queue = vec![start];
    let mut head = 0;
    let mut cycle = Vec::new();
    'search: while let Some(&node) = queue.get(head) {
        head += 1;
        for &child in graph.successors(node) {
            if child == start {
                cycle.push(node);
                while let Some(&last) = cycle.last() {
                    if last == start {
                        break;
                    }
                    cycle.push(parent[last]);
                }
                cycle.reverse();
                cycle.push(start);
                break 'search;
            }
            if component[child] == label && parent[child] == usize::MAX {
                parent[child] = node;
                queue.push(child);
            }
        }
    }
    // Every node that got a parent is in the queue, the start included.
    for &node in &queue {
        parent[node] = usize::MAX;
    }
    cycle
}

/// The strongly connected components that contain a cycle (two or more nodes, or one node
/// with a self-loop), each as `(members ascending, witness cycle)`, ordered by their first
/// member. The witness is the shortest cycle through that first member.
pub fn detect_cycles(graph: &Graph) -> Vec<(Vec<usize>, Vec<usize>)> {
    let n = graph.node_count();
    let mut looped = vec![false; n];
    for &(source, target) in &graph.edges {
        if source == target {
            looped[source] = true;
        }
    }
    let mut found: Vec<Vec<usize>> = strong_components(graph)
        .into_iter()
        .filter(|c| c.len() > 1 || c.first().is_some_and(|&v| looped[v]))
        .map(|mut c| {
            c.sort_unstable();
            c
        })
        .collect();
    found.sort_unstable_by_key(|c| c.first().copied());
    let mut label = vec![usize::MAX; n];
    for (i, members) in found.iter().enumerate() {
        for &v in members {
            label[v] = i;
        }
    }
    let mut parent = vec![usize::MAX; n];
    found
        .into_iter()
        .enumerate()
        .map(|(i, members)| {
            let cycle = witness(graph, members[0], &label, i, &mut parent);
            (members, cycle)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(n: usize, edges: &[(usize, usize)]) -> Graph {
        Graph::new(n, edges.to_vec()).expect("edges are in range")
    }

    #[test]
    fn unknown_nodes_are_reported_with_their_edge() {
        let err = Graph::new(2, vec![(0, 1), (1, 2)]).unwrap_err();
        assert_eq!(err, UnknownNode { edge: 1, node: 2 });
    }

    #[test]
    fn ties_go_to_the_earliest_listed_node() {
        let g = graph(4, &[(3, 0), (2, 1)]);
        assert_eq!(topo_sort(&g), Ok(vec![2, 1, 3, 0]));
        let sorted = graph(3, &[(0, 1), (1, 2), (0, 2)]);
        assert_eq!(topo_sort(&sorted), Ok(vec![0, 1, 2]));
        assert_eq!(topo_sort(&graph(0, &[])), Ok(vec![]));
    }

    #[test]
    fn a_cycle_comes_back_as_evidence() {
        // 0 -> 1 -> 2 -> 1, and 2 -> 3: the cycle is 1 -> 2 -> 1.
        let g = graph(4, &[(0, 1), (1, 2), (2, 1), (2, 3)]);
        assert_eq!(topo_sort(&g), Err(vec![1, 2, 1]));
        assert_eq!(topo_sort(&graph(1, &[(0, 0)])), Err(vec![0, 0]));
        let ring = graph(3, &[(2, 0), (0, 1), (1, 2)]);
        assert_eq!(topo_sort(&ring), Err(vec![0, 1, 2, 0]));
    }

    #[test]
    fn a_million_node_path_needs_no_recursion() {
        let n = 1_000_000;
        let edges: Vec<(usize, usize)> = (0..n - 1).map(|i| (i, i + 1)).collect();
        let g = graph(n, &edges);
        let order = topo_sort(&g).expect("a path is acyclic");
        assert!(order.iter().copied().eq(0..n));
        assert!(detect_cycles(&g).is_empty());
        let mut ring = edges;
        ring.push((n - 1, 0));
        let cycles = detect_cycles(&graph(n, &ring));
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].0.len(), n);
        assert_eq!(cycles[0].1.len(), n + 1);
    }

    #[test]
    fn cycles_are_components_with_a_shortest_witness() {
        // {0, 1, 2} with chord 0 -> 2; {4} self-loop; 3 alone; 5 <-> 6.
        let g = graph(
            7,
            &[
                (0, 1),
                (1, 2),
                (2, 0),
                (0, 2),
                (2, 3),
                (4, 4),
                (6, 5),
                (5, 6),
            ],
        );
        assert_eq!(
            detect_cycles(&g),
            vec![
                (vec![0, 1, 2], vec![0, 2, 0]),
                (vec![4], vec![4, 4]),
                (vec![5, 6], vec![5, 6, 5]),
            ]
        );
        assert!(detect_cycles(&graph(3, &[(0, 1), (1, 2)])).is_empty());
    }

    #[test]
    fn strong_components_cover_every_node_once() {
        let g = graph(5, &[(0, 1), (1, 0), (1, 2), (3, 4), (4, 3)]);
        let mut all: Vec<usize> = strong_components(&g).into_iter().flatten().collect();
        all.sort_unstable();
        assert_eq!(all, vec![0, 1, 2, 3, 4]);
    }
}
