# Shared by the install scripts (tests/clients/install.sh, benches/peers/install.sh); source it.
# Debian packages through apt, as root or with sudo, and Python venvs with pinned packages, each
# doing nothing when what is asked for is already there.

# SUDO: empty as root, (sudo) when there is sudo, else empty (apt_install then refuses).
if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null; then
    SUDO=(sudo)
else
    SUDO=()
fi

# apt_install CALLER PACKAGE...: installs the packages without recommends; none given, nothing.
apt_install() {
    local caller=$1
    shift
    [ $# -gt 0 ] || return 0
    if [ "$(id -u)" -ne 0 ] && [ ${#SUDO[@]} -eq 0 ]; then
        echo "$caller: need root or sudo to install: $*" >&2
        exit 1
    fi
    echo "$caller: installing $*"
    "${SUDO[@]}" apt-get update -qq
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# pinned_venv VENV PYTHON SPEC...: creates the venv once, then installs the pinned specs
# (name==version, extras allowed) unless every one is installed at exactly that version.
pinned_venv() {
    local venv=$1 python=$2
    shift 2
    if [ ! -x "$venv/bin/python" ]; then
        mkdir -p "$(dirname "$venv")"
        "$python" -m venv "$venv"
    fi
    if ! "$venv/bin/python" - "$@" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
for spec in sys.argv[1:]:
    name, pinned = spec.split("==")
    if version(name.split("[")[0]) != pinned:
        sys.exit(1)
PY
    then
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
    fi
}
