//! The order of a large sorted set: a B+tree of (score, position of the
//! member in the set's map) whose inner nodes know how many items each
//! child holds, so rank, select and insert are all O(log n) (Redis's
//! skiplist with spans does the same with a node per member and 1.33
//! forward pointers on average; here a leaf holds up to `CAP` items of 16
//! bytes side by side, and a member's bytes are stored once, in the map).
//!
//! Separators are lower bounds of their child (a copy of the score and
//! member that started it) and stay valid when that member is removed,
//! so deleting never rewrites them; underfull nodes are merged with a
//! neighbour (and split again evenly if the two together are too many).

use std::cmp::Ordering;

use crate::db::keyindex::KeyIndex;

/// The members of a large sorted set and their scores.
pub type Members = KeyIndex<f64>;

/// Items per leaf (64 of 16 bytes: one 1 KiB allocation, an exact size
/// class) and children per inner node, at most.
const CAP: usize = 64;
/// Below this a node is merged with a neighbour.
const MIN: usize = CAP / 4;

/// A member in the order: its score and its position in the map.
#[derive(Clone, Copy, Debug)]
pub struct Item {
    pub score: f64,
    pub at: u32,
}

/// A separator owns its member's bytes: the member may be gone.
#[derive(Clone, Debug)]
struct Sep {
    score: f64,
    member: Box<[u8]>,
}

/// Redis's order: by score, equal scores by member bytes.
pub fn cmp(a_score: f64, a: &[u8], b_score: f64, b: &[u8]) -> Ordering {
    match a_score.partial_cmp(&b_score) {
        Some(Ordering::Equal) | None => a.cmp(b),
        Some(o) => o,
    }
}

impl Item {
    fn cmp_key(&self, m: &Members, score: f64, member: &[u8]) -> Ordering {
        match self.score.partial_cmp(&score) {
            Some(Ordering::Equal) | None => m.key(self.at as usize).cmp(member),
            Some(o) => o,
        }
    }

    fn sep(&self, m: &Members) -> Sep {
        Sep {
            score: self.score,
            member: m.key(self.at as usize).into(),
        }
    }
}

/// An inner node's separators as two arrays: the scores, searched on
/// every descent, 8 bytes each side by side (few cache lines on a large
/// set), and the members, read only on a score tie.
#[derive(Clone, Debug, Default)]
struct Seps {
    scores: Vec<f64>,
    members: Vec<Box<[u8]>>,
}

