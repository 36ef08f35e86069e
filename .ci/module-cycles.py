#!/usr/bin/env python3
# The module graph of src/ must have no cycles (issue 12: files by concept, no import cycles).
# Edges: `crate::module` paths and crate-root re-exports (`crate::Item`) outside comments and
# unit tests. Prints each cycle and exits 1; `-v` prints every module's imports.
import re,glob,os,sys
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
names=set(os.path.basename(x)[:-3] for x in glob.glob(os.path.join(ROOT, 'src/*.rs')))-{'lib'}
# pub use re-exports in lib map item -> module
lib=open(os.path.join(ROOT, 'src/lib.rs')).read()
item_mod={}
for m,items in re.findall(r'pub use (\w+)::\{?([^;]*?)\}?;', lib):
    for it in re.findall(r'\w+', items): item_mod[it]=m
mods={}
for m in names:
    s=open(os.path.join(ROOT, f'src/{m}.rs')).read()
    s=re.split(r'#\[cfg\(all\(test', s)[0]
    s='\n'.join(l for l in s.split('\n') if not l.strip().startswith('//'))
    deps=set()
    for x in re.findall(r'crate::(\w+)', s):
        if x in names: deps.add(x)
        elif x in item_mod: deps.add(item_mod[x])
    for grp in re.findall(r'crate::\{([^}]*)\}', s):
        for x in re.findall(r'\w+', grp):
            if x in names: deps.add(x)
            elif x in item_mod: deps.add(item_mod[x])
    deps.discard(m)
    mods[m]=deps
index={};low={};st=[];on=set();sccs=[];i=[0]
sys.setrecursionlimit(10000)
def sc(v):
    index[v]=low[v]=i[0];i[0]+=1;st.append(v);on.add(v)
    for w in mods.get(v,()):
        if w not in index: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],index[w])
    if low[v]==index[v]:
        c=[]
        while True:
            w=st.pop();on.discard(w);c.append(w)
            if w==v:break
        sccs.append(c)
for v in sorted(mods):
    if v not in index: sc(v)
bad=[c for c in sccs if len(c)>1]
for c in bad: print("cycle:", sorted(c))
if '-v' in sys.argv:
    for m in sorted(mods): print(m, sorted(mods[m]))
sys.exit(1 if bad else 0)
