#!/usr/bin/env python3
"""Module-cycle check for every crate of the workspace: each module imports only from below it.

Per crate (every `<crate>/src` with a lib.rs or main.rs): each file is a module (`a/b.rs` and
`a/b/mod.rs` are `a::b`; lib.rs/main.rs the root). Edges come from `use crate::..`, `use super::..`,
`use self::..` trees (braces expanded), inline `crate::a::b` / `super::x` paths, and paths through a
module's own children (`mod read;` then `read::get(..)`). Comments, strings, `#[cfg(test)]`
items and the files of `#[cfg(test)] mod x;` modules are ignored. A target resolves to the deepest existing module on its path.

Rule: under every module, its children (each standing for its subtree) must form a DAG; edges
between a module and its own ancestors are ignored (a child may use its parent's items, and a
parent re-exports its children). Tarjan's SCC per level; an SCC of more than one module fails.
`--allow FILE` lists known cycles (`crate-dir: a b c`) that may shrink but not grow.
Exit 0 clean, 1 on a new or grown cycle.
"""
import os, re, sys
from collections import defaultdict

def module_of(src, path):
    rel = os.path.relpath(path, src)[:-3].split(os.sep)
    if rel[-1] in ("lib", "main", "mod"):
        rel = rel[:-1]
    return tuple(rel)

