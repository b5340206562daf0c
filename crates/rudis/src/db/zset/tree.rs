//! The order of a large sorted set: a B+tree of (score, member) whose
//! inner nodes know how many items each child holds, so rank, select and
//! insert are all O(log n) (Redis's skiplist with spans does the same
//! with a node per member and 1.33 forward pointers on average; here a
//! leaf holds up to `CAP` items side by side).
//!
//! Separators are lower bounds of their child (a copy of the key that
//! started it) and stay valid when that key is removed, so deleting
//! never rewrites them; underfull nodes are merged with a neighbour (and
//! split again evenly if the two together are too many).

use std::cmp::Ordering;

/// Items per leaf and children per inner node, at most.
const CAP: usize = 64;
/// Below this a node is merged with a neighbour.
const MIN: usize = CAP / 4;

#[derive(Clone, Debug)]
pub struct Item {
    pub score: f64,
    pub member: Box<[u8]>,
}

/// Redis's order: by score, equal scores by member bytes.
pub fn cmp(a_score: f64, a: &[u8], b_score: f64, b: &[u8]) -> Ordering {
    match a_score.partial_cmp(&b_score) {
        Some(Ordering::Equal) | None => a.cmp(b),
        Some(o) => o,
    }
}

impl Item {
    fn cmp_key(&self, score: f64, member: &[u8]) -> Ordering {
        cmp(self.score, &self.member, score, member)
    }
}

#[derive(Clone, Debug)]
enum Node {
    Leaf(Vec<Item>),
    Inner(Inner),
}

#[derive(Clone, Debug)]
struct Inner {
    /// `seps[i]` bounds `children[i + 1]` from below.
    seps: Vec<Item>,
    children: Vec<Node>,
    counts: Vec<usize>,
}

impl Node {
    fn width(&self) -> usize {
        match self {
            Node::Leaf(v) => v.len(),
            Node::Inner(n) => n.children.len(),
        }
    }

    /// Splits off the entries from `at` on: (their lower bound, the
    /// node, its item count).
    fn split(&mut self, at: usize) -> (Item, Node, usize) {
        match self {
            Node::Leaf(v) => {
                let mut right = Vec::with_capacity(CAP + 1);
                right.extend(v.drain(at..));
                v.shrink_to(CAP + 1);
                let n = right.len();
                (right[0].clone(), Node::Leaf(right), n)
            }
            Node::Inner(n) => {
                let children = n.children.split_off(at);
                let counts = n.counts.split_off(at);
                let mut seps = n.seps.split_off(at - 1);
                let sep = seps.remove(0);
                let total = counts.iter().sum();
                (
                    sep,
                    Node::Inner(Inner {
                        seps,
                        children,
                        counts,
                    }),
                    total,
                )
            }
        }
    }

    /// Where to split a node that has just grown past `CAP` by an entry
    /// at `grew`: an entry added at either end (ascending or descending
    /// loads, the common case) leaves the other part full, anything else
    /// halves the node.
    fn split_point(&self, grew: usize) -> usize {
        let w = self.width();
        if grew + 1 == w {
            w - 1
        } else if grew == 0 {
            1
        } else {
            w / 2
        }
    }
}

impl Inner {
    /// The child whose range holds (score, member).
    fn child_for(&self, score: f64, member: &[u8]) -> usize {
        self.seps
            .partition_point(|s| s.cmp_key(score, member) != Ordering::Greater)
    }

    /// After child `i` split: puts the upper half right after it.
    fn insert_split(&mut self, i: usize, sep: Item, node: Node, n: usize) {
        self.counts[i] -= n;
        self.children.insert(i + 1, node);
        self.counts.insert(i + 1, n);
        self.seps.insert(i, sep);
    }

    /// Child `i` has become underfull: merges it with a neighbour, then
    /// splits the two evenly if together they are too many.
    fn rebalance(&mut self, i: usize) {
        if self.children.len() < 2 {
            return;
        }
        let l = if i + 1 < self.children.len() {
            i
        } else {
            i - 1
        };
        let right = self.children.remove(l + 1);
        let right_count = self.counts.remove(l + 1);
        let sep = self.seps.remove(l);
        match (&mut self.children[l], right) {
            (Node::Leaf(a), Node::Leaf(b)) => a.extend(b),
            (Node::Inner(a), Node::Inner(b)) => {
                a.seps.push(sep);
                a.seps.extend(b.seps);
                a.children.extend(b.children);
                a.counts.extend(b.counts);
            }
            _ => unreachable!("siblings have the same height"),
        }
        self.counts[l] += right_count;
        if self.children[l].width() > CAP {
            let at = self.children[l].width() / 2;
            let (sep, node, n) = self.children[l].split(at);
            self.insert_split(l, sep, node, n);
        }
    }
}

