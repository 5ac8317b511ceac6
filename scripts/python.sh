#!/usr/bin/env bash
# Prints the path of the Python the project's venv is built with: Python $1 (the Makefile's PYTHON_VERSION, the
# version of the Lambda runtime the deployment uses). Looks on PATH, then in pyenv's versions; if neither has it
# and pyenv is installed, asks pyenv to build it; otherwise fails with what to install.
set -euo pipefail
want="${1:?usage: python.sh MAJOR.MINOR}"
is_wanted() {
  [ -x "$1" ] || command -v "$1" >/dev/null 2>&1 || return 1
  [ "$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$want" ]
}
pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
find_it() {
  # pyenv's shims answer for every version but run only the selected one: try its versions directly too
  for candidate in "python$want" "$pyenv_root"/versions/"$want".*/bin/"python$want"; do
    if is_wanted "$candidate"; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}
find_it && exit 0
pyenv_bin="$(command -v pyenv || true)"
[ -n "$pyenv_bin" ] || [ ! -x "$pyenv_root/bin/pyenv" ] || pyenv_bin="$pyenv_root/bin/pyenv"
if [ -n "$pyenv_bin" ]; then
  echo "python.sh: Python $want not found; building it with pyenv (needs python.org)" >&2
  "$pyenv_bin" install --skip-existing "$want" >&2 && find_it && exit 0
fi
echo "python.sh: Python $want is needed (the Lambda runtime's version) and was not found on PATH or in" \
  "$pyenv_root/versions; install it (e.g. \`pyenv install $want\`) and run make again" >&2
exit 1
