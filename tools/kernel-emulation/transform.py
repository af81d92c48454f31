# Turns a .cu/.cuh into plain C++ for harness.h: each kernel<<<grid, block, ...>>>(args); becomes
# emulate_launch(dim3(grid), dim3(block), [&] { kernel(args); }); launch checks become no-ops.
# Usage: transform.py in.cu out.cpp [--kernels-only]. --kernels-only keeps the kernels (the file up
# to the end of its anonymous namespace) and drops the host entries after it, for the .cu files
# whose entries take Tensors: a driver #includes the result and launches the kernels itself, with
# the configuration of the file's own host code.
import re, sys
src = open(sys.argv[1]).read()
if '--kernels-only' in sys.argv[3:]:
    lines = src.split('\n')
    close = lines.index('}  // namespace')  # the anonymous namespace's end
    last = max(i for i, l in enumerate(lines) if l.startswith('}  // namespace crunet'))
    src = '\n'.join(lines[:close + 1] + lines[last:])
def split_top(s):
    parts, depth, cur = [], 0, ''
    for ch in s:
        if ch in '(<': depth += 1
        if ch in ')>': depth -= 1
        if ch == ',' and depth == 0:
            parts.append(cur); cur = ''
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts]
pat = re.compile(r'(\w+(?:<[^<>;]*>)?)\s*<<<(.*?)>>>\s*\((.*?)\);', re.S)
def rep(m):
    cfg = split_top(m.group(2))
    return 'emulate_launch(dim3(%s), dim3(%s), [&] { %s(%s); });' % (cfg[0], cfg[1], m.group(1), m.group(3))
out, n = pat.subn(rep, src)
out = re.sub(r'CRUNET_CUDA_CHECK_LAUNCH\([^)]*\)', '(void)0', out)
sys.stderr.write('%s: %d launches\n' % (sys.argv[1], n))
open(sys.argv[2], 'w').write(out)