#[derive(Clone, Debug)]
pub struct Tree {
    root: Node,
    len: usize,
}

impl Default for Tree {
    fn default() -> Tree {
        Tree {
            root: Node::Leaf(Vec::new()),
            len: 0,
        }
    }
}

impl Tree {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds an item that is not in the tree.
    pub fn insert(&mut self, score: f64, member: Box<[u8]>) {
        let item = Item { score, member };
        if let Some((sep, node, n)) = insert_into(&mut self.root, item) {
            let left_count = self.len + 1 - n;
            let left = std::mem::replace(&mut self.root, Node::Leaf(Vec::new()));
            self.root = Node::Inner(Inner {
                seps: vec![sep],
                children: vec![left, node],
                counts: vec![left_count, n],
            });
        }
        self.len += 1;
    }

    /// Removes (score, member); false if it was not there.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> Option<Item> {
        let item = remove_from(&mut self.root, score, member)?;
        self.len -= 1;
        // A root with one child gives way to it.
        while let Node::Inner(n) = &mut self.root {
            if n.children.len() != 1 {
                break;
            }
            let child = n.children.pop().expect("one child");
            self.root = child;
        }
        Some(item)
    }

    /// How many items come before the first one `below` says false of
    /// (`below` must be true of a prefix of the order).
    pub fn count_while(&self, below: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut node = &self.root;
        let mut rank = 0;
        loop {
            match node {
                Node::Leaf(v) => {
                    return rank + v.partition_point(|it| below(it.score, &it.member));
                }
                Node::Inner(n) => {
                    let i = n.seps.partition_point(|s| below(s.score, &s.member));
                    rank += n.counts[..i].iter().sum::<usize>();
                    node = &n.children[i];
                }
            }
        }
    }

    /// The 0-based rank of (score, member), if it is there.
    pub fn rank(&self, score: f64, member: &[u8]) -> usize {
        self.count_while(|s, m| cmp(s, m, score, member) == Ordering::Less)
    }

    /// The item at `rank`.
    pub fn get(&self, mut rank: usize) -> Option<&Item> {
        if rank >= self.len {
            return None;
        }
        let mut node = &self.root;
        loop {
            match node {
                Node::Leaf(v) => return v.get(rank),
                Node::Inner(n) => {
                    let mut i = 0;
                    while rank >= n.counts[i] {
                        rank -= n.counts[i];
                        i += 1;
                    }
                    node = &n.children[i];
                }
            }
        }
    }

    /// The bytes its nodes take (not the members'), `alloc` giving the
    /// allocator's size for a request.
    pub fn heap_size(&self, alloc: fn(usize) -> usize) -> usize {
        fn node_size(n: &Node, alloc: fn(usize) -> usize) -> usize {
            match n {
                Node::Leaf(v) => alloc(v.capacity() * size_of::<Item>()),
                Node::Inner(n) => {
                    alloc(n.seps.capacity() * size_of::<Item>())
                        + alloc(n.counts.capacity() * size_of::<usize>())
                        + alloc(n.children.capacity() * size_of::<Node>())
                        + n.seps.iter().map(|s| alloc(s.member.len())).sum::<usize>()
                        + n.children
                            .iter()
                            .map(|c| node_size(c, alloc))
                            .sum::<usize>()
                }
            }
        }
        node_size(&self.root, alloc)
    }

    /// Calls `f` on the items from `rank` on, upwards (or downwards with
    /// `rev`), until it returns false.
    pub fn walk<'t>(&'t self, rank: usize, rev: bool, f: &mut dyn FnMut(&'t Item) -> bool) {
        if rank < self.len {
            walk_node(&self.root, rank, rev, f);
        }
    }
}

