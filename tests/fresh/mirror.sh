# tests/fresh/mirror.sh - sourced by tests/fresh/run.sh and tests/vm/run.sh:
# which Debian mirror debootstrap uses, read from the host's own apt sources
# (no host name is written in the repository).
# host_mirror SUITE: the host's mirror for SUITE: the first URI of a deb entry (one-line .list
# or deb822 .sources) whose suites include SUITE itself.
host_mirror() {
	python3 - "$1" /etc/apt/sources.list /etc/apt/sources.list.d/* <<'EOF'
import sys, re
suite, files = sys.argv[1], sys.argv[2:]
for path in files:
    try:
        text = open(path).read()
    except OSError:
        continue
    if path.endswith('.sources'):
        for stanza in re.split(r'\n\s*\n', text):
            f = {}
            for line in stanza.splitlines():
                if ':' in line and not line.startswith('#'):
                    k, v = line.split(':', 1)
                    f[k.strip().lower()] = v.split()
            if 'deb' in f.get('types', []) and suite in f.get('suites', []) and f.get('uris'):
                print(f['uris'][0]); sys.exit(0)
    else:
        for line in text.splitlines():
            w = re.sub(r'\[[^]]*\]', ' ', line.split('#', 1)[0]).split()
            if len(w) >= 3 and w[0] == 'deb' and w[2] == suite:
                print(w[1]); sys.exit(0)
sys.exit(1)
EOF
}