def strip(text):
    """Blank out comments, string and char literals (enough of Rust's lexer for this)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('//', i):
            j = text.find('\n', i); i = n if j < 0 else j; continue
        if text.startswith('/*', i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith('/*', i): depth += 1; i += 2
                elif text.startswith('*/', i): depth -= 1; i += 2
                else: i += 1
            continue
        m = re.match(r'b?r(#*)"', text[i:i + 260])
        if m and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == '_')):
            end = '"' + m.group(1)
            j = text.find(end, i + m.end()); i = n if j < 0 else j + len(end); out.append('""'); continue
        if c == '"':
            i += 1
            while i < n and text[i] != '"': i += 2 if text[i] == '\\' else 1
            i += 1; out.append('""'); continue
        if c == "'":
            m = re.match(r"'(\\[^']{1,10}|[^\\'])'", text[i:i + 14])
            if m: i += m.end(); out.append("' '"); continue
        out.append(c); i += 1
    return ''.join(out)

def drop_cfg_test(text):
    out, i = [], 0
    for m in re.finditer(r'#\[cfg\(test\)\]', text):
        if m.start() < i: continue
        out.append(text[i:m.start()])
        depth, k = 0, m.end()
        while k < len(text):
            c = text[k]
            if c == '{': depth += 1
            elif c == '}':
                depth -= 1
                if depth == 0: k += 1; break
            elif c == ';' and depth == 0: k += 1; break
            k += 1
        i = k
    return ''.join(out) + text[i:]

def expand(tree):
    tree = re.sub(r'\s+as\s+\w+', '', tree)  # `a::b as c` names the module a::b
    tree = re.sub(r'\s+', '', tree)
    def split(s):
        parts, depth, cur = [], 0, ''
        for c in s:
            depth += (c == '{') - (c == '}')
            if c == ',' and depth == 0: parts.append(cur); cur = ''
            else: cur += c
        return parts + ([cur] if cur else [])
    def go(s):
        m = re.match(r'^(.*?)\{(.*)\}$', s)
        return [s] if not m else [m.group(1) + x for p in split(m.group(2)) for x in go(p)]
    return go(tree)

def resolve(current, path):
    segs = [s for s in path.split('::') if s]
    if not segs: return None
    if segs[0] == 'crate': base, segs = [], segs[1:]
    elif segs[0] in ('super', 'self'):
        base = list(current)
        while segs and segs[0] in ('super', 'self'):
            if segs[0] == 'super': base = base[:-1]
            segs = segs[1:]
    else: return None
    return tuple(base + segs)

def graph(src):
    files = {}
    for root, _, names in os.walk(src):
        if os.path.relpath(root, src).split(os.sep)[0] == 'bin': continue   # src/bin/* are other crates
        for name in names:
            if name.endswith('.rs'):
                path = os.path.join(root, name)
                if name == 'main.rs' and root == src and os.path.exists(os.path.join(src, 'lib.rs')):
                    continue   # a binary beside a library is its own crate
                files[module_of(src, path)] = path
    # A module declared under #[cfg(test)] (`#[cfg(test)] mod test_support;`) is test code in
    # its own file: skipped with its subtree, as #[cfg(test)] items are.
    test_only = set()
    for module, path in files.items():
        text = strip(open(path, encoding='utf-8').read())
        for name in re.findall(r'#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;', text):
            test_only.add(module + (name,))
    files = {module: path for module, path in files.items() if not any(module[:len(t)] == t for t in test_only)}
    modules, edges = set(files), defaultdict(set)
    for module, path in files.items():
        text = drop_cfg_test(strip(open(path, encoding='utf-8').read()))
        paths = [p for m in re.finditer(r'\buse\s+((?:crate|super|self)::[^;]+);', text) for p in expand(m.group(1))]
        body = re.sub(r'\buse\s+[^;]+;', '', text)
        paths += re.findall(r'\b((?:crate|super)(?:::\w+)+)', body)
        children = re.findall(r'\bmod\s+(\w+)\s*;', text)
        for child in children:
            if re.search(r'(?<![\w:])' + child + r'::', body) or re.search(r'\buse\s+' + child + r'::', text):
                paths.append('self::' + child)
        for path in paths:
            target = resolve(module, path)
            if target is None: continue
            for k in range(len(target), 0, -1):
                if target[:k] in modules:
                    if target[:k] != module: edges[module].add(target[:k])
                    break
    return modules, edges

def sccs(nodes, edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = counter[0]; counter[0] += 1; stack.append(v); on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index: visit(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            out.append(comp)
    sys.setrecursionlimit(100000)
    for v in sorted(nodes):
        if v not in index: visit(v)
    return [c for c in out if len(c) > 1]

def cycles(src):
    """[(parent, [module names])] for every level with a cycle among siblings."""
    modules, edges = graph(src)
    found = []
    for parent in sorted({m[:k] for m in modules for k in range(len(m))}, key=len):
        d = len(parent)
        nodes = {m[:d + 1] for m in modules if m[:d] == parent and len(m) > d}
        level = defaultdict(set)
        for m, targets in edges.items():
            if m[:d] != parent or len(m) <= d: continue
            for t in targets:
                if t[:d] == parent and len(t) > d and t[:d + 1] != m[:d + 1]:
                    level[m[:d + 1]].add(t[:d + 1])
        for comp in sccs(nodes, level):
            found.append(('::'.join(parent) or 'crate', sorted('::'.join(m) for m in comp)))
    return found

def main(argv):
    allow_file = argv[argv.index('--allow') + 1] if '--allow' in argv else None
    allowed = defaultdict(list)
    if allow_file and os.path.exists(allow_file):
        for line in open(allow_file):
            line = line.split('#')[0].strip()
            if line:
                crate, members = line.split(':', 1)
                allowed[crate.strip()].append(set(members.split()))
    roots = [a for a in argv[1:] if not a.startswith('--') and a != allow_file] or sorted(
        d for d in os.listdir('.') if os.path.isdir(os.path.join(d, 'src')))
    failed = False
    for crate in roots:
        for parent, members in cycles(os.path.join(crate, 'src')):
            ok = any(set(members) <= known for known in allowed[crate])
            failed |= not ok
            print(f"{'known' if ok else 'NEW'} cycle in {crate} under {parent} ({len(members)}): {' '.join(members)}")
    return 1 if failed else 0

if __name__ == '__main__':
    sys.exit(main(sys.argv))