/// The first index in `0..n` that `below` is false of (`below` true of a
/// prefix).
fn partition(n: usize, below: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if below(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

impl Seps {
    fn one(s: Sep) -> Seps {
        Seps {
            scores: vec![s.score],
            members: vec![s.member],
        }
    }

    fn insert(&mut self, i: usize, s: Sep) {
        self.scores.insert(i, s.score);
        self.members.insert(i, s.member);
    }

    fn remove(&mut self, i: usize) -> Sep {
        Sep {
            score: self.scores.remove(i),
            member: self.members.remove(i),
        }
    }

    fn push(&mut self, s: Sep) {
        self.scores.push(s.score);
        self.members.push(s.member);
    }

    fn append(&mut self, other: Seps) {
        self.scores.extend(other.scores);
        self.members.extend(other.members);
    }

    fn split_off(&mut self, at: usize) -> Seps {
        Seps {
            scores: self.scores.split_off(at),
            members: self.members.split_off(at),
        }
    }

    /// How many separators are at most (score, member).
    fn upto(&self, score: f64, member: &[u8]) -> usize {
        partition(self.scores.len(), |i| {
            let o = match self.scores[i].partial_cmp(&score) {
                Some(Ordering::Equal) | None => self.members[i][..].cmp(member),
                Some(o) => o,
            };
            o != Ordering::Greater
        })
    }

    /// How many separators `below` is true of (a prefix).
    fn count_while(&self, below: &impl Fn(f64, &[u8]) -> bool) -> usize {
        partition(self.scores.len(), |i| {
            below(self.scores[i], &self.members[i])
        })
    }

    fn heap_size(&self, alloc: fn(usize) -> usize) -> usize {
        alloc(self.scores.capacity() * size_of::<f64>())
            + alloc(self.members.capacity() * size_of::<Box<[u8]>>())
            + self.members.iter().map(|s| alloc(s.len())).sum::<usize>()
    }
}

/// 24 bytes: an inner node's child array holds its children side by side,
/// and the bulky inner nodes sit behind a pointer, so the arrays a descent
/// reads stay small (fewer cache lines on a large set).
#[derive(Clone, Debug)]
enum Node {
    Leaf(Vec<Item>),
    Inner(Box<Inner>),
}

#[derive(Clone, Debug)]
struct Inner {
    /// Separator `i` bounds `children[i + 1]` from below.
    seps: Seps,
    children: Vec<Node>,
    /// Items under each child (positions in the map are `u32` too).
    counts: Vec<u32>,
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
    fn split(&mut self, at: usize, m: &Members) -> (Sep, Node, usize) {
        match self {
            Node::Leaf(v) => {
                let mut right = Vec::with_capacity(CAP);
                right.extend(v.drain(at..));
                v.shrink_to(CAP);
                let n = right.len();
                (right[0].sep(m), Node::Leaf(right), n)
            }
            Node::Inner(n) => {
                let children = n.children.split_off(at);
                let counts = n.counts.split_off(at);
                let mut seps = n.seps.split_off(at - 1);
                let sep = seps.remove(0);
                let total = counts.iter().map(|&c| c as usize).sum();
                (
                    sep,
                    Node::Inner(Box::new(Inner {
                        seps,
                        children,
                        counts,
                    })),
                    total,
                )
            }
        }
    }
}

/// Where to split a node of `width` entries that has grown (or is about
/// to grow) by one at `grew`: an entry added at either end (ascending or
/// descending loads, the common case) leaves the other part full,
/// anything else halves the node.
fn split_point(width: usize, grew: usize) -> usize {
    if grew + 1 >= width {
        width - 1
    } else if grew == 0 {
        1
    } else {
        width / 2
    }
}

impl Inner {
    /// The child whose range holds (score, member).
    fn child_for(&self, score: f64, member: &[u8]) -> usize {
        self.seps.upto(score, member)
    }

    /// After child `i` split: puts the upper half right after it.
    fn insert_split(&mut self, i: usize, sep: Sep, node: Node, n: usize) {
        self.counts[i] -= n as u32;
        self.children.insert(i + 1, node);
        self.counts.insert(i + 1, n as u32);
        self.seps.insert(i, sep);
    }

    /// Child `i` has become underfull: merges it with a neighbour, then
    /// splits the two evenly if together they are too many.
    fn rebalance(&mut self, i: usize, m: &Members) {
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
            (Node::Leaf(a), Node::Leaf(b)) => {
                a.reserve_exact((a.len() + b.len()).saturating_sub(a.capacity()));
                a.extend(b);
            }
            (Node::Inner(a), Node::Inner(b)) => {
                let b = *b;
                a.seps.push(sep);
                a.seps.append(b.seps);
                a.children.extend(b.children);
                a.counts.extend(b.counts);
            }
            _ => unreachable!("siblings have the same height"),
        }
        self.counts[l] += right_count;
        if self.children[l].width() > CAP {
            let at = self.children[l].width() / 2;
            let (sep, node, n) = self.children[l].split(at, m);
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

    /// Adds the member at position `at` of `m`, which is not in the tree.
    pub fn insert(&mut self, score: f64, at: u32, m: &Members) {
        let item = Item { score, at };
        if let Some((sep, node, n)) = insert_into(&mut self.root, item, m) {
            let left_count = self.len + 1 - n;
            let left = std::mem::replace(&mut self.root, Node::Leaf(Vec::new()));
            self.root = Node::Inner(Box::new(Inner {
                seps: Seps::one(sep),
                children: vec![left, node],
                counts: vec![left_count as u32, n as u32],
            }));
        }
        self.len += 1;
    }

    /// Removes (score, member); its position in `m`, if it was there.
    pub fn remove(&mut self, score: f64, member: &[u8], m: &Members) -> Option<u32> {
        let at = remove_from(&mut self.root, score, member, m)?;
        self.len -= 1;
        // A root with one child gives way to it.
        while let Node::Inner(n) = &mut self.root {
            if n.children.len() != 1 {
                break;
            }
            let child = n.children.pop().expect("one child");
            self.root = child;
        }
        Some(at)
    }

    /// (score, member) has moved to position `to` of `m`.
    pub fn renumber(&mut self, score: f64, member: &[u8], m: &Members, to: u32) {
        let mut node = &mut self.root;
        loop {
            match node {
                Node::Leaf(v) => {
                    if let Ok(i) = v.binary_search_by(|it| it.cmp_key(m, score, member)) {
                        v[i].at = to;
                    }
                    return;
                }
                Node::Inner(n) => {
                    let i = n.child_for(score, member);
                    node = &mut n.children[i];
                }
            }
        }
    }

    /// How many items come before the first one `below` says false of
    /// (`below` must be true of a prefix of the order).
    pub fn count_while(&self, below: impl Fn(f64, &[u8]) -> bool, m: &Members) -> usize {
        let mut node = &self.root;
        let mut rank = 0;
        loop {
            match node {
                Node::Leaf(v) => {
                    return rank + v.partition_point(|it| below(it.score, m.key(it.at as usize)));
                }
                Node::Inner(n) => {
                    let i = n.seps.count_while(&below);
                    rank += n.counts[..i].iter().map(|&c| c as usize).sum::<usize>();
                    node = &n.children[i];
                }
            }
        }
    }

    /// The 0-based rank (score, member) has or would have. Unlike
    /// `count_while` it reads a leaf item's member only on a score tie:
    /// each read is a cache miss into the map on a large set.
    pub fn rank(&self, score: f64, member: &[u8], m: &Members) -> usize {
        let mut node = &self.root;
        let mut rank = 0;
        loop {
            match node {
                Node::Leaf(v) => {
                    return rank
                        + v.partition_point(|it| it.cmp_key(m, score, member) == Ordering::Less);
                }
                Node::Inner(n) => {
                    let i = n.child_for(score, member);
                    rank += n.counts[..i].iter().map(|&c| c as usize).sum::<usize>();
                    node = &n.children[i];
                }
            }
        }
    }

    /// The item at `rank`.
    pub fn get(&self, mut rank: usize) -> Option<Item> {
        if rank >= self.len {
            return None;
        }
        let mut node = &self.root;
        loop {
            match node {
                Node::Leaf(v) => return v.get(rank).copied(),
                Node::Inner(n) => {
                    let mut i = 0;
                    while rank >= n.counts[i] as usize {
                        rank -= n.counts[i] as usize;
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
                    alloc(size_of::<Inner>())
                        + n.seps.heap_size(alloc)
                        + alloc(n.counts.capacity() * size_of::<u32>())
                        + alloc(n.children.capacity() * size_of::<Node>())
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
    pub fn walk(&self, rank: usize, rev: bool, f: &mut dyn FnMut(Item) -> bool) {
        if rank < self.len {
            walk_node(&self.root, rank, rev, f);
        }
    }
}

fn insert_into(node: &mut Node, item: Item, m: &Members) -> Option<(Sep, Node, usize)> {
    match node {
        Node::Leaf(v) => {
            let member = m.key(item.at as usize);
            let at = v.partition_point(|it| it.cmp_key(m, item.score, member) == Ordering::Less);
            if v.len() < CAP {
                if v.len() == v.capacity() {
                    let want = (v.len() * 2).clamp(4, CAP);
                    v.reserve_exact(want - v.len());
                }
                v.insert(at, item);
                return None;
            }
            // Full: split first, so a leaf never outgrows its allocation.
            let cut = if at == CAP {
                CAP
            } else if at == 0 {
                0
            } else {
                CAP / 2
            };
            let mut right = Vec::with_capacity(if cut == CAP { 4 } else { CAP });
            right.extend(v.drain(cut..));
            if at < cut || cut == 0 {
                v.insert(at, item);
            } else {
                right.insert(at - cut, item);
            }
            let n = right.len();
            Some((right[0].sep(m), Node::Leaf(right), n))
        }
        Node::Inner(n) => {
            let i = n.child_for(item.score, m.key(item.at as usize));
            n.counts[i] += 1;
            let grew = match insert_into(&mut n.children[i], item, m) {
                Some((sep, right, count)) => {
                    n.insert_split(i, sep, right, count);
                    i + 1
                }
                None => return None,
            };
            let width = n.children.len();
            if width > CAP {
                Some(node.split(split_point(width, grew), m))
            } else {
                None
            }
        }
    }
}

fn remove_from(node: &mut Node, score: f64, member: &[u8], m: &Members) -> Option<u32> {
    match node {
        Node::Leaf(v) => {
            let at = v.binary_search_by(|it| it.cmp_key(m, score, member)).ok()?;
            Some(v.remove(at).at)
        }
        Node::Inner(n) => {
            let i = n.child_for(score, member);
            let at = remove_from(&mut n.children[i], score, member, m)?;
            n.counts[i] -= 1;
            if n.children[i].width() < MIN {
                n.rebalance(i, m);
            }
            Some(at)
        }
    }
}

/// `walk` below `node`; false once `f` has said stop.
fn walk_node(node: &Node, mut rank: usize, rev: bool, f: &mut dyn FnMut(Item) -> bool) -> bool {
    match node {
        Node::Leaf(v) => {
            if rev {
                v[..=rank].iter().rev().all(|it| f(*it))
            } else {
                v[rank..].iter().all(|it| f(*it))
            }
        }
        Node::Inner(n) => {
            let mut i = 0;
            while rank >= n.counts[i] as usize {
                rank -= n.counts[i] as usize;
                i += 1;
            }
            if !walk_node(&n.children[i], rank, rev, f) {
                return false;
            }
            if rev {
                (0..i).rev().all(|j| {
                    n.counts[j] == 0 || walk_node(&n.children[j], n.counts[j] as usize - 1, true, f)
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
    use crate::db::blob::Blob;
    use rand::{Rng, SeedableRng};

    fn check(t: &Tree, m: &Members, model: &[(f64, Vec<u8>)]) {
        assert_eq!(t.len(), model.len());
        let key = |it: Item| (it.score, m.key(it.at as usize).to_vec());
        let mut seen = Vec::new();
        t.walk(0, false, &mut |it| {
            seen.push(key(it));
            true
        });
        assert_eq!(seen, model);
        for (r, (s, x)) in model.iter().enumerate().step_by(7) {
            assert_eq!(t.rank(*s, x, m), r);
            assert_eq!(key(t.get(r).unwrap()), (*s, x.clone()));
        }
        if !model.is_empty() {
            let mut back = Vec::new();
            t.walk(model.len() - 1, true, &mut |it| {
                back.push(key(it));
                true
            });
            back.reverse();
            assert_eq!(back, model);
        }
    }

    /// The tree alone: `m` only stores the members' bytes by position
    /// (each insertion gets a new one), so nothing is ever renumbered.
    #[test]
    fn matches_a_sorted_vector() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut t = Tree::default();
        let mut m = Members::default();
        let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
        for round in 0..40_000 {
            let score = rng.gen_range(0..50) as f64;
            let member = format!("m{}", rng.gen_range(0..6000)).into_bytes();
            let at = model.binary_search_by(|(s, x)| cmp(*s, x, score, &member));
            let grow = round < 24_000;
            match at {
                Ok(i) if !grow || rng.gen_bool(0.5) => {
                    assert!(t.remove(score, &member, &m).is_some());
                    model.remove(i);
                }
                Ok(_) => {}
                Err(i) if grow => {
                    m.insert(Blob::new(&member), score);
                    t.insert(score, m.len() as u32 - 1, &m);
                    model.insert(i, (score, member));
                }
                Err(_) => assert!(t.remove(score, &member, &m).is_none()),
            }
            if round % 997 == 0 {
                check(&t, &m, &model);
            }
        }
        check(&t, &m, &model);
        while let Some((s, x)) = model.pop() {
            assert!(t.remove(s, &x, &m).is_some());
        }
        check(&t, &m, &model);
        // Ascending and descending loads fill their leaves.
        for rev in [false, true] {
            let mut t = Tree::default();
            let mut m = Members::default();
            for i in 0..10_000 {
                let score = if rev { -(i as f64) } else { i as f64 };
                m.insert(Blob::new(b"x"), score);
                t.insert(score, i, &m);
            }
            let mut room = 0;
            let mut leaves = 0;
            fn each_leaf(n: &Node, f: &mut dyn FnMut(&Vec<Item>)) {
                match n {
                    Node::Leaf(v) => f(v),
                    Node::Inner(n) => n.children.iter().for_each(|c| each_leaf(c, f)),
                }
            }
            each_leaf(&t.root, &mut |v| {
                leaves += 1;
                room += v.capacity();
            });
            assert!(leaves <= 10_000 / CAP + 2, "rev {rev}: {leaves} leaves");
            assert!(room <= 10_000 + 2 * CAP, "rev {rev}: room for {room}");
            assert_eq!(t.rank(if rev { -9_999.0 } else { 0.0 }, b"x", &m), 0);
        }
    }
}