fn insert_into(node: &mut Node, item: Item) -> Option<(Item, Node, usize)> {
    let grew = match node {
        Node::Leaf(v) => {
            let at = v.partition_point(|it| it.cmp_key(item.score, &item.member) == Ordering::Less);
            if v.len() == v.capacity() {
                // Exact growth: a leaf never holds more than CAP + 1.
                let want = (v.len() * 2).clamp(4, CAP + 1);
                v.reserve_exact(want.saturating_sub(v.len()));
            }
            v.insert(at, item);
            at
        }
        Node::Inner(n) => {
            let i = n.child_for(item.score, &item.member);
            n.counts[i] += 1;
            match insert_into(&mut n.children[i], item) {
                Some((sep, right, count)) => {
                    n.insert_split(i, sep, right, count);
                    i + 1
                }
                None => i,
            }
        }
    };
    (node.width() > CAP).then(|| {
        let at = node.split_point(grew);
        node.split(at)
    })
}

fn remove_from(node: &mut Node, score: f64, member: &[u8]) -> Option<Item> {
    match node {
        Node::Leaf(v) => {
            let at = v.binary_search_by(|it| it.cmp_key(score, member)).ok()?;
            Some(v.remove(at))
        }
        Node::Inner(n) => {
            let i = n.child_for(score, member);
            let item = remove_from(&mut n.children[i], score, member)?;
            n.counts[i] -= 1;
            if n.children[i].width() < MIN {
                n.rebalance(i);
            }
            Some(item)
        }
    }
}

/// `walk` below `node`; false once `f` has said stop.
fn walk_node<'t>(
    node: &'t Node,
    mut rank: usize,
    rev: bool,
    f: &mut dyn FnMut(&'t Item) -> bool,
) -> bool {
    match node {
        Node::Leaf(v) => {
            if rev {
                v[..=rank].iter().rev().all(f)
            } else {
                v[rank..].iter().all(f)
            }
        }
        Node::Inner(n) => {
            let mut i = 0;
            while rank >= n.counts[i] {
                rank -= n.counts[i];
                i += 1;
            }
            if !walk_node(&n.children[i], rank, rev, f) {
                return false;
            }
            if rev {
                (0..i).rev().all(|j| {
                    n.counts[j] == 0 || walk_node(&n.children[j], n.counts[j] - 1, true, f)
                })
            } else {
                (i + 1..n.children.len())
                    .all(|j| n.counts[j] == 0 || walk_node(&n.children[j], 0, false, f))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn check(t: &Tree, model: &[(f64, Vec<u8>)]) {
        assert_eq!(t.len(), model.len());
        let mut seen = Vec::new();
        t.walk(0, false, &mut |it| {
            seen.push((it.score, it.member.to_vec()));
            true
        });
        assert_eq!(seen, model);
        for (r, (s, m)) in model.iter().enumerate().step_by(7) {
            assert_eq!(t.rank(*s, m), r);
            let it = t.get(r).unwrap();
            assert_eq!((it.score, &*it.member), (*s, &m[..]));
        }
        if !model.is_empty() {
            let mut back = Vec::new();
            t.walk(model.len() - 1, true, &mut |it| {
                back.push((it.score, it.member.to_vec()));
                true
            });
            back.reverse();
            assert_eq!(back, model);
        }
    }

    #[test]
    fn matches_a_sorted_vector() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut t = Tree::default();
        let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
        for round in 0..20_000 {
            let score = rng.gen_range(0..50) as f64;
            let member = format!("m{}", rng.gen_range(0..3000)).into_bytes();
            let at = model.binary_search_by(|(s, m)| cmp(*s, m, score, &member));
            let grow = round < 12_000;
            match at {
                Ok(i) if !grow || rng.gen_bool(0.5) => {
                    assert!(t.remove(score, &member).is_some());
                    model.remove(i);
                }
                Ok(_) => {}
                Err(i) if grow => {
                    t.insert(score, member.clone().into_boxed_slice());
                    model.insert(i, (score, member));
                }
                Err(_) => assert!(t.remove(score, &member).is_none()),
            }
            if round % 997 == 0 {
                check(&t, &model);
            }
        }
        check(&t, &model);
        while let Some((s, m)) = model.pop() {
            assert!(t.remove(s, &m).is_some());
        }
        check(&t, &model);
    }
}
